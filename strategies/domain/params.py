"""A strategy's configuration: one immutable version of its parameters, its JSON form and its validation.

Threshold convention (ARCHITECTURE.md "Units and formulas"), in USD/oz or in bps of the CFD mid:

- **Entry**: open a hedge in direction d when its *net edge* `net_d` (the raw edge `e_d` minus both legs'
  round-trip fees — four fills —, the slippage buffer, plus the signed expected carry over
  `expected_holding_hours`, exactly `trading.domain.spread.net_edges`) is **≥ `entry_threshold`**. `net_d` is the
  profit per ounce if the hedge is later closed at a zero closing edge.
- **Exit**: close an open hedge of direction d when its *remaining edge* — minus the raw edge of the closing
  trade, i.e. `−e_bp` for a sell-perp hedge and `−e_sp` for a buy-perp hedge, what the hedge would still gain
  if the basis converged all the way — is **≤ `exit_threshold`**. Equivalently: the closing trade's raw edge
  is ≥ `−exit_threshold`.
- Over a round trip the spread capture net of every modelled cost is then ≥ `entry_threshold −
  exit_threshold` (realised carry and slippage aside), which is why `exit_threshold < entry_threshold` is
  required; at entry the remaining edge is `net_d + costs + both spreads > entry_threshold`, so a hedge is never
  closed by the tick that opened it. `exit_threshold` may be negative (wait for the basis to overshoot).

Money values are Decimal; the JSON form keeps them as strings so no float ever touches them. Unknown keys are
refused; missing keys take their defaults, so every stored version still loads after fields are added.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from risk.domain.checks import RiskLimits
from trading.domain.sizing import InstrumentSpec, Problem, problem, valid_size

__all__ = [
    "FundingSource",
    "GapPolicy",
    "Mode",
    "ParamsError",
    "Problem",
    "StopPolicy",
    "StrategyParams",
    "SwapSource",
    "TerminalPolicy",
    "ThresholdUnit",
    "validate",
]


class ThresholdUnit(StrEnum):
    USD = "usd"  # USD per ounce
    BPS = "bps"  # basis points of the CFD mid


class FundingSource(StrEnum):
    LIVE = "live"  # the venue's predicted rate
    FIXED = "fixed"  # `funding_rate_fixed`


class SwapSource(StrEnum):
    SYMBOL = "symbol"  # MT5 symbol_info swap terms
    OVERRIDE = "override"  # `swap_long_override` / `swap_short_override`


class GapPolicy(StrEnum):
    HOLD = "hold"
    FLATTEN = "flatten"


class TerminalPolicy(StrEnum):
    """What the strategy does while its CFD account's MT5 terminal is not ready to trade (mt5ops' state): `hold`
    opens no new hedge and resumes by itself once the terminal is ready; `pause` pauses the strategy (an operator
    resumes it). Either way hedges in flight are still managed and closed."""

    HOLD = "hold"
    PAUSE = "pause"


class Mode(StrEnum):
    PAPER = "paper"
    LIVE = "live"


class StopPolicy(StrEnum):
    LEAVE = "leave"
    FLATTEN = "flatten"


@dataclass(frozen=True, slots=True)
class StrategyParams:
    """One version of a strategy's parameters. Defaults suit XAUUSDT vs XAUUSD.s (1 oz = 0.01 lot of 100 oz).

    Units: thresholds in `threshold_unit`; ounces; USD; `slippage_bps` is the perp IOC limit's distance from the
    touch and `cfd_deviation_points` the MT5 `deviation`; `slippage_buffer_usd` is the expected slippage over the
    four fills in USD/oz, subtracted from the net edge. `funding_rate_fixed` is per funding event, signed as
    Binance publishes it; swap overrides are signed USD per ounce per night as the broker books them.
    `usd_per_usdt_source` is "pair" (the pool's pair's own source) or a rate source name.
    """

    entry_threshold: Decimal = Decimal("1.00")
    exit_threshold: Decimal = Decimal("0.50")
    threshold_unit: ThresholdUnit = ThresholdUnit.USD
    zscore_filter: Decimal | None = None
    zscore_window: int = 300
    size_oz: Decimal = Decimal(1)
    max_open_hedges: int = 3
    max_position_oz: Decimal = Decimal(3)
    max_unhedged_oz: Decimal = Decimal("0.5")
    max_notional_usd: Decimal | None = None
    max_legging_seconds: int = 10
    slippage_bps: Decimal = Decimal(5)
    slippage_buffer_usd: Decimal = Decimal("0.10")
    cfd_deviation_points: int = 20
    stop_loss_usd: Decimal | None = None
    time_stop_minutes: int | None = None
    expected_holding_hours: Decimal = Decimal(8)
    funding_source: FundingSource = FundingSource.LIVE
    funding_rate_fixed: Decimal | None = None
    swap_source: SwapSource = SwapSource.SYMBOL
    swap_long_override: Decimal | None = None
    swap_short_override: Decimal | None = None
    usd_per_usdt_source: str = "pair"
    max_rate_age_seconds: int = 300
    no_entry_before_close_minutes: int = 15
    no_entry_after_open_minutes: int = 15
    max_cfd_spread: Decimal = Decimal("0.50")
    gap_policy: GapPolicy = GapPolicy.HOLD
    flatten_before_close_minutes: int = 5
    cooldown_seconds: int = 30
    max_quote_age_ms: int = 2_000
    loss_limit_usd: Decimal | None = None
    drawdown_limit_usd: Decimal | None = None
    min_liquidation_distance_bps: Decimal = Decimal(1_000)
    stop_out_buffer_pct: Decimal = Decimal(50)
    mode: Mode = Mode.PAPER
    stop_policy: StopPolicy = StopPolicy.LEAVE
    terminal_policy: TerminalPolicy = TerminalPolicy.HOLD

    # --- JSON ---------------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: Decimals as strings, enums as their values, ints as ints, None as null."""
        out: dict[str, Any] = {}
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            if isinstance(value, Decimal):
                out[spec.name] = str(value)
            elif isinstance(value, StrEnum):
                out[spec.name] = value.value
            else:
                out[spec.name] = value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StrategyParams:
        """Parse `to_json()` output. Raises ParamsError (with one Problem per bad key) on unknown keys or
        values of the wrong type; missing keys take their defaults."""
        problems: list[Problem] = []
        values: dict[str, Any] = {}
        for key in sorted(set(data) - set(_PARSERS)):
            problems.append(problem(key, "unknown_field", "%(field)s is not a strategy parameter.", field=key))
        for name, parse in _PARSERS.items():
            if name not in data:
                continue
            try:
                values[name] = parse(data[name])
            except (TypeError, ValueError, InvalidOperation):
                problems.append(
                    problem(
                        name,
                        "invalid_value",
                        "%(field)s has an invalid value %(value)s.",
                        field=name,
                        value=repr(data[name]),
                    )
                )
        if problems:
            raise ParamsError(problems)
        return cls(**values)

    def replace(self, **changes: Any) -> StrategyParams:
        return dataclasses.replace(self, **changes)

    def risk_limits(self) -> RiskLimits:
        """The pre-trade limits these parameters set (risk.domain.checks)."""
        return RiskLimits(
            max_quote_age_ms=self.max_quote_age_ms,
            max_position_oz=self.max_position_oz,
            max_notional_usd=self.max_notional_usd,
            max_unhedged_oz=self.max_unhedged_oz,
            max_cfd_spread=self.max_cfd_spread,
            no_entry_before_close_minutes=self.no_entry_before_close_minutes,
            no_entry_after_open_minutes=self.no_entry_after_open_minutes,
            min_liquidation_distance_bps=self.min_liquidation_distance_bps,
            stop_out_buffer_pct=self.stop_out_buffer_pct,
        )


