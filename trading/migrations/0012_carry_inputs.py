"""Carry inputs recorded from now on: the funding rate of every funding time and the swap terms of every day, per
quote source."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("trading", "0011_fill_venue_fields"),
    ]

    operations = [
        migrations.CreateModel(
            name="FundingRateRecord",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("funding_time", models.DateTimeField(verbose_name="funding time")),
                ("rate", models.DecimalField(decimal_places=8, max_digits=16, verbose_name="funding rate")),
                (
                    "mark_price",
                    models.DecimalField(
                        blank=True, decimal_places=8, max_digits=20, null=True, verbose_name="mark price"
                    ),
                ),
                ("recorded_at", models.DateTimeField(verbose_name="recorded")),
                (
                    "source",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="funding_rates",
                        to="trading.quotesource",
                        verbose_name="quote source",
                    ),
                ),
            ],
            options={
                "verbose_name": "funding rate record",
                "verbose_name_plural": "funding rate records",
                "ordering": ["-funding_time"],
                "constraints": [
                    models.UniqueConstraint(fields=("source", "funding_time"), name="funding_rate_unique_time")
                ],
            },
        ),
        migrations.CreateModel(
            name="SwapTermsRecord",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField(verbose_name="day")),
                ("swap_mode", models.PositiveSmallIntegerField(verbose_name="swap mode")),
                ("swap_long", models.DecimalField(decimal_places=8, max_digits=20, verbose_name="swap long")),
                ("swap_short", models.DecimalField(decimal_places=8, max_digits=20, verbose_name="swap short")),
                ("swap_rollover3days", models.PositiveSmallIntegerField(verbose_name="triple-swap weekday")),
                ("point", models.DecimalField(decimal_places=8, max_digits=20, verbose_name="point")),
                (
                    "contract_size",
                    models.DecimalField(decimal_places=8, max_digits=20, verbose_name="contract size (oz per lot)"),
                ),
                ("currency_profit", models.CharField(max_length=8, verbose_name="profit currency")),
                ("recorded_at", models.DateTimeField(verbose_name="recorded")),
                (
                    "source",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="swap_terms",
                        to="trading.quotesource",
                        verbose_name="quote source",
                    ),
                ),
            ],
            options={
                "verbose_name": "swap terms record",
                "verbose_name_plural": "swap terms records",
                "ordering": ["-day"],
                "constraints": [models.UniqueConstraint(fields=("source", "day"), name="swap_terms_unique_day")],
            },
        ),
    ]
