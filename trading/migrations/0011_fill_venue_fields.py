"""Fills recorded once per account and venue fill id (a trade id, a deal ticket) whichever source reports them first,
with the venue's maker flag, the fee as charged and its conversion, and the venue's own realised PnL and swap."""

import django.db.models.deletion
from django.db import migrations, models


def fill_accounts(apps, schema_editor):
    Fill = apps.get_model("trading", "Fill")
    Order = apps.get_model("trading", "Order")
    for order_id, account_id in Order.objects.filter(fills__isnull=False).values_list("pk", "account_id").distinct():
        Fill.objects.filter(order_id=order_id).update(account_id=account_id)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0012_binance_testnet_pool_margin"),
        ("trading", "0010_instrument_max_quantity"),
    ]

    operations = [
        migrations.AddField(
            model_name="fill",
            name="account",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="fills",
                to="accounts.venueaccount",
                verbose_name="account",
            ),
        ),
        migrations.RunPython(fill_accounts, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="fill",
            name="account",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="fills",
                to="accounts.venueaccount",
                verbose_name="account",
            ),
        ),
        migrations.RemoveConstraint(model_name="fill", name="fill_unique_per_order"),
        migrations.AddConstraint(
            model_name="fill",
            constraint=models.UniqueConstraint(fields=("account", "fill_id"), name="fill_unique_venue_id"),
        ),
        migrations.AddField(
            model_name="fill",
            name="maker",
            field=models.BooleanField(blank=True, null=True, verbose_name="maker"),
        ),
        migrations.AddField(
            model_name="fill",
            name="venue_fee",
            field=models.DecimalField(
                blank=True, decimal_places=8, max_digits=16, null=True, verbose_name="fee as charged"
            ),
        ),
        migrations.AddField(
            model_name="fill",
            name="venue_fee_asset",
            field=models.CharField(blank=True, max_length=12, verbose_name="fee asset as charged"),
        ),
        migrations.AddField(
            model_name="fill",
            name="fee_rate",
            field=models.DecimalField(
                blank=True, decimal_places=8, max_digits=20, null=True, verbose_name="fee conversion rate"
            ),
        ),
        migrations.AddField(
            model_name="fill",
            name="fee_rate_source",
            field=models.CharField(blank=True, max_length=80, verbose_name="fee rate source"),
        ),
        migrations.AddField(
            model_name="fill",
            name="fee_rate_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="fee rate time"),
        ),
        migrations.AddField(
            model_name="fill",
            name="realized_pnl",
            field=models.DecimalField(
                blank=True, decimal_places=8, max_digits=20, null=True, verbose_name="realised PnL at the venue"
            ),
        ),
        migrations.AddField(
            model_name="fill",
            name="swap",
            field=models.DecimalField(
                blank=True, decimal_places=8, max_digits=20, null=True, verbose_name="swap at the venue"
            ),
        ),
    ]
