"""Instruments carry the venue's maximum quantity per order (Binance LOT_SIZE maxQty, MT5 volume_max), checked by
the pre-trade gate. The simulated instruments get the simulated venues' own maximum; the live ones stay empty until
their venue's maximum is read (never a guessed value)."""

from decimal import Decimal

from django.db import migrations, models

SIMULATED_MAXIMUMS = {
    ("simulated-perp", "XAUUSDT"): Decimal(1000),  # contracts of 1 oz, as the fake Binance's LOT_SIZE maxQty
    ("simulated-cfd", "XAUUSD.s"): Decimal(100),  # lots, as the simulated terminal's volume_max
}


def set_simulated(apps, schema_editor):
    Instrument = apps.get_model("trading", "Instrument")
    for (venue, symbol), maximum in SIMULATED_MAXIMUMS.items():
        Instrument.objects.filter(venue=venue, symbol=symbol, max_quantity__isnull=True).update(max_quantity=maximum)


class Migration(migrations.Migration):
    dependencies = [("trading", "0009_carry_rate_and_triple_swap_day")]
    operations = [
        migrations.AddField(
            model_name="instrument",
            name="max_quantity",
            field=models.DecimalField(
                blank=True,
                decimal_places=8,
                help_text="Binance LOT_SIZE maxQty, MT5 volume_max. Empty: the venue's maximum has not been read.",
                max_digits=20,
                null=True,
                verbose_name="maximum quantity per order (contracts or lots)",
            ),
        ),
        migrations.RunPython(set_simulated, migrations.RunPython.noop),
    ]
