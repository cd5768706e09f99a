"""Returns and risk figures of an equity series with external cash flows. Pure: no Django, no I/O.

Input: an `EquitySeries` — equity in USD (Decimal, as the money model books it) at every tick of a regular UTC
clock of one minute, one hour or one day (`Frequency`), its start aligned to the clock — and the account's
external `CashFlow`s (deposit positive, withdrawal negative). Output: a `PerformanceReport`.

Conventions (stated once, used everywhere below)
- A point's equity includes every flow booked at or before its timestamp. A flow at `t` with
  `t_{i-1} < t <= t_i` lands in period `i` and is applied at the START of that period: the money was there for
  the whole period, so period `i`'s return is `r_i = E_i / (E_{i-1} + F_i) − 1` (`F_i`: the period's net flows).
  Flows must lie in `(first timestamp, last timestamp]`; a flow at or before the first point is in its equity.
- Flow-adjusted equity is a unit price: the starting equity buys units at 1; a flow buys (or redeems) units at
  the unit price of the point before it (the start of its period). The *wealth index* `W_i` is equity ÷ units,
  so `W_i = Π (1 + r_k)` and a deposit or withdrawal leaves it unchanged — a withdrawal is not a drawdown, and a
  deposit mid-period leaves the time-weighted return unchanged. Computing `W_i = E_i / units` rather than as a
  running product keeps every point within a rounding per flow of its exact value, however long the series.
- Time-weighted return (TWR) = `W_n − 1` over the window (= total return); CAGR = TWR annualised over the
  window's length in years, `n / periods_per_year(clock)`.
- Money-weighted return (MWR) = the internal rate of return of −start equity at `t_0`, −each flow at the start
  of its period (the same timing as TWR) and +end equity at `t_n`: the root of `Σ c_k · exp(−g · τ_k) = 0` in `g`,
  the annual log growth, `τ_k` in years. Solved in float by a bracketing Newton iteration with bisection
  fallback, to |Δg| ≤ 1e-14 · max(1, |g|); when several roots exist, the one nearest zero found by an
  outward scan is taken; None when the flows have no root (e.g. every flow of one sign). Reported as
  annualised (`exp(g) − 1`), per period of the report's `frequency` (`exp(g / periods_per_year) − 1`) and
  over the window (`exp(g · years) − 1`, beside the TWR).
- Drawdowns are taken on the wealth index at the clock's resolution: underwater `D_i = W_i / max_{k≤i} W_k − 1`
  (≤ 0; within 1e-12 of the running peak counts as at the peak, so float noise in a round trip is not an
  underwater stretch). Maximum drawdown is `min D` (negative, as empyrical and QuantStats report it); its
  duration runs from the peak before the trough to the recovery (the first point back at the peak) or, still
  underwater, to the last point; recovery time runs from the trough to the recovery (None while underwater).
- Return statistics (volatility, Sharpe, Sortino, VaR/CVaR) are taken on returns at the report's `frequency`
  (daily by default; any clock at least as coarse as the series'), each return the wealth index's change over
  one UTC-aligned bucket of that length; a window that starts or ends inside a bucket contributes a partial one.
  Annualised with `periods_per_year = annualisation_days × buckets per day` (365 days by default: this book
  trades around the clock): volatility = sample standard deviation (ddof 1) × √periods_per_year; Sharpe =
  mean excess return ÷ that standard deviation × √periods_per_year; Sortino = mean excess return ×
  periods_per_year ÷ (√mean(min(r − rf, 0)²) × √periods_per_year) — the downside deviation over every period,
  not the standard deviation of the losing ones (empyrical's definition); the risk-free rate is annual,
  compounded to `(1 + rf)^(1/periods_per_year) − 1` per period and is also Sortino's required return. Calmar =
  CAGR ÷ |maximum drawdown|. Historical VaR at confidence c: the (1 − c) quantile of the returns with linear
  interpolation between order statistics; CVaR: the mean of the returns at or below the order statistic at
  index ⌊(n − 1)(1 − c)⌋ of the ascending returns. Both are returns (a loss is negative) over one period of
  `frequency` (one day by default).
- Daily and monthly tables: the same bucket returns for each UTC day and calendar month, with each day's PnL in
  USD (Decimal): equity change less the day's flows.

Numbers: equity, flows and PnL are booked money and stay Decimal. Returns, ratios, drawdowns and the IRR are
statistics, so they are floats (ARCHITECTURE.md "Units and formulas": statistics may be floats; no order is
priced from them). The heavy series maths — a year of one-minute points is 525,600 of them — runs in pure
Python over floats in a handful of passes (one conversion from Decimal, one division per point for the wealth
index, one comprehension for the underwater series, C-level sums, a partial sort for the VaR tail); Decimal
arithmetic touches only the flows and the bucket boundaries. bench/analytics.py measures it against numpy
(figures in bench/README.md); numpy is not a dependency of the domain.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, localcontext
from enum import StrEnum
from itertools import islice, pairwise, repeat
from operator import mul, sub, truediv

ZERO = Decimal(0)
PRECISION = 60
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
AT_PEAK_TOLERANCE = 1e-12
IRR_TOLERANCE = 1e-14
_IRR_MAX_ITERATIONS = 200
_EXP_LIMIT = 700.0  # exp(±700) stays finite in a double


class Frequency(StrEnum):
    """A regular UTC clock: the series' own (`EquitySeries.clock`) or the one returns are measured on."""

    MINUTE = "1m"
    HOUR = "1h"
    DAY = "1d"

    @property
    def seconds(self) -> int:
        return _SECONDS[self]

    @property
    def step(self) -> timedelta:
        return timedelta(seconds=_SECONDS[self])

    @property
    def periods_per_day(self) -> int:
        return 86_400 // _SECONDS[self]


