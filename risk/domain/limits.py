"""Limits that act: the evaluation core, pure, over Decimal, no Django, no I/O.

A `Limit` watches one metric of one scope (a desk, a pool, a strategy or an account) with a warning level, a breach
level, a direction (`max`: the metric must stay below; `min`: above) and the action its breach calls for —
alert, block new entries (reduce-only), pause the strategy, or flatten, with `confirm` when a person confirms the
action first. `evaluate(limits, metrics, previous)` says where each limit stands: ok, warning (alert, never act)
or breach (the limit's action).

A level is reached at the threshold itself (`value >= level` for a max, `<=` for a min). **Hysteresis**: a limit
that has reached a level only leaves it once the metric has come back past the level by the limit's `hysteresis`
band (in the metric's units), so a metric oscillating around a level does not flap between states (and fire an
action at every step). Getting worse is never delayed. A metric without a value (None or absent: nothing to
measure, such as a liquidation distance without a position) is ok.

Metrics are the figures a limit compares, signed as the limit reads them: magnitudes for unhedged exposure and
USDT/USD exposure, a positive loss for the daily loss, the USDT/USD rate's age in seconds (a missing rate counts as
`RATE_AGE_CAP_S`, so it reaches every breach level) and its distance from parity in basis points (`depeg_bps`).
`loss_streak` and `daily_pnl` compute two of them; drawdown comes from trading/domain/performance.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from enum import StrEnum

ZERO = Decimal(0)
ONE = Decimal(1)
BPS = Decimal(10_000)
RATE_AGE_CAP_S = Decimal(86_400)
"""The age a USDT/USD rate is measured up to (a day): an older rate, or none at all, counts as this old. It is the
top of the age limits' range (risk/models.py `LEVEL_RANGES`), so a missing rate breaches every age limit."""


class Metric(StrEnum):
    UNHEDGED_OZ = "unhedged_oz"
    UNHEDGED_USD = "unhedged_usd"
    LIQUIDATION_DISTANCE_PCT = "liquidation_distance_pct"
    MT5_MARGIN_LEVEL_PCT = "mt5_margin_level_pct"
    MT5_LEVEL_ABOVE_STOP_OUT = "mt5_level_above_stop_out"
    DRAWDOWN_PCT = "drawdown_pct"
    DAILY_LOSS_USD = "daily_loss_usd"
    LOSS_STREAK = "loss_streak"
    USDT_EXPOSURE_USD = "usdt_exposure_usd"
    GROSS_NOTIONAL_USD = "gross_notional_usd"
    WEEKEND_GAP_LIQUIDATION_DISTANCE_PCT = "weekend_gap_liquidation_distance_pct"
    WEEKEND_GAP_MT5_MARGIN_LEVEL_PCT = "weekend_gap_mt5_margin_level_pct"
    USDT_RATE_AGE_S = "usdt_rate_age_s"
    USDT_DEPEG_BPS = "usdt_depeg_bps"


class Direction(StrEnum):
    MAX = "max"  # the metric must stay below the levels
    MIN = "min"  # the metric must stay above the levels


NATURAL_DIRECTION: Mapping[Metric, Direction] = {
    Metric.UNHEDGED_OZ: Direction.MAX,
    Metric.UNHEDGED_USD: Direction.MAX,
    Metric.LIQUIDATION_DISTANCE_PCT: Direction.MIN,
    Metric.MT5_MARGIN_LEVEL_PCT: Direction.MIN,
    Metric.MT5_LEVEL_ABOVE_STOP_OUT: Direction.MIN,
    Metric.DRAWDOWN_PCT: Direction.MAX,
    Metric.DAILY_LOSS_USD: Direction.MAX,
    Metric.LOSS_STREAK: Direction.MAX,
    Metric.USDT_EXPOSURE_USD: Direction.MAX,
    Metric.GROSS_NOTIONAL_USD: Direction.MAX,
    Metric.WEEKEND_GAP_LIQUIDATION_DISTANCE_PCT: Direction.MIN,
    Metric.WEEKEND_GAP_MT5_MARGIN_LEVEL_PCT: Direction.MIN,
    Metric.USDT_RATE_AGE_S: Direction.MAX,
    Metric.USDT_DEPEG_BPS: Direction.MAX,
}
"""The direction each metric's limits take (an editor's default; a `Limit` states its own)."""

