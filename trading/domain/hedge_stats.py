"""Statistics of closed hedges for the Reports page. Pure: no Django, no I/O.

Input: `ClosedHedge`s — each with its booked PnL split (`trading.domain.pnl.PnlSplit`, whose total is the hedge's
net PnL), its slippage against the decision price per leg, its entry and realised edge and its legs' fill times.
`hedge_stats` turns them, over a window, into a `HedgeStats`:

- Outcome: a win is a hedge whose net PnL is above zero, a loss one below; a break-even hedge counts in the
  win rate's denominator and in neither sum. Profit factor = gross profit ÷ |gross loss| (None without a
  loss). Expectancy = mean net PnL per hedge. Best and worst hedge by net PnL (the first one on a tie).
- Holding time: closed − opened; mean and median (the mean of the two middle ones for an even count).
  Hedges per day: hedges ÷ the window's length in days.
- Time in market: the union of the hedges' [opened, closed] intervals within the window. A hedge is *fully
  hedged* from the later of its two opening fills to the earlier of its two closing fills, and *legged* in the
  rest of its interval; the book is fully hedged while it is in the market and no hedge is legged, so time
  fully hedged = time in market − the union of the legged intervals. `time_in_market_share` is of the window;
  `fully_hedged_share` is of the time in market.
- PnL attribution (`PnlAttribution`): the `PnlSplit` lines with the spread line cut in two. `PnlSplit.spread`
  holds the trade flows at the prices actually filled; the slippage against the decision price is taken out
  of it, so `spread` here is the spread capture the decision priced and `slippage` what the fills gave up (or
  won) against it. spread + slippage + fees + funding + swap + fx = the net PnL, exactly: the lines are added
  at 60 significant digits, so sums of 8-dp booked amounts carry no rounding.
- Edges (USD per ounce, as the decision and the hedge record them): means of the entry and the realised edge,
  the mean shortfall (realised − entry) and the capture ratio Σ realised ÷ Σ entry.
- Distributions for the histograms: per-leg slippage (USD), leg skew (the CFD leg's opening fill time minus the
  perp leg's, in ms: positive when the CFD filled second), entry edges, realised edges and holding times (s);
  `histogram` buckets any of them at a fixed width (`nice_width` picks a 1-2-5 width for about N buckets).

Money (PnL, slippage, edges) is Decimal; shares and ratios are floats (statistics, ARCHITECTURE.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, localcontext

from .pnl import MONEY_QUANTUM, PRECISION, PnlSplit

ZERO = Decimal(0)
ATTRIBUTION_LINES = ("spread", "slippage", "fees", "funding", "swap", "fx")
_ONE_US = timedelta(microseconds=1)
_DAY = timedelta(days=1)


def leg_slippage(
    *, signed_oz: Decimal, fill_price: Decimal, decision_price: Decimal, usd_per_usdt: Decimal = Decimal(1)
) -> Decimal:
    """What filling `signed_oz` (positive a buy) at `fill_price` instead of `decision_price` did to the PnL, in USD:
    `−signed_oz · (fill − decision) · usd_per_usdt` — negative when the fill was worse (a buy above, a sell below
    the decision price). Prices per ounce in the leg's currency; `usd_per_usdt` the fill's own rate for the perp
    (USDT) leg, as `PnlSplit.spread` values its trade flows, and 1 for the USD (CFD) leg. Summed over a hedge's
    fills, it is exactly its spread line less the spread line the same fills would give at the decision prices."""
    with localcontext(prec=PRECISION):
        return -signed_oz * (fill_price - decision_price) * usd_per_usdt


@dataclass(frozen=True, slots=True)
class ClosedHedge:
    """A closed hedge as the statistics need it.

    `pnl`: its booked split (total = net PnL). `perp_slippage`/`cfd_slippage`: each leg's slippage against the
    decision price over its opening and closing fills, in USD, signed as PnL (`leg_slippage`). `entry_edge` and
    `realised_edge`: USD per ounce. `perp_filled_at`/`cfd_filled_at`: each leg's opening fill (the last one when
    it filled in parts); `perp_closed_at`/`cfd_closed_at`: each leg's closing fill, `closed_at` when not given."""

    ref: str
    opened_at: datetime
    closed_at: datetime
    pnl: PnlSplit
    perp_slippage: Decimal
    cfd_slippage: Decimal
    entry_edge: Decimal
    realised_edge: Decimal
    perp_filled_at: datetime
    cfd_filled_at: datetime
    perp_closed_at: datetime | None = None
    cfd_closed_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.closed_at < self.opened_at:
            raise ValueError(f"hedge {self.ref} closed before it opened")

    @property
    def holding_time(self) -> timedelta:
        return self.closed_at - self.opened_at

    @property
    def leg_skew(self) -> timedelta:
        """The CFD leg's opening fill time minus the perp leg's (positive: the CFD filled second)."""
        return self.cfd_filled_at - self.perp_filled_at

    @property
    def hedged_interval(self) -> tuple[datetime, datetime] | None:
        """From the later opening fill to the earlier closing fill, clipped to the hedge; None if never whole."""
        begin = max(self.perp_filled_at, self.cfd_filled_at, self.opened_at)
        end = min(self.perp_closed_at or self.closed_at, self.cfd_closed_at or self.closed_at, self.closed_at)
        return (begin, end) if begin < end else None