class ParamsError(ValueError):
    """Stored or submitted JSON that does not parse into StrategyParams."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


# --- parsing ------------------------------------------------------------------------------------------------
def _decimal(value: Any) -> Decimal:
    # Floats are refused: a float in stored JSON means precision was already lost somewhere.
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError("a decimal is a string or an integer")
    result = Decimal(value)
    if not result.is_finite():
        raise ValueError("not a finite number")
    return result


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not an integer")
    return int(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def _optional(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else parse(value)


def _parser_for(annotation: str) -> Callable[[Any], Any]:
    simple: dict[str, Callable[[Any], Any]] = {"Decimal": _decimal, "int": _integer, "str": _text}
    enums: dict[str, type[StrEnum]] = {
        cls.__name__: cls
        for cls in (ThresholdUnit, FundingSource, SwapSource, GapPolicy, Mode, StopPolicy, TerminalPolicy)
    }
    base, _, rest = annotation.partition(" | ")
    if base in simple:
        parse = simple[base]
    else:
        enum = enums[base]
        parse = lambda value: enum(_text(value))  # noqa: E731
    return _optional(parse) if rest == "None" else parse


_PARSERS: dict[str, Callable[[Any], Any]] = {
    spec.name: _parser_for(str(spec.type)) for spec in dataclasses.fields(StrategyParams)
}


# --- validation ---------------------------------------------------------------------------------------------
_SOURCE_NAME = re.compile(r"^[a-z0-9_-]{1,16}$")
MAX_SLIPPAGE_BPS = Decimal(500)
MIN_QUOTE_AGE_MS = 100
MAX_QUOTE_AGE_MS = 60_000
MAX_LEGGING_SECONDS = 300
MINUTES_PER_DAY = 24 * 60
MAX_FUNDING_RATE = Decimal("0.1")
MAX_HOLDING_HOURS = Decimal(24 * 366)


def validate(
    params: StrategyParams, perp: InstrumentSpec, cfd: InstrumentSpec, *, reference_price: Decimal | None = None
) -> list[Problem]:
    """Everything wrong with `params` for a hedge of `perp` against `cfd`; empty when the version may be saved.

    `reference_price` (USDT/oz, e.g. the latest perp bid) enables the MIN_NOTIONAL check of `size_oz`.
    """
    p = params
    problems: list[Problem] = []
    add = problems.append

    def at_least(name: str, minimum: Decimal | int, code: str = "min_value") -> None:
        value = getattr(p, name)
        if value is not None and value < minimum:
            add(problem(name, code, "%(field)s must be at least %(minimum)s.", field=name, minimum=minimum))

    def positive(name: str) -> None:
        value = getattr(p, name)
        if value is not None and value <= 0:
            add(problem(name, "not_positive", "%(field)s must be positive.", field=name))

    def at_most(name: str, maximum: Decimal | int) -> None:
        value = getattr(p, name)
        if value is not None and value > maximum:
            add(problem(name, "max_value", "%(field)s must be at most %(maximum)s.", field=name, maximum=maximum))

    # Thresholds.
    positive("entry_threshold")
    if p.exit_threshold >= p.entry_threshold:
        add(
            problem(
                "exit_threshold",
                "exit_not_below_entry",
                "%(field)s (%(exit)s) must be below entry_threshold (%(entry)s): a round trip captures at least "
                "entry − exit.",
                field="exit_threshold",
                exit=p.exit_threshold,
                entry=p.entry_threshold,
            )
        )
    positive("zscore_filter")
    at_least("zscore_window", 2)

    # Size and limits.
    problems.extend(valid_size(p.size_oz, perp, cfd, reference_price=reference_price))
    at_least("max_open_hedges", 1)
    positive("max_position_oz")
    if p.size_oz > 0 and p.max_position_oz > 0:
        if p.max_position_oz < p.size_oz:
            add(
                problem(
                    "max_position_oz",
                    "position_below_size",
                    "%(field)s (%(position)s oz) is below size_oz (%(size)s oz): no hedge could ever open.",
                    field="max_position_oz",
                    position=p.max_position_oz,
                    size=p.size_oz,
                )
            )
        elif p.max_open_hedges >= 1 and p.max_open_hedges * p.size_oz > p.max_position_oz:
            add(
                problem(
                    "max_open_hedges",
                    "hedges_exceed_position",
                    "%(field)s × size_oz (%(count)s × %(size)s oz) exceeds max_position_oz (%(position)s oz).",
                    field="max_open_hedges",
                    count=p.max_open_hedges,
                    size=p.size_oz,
                    position=p.max_position_oz,
                )
            )
    if p.max_unhedged_oz < 0:
        add(problem("max_unhedged_oz", "negative", "%(field)s cannot be negative.", field="max_unhedged_oz"))
    elif p.max_unhedged_oz < perp.step_oz:
        add(
            problem(
                "max_unhedged_oz",
                "unhedged_below_step",
                "%(field)s (%(value)s oz) is below the perp step %(step)s oz: any residual would breach it.",
                field="max_unhedged_oz",
                value=p.max_unhedged_oz,
                step=perp.step_oz,
            )
        )
    positive("max_notional_usd")
    if (
        p.max_notional_usd is not None
        and p.max_notional_usd > 0
        and reference_price is not None
        and p.size_oz > 0
        and p.size_oz * reference_price > p.max_notional_usd
    ):
        add(
            problem(
                "max_notional_usd",
                "notional_below_size",
                "%(field)s (%(notional)s USD) is below one hedge's notional (%(size)s oz at %(price)s).",
                field="max_notional_usd",
                notional=p.max_notional_usd,
                size=p.size_oz,
                price=reference_price,
            )
        )
    at_least("max_legging_seconds", 1)
    at_most("max_legging_seconds", MAX_LEGGING_SECONDS)

    # Execution.
    at_least("slippage_bps", 0, "negative")
    at_most("slippage_bps", MAX_SLIPPAGE_BPS)
    at_least("slippage_buffer_usd", 0, "negative")
    at_least("cfd_deviation_points", 0, "negative")
    positive("stop_loss_usd")
    positive("time_stop_minutes")

    # Carry.
    at_least("expected_holding_hours", 0, "negative")
    at_most("expected_holding_hours", MAX_HOLDING_HOURS)
    if p.funding_source is FundingSource.FIXED and p.funding_rate_fixed is None:
        add(
            problem(
                "funding_rate_fixed",
                "required",
                "%(field)s is required when funding_source is fixed.",
                field="funding_rate_fixed",
            )
        )
    if p.funding_rate_fixed is not None and abs(p.funding_rate_fixed) > MAX_FUNDING_RATE:
        add(
            problem(
                "funding_rate_fixed",
                "max_value",
                "%(field)s must be between -%(maximum)s and %(maximum)s per funding event.",
                field="funding_rate_fixed",
                maximum=MAX_FUNDING_RATE,
            )
        )
    if p.swap_source is SwapSource.OVERRIDE:
        for name in ("swap_long_override", "swap_short_override"):
            if getattr(p, name) is None:
                add(problem(name, "required", "%(field)s is required when swap_source is override.", field=name))
    if not _SOURCE_NAME.match(p.usd_per_usdt_source):
        add(
            problem(
                "usd_per_usdt_source",
                "invalid_source",
                "%(field)s must be 1–16 characters of a–z, 0–9, _ or -.",
                field="usd_per_usdt_source",
            )
        )
    at_least("max_rate_age_seconds", 1)

    # Sessions.
    for name in ("no_entry_before_close_minutes", "no_entry_after_open_minutes", "flatten_before_close_minutes"):
        at_least(name, 0, "negative")
        at_most(name, MINUTES_PER_DAY)
    positive("max_cfd_spread")
    if p.gap_policy is GapPolicy.FLATTEN and p.flatten_before_close_minutes > p.no_entry_before_close_minutes:
        add(
            problem(
                "flatten_before_close_minutes",
                "flatten_after_entry_window",
                "%(field)s (%(flatten)s min) exceeds no_entry_before_close_minutes (%(window)s min): hedges "
                "would open only to be flattened.",
                field="flatten_before_close_minutes",
                flatten=p.flatten_before_close_minutes,
                window=p.no_entry_before_close_minutes,
            )
        )
    at_least("cooldown_seconds", 0, "negative")
    at_least("max_quote_age_ms", MIN_QUOTE_AGE_MS)
    at_most("max_quote_age_ms", MAX_QUOTE_AGE_MS)

    # Risk.
    positive("loss_limit_usd")
    positive("drawdown_limit_usd")
    at_least("min_liquidation_distance_bps", 0, "negative")
    at_most("min_liquidation_distance_bps", Decimal(10_000))
    at_least("stop_out_buffer_pct", 0, "negative")
    return problems