SHOWN_PLACES: Mapping[Metric, int] = {
    Metric.UNHEDGED_OZ: 3,  # Binance's XAUUSDT step, 0.001 oz
    Metric.UNHEDGED_USD: 2,
    Metric.LIQUIDATION_DISTANCE_PCT: 2,
    Metric.MT5_MARGIN_LEVEL_PCT: 1,
    Metric.MT5_LEVEL_ABOVE_STOP_OUT: 1,
    Metric.DRAWDOWN_PCT: 2,
    Metric.DAILY_LOSS_USD: 2,
    Metric.LOSS_STREAK: 0,
    Metric.USDT_EXPOSURE_USD: 2,
    Metric.GROSS_NOTIONAL_USD: 2,
    Metric.WEEKEND_GAP_LIQUIDATION_DISTANCE_PCT: 2,
    Metric.WEEKEND_GAP_MT5_MARGIN_LEVEL_PCT: 1,
    Metric.USDT_RATE_AGE_S: 0,
    Metric.USDT_DEPEG_BPS: 1,
}
"""How many decimals a measured value of each metric is shown with (a page's reading, not what limits compare:
they compare the value as measured)."""


class Action(StrEnum):
    ALERT = "alert"
    BLOCK_ENTRIES = "block_entries"  # reduce-only, through the order gate
    PAUSE = "pause"
    FLATTEN = "flatten"


class LimitLevel(StrEnum):
    OK = "ok"
    WARNING = "warning"
    BREACH = "breach"


_RANK = {LimitLevel.OK: 0, LimitLevel.WARNING: 1, LimitLevel.BREACH: 2}


class ScopeKind(StrEnum):
    DESK = "desk"
    POOL = "pool"
    STRATEGY = "strategy"
    ACCOUNT = "account"


@dataclass(frozen=True, slots=True)
class Scope:
    kind: ScopeKind
    ref: int | str


@dataclass(frozen=True, slots=True)
class Limit:
    """One limit (see the module). `key` identifies it across evaluations (its previous level is looked up by
    it); `hysteresis` is the band, in the metric's units, a metric must come back past a level to leave it."""

    key: str
    metric: Metric
    scope: Scope
    warning: Decimal | None
    breach: Decimal | None
    direction: Direction
    action: Action = Action.ALERT
    confirm: bool = False
    hysteresis: Decimal = ZERO

    def __post_init__(self) -> None:
        if self.warning is None and self.breach is None:
            raise ValueError("A limit needs a warning level, a breach level or both.")
        if self.warning is not None and self.breach is not None:
            wrong_way = self.warning > self.breach if self.direction is Direction.MAX else self.warning < self.breach
            if wrong_way:
                raise ValueError("The warning level must come before the breach level.")
        if self.hysteresis < 0:
            raise ValueError("The hysteresis band cannot be negative.")
        if self.confirm and self.action is Action.ALERT:
            raise ValueError("Only an action that changes trading can wait for a person's confirmation.")

    def raw_level(self, value: Decimal) -> LimitLevel:
        """The level `value` is at, with no memory of the previous one."""
        if self._reached(value, self.breach):
            return LimitLevel.BREACH
        if self._reached(value, self.warning):
            return LimitLevel.WARNING
        return LimitLevel.OK

    def _reached(self, value: Decimal, level: Decimal | None) -> bool:
        if level is None:
            return False
        return value >= level if self.direction is Direction.MAX else value <= level

    def level(self, value: Decimal | None, previous: LimitLevel = LimitLevel.OK) -> LimitLevel:
        """The level after `previous`, with hysteresis: worse at once, better only past the band."""
        if value is None:
            return LimitLevel.OK
        raw = self.raw_level(value)
        if _RANK[raw] >= _RANK[previous]:
            return raw
        toward_worse = value + self.hysteresis if self.direction is Direction.MAX else value - self.hysteresis
        held = self.raw_level(toward_worse)
        return held if _RANK[held] < _RANK[previous] else previous


