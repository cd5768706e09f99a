"""Hedge sizes (ARCHITECTURE.md "Units and formulas": sizes).

A hedge size in troy ounces must be a whole multiple of the perp's quantity step and of the CFD's step in
ounces (`volume_step × contract_size`), and at least both venues' minimums and the perp's `MIN_NOTIONAL` at a
reference price. Steps are `Decimal`s; their least common multiple is exact (no float).

Problems are codes + parameters + an English message, so the Django layer can translate them; `field` names
the configuration field the problem is about.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal

ZERO = Decimal(0)
OUNCES_QUANTUM = Decimal("0.001")  # ounces are booked at 3 dp
LOTS_QUANTUM = Decimal("0.01")  # lots are booked at 2 dp


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a value is refused: `field` (the configuration field), `code` (stable), `message` (English, already
    filled in), `params` (the values the message names, as strings) and `template` (the English template the message
    was filled from: the translation catalogue's key, so a caller translates the template and fills it with its own
    labels rather than matching English text back)."""

    field: str
    code: str
    message: str
    params: Mapping[str, str] = dataclasses.field(default_factory=dict, hash=False)
    template: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"field": self.field, "code": self.code, "message": self.message, "params": dict(self.params)}


def problem(field_name: str, code: str, template: str, **params: object) -> Problem:
    """A Problem whose English message is `template % params` (parameters rendered as strings).

    `template` is extracted into the translation catalogue by `makemessages` (quantarb's command adds the keyword
    `problem:3`), so every call site's template is translatable where it is written."""
    text = {key: str(value) for key, value in params.items()}
    return Problem(field_name, code, template % text, text, template)


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """One instrument's facts as sizing, pricing and the hedge ratio use them: the last reading from its venue
    (Binance `exchangeInfo`, MT5 `symbol_info`), never stored as truth. A hedge pairs two: the perpetual's and the
    CFD's.

    Quantities are in the venue's own unit — contracts of the perpetual, lots of the CFD — each `contract_size` troy
    ounces; `step_oz` and `min_oz` are the one place a quantity step becomes ounces. `tick` is the price increment
    (MT5's `point`), `digits` its decimal places, `min_notional` the venue's smallest order value in its quote
    currency (Binance MIN_NOTIONAL; 0: none).
    """

    symbol: str
    contract_size: Decimal
    quantity_step: Decimal
    min_quantity: Decimal
    tick: Decimal
    digits: int
    min_notional: Decimal = ZERO
    taker_fee_rate: Decimal = ZERO
    read_at: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("contract_size", "quantity_step", "tick"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{self.symbol}: {name} must be positive")
        for name in ("min_quantity", "min_notional"):
            if getattr(self, name) < 0:
                raise ValueError(f"{self.symbol}: {name} cannot be negative")
        if self.digits < 0:
            raise ValueError(f"{self.symbol}: digits cannot be negative")

    @property
    def step_oz(self) -> Decimal:
        """The smallest tradable change in ounces (quantity step × contract size)."""
        return self.quantity_step * self.contract_size

    @property
    def min_oz(self) -> Decimal:
        return self.min_quantity * self.contract_size


# Until a venue's market is read (a `ccxt:<id>` venue at sizing time), the gold pair's usual specs: XAUUSDT in
# ounces (0.001 oz step, 5 USDT minimum notional), XAUUSD.s in lots of 100 oz (0.01 lot step and minimum).
PERP_DEFAULTS = InstrumentSpec(
    "XAUUSDT",
    contract_size=Decimal(1),
    quantity_step=Decimal("0.001"),
    min_quantity=Decimal("0.001"),
    tick=Decimal("0.01"),
    digits=2,
    min_notional=Decimal(5),
)
CFD_DEFAULTS = InstrumentSpec(
    "XAUUSD.s",
    contract_size=Decimal(100),
    quantity_step=Decimal("0.01"),
    min_quantity=Decimal("0.01"),
    tick=Decimal("0.01"),
    digits=2,
)


def contracts_per_lot(perp: InstrumentSpec, cfd: InstrumentSpec) -> Decimal:
    """The hedge ratio: perpetual contracts per CFD lot (ounces per lot ÷ ounces per contract)."""
    return cfd.contract_size / perp.contract_size


def _exponent(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # finite Decimals only
    return exponent


def decimal_lcm(a: Decimal, b: Decimal) -> Decimal:
    """Least common multiple of two positive Decimals: the smallest positive value that is a whole multiple
    of both (`lcm(0.001, 1) == 1`, `lcm(0.4, 0.6) == 1.2`)."""
    if a <= 0 or b <= 0 or not a.is_finite() or not b.is_finite():
        raise ValueError("steps must be positive and finite")
    places = max(0, -_exponent(a), -_exponent(b))
    scale = Decimal(10) ** places
    return (Decimal(math.lcm(int(a * scale), int(b * scale))) / scale).normalize()


def hedge_step_oz(perp_step_oz: Decimal, cfd_step_oz: Decimal) -> Decimal:
    """The smallest hedge increment in ounces that both legs can trade exactly."""
    return decimal_lcm(perp_step_oz, cfd_step_oz)


def is_multiple(value: Decimal, step: Decimal) -> bool:
    if step <= 0:
        raise ValueError("step must be positive")
    return value % step == 0


def floor_to_step(value: Decimal, step: Decimal) -> Decimal:
    """The largest whole multiple of `step` not above `value` (for non-negative values)."""
    if step <= 0:
        raise ValueError("step must be positive")
    return (value / step).to_integral_value(rounding=ROUND_FLOOR) * step


def lots(ounces: Decimal, contract_size_oz: Decimal) -> Decimal:
    """Ounces → MT5 lots. Refuses an amount that is not a whole number of hundredths of a lot (the booked
    precision): rounding a hedge leg silently would leave it unhedged."""
    if contract_size_oz <= 0:
        raise ValueError("contract size must be positive")
    volume = ounces / contract_size_oz
    if volume * contract_size_oz != ounces or volume != volume.quantize(LOTS_QUANTUM):
        raise ValueError(f"{ounces} oz is not a whole number of {LOTS_QUANTUM} lots of {contract_size_oz} oz")
    return volume.quantize(LOTS_QUANTUM)


def ounces(volume_lots: Decimal, contract_size_oz: Decimal) -> Decimal:
    """MT5 lots → ounces (exact)."""
    if contract_size_oz <= 0:
        raise ValueError("contract size must be positive")
    return volume_lots * contract_size_oz


def valid_size(
    size_oz: Decimal,
    perp: InstrumentSpec,
    cfd: InstrumentSpec,
    *,
    reference_price: Decimal | None = None,
    field_name: str = "size_oz",
) -> list[Problem]:
    """Everything wrong with `size_oz` as a hedge size of `perp` against `cfd`; empty when both legs can trade it.

    `reference_price` (USDT/oz) checks the perp's MIN_NOTIONAL; without it that check is skipped.
    """
    if not size_oz.is_finite() or size_oz <= 0:
        return [problem(field_name, "not_positive", "%(field)s must be positive.", field=field_name)]
    problems = []
    if not is_multiple(size_oz, perp.step_oz):
        problems.append(
            problem(
                field_name,
                "perp_step",
                "%(field)s (%(size)s oz) must be a multiple of the perp step %(step)s oz.",
                field=field_name,
                size=size_oz,
                step=perp.step_oz,
            )
        )
    if not is_multiple(size_oz, cfd.step_oz):
        problems.append(
            problem(
                field_name,
                "cfd_step",
                "%(field)s (%(size)s oz) must be a multiple of the CFD step %(step)s oz "
                "(volume step %(lots)s lots × %(contract)s oz).",
                field=field_name,
                size=size_oz,
                step=cfd.step_oz.normalize(),
                lots=cfd.quantity_step,
                contract=cfd.contract_size,
            )
        )
    if size_oz < perp.min_oz:
        problems.append(
            problem(
                field_name,
                "perp_min_qty",
                "%(field)s (%(size)s oz) is below the perp minimum quantity %(minimum)s oz.",
                field=field_name,
                size=size_oz,
                minimum=perp.min_oz,
            )
        )
    if size_oz < cfd.min_oz:
        problems.append(
            problem(
                field_name,
                "cfd_min_volume",
                "%(field)s (%(size)s oz) is below the CFD minimum volume %(minimum)s oz (%(lots)s lots).",
                field=field_name,
                size=size_oz,
                minimum=cfd.min_oz.normalize(),
                lots=cfd.min_quantity,
            )
        )
    if reference_price is not None and size_oz * reference_price < perp.min_notional:
        problems.append(
            problem(
                field_name,
                "min_notional",
                "%(field)s (%(size)s oz) at %(price)s USDT/oz is below the perp minimum notional %(minimum)s USDT.",
                field=field_name,
                size=size_oz,
                price=reference_price,
                minimum=perp.min_notional,
            )
        )
    return problems