@dataclass(frozen=True, slots=True)
class PnlAttribution:
    """PnL in USD by what made it (see the module): `spread` is the spread capture at the decision prices."""

    spread: Decimal = ZERO
    slippage: Decimal = ZERO
    fees: Decimal = ZERO  # negative: paid
    funding: Decimal = ZERO
    swap: Decimal = ZERO
    fx: Decimal = ZERO  # USDT/USD

    @property
    def total(self) -> Decimal:
        with localcontext(prec=PRECISION):
            return self.spread + self.slippage + self.fees + self.funding + self.swap + self.fx

    def lines(self) -> list[tuple[str, Decimal]]:
        """(line, value) in `ATTRIBUTION_LINES` order: the waterfall's bars."""
        return [(line, getattr(self, line)) for line in ATTRIBUTION_LINES]

    def __add__(self, other: PnlAttribution) -> PnlAttribution:
        with localcontext(prec=PRECISION):
            return PnlAttribution(*(getattr(self, line) + getattr(other, line) for line in ATTRIBUTION_LINES))


def attribute(hedge: ClosedHedge) -> PnlAttribution:
    """One hedge's attribution: its split with the legs' slippage taken out of the spread line."""
    split = hedge.pnl
    with localcontext(prec=PRECISION):
        slippage = hedge.perp_slippage + hedge.cfd_slippage
        return PnlAttribution(
            spread=split.spread - slippage,
            slippage=slippage,
            fees=split.fees,
            funding=split.funding,
            swap=split.swap,
            fx=split.fx,
        )


def attribution(hedges: Iterable[ClosedHedge]) -> PnlAttribution:
    """The hedges' attributions added up; its total is the sum of their net PnL, exactly."""
    total = PnlAttribution()
    for hedge in hedges:
        total += attribute(hedge)
    return total


@dataclass(frozen=True, slots=True)
class HedgeOutcome:
    ref: str
    pnl: Decimal


@dataclass(frozen=True, slots=True)
class HedgeStats:
    """Every figure of `hedge_stats` (the module says how each is defined). None where undefined (no hedges,
    no loss for the profit factor, no time in market for the hedged share, no entry edge for the capture)."""

    since: datetime
    until: datetime
    count: int
    wins: int
    losses: int
    win_rate: float | None
    gross_profit: Decimal
    gross_loss: Decimal  # ≤ 0
    total_pnl: Decimal
    profit_factor: float | None
    expectancy: Decimal | None  # 8 dp
    average_win: Decimal | None  # 8 dp
    average_loss: Decimal | None  # 8 dp
    best: HedgeOutcome | None
    worst: HedgeOutcome | None
    average_holding: timedelta | None
    median_holding: timedelta | None
    hedges_per_day: float
    time_in_market: timedelta
    time_in_market_share: float
    time_fully_hedged: timedelta
    fully_hedged_share: float | None
    attribution: PnlAttribution
    perp_slippage_total: Decimal
    cfd_slippage_total: Decimal
    entry_edge_mean: Decimal | None  # 8 dp
    realised_edge_mean: Decimal | None  # 8 dp
    edge_shortfall_mean: Decimal | None  # realised − entry, 8 dp
    edge_capture_ratio: float | None  # Σ realised ÷ Σ entry
    leg_skew_median_ms: Decimal | None
    leg_skew_max_abs_ms: Decimal | None
    # Distributions, in the hedges' order, for `histogram`.
    perp_slippages: tuple[Decimal, ...]
    cfd_slippages: tuple[Decimal, ...]
    leg_skews_ms: tuple[Decimal, ...]
    entry_edges: tuple[Decimal, ...]
    realised_edges: tuple[Decimal, ...]
    holding_seconds: tuple[Decimal, ...]