@dataclass(frozen=True, slots=True)
class LimitState:
    """Where a limit stands: its value, level, the level before, and the action to take now — the limit's own on
    a breach, an alert on a warning, none when ok; `confirm` when a person must confirm that action first."""

    limit: Limit
    value: Decimal | None
    level: LimitLevel
    previous: LimitLevel

    @property
    def action(self) -> Action | None:
        if self.level is LimitLevel.BREACH:
            return self.limit.action
        if self.level is LimitLevel.WARNING:
            return Action.ALERT
        return None

    @property
    def confirm(self) -> bool:
        return self.level is LimitLevel.BREACH and self.limit.confirm

    @property
    def changed(self) -> bool:
        return self.level is not self.previous

    @property
    def worsened(self) -> bool:
        """Entered a worse level with this evaluation (when a breach starts, or a warning)."""
        return _RANK[self.level] > _RANK[self.previous]

    @property
    def threshold(self) -> Decimal | None:
        """The level the value is at (breach or warning level); None when ok."""
        if self.level is LimitLevel.BREACH:
            return self.limit.breach
        if self.level is LimitLevel.WARNING:
            return self.limit.warning
        return None


def evaluate(
    limits: Iterable[Limit],
    metrics: Mapping[tuple[Metric, Scope], Decimal | None],
    previous: Mapping[str, LimitLevel] | None = None,
) -> list[LimitState]:
    """Every limit against its metric (`metrics[(limit.metric, limit.scope)]`), after its previous level
    (`previous[limit.key]`, ok when unknown), in the order given."""
    before = previous or {}
    states = []
    for limit in limits:
        value = metrics.get((limit.metric, limit.scope))
        was = before.get(limit.key, LimitLevel.OK)
        states.append(LimitState(limit, value, limit.level(value, was), was))
    return states


# --- metrics ---------------------------------------------------------------------------------------------------


def loss_streak(pnls: Sequence[Decimal]) -> int:
    """Losses in a row at the end of `pnls` (oldest first): trades (or days) with PnL < 0; anything else ends it."""
    streak = 0
    for pnl in reversed(pnls):
        if pnl >= 0:
            break
        streak += 1
    return streak


def longest_loss_streak(pnls: Iterable[Decimal]) -> int:
    """The most losses in a row anywhere in `pnls`."""
    longest = current = 0
    for pnl in pnls:
        current = current + 1 if pnl < 0 else 0
        longest = max(longest, current)
    return longest


def daily_pnl(
    equity: Iterable[tuple[datetime, Decimal]],
    flows: Iterable[tuple[datetime, Decimal]] = (),
    *,
    tz: tzinfo = UTC,
) -> dict[date, Decimal]:
    """PnL per day (in `tz`) from an equity series and the money moved in or out (deposits > 0, withdrawals < 0):
    a day's last equity − the equity it started from (the previous day's last point, or the day's first when there
    is none) − the flows after that start up to the day's last point. A withdrawal is not a loss."""
    points = sorted(equity, key=lambda point: point[0])
    moves = sorted(flows, key=lambda flow: flow[0])
    by_day: dict[date, list[tuple[datetime, Decimal]]] = defaultdict(list)
    for at, value in points:
        by_day[at.astimezone(tz).date()].append((at, value))
    result: dict[date, Decimal] = {}
    previous_last: tuple[datetime, Decimal] | None = None
    for day in sorted(by_day):
        day_points = by_day[day]
        start_at, start_value = previous_last if previous_last is not None else day_points[0]
        end_at, end_value = day_points[-1]
        moved = sum((amount for at, amount in moves if start_at < at <= end_at), ZERO)
        result[day] = end_value - start_value - moved
        previous_last = day_points[-1]
    return result


def depeg_bps(usd_per_usdt: Decimal) -> Decimal:
    """How far one USDT is from one USD, in basis points: |usd_per_usdt − 1| × 10,000 (a depeg either way)."""
    return abs(usd_per_usdt - ONE) * BPS


def rate_age_s(age_seconds: Decimal | None) -> Decimal:
    """The age limits read: the rate's age in seconds, capped at `RATE_AGE_CAP_S`; a missing rate (None) at the
    cap."""
    if age_seconds is None:
        return RATE_AGE_CAP_S
    return min(max(age_seconds, ZERO), RATE_AGE_CAP_S)
