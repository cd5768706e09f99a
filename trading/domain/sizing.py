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
class VenueSpecs:
    """The instrument facts sizing needs, read from the venues at sizing time (never stored as truth).

    Perp (Binance `exchangeInfo`, quantities already in ounces: contracts × contractSize): `perp_tick`
    (USDT/oz), `perp_step_oz` (LOT_SIZE stepSize), `perp_min_qty_oz` (LOT_SIZE minQty),
    `perp_min_notional_usdt` (MIN_NOTIONAL). CFD (MT5 `symbol_info`): `cfd_contract_size_oz` (ounces per lot),
    `cfd_volume_min_lots`, `cfd_volume_step_lots`, `cfd_digits`.
    """

    perp_tick: Decimal = Decimal("0.01")
    perp_step_oz: Decimal = Decimal("0.001")
    perp_min_qty_oz: Decimal = Decimal("0.001")
    perp_min_notional_usdt: Decimal = Decimal(5)
    cfd_contract_size_oz: Decimal = Decimal(100)
    cfd_volume_min_lots: Decimal = Decimal("0.01")
    cfd_volume_step_lots: Decimal = Decimal("0.01")
    cfd_digits: int = 2

    def __post_init__(self) -> None:
        for name in ("perp_tick", "perp_step_oz", "cfd_contract_size_oz", "cfd_volume_step_lots"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        for name in ("perp_min_qty_oz", "perp_min_notional_usdt", "cfd_volume_min_lots"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} cannot be negative")
        if self.cfd_digits < 0:
            raise ValueError("cfd_digits cannot be negative")

    @property
    def cfd_step_oz(self) -> Decimal:
        return self.cfd_volume_step_lots * self.cfd_contract_size_oz

    @property
    def cfd_min_oz(self) -> Decimal:
        return self.cfd_volume_min_lots * self.cfd_contract_size_oz

    @property
    def hedge_step_oz(self) -> Decimal:
        return hedge_step_oz(self.perp_step_oz, self.cfd_step_oz)

    @property
    def cfd_point(self) -> Decimal:
        """The CFD's price point (`point` in MT5): 10**-digits."""
        return Decimal(1).scaleb(-self.cfd_digits)


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
    specs: VenueSpecs,
    *,
    reference_price: Decimal | None = None,
    field_name: str = "size_oz",
) -> list[Problem]:
    """Everything wrong with `size_oz` as a hedge size; empty when it can be traded on both legs.

    `reference_price` (USDT/oz) checks the perp's MIN_NOTIONAL; without it that check is skipped.
    """
    if not size_oz.is_finite() or size_oz <= 0:
        return [problem(field_name, "not_positive", "%(field)s must be positive.", field=field_name)]
    problems = []
    if not is_multiple(size_oz, specs.perp_step_oz):
        problems.append(
            problem(
                field_name,
                "perp_step",
                "%(field)s (%(size)s oz) must be a multiple of the perp step %(step)s oz.",
                field=field_name,
                size=size_oz,
                step=specs.perp_step_oz,
            )
        )
    if not is_multiple(size_oz, specs.cfd_step_oz):
        problems.append(
            problem(
                field_name,
                "cfd_step",
                "%(field)s (%(size)s oz) must be a multiple of the CFD step %(step)s oz "
                "(volume step %(lots)s lots × %(contract)s oz).",
                field=field_name,
                size=size_oz,
                step=specs.cfd_step_oz.normalize(),
                lots=specs.cfd_volume_step_lots,
                contract=specs.cfd_contract_size_oz,
            )
        )
    if size_oz < specs.perp_min_qty_oz:
        problems.append(
            problem(
                field_name,
                "perp_min_qty",
                "%(field)s (%(size)s oz) is below the perp minimum quantity %(minimum)s oz.",
                field=field_name,
                size=size_oz,
                minimum=specs.perp_min_qty_oz,
            )
        )
    if size_oz < specs.cfd_min_oz:
        problems.append(
            problem(
                field_name,
                "cfd_min_volume",
                "%(field)s (%(size)s oz) is below the CFD minimum volume %(minimum)s oz (%(lots)s lots).",
                field=field_name,
                size=size_oz,
                minimum=specs.cfd_min_oz.normalize(),
                lots=specs.cfd_volume_min_lots,
            )
        )
    if reference_price is not None and size_oz * reference_price < specs.perp_min_notional_usdt:
        problems.append(
            problem(
                field_name,
                "min_notional",
                "%(field)s (%(size)s oz) at %(price)s USDT/oz is below the perp minimum notional %(minimum)s USDT.",
                field=field_name,
                size=size_oz,
                price=reference_price,
                minimum=specs.perp_min_notional_usdt,
            )
        )
    return problems
