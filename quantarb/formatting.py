"""Numbers as people read them: one module that every template filter, CSV export and API field uses.

Booked values are `Decimal`s whose exponent is an accident of the arithmetic that made them: `str()` of them gives
`1E+9`, `0E-8` or `-46034150000.0000000000000`, and `normalize()` turns a price of `4605.70` into `4605.7`. Here
every figure is written in fixed-point notation to the places its kind calls for:

- money to the cent (grouped thousands), PnL with an explicit sign (colour is never the only sign);
- edges and bps to 2 decimals, signed;
- prices to the venue's tick, quantities to the venue's step (both read from the instrument), lots to 2 decimals.

A price or quantity finer than its tick or step (an average over fills, a partial fill) keeps its own digits, up to
8, rather than be rounded into a figure no fill had. Pure Python, no Django: the template filters
(`quantarb/templatetags/formatting.py`), the CSV exports and the API's decimal field call these functions.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any

NONE_TEXT = "—"
MAX_PLACES = 8  # booked prices, rates and USD amounts carry 8 decimals (ARCHITECTURE.md, "Units and formulas")
MONEY_PLACES = 2
EDGE_PLACES = 2
LOT_PLACES = 2
DEFAULT_PRICE_PLACES = 2  # when the instrument is unknown: gold is quoted to the cent on both venues
DEFAULT_QTY_PLACES = 3  # when the instrument is unknown: ounces are booked to 3 decimals


def to_decimal(value: Any) -> Decimal | None:
    """A finite Decimal from a Decimal, an int, a float (its shortest repr) or a numeric string; None otherwise."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip().replace(",", "")
        if not text:
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
    else:
        return None
    return number if number.is_finite() else None


def places_of(step: Any) -> int | None:
    """The decimal places a tick or step asks for: 0.01 → 2, 0.001 → 3, 1 → 0, 10 → 0; None for no step."""
    number = to_decimal(step)
    if number is None or number <= 0:
        return None
    exponent = number.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    return max(0, -exponent)


def significant_places(number: Decimal) -> int:
    """How many decimals the value really has (trailing zeros do not count): 4605.70 → 1, 4605.705 → 3, 1E+9 → 0."""
    if number.is_zero():
        return 0
    exponent = number.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def fixed(number: Decimal, places: int, *, group: bool = False, sign: bool = False) -> str:
    """`number` rounded half-up to `places` decimals in fixed-point notation; never an exponent, never "-0.00".

    The rounding context is as wide as the number needs, so no size of figure raises (Decimal's default context
    holds 28 digits).
    """
    places = max(0, int(places))
    quantum = Decimal(1).scaleb(-places)
    digits = max(len(number.as_tuple().digits) + number.adjusted() + places + 2, 28)
    rounded = number.quantize(quantum, rounding=ROUND_HALF_UP, context=Context(prec=max(digits, places + 2)))
    if rounded.is_zero():
        rounded = abs(rounded)  # "-0.00" would claim a loss that is not there
    text = f"{rounded:,f}" if group else f"{rounded:f}"
    if sign and rounded > 0:
        text = "+" + text
    return text


def plain(value: Any, places: int | None = None, *, none: str = NONE_TEXT) -> str:
    """Any number in fixed-point notation: to `places` decimals when given, else with the digits it carries
    (`1E+9` → `1000000000`, `0E-8` → `0.00000000`, `0.50` → `0.50`). Text that is not a number is returned as is."""
    number = to_decimal(value)
    if number is None:
        return none if value is None or value == "" else str(value)
    if places is None:
        exponent = number.as_tuple().exponent
        assert isinstance(exponent, int)
        places = max(0, -exponent)
    return fixed(number, places)


def trimmed(value: Any, *, group: bool = False, none: str = NONE_TEXT) -> str:
    """A number without exponent and without trailing zeros: `1.000` → `1`, `1E+9` → `1000000000` (or
    `1,000,000,000` with `group`), `0E-8` → `0`."""
    number = to_decimal(value)
    if number is None:
        return none if value is None or value == "" else str(value)
    return fixed(number, significant_places(number), group=group)


def money(value: Any, places: int = MONEY_PLACES, *, none: str = NONE_TEXT) -> str:
    """An amount to the cent with grouped thousands: `-46034150000.0000000000000` → `-46,034,150,000.00`."""
    number = to_decimal(value)
    return none if number is None else fixed(number, places, group=True)


def pnl(value: Any, places: int = MONEY_PLACES, *, none: str = NONE_TEXT) -> str:
    """A gain or loss to the cent with an explicit + for gains: `+1,234.50`, `-0.75`, `0.00`."""
    number = to_decimal(value)
    return none if number is None else fixed(number, places, group=True, sign=True)


def edge(value: Any, places: int = EDGE_PLACES, *, none: str = NONE_TEXT) -> str:
    """An edge (USD/oz) or a figure in bps, signed, to 2 decimals: `+0.43`, `-1.20`."""
    number = to_decimal(value)
    return none if number is None else fixed(number, places, sign=True)


def price(value: Any, tick: Any = None, *, none: str = NONE_TEXT) -> str:
    """A price to the venue's tick (`tick` is the tick size, or a number of places): `4605.7` at tick 0.01 →
    `4605.70`. Finer digits the value really has (an average over fills) are kept, up to 8."""
    number = to_decimal(value)
    if number is None:
        return none
    places = _places_from(tick, DEFAULT_PRICE_PLACES)
    return fixed(number, min(max(places, significant_places(number)), max(places, MAX_PLACES)))


def quantity(value: Any, step: Any = None, *, none: str = NONE_TEXT) -> str:
    """A quantity (ounces) to the venue's step, thousands grouped: 1E+9 at step 0.001 → `1,000,000,000.000`;
    step 1 → `150`. Digits finer than the step (which no order should have) are shown, never rounded away."""
    number = to_decimal(value)
    if number is None:
        return none
    places = _places_from(step, DEFAULT_QTY_PLACES)
    return fixed(number, min(max(places, significant_places(number)), max(places, MAX_PLACES)), group=True)


def lots(value: Any, *, none: str = NONE_TEXT) -> str:
    """MT5 lots, to 2 decimals: `1.50`."""
    number = to_decimal(value)
    return none if number is None else fixed(number, LOT_PLACES, group=True)


def ounces_to_lots(ounces: Any, contract_size: Any) -> Decimal | None:
    """Ounces in lots of `contract_size` ounces (None when either is unknown or the size is not positive)."""
    oz, size = to_decimal(ounces), to_decimal(contract_size)
    if oz is None or size is None or size <= 0:
        return None
    return oz / size


def percent(value: Any, places: int = 1, *, none: str = NONE_TEXT) -> str:
    """A percentage figure (already ×100) to `places` decimals: `125.0`."""
    number = to_decimal(value)
    return none if number is None else fixed(number, places, group=True)


def sort_key(value: Any) -> str:
    """The value for a table cell's `data-sort` attribute: plain digits, no grouping, empty when not a number."""
    number = to_decimal(value)
    return "" if number is None else fixed(number, significant_places(number))


def _places_from(spec: Any, default: int) -> int:
    if isinstance(spec, int) and not isinstance(spec, bool):
        return max(0, spec)
    places = places_of(spec)
    return default if places is None else places
