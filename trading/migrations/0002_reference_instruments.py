"""Reference data: the XAUUSDT perpetual, the XAUUSD.s CFD (real and simulated) and their calendars.

Specs are the last known reading (VENUES.md); live venues re-read them at run time and update these rows.
"""

from decimal import Decimal

from django.db import migrations

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def create(apps, schema_editor):
    Calendar = apps.get_model("trading", "SessionCalendar")
    Instrument = apps.get_model("trading", "Instrument")
    gold, _ = Calendar.objects.get_or_create(
        name="bybit-mt5-gold",
        defaults={"server_time": "ny_close", "weekly_hours": dict.fromkeys(WEEKDAYS, "01:00-23:59")},
    )
    Calendar.objects.get_or_create(name="demo", defaults={"server_time": "utc", "always_open": True})
    perp = {
        "kind": "perpetual",
        "quote_currency": "USDT",
        "contract_size": Decimal(1),
        "tick_size": Decimal("0.01"),
        "quantity_step": Decimal("0.001"),
        "min_quantity": Decimal("0.001"),
        "min_notional": Decimal(5),
        "taker_fee_rate": Decimal("0.0005"),
        "maker_fee_rate": Decimal("0.0002"),
    }
    cfd = {
        "kind": "cfd",
        "quote_currency": "USD",
        "contract_size": Decimal(100),
        "tick_size": Decimal("0.01"),
        "quantity_step": Decimal("0.01"),
        "min_quantity": Decimal("0.01"),
        "min_notional": Decimal(0),
        "calendar": gold,
    }
    for venue, symbol, specs in (
        ("binance-usdm", "XAUUSDT", perp),
        ("simulated-perp", "XAUUSDT", perp),
        ("bybit-mt5", "XAUUSD.s", cfd),
        ("simulated-cfd", "XAUUSD.s", cfd),
    ):
        Instrument.objects.get_or_create(venue=venue, symbol=symbol, defaults=specs)


class Migration(migrations.Migration):
    dependencies = [("trading", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
