"""Column shapes shared by trading's models: the precision of prices, ounces, lots, rates and `usd_per_usdt`."""

from typing import Any

from django.utils.translation import gettext_lazy as _

PRICE: dict[str, Any] = {"max_digits": 20, "decimal_places": 8}


OUNCES: dict[str, Any] = {"max_digits": 18, "decimal_places": 3}


LOTS: dict[str, Any] = {"max_digits": 12, "decimal_places": 2}


RATE: dict[str, Any] = {"max_digits": 16, "decimal_places": 8}


USD_PER_USDT: dict[str, Any] = {"max_digits": 12, "decimal_places": 6}


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# MT5 numbers weekdays from Sunday (`symbol_info().swap_rollover3days`).
MT5_WEEKDAYS = [
    (0, _("Sunday")),
    (1, _("Monday")),
    (2, _("Tuesday")),
    (3, _("Wednesday")),
    (4, _("Thursday")),
    (5, _("Friday")),
    (6, _("Saturday")),
]