_SECONDS = {Frequency.MINUTE: 60, Frequency.HOUR: 3_600, Frequency.DAY: 86_400}


def _utc(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime")
    return moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class EquitySeries:
    """Equity in USD at `start + i · clock.step` for i = 0 … len(equity) − 1. `start` is aware and aligned to the
    clock in UTC (a whole minute, hour or UTC midnight); at least two points."""

    start: datetime
    clock: Frequency
    equity: tuple[Decimal, ...]

    def __post_init__(self) -> None:
        start = _utc(self.start, "start")
        if (start - EPOCH) % self.clock.step:
            raise ValueError(f"start {start.isoformat()} is not on the {self.clock} clock")
        if len(self.equity) < 2:
            raise ValueError("an equity series needs at least two points")
        object.__setattr__(self, "start", start)
        if not isinstance(self.equity, tuple):
            object.__setattr__(self, "equity", tuple(self.equity))

    @classmethod
    def from_points(cls, points: Iterable[tuple[datetime, Decimal]], clock: Frequency) -> EquitySeries:
        """A series from (timestamp, equity) pairs, which must follow the clock with no gap or repeat."""
        times: list[datetime] = []
        values: list[Decimal] = []
        for at, value in points:
            times.append(at)
            values.append(value)
        if not times:
            raise ValueError("an equity series needs at least two points")
        start = _utc(times[0], "timestamp")
        step = clock.step
        for index, at in enumerate(times):
            if _utc(at, "timestamp") != start + index * step:
                raise ValueError(f"point {index} at {at.isoformat()} is off the {clock} clock from {start.isoformat()}")
        return cls(start, clock, tuple(values))

    @property
    def periods(self) -> int:
        return len(self.equity) - 1

    @property
    def end(self) -> datetime:
        return self.at(self.periods)

    def at(self, index: int) -> datetime:
        return self.start + index * self.clock.step


@dataclass(frozen=True, slots=True)
class CashFlow:
    """An external flow of the account in USD: positive a deposit, negative a withdrawal. Transfers between the
    desk's own accounts are flows of each account and cancel out at the desk."""

    at: datetime
    amount: Decimal


@dataclass(frozen=True, slots=True)
class DayResult:
    """One UTC day: the wealth index's return over it, and its PnL in USD (equity change less the day's flows)."""

    day: date
    ret: float
    pnl: Decimal


@dataclass(frozen=True, slots=True)
class MonthResult:
    """One calendar month (UTC) of the monthly-returns table."""

    year: int
    month: int
    ret: float


@dataclass(frozen=True, slots=True)
class PerformanceReport:
    """Every figure of `performance`; the module says how each is defined. Floats are None where the figure is
    undefined (too few returns, no dispersion, no drawdown, no IRR root)."""

    # What the figures are measured on.
    start: datetime
    end: datetime
    clock: Frequency  # the series' clock: drawdowns are taken at this resolution
    frequency: Frequency  # the return frequency of volatility, Sharpe, Sortino, VaR/CVaR and per-period MWR
    annualisation_days: int
    periods_per_year: int  # of `frequency`: annualisation_days × periods per day
    risk_free_rate: float  # annual
    var_confidence: float
    # Money (Decimal, USD).
    starting_equity: Decimal
    ending_equity: Decimal
    deposits: Decimal
    withdrawals: Decimal  # negative
    net_flows: Decimal
    pnl: Decimal  # ending − starting − net flows
    # Returns.
    twr: float
    cagr: float | None
    mwr: float | None  # over the window
    mwr_per_period: float | None  # per period of `frequency`
    mwr_annualised: float | None
    # Risk.
    volatility: float | None
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    max_drawdown: float  # ≤ 0
    max_drawdown_peak_at: datetime | None
    max_drawdown_trough_at: datetime | None
    max_drawdown_recovered_at: datetime | None
    max_drawdown_duration: timedelta  # peak → recovery, or → the last point while underwater
    recovery_time: timedelta | None  # trough → recovery; None while underwater
    longest_drawdown_duration: timedelta
    current_drawdown: float
    var: float | None
    cvar: float | None
    # Series and tables for the charts.
    returns: tuple[float, ...] = field(repr=False)  # at `frequency`
    daily: tuple[DayResult, ...] = field(repr=False)
    monthly: tuple[MonthResult, ...] = field(repr=False)
    wealth_index: tuple[float, ...] = field(repr=False)  # per point of the series, starts at 1
    underwater: tuple[float, ...] = field(repr=False)  # per point of the series

    @property
    def total_return(self) -> float:
        """The total return over the window is the time-weighted one: flows are not performance."""
        return self.twr


def performance(
    series: EquitySeries,
    flows: Iterable[CashFlow] = (),
    *,
    frequency: Frequency = Frequency.DAY,
    annualisation_days: int = 365,
    risk_free_rate: float = 0.0,
    var_confidence: float = 0.95,
) -> PerformanceReport:
    """Every return and risk figure of `series` with its external `flows` (see the module for definitions).

    Raises ValueError when a flow lies outside `(series.start, series.end]`, `frequency` is finer than the series'
    clock, a flow takes the equity before it below zero, equity is negative at the start or non-zero while no
    capital is invested, or a parameter is out of range."""
    if frequency.seconds < series.clock.seconds:
        raise ValueError(f"returns at {frequency} need a series at least that fine, not {series.clock}")
    if annualisation_days <= 0:
        raise ValueError("annualisation_days must be positive")
    if not 0.0 < var_confidence < 1.0:
        raise ValueError("var_confidence must lie between 0 and 1")
    if risk_free_rate <= -1.0:
        raise ValueError("the risk-free rate must be above −100 %")

    equity = series.equity
    periods = series.periods
    period_flows = _flows_by_period(series, flows)
    wealth = _wealth_index(equity, period_flows)
    underwater = _underwater(wealth)
    drawdown = _drawdown_figures(underwater, series)

    clock_per_year = annualisation_days * series.clock.periods_per_day
    periods_per_year = annualisation_days * frequency.periods_per_day
    years = periods / clock_per_year
    twr = wealth[-1] - 1.0
    cagr = math.expm1(math.log(wealth[-1]) / years) if wealth[-1] > 0 else None

    boundaries = _stride_boundaries(series, frequency)
    if len(boundaries) == periods + 1:
        returns = [after / before - 1.0 for before, after in pairwise(wealth)]
    else:
        returns = [wealth[b] / wealth[a] - 1.0 for a, b in pairwise(boundaries)]
    risk_free = math.expm1(math.log1p(risk_free_rate) / periods_per_year) if risk_free_rate else 0.0
    stats = _return_stats(returns, risk_free, periods_per_year, round(1.0 - var_confidence, 12))

    log_growth = _irr_log_growth(equity, period_flows, clock_per_year)

    with localcontext(prec=PRECISION):
        deposits = sum((amount for amount in period_flows.values() if amount > 0), ZERO)
        withdrawals = sum((amount for amount in period_flows.values() if amount < 0), ZERO)
        net_flows = deposits + withdrawals
        pnl = equity[-1] - equity[0] - net_flows

    max_drawdown = drawdown.max_drawdown
    return PerformanceReport(
        start=series.start,
        end=series.end,
        clock=series.clock,
        frequency=frequency,
        annualisation_days=annualisation_days,
        periods_per_year=periods_per_year,
        risk_free_rate=risk_free_rate,
        var_confidence=var_confidence,
        starting_equity=equity[0],
        ending_equity=equity[-1],
        deposits=deposits,
        withdrawals=withdrawals,
        net_flows=net_flows,
        pnl=pnl,
        twr=twr,
        cagr=cagr,
        mwr=None if log_growth is None else math.expm1(log_growth * years),
        mwr_per_period=None if log_growth is None else math.expm1(log_growth / periods_per_year),
        mwr_annualised=None if log_growth is None else math.expm1(log_growth),
        volatility=stats.volatility,
        sharpe=stats.sharpe,
        sortino=stats.sortino,
        calmar=cagr / -max_drawdown if cagr is not None and max_drawdown < 0 else None,
        max_drawdown=max_drawdown,
        max_drawdown_peak_at=drawdown.peak_at,
        max_drawdown_trough_at=drawdown.trough_at,
        max_drawdown_recovered_at=drawdown.recovered_at,
        max_drawdown_duration=drawdown.duration,
        recovery_time=drawdown.recovery_time,
        longest_drawdown_duration=drawdown.longest,
        current_drawdown=underwater[-1],
        var=stats.var,
        cvar=stats.cvar,
        returns=tuple(returns),
        daily=_daily(series, wealth, period_flows),
        monthly=_monthly(series, wealth),
        wealth_index=tuple(wealth),
        underwater=tuple(underwater),
    )


# --- flows and the wealth index ---------------------------------------------------------------------------------
def _flows_by_period(series: EquitySeries, flows: Iterable[CashFlow]) -> dict[int, Decimal]:
    """Net flow per period index i (the flow lies in (t_{i-1}, t_i]), in period order; zero sums dropped."""
    step = series.clock.step
    by_period: dict[int, Decimal] = {}
    with localcontext(prec=PRECISION):
        for flow in flows:
            whole, part = divmod(_utc(flow.at, "a cash flow's time") - series.start, step)
            index = whole + (1 if part else 0)
            if not 1 <= index <= series.periods:
                raise ValueError(
                    f"the cash flow at {flow.at.isoformat()} is outside the series "
                    f"({series.start.isoformat()}, {series.end.isoformat()}]"
                )
            by_period[index] = by_period.get(index, ZERO) + flow.amount
    return {index: by_period[index] for index in sorted(by_period) if by_period[index]}


def _wealth_index(equity: Sequence[Decimal], period_flows: dict[int, Decimal]) -> list[float]:
    """W_i = E_i / units, the units changing only at flows (bought at the unit price of the point before)."""
    if equity[0] < 0:
        raise ValueError("the starting equity is negative")
    floats = map(float, equity)  # consumed segment by segment: one pass, no copy
    wealth: list[float] = []
    units: float | None = float(equity[0]) if equity[0] > 0 else None  # None: nothing invested
    price = 1.0  # the unit price while nothing is invested: the last one
    begin = 0
    for index, amount in period_flows.items():
        _price_segment(wealth, islice(floats, index - begin), begin, units, price)
        price = wealth[index - 1]
        with localcontext(prec=PRECISION):
            base = equity[index - 1] + amount
        if base < 0:
            raise ValueError(f"the cash flow of period {index} takes the equity before it below zero")
        if base == 0:
            units = None
        elif price <= 0:
            raise ValueError(f"returns cannot be chained past period {index}: the capital before it was lost")
        else:
            units = float(base) / price
        begin = index
    _price_segment(wealth, floats, begin, units, price)
    return wealth


def _price_segment(wealth: list[float], values: Iterator[float], begin: int, units: float | None, price: float) -> None:
    if units is None:
        segment = list(values)
        if any(segment):
            moved = begin + next(i for i, value in enumerate(segment) if value)
            raise ValueError(f"equity is not zero at point {moved} while no capital is invested")
        wealth.extend([price] * len(segment))
    else:
        wealth.extend(map(truediv, values, repeat(units)))


# --- drawdowns ----------------------------------------------------------------------------------------------
def _underwater(wealth: list[float]) -> list[float]:
    """D_i = W_i / running peak − 1, snapped to 0 within AT_PEAK_TOLERANCE of the peak. One comprehension that
    carries the running peak (a comprehension is about a fifth faster than the same loop with append)."""
    peak = wealth[0]
    floor = -AT_PEAK_TOLERANCE
    return [
        drawdown if (drawdown := value / (peak := value if value > peak else peak) - 1.0) < floor else 0.0
        for value in wealth
    ]


@dataclass(frozen=True, slots=True)
class _Drawdown:
    max_drawdown: float
    peak_at: datetime | None
    trough_at: datetime | None
    recovered_at: datetime | None
    duration: timedelta
    recovery_time: timedelta | None
    longest: timedelta


def _drawdown_figures(underwater: list[float], series: EquitySeries) -> _Drawdown:
    step = series.clock.step
    last = len(underwater) - 1
    at_peak = [index for index, drawdown in enumerate(underwater) if not drawdown]
    longest_gap = max(map(sub, at_peak[1:], at_peak[:-1]), default=1)
    longest = max(longest_gap if longest_gap > 1 else 0, last - at_peak[-1]) * step
    deepest = min(underwater)
    if deepest == 0.0:
        return _Drawdown(0.0, None, None, None, timedelta(0), None, longest)
    trough = underwater.index(deepest)
    peak = at_peak[bisect_left(at_peak, trough) - 1]
    after = bisect_left(at_peak, trough)
    recovered = at_peak[after] if after < len(at_peak) else None
    return _Drawdown(
        max_drawdown=deepest,
        peak_at=series.at(peak),
        trough_at=series.at(trough),
        recovered_at=None if recovered is None else series.at(recovered),
        duration=((last if recovered is None else recovered) - peak) * step,
        recovery_time=None if recovered is None else (recovered - trough) * step,
        longest=longest,
    )


# --- return statistics --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Stats:
    volatility: float | None
    sharpe: float | None
    sortino: float | None
    var: float | None
    cvar: float | None


def _return_stats(returns: list[float], risk_free: float, periods_per_year: int, tail: float) -> _Stats:
    count = len(returns)
    if not count:
        return _Stats(None, None, None, None, None)
    excess = [r - risk_free for r in returns] if risk_free else returns
    total = math.fsum(excess)
    mean = total / count
    root_year = math.sqrt(periods_per_year)
    volatility = sharpe = sortino = None
    if count >= 2:
        # Σx² − (Σx)²/n: for returns the mean is small against the deviation, so the one-pass form loses nothing;
        # Σx is exactly rounded (signed terms cancel), Σx² of positive terms needs no compensation (relative
        # error below n·ε). Identical returns have no dispersion, whatever the residue.
        variance = (sum(map(mul, excess, excess)) - total * total / count) / (count - 1)
        std = math.sqrt(variance) if variance > 0 else 0.0
        if std < 1e-9 * abs(mean) and max(returns) == min(returns):
            std = 0.0
        volatility = std * root_year
        sharpe = mean / std * root_year if std else None
        losses = [x for x in excess if x < 0.0]
        downside = math.sqrt(sum(map(mul, losses, losses)) / count) * root_year
        sortino = mean * periods_per_year / downside if downside else None
    position = (count - 1) * tail
    below = math.floor(position)
    ordered = _lowest(returns, min(count, below + 2))
    var = ordered[below]
    if below + 1 < count:
        var += (position - below) * (ordered[below + 1] - var)
    cutoff = int(position)
    cvar = math.fsum(ordered[: cutoff + 1]) / (cutoff + 1)
    return _Stats(volatility, sharpe, sortino, var, cvar)


def _lowest(values: list[float], count: int) -> list[float]:
    """The `count` smallest of `values`, ascending. A tail (VaR's 5 % of a year of minutes is 26,000 of 525,600)
    need not sort the whole list: a threshold from every 32nd value, at twice the tail's share, keeps a
    superset of the tail that is sorted alone; when it keeps too few, the whole list is sorted."""
    if count * 8 >= len(values):
        return sorted(values)[:count]
    sample = sorted(values[::32])
    threshold = sample[min(len(sample) - 1, 2 * count // 32 + 1)]
    candidates = [value for value in values if value <= threshold]
    if len(candidates) < count:
        candidates = values
    return sorted(candidates)[:count]


# --- buckets: returns at a coarser clock, days and months --------------------------------------------------------
def _stride_boundaries(series: EquitySeries, frequency: Frequency) -> list[int]:
    """Point indices at the UTC-aligned bucket starts of `frequency` within the series, with both ends."""
    stride = frequency.seconds // series.clock.seconds
    periods = series.periods
    if stride == 1:
        return list(range(periods + 1))
    offset = ((series.start - EPOCH) // series.clock.step) % stride
    first = (stride - offset) % stride or stride
    inner = list(range(first, periods, stride))
    return [0, *inner, periods]


def _daily(series: EquitySeries, wealth: list[float], period_flows: dict[int, Decimal]) -> tuple[DayResult, ...]:
    boundaries = _stride_boundaries(series, Frequency.DAY)
    equity = series.equity
    flows_in: dict[int, Decimal] = {}
    with localcontext(prec=PRECISION):
        for index, amount in period_flows.items():
            bucket = bisect_left(boundaries, index) - 1
            flows_in[bucket] = flows_in.get(bucket, ZERO) + amount
        return tuple(
            DayResult(
                day=series.at(begin).date(),
                ret=wealth[end] / wealth[begin] - 1.0,
                pnl=equity[end] - equity[begin] - flows_in.get(bucket, ZERO),
            )
            for bucket, (begin, end) in enumerate(pairwise(boundaries))
        )


def _monthly(series: EquitySeries, wealth: list[float]) -> tuple[MonthResult, ...]:
    step = series.clock.step
    start = series.start
    year, month = start.year, start.month
    out: list[MonthResult] = []
    begin = 0
    while begin < series.periods:
        year_next, month_next = (year + 1, 1) if month == 12 else (year, month + 1)
        end = min((datetime(year_next, month_next, 1, tzinfo=UTC) - start) // step, series.periods)
        out.append(MonthResult(year, month, wealth[end] / wealth[begin] - 1.0))
        begin, year, month = end, year_next, month_next
    return tuple(out)


# --- money-weighted return ----------------------------------------------------------------------------------
def _irr_log_growth(equity: Sequence[Decimal], period_flows: dict[int, Decimal], clock_per_year: int) -> float | None:
    """The annual log growth g with Σ c_k · exp(−g τ_k) = 0 (investor's cash flows: −start, −flows, +end)."""
    amounts: dict[int, Decimal] = {0: -equity[0]}
    with localcontext(prec=PRECISION):
        for index, amount in period_flows.items():
            amounts[index - 1] = amounts.get(index - 1, ZERO) - amount  # at the start of its period
        last = len(equity) - 1
        amounts[last] = amounts.get(last, ZERO) + equity[-1]
    scale = max(abs(amount) for amount in amounts.values())
    if not scale:
        return None
    terms = [(float(amount / scale), index / clock_per_year) for index, amount in amounts.items() if amount]
    if all(c > 0 for c, _ in terms) or all(c < 0 for c, _ in terms):
        return None
    horizon = max(tau for _, tau in terms) or 1.0

    def npv(g: float) -> float:
        return math.fsum(c * math.exp(-g * tau) for c, tau in terms)

    def slope(g: float) -> float:
        return math.fsum(-tau * c * math.exp(-g * tau) for c, tau in terms)

    at_zero = npv(0.0)
    if at_zero == 0.0:
        return 0.0
    limit = _EXP_LIMIT / horizon
    width = min(1e-3, limit)
    inner_low = inner_high = 0.0
    value_low = value_high = at_zero
    while True:
        low, high = max(-width, -limit), min(width, limit)
        value_high_next, value_low_next = npv(high), npv(low)
        if value_high_next == 0.0:
            return high
        if value_low_next == 0.0:
            return low
        if math.copysign(1.0, value_high_next) != math.copysign(1.0, value_high):
            return _solve(npv, slope, inner_high, high, value_high)
        if math.copysign(1.0, value_low_next) != math.copysign(1.0, value_low):
            return _solve(npv, slope, low, inner_low, value_low_next)
        if width >= limit:
            return None
        inner_low, inner_high, value_low, value_high = low, high, value_low_next, value_high_next
        width *= 2.0


def _solve(
    npv: Callable[[float], float], slope: Callable[[float], float], low: float, high: float, value_low: float
) -> float:
    """Safeguarded Newton in the bracket [low, high] whose ends' values differ in sign (`value_low` at `low`)."""
    sign_low = math.copysign(1.0, value_low)
    x = 0.5 * (low + high)
    for _ in range(_IRR_MAX_ITERATIONS):
        value = npv(x)
        if value == 0.0:
            return x
        if math.copysign(1.0, value) == sign_low:
            low = x
        else:
            high = x
        derivative = slope(x)
        candidate = x - value / derivative if derivative else math.nan
        if not low < candidate < high:
            candidate = 0.5 * (low + high)
        if abs(candidate - x) <= IRR_TOLERANCE * max(1.0, abs(x)) or high - low <= IRR_TOLERANCE * max(1.0, abs(x)):
            return candidate
        x = candidate
    return x
