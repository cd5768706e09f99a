"""Fixed-point numbers for the tick path.

Quotes on the tick path carry prices as integers of 1e-8 (the booked precision of prices) and the rate as an
integer of 1e-6, so validation and both edges are exact integer arithmetic and cheap enough for hundreds of
thousands of ticks a second. Edges come out in units of 1e-16 USD/oz. Decisions that lead to orders are
recomputed in `Decimal` with `trading.domain.spread`; `tests` pin the two to each other.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

PRICE_SCALE = 10**8  # prices: 8 dp
RATE_SCALE = 10**6  # usd_per_usdt: 6 dp
EDGE_SCALE = 10**16  # edges, basis and costs on the tick path: 1e-16 USD/oz
# Cost coefficients are integers over 2**COEFF_SHIFT (a shift is cheaper than a division on the tick path);
# with mid·rate products near 1e18 the rounding is below 0.1 edge unit (1e-17 USD/oz).
COEFF_SHIFT = 64

PRICE_QUANTUM = Decimal("0.00000001")
RATE_QUANTUM = Decimal("0.000001")


def price_units(value: Decimal | str | int) -> int:
    """A price as an integer of 1e-8; refuses values that need more than 8 decimal places."""
    scaled = Decimal(value) * PRICE_SCALE
    units = int(scaled)
    if units != scaled:
        raise ValueError(f"price {value} has more than 8 decimal places")
    return units


def rate_units(value: Decimal | str | int) -> int:
    """`usd_per_usdt` as an integer of 1e-6; refuses values that need more than 6 decimal places."""
    scaled = Decimal(value) * RATE_SCALE
    units = int(scaled)
    if units != scaled:
        raise ValueError(f"usd_per_usdt {value} has more than 6 decimal places")
    return units


def price_decimal(units: int) -> Decimal:
    return Decimal(units).scaleb(-8)


def rate_decimal(units: int) -> Decimal:
    return Decimal(units).scaleb(-6)


_EDGE_TO_PRICE = EDGE_SCALE // PRICE_SCALE
_HALF_STEP = _EDGE_TO_PRICE // 2


def edge_units_rounded(units: int) -> int:
    """Edge units (1e-16 USD/oz) rounded half-even to price units (1e-8), in integers."""
    whole, rest = divmod(units, _EDGE_TO_PRICE)  # floor division: `rest` is never negative
    if rest > _HALF_STEP or (rest == _HALF_STEP and whole & 1):
        whole += 1
    return whole


def edge_decimal(units: int) -> Decimal:
    """Edge units (1e-16 USD/oz) → USD/oz, rounded half-even to the booked 8 dp. The same value and exponent as
    `Decimal(units).scaleb(-16).quantize(PRICE_QUANTUM, ROUND_HALF_EVEN)`, at about half the cost (the store writes
    five of these per spread sample)."""
    return Decimal(edge_units_rounded(units)).scaleb(-8)


def coefficient(value: Decimal) -> int:
    """A Decimal cost coefficient as an integer over 2**COEFF_SHIFT (rounded half-even)."""
    return int((value * (1 << COEFF_SHIFT)).to_integral_value(rounding=ROUND_HALF_EVEN))