def hedge_stats(hedges: Iterable[ClosedHedge], *, since: datetime, until: datetime) -> HedgeStats:
    """The statistics of `hedges` over the window [since, until]: the caller passes the hedges the window covers
    (e.g. those closed in it); their intervals are clipped to the window for the time shares."""
    if until <= since:
        raise ValueError("the window must end after it starts")
    hedges = tuple(hedges)
    count = len(hedges)
    with localcontext(prec=PRECISION):
        totals = [hedge.pnl.total for hedge in hedges]
        wins = [pnl for pnl in totals if pnl > 0]
        losses = [pnl for pnl in totals if pnl < 0]
        gross_profit = sum(wins, ZERO)
        gross_loss = sum(losses, ZERO)
        total_pnl = sum(totals, ZERO)
        entry_sum = sum((hedge.entry_edge for hedge in hedges), ZERO)
        realised_sum = sum((hedge.realised_edge for hedge in hedges), ZERO)
        perp_slippage_total = sum((hedge.perp_slippage for hedge in hedges), ZERO)
        cfd_slippage_total = sum((hedge.cfd_slippage for hedge in hedges), ZERO)
    holdings = sorted(hedge.holding_time for hedge in hedges)
    skews_ms = tuple(_ms(hedge.leg_skew) for hedge in hedges)
    best = max(range(count), key=totals.__getitem__, default=None)
    worst = min(range(count), key=totals.__getitem__, default=None)

    window = until - since
    in_market = _measure(_clip((hedge.opened_at, hedge.closed_at), since, until) for hedge in hedges)
    legged = _measure(_clip(part, since, until) for hedge in hedges for part in _legged_parts(hedge))
    fully_hedged = in_market - legged

    return HedgeStats(
        since=since,
        until=until,
        count=count,
        wins=len(wins),
        losses=len(losses),
        win_rate=len(wins) / count if count else None,
        gross_profit=gross_profit,
        gross_loss=gross_loss,
        total_pnl=total_pnl,
        profit_factor=float(gross_profit / -gross_loss) if losses else None,
        expectancy=_mean(total_pnl, count),
        average_win=_mean(gross_profit, len(wins)),
        average_loss=_mean(gross_loss, len(losses)),
        best=None if best is None else HedgeOutcome(hedges[best].ref, totals[best]),
        worst=None if worst is None else HedgeOutcome(hedges[worst].ref, totals[worst]),
        average_holding=sum(holdings, timedelta(0)) / count if count else None,
        median_holding=_median_duration(holdings),
        hedges_per_day=count / (window / _DAY),
        time_in_market=in_market,
        time_in_market_share=in_market / window,
        time_fully_hedged=fully_hedged,
        fully_hedged_share=fully_hedged / in_market if in_market else None,
        attribution=attribution(hedges),
        perp_slippage_total=perp_slippage_total,
        cfd_slippage_total=cfd_slippage_total,
        entry_edge_mean=_mean(entry_sum, count),
        realised_edge_mean=_mean(realised_sum, count),
        edge_shortfall_mean=_mean(realised_sum - entry_sum, count),
        edge_capture_ratio=float(realised_sum / entry_sum) if entry_sum else None,
        leg_skew_median_ms=_median(sorted(skews_ms)),
        leg_skew_max_abs_ms=max((abs(skew) for skew in skews_ms), default=None),
        perp_slippages=tuple(hedge.perp_slippage for hedge in hedges),
        cfd_slippages=tuple(hedge.cfd_slippage for hedge in hedges),
        leg_skews_ms=skews_ms,
        entry_edges=tuple(hedge.entry_edge for hedge in hedges),
        realised_edges=tuple(hedge.realised_edge for hedge in hedges),
        holding_seconds=tuple(_ms(hedge.holding_time) / 1000 for hedge in hedges),
    )


# --- histograms ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Bucket:
    """Values in [lower, upper)."""

    lower: Decimal
    upper: Decimal
    count: int


def histogram(
    values: Iterable[Decimal], *, width: Decimal, origin: Decimal = ZERO, max_buckets: int = 1_000
) -> tuple[Bucket, ...]:
    """Counts of `values` in buckets [origin + k·width, origin + (k+1)·width), from the lowest value's bucket to
    the highest's, empty buckets included (the chart keeps its scale). Raises ValueError when `width` is not
    positive or the buckets would be more than `max_buckets`."""
    if width <= 0:
        raise ValueError("the bucket width must be positive")
    counts: dict[int, int] = {}
    with localcontext(prec=PRECISION):
        for value in values:
            index = int(((value - origin) / width).to_integral_value(rounding=ROUND_FLOOR))
            counts[index] = counts.get(index, 0) + 1
        if not counts:
            return ()
        first, last = min(counts), max(counts)
        if last - first + 1 > max_buckets:
            raise ValueError(f"{last - first + 1} buckets of {width} exceed {max_buckets}: pick a wider bucket")
        return tuple(
            Bucket(origin + index * width, origin + (index + 1) * width, counts.get(index, 0))
            for index in range(first, last + 1)
        )


def nice_width(values: Sequence[Decimal], *, buckets: int = 20) -> Decimal:
    """A bucket width of 1, 2 or 5 × 10^k that spreads `values` over about `buckets` buckets (at most that
    many widths across their range); 1 when they are all equal or there are none."""
    if buckets < 1:
        raise ValueError("buckets must be at least 1")
    if not values:
        return Decimal(1)
    with localcontext(prec=PRECISION):
        spread = max(values) - min(values)
        if not spread:
            return Decimal(1)
        raw = spread / buckets
        power = Decimal(10) ** raw.adjusted()
        for step in (1, 2, 5, 10):
            width = power * step
            if width >= raw:
                return width.normalize()
        raise AssertionError("unreachable: 10 × 10^adjusted(x) ≥ x")


# --- helpers ------------------------------------------------------------------------------------------------
def _mean(total: Decimal, count: int) -> Decimal | None:
    if not count:
        return None
    with localcontext(prec=PRECISION):
        return (total / count).quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)


def _median(ordered: Sequence[Decimal]) -> Decimal | None:
    if not ordered:
        return None
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    with localcontext(prec=PRECISION):
        return (ordered[middle - 1] + ordered[middle]) / 2


def _median_duration(ordered: Sequence[timedelta]) -> timedelta | None:
    if not ordered:
        return None
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _ms(duration: timedelta) -> Decimal:
    """A duration in milliseconds, exact to the microsecond."""
    return Decimal(duration // _ONE_US) / 1000


def _legged_parts(hedge: ClosedHedge) -> list[tuple[datetime, datetime]]:
    hedged = hedge.hedged_interval
    if hedged is None:
        return [(hedge.opened_at, hedge.closed_at)]
    return [(hedge.opened_at, hedged[0]), (hedged[1], hedge.closed_at)]


def _clip(interval: tuple[datetime, datetime], since: datetime, until: datetime) -> tuple[datetime, datetime]:
    return max(interval[0], since), min(interval[1], until)


def _measure(intervals: Iterable[tuple[datetime, datetime]]) -> timedelta:
    """The length of the union of the intervals (empty ones ignored)."""
    total = timedelta(0)
    covered_until: datetime | None = None
    for begin, end in sorted(interval for interval in intervals if interval[0] < interval[1]):
        if covered_until is None or begin >= covered_until:
            total += end - begin
            covered_until = end
        elif end > covered_until:
            total += end - covered_until
            covered_until = end
    return total
