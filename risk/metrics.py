"""The risk figures from our data: the database read once, the pure domain code applied.

Nothing here computes a margin, a liquidation price, an exposure or a drawdown itself: `risk/domain/liquidation.py`
(Binance maintenance margin and liquidation price, MT5 margin level against the account's own levels),
`risk/domain/exposure.py` (pool exposure, which leg first, next funding, tonight's swap), `risk/domain/weekend.py`
(the gap projection), `risk/domain/limits.py` (daily PnL, loss streak) and `trading/domain/performance.py`
(drawdown on the flow-adjusted wealth index) do. This module finds their inputs:

- an account's state: its latest `AccountSnapshot` (the venue's own figures for a live account, the paper ledger's
  for a paper one), the position in it (else the open hedges' legs), the leverage brackets (a live Binance
  account's own, `GET /fapi/v1/leverageBracket` as the sync last read them into the snapshot; else the paper
  brackets, `QUANTARB_PAPER_PERP_BRACKETS` or the defaults) and, for MT5, the account's margin-call / stop-out
  levels and mode (`margin_so_*`, recorded by the sync; the simulated terminal's for a paper account);
- prices: the newest spread sample of the pair that prices the pool (perp mid, CFD bid/ask, USDT/USD);
- the USDT/USD rate the pool's pair prices with (`UsdtRate`): the newest observation of its rate source
  (`RateTick`, within a day: `risk.domain.limits.RATE_AGE_CAP_S`) with its age, or the pair's fixed rate — the
  limits on its age (a missing rate counts as a day old) and on its distance from parity (bps) read it;
- carry: the funding rate last settled (else the pair's expected rate), the CFD's swap terms last read (else the
  pair's), the CFD instrument's session calendar;
- the equity series (`EquityPoint`, hourly over `QUANTARB_RISK_DRAWDOWN_DAYS` and the latest minute point) for
  drawdown and daily PnL, closed hedges for the loss streak;
- the weekend move: p95/p99 of the CFD's recorded gaps (spread samples around the calendar's past closes and
  reopens over `QUANTARB_RISK_GAP_LOOKBACK_DAYS`), or the tenant's override (`GapMoveOverride`); the scheduled
  margin changes (`ScheduledMarginChange`) apply to the projection.

Every read is one query over every tenant asked for, whatever the number of pools (`metric_values` runs in a
bounded number of queries: tests/risk/test_metrics_queries.py).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Q, Sum

from accounts.choices import AccountMode
from accounts.models import AccountPool, AccountSnapshot, Tenant, VenueAccount
from accounts.venue_kinds import spec_for
from quantarb import clock
from trading.choices import LIVE_HEDGE_STATUSES, HedgeStatus, RateSource
from trading.domain import calendar as cal
from trading.domain import pnl
from trading.domain.margin import CalcMode, LeverageBracket, MarginError, Mt5MarginSpec, brackets_from_wire
from trading.domain.performance import CashFlow, EquitySeries, Frequency, performance
from trading.execution.paper_ledger import paper_brackets, paper_cfd_terms
from trading.models import (
    EquityPoint,
    FundingRateRecord,
    Hedge,
    Instrument,
    RateTick,
    SourcePair,
    SpreadSample,
    SwapTermsRecord,
)
from trading.models.portfolio import EquityResolution, EquityScope

from .domain import exposure as ex
from .domain import limits as lim
from .domain import liquidation as liq
from .domain import weekend as wk
from .domain.limits import Metric, Scope, ScopeKind
from .models import GapMoveOverride, ScheduledMarginChange

ZERO = Decimal(0)
ONE = Decimal(1)
TWO = Decimal(2)
HUNDRED = Decimal(100)

# The simulated terminal's account levels (trading/venues/mt5/sim.py): a paper CFD account is margined like it.
PAPER_MT5_LEVELS = liq.Mt5Levels(margin_call=Decimal(100), stop_out=Decimal(50), mode=liq.StopOutMode.PERCENT)


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def drawdown_days() -> int:
    return int(_setting("QUANTARB_RISK_DRAWDOWN_DAYS", 30))


def gap_lookback_days() -> int:
    return int(_setting("QUANTARB_RISK_GAP_LOOKBACK_DAYS", 182))


def gap_lead() -> timedelta:
    return timedelta(hours=float(_setting("QUANTARB_RISK_GAP_LEAD_HOURS", 12)))


LOSS_STREAK_DAYS = 90
GAP_EDGE = timedelta(minutes=30)  # the last sample before a close / first after a reopen is looked for this close


# --- the figures -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VenueFigures:
    """A live Binance account's own figures beside ours (USDT) and the differences (ours − venue's)."""

    margin_balance: Decimal | None
    maintenance_margin: Decimal | None
    liquidation_price: Decimal | None
    margin_balance_diff: Decimal | None
    maintenance_margin_diff: Decimal | None
    liquidation_price_diff: Decimal | None
    adl_quantile: int | None


@dataclass(frozen=True)
class PerpAccountRisk:
    account_id: int
    label: str
    live: bool
    snapshot_at: datetime | None
    quantity_oz: Decimal
    mark_price: Decimal | None
    wallet_balance: Decimal | None
    risk: liq.PerpRisk | None
    brackets_source: str  # "venue" (the account's own, as last read), "configured" or "default"
    venue: VenueFigures | None
    problem: str = ""
    brackets_read_at: datetime | None = None  # when the venue's brackets were read (source "venue")
    brackets_error: str = ""  # the venue's brackets could not be read at the last attempt: why (earlier ones stand)

    @property
    def liquidation_bracket(self) -> int | None:
        """The bracket holding the notional at our liquidation price."""
        if self.risk is None or self.risk.liquidation is None:
            return None
        return self.risk.liquidation.bracket.bracket

    @property
    def margin_balance(self) -> Decimal | None:
        return None if self.risk is None else self.risk.margin_balance

    @property
    def maintenance_margin(self) -> Decimal | None:
        return None if self.risk is None else self.risk.maintenance_margin

    @property
    def margin_ratio_pct(self) -> Decimal | None:
        return None if self.risk is None else self.risk.margin_ratio

    @property
    def liquidation_price(self) -> Decimal | None:
        if self.risk is None or self.risk.liquidation is None:
            return None
        return self.risk.liquidation.price

    @property
    def distance_pct(self) -> Decimal | None:
        """The distance to liquidation in percent (a magnitude; 0 once liquidatable)."""
        if self.risk is None or self.risk.distance is None:
            return None
        return ZERO if self.risk.liquidatable else self.risk.distance.abs_percent

    @property
    def distance_usd(self) -> Decimal | None:
        """The gold move (USD/oz, signed) that reaches the liquidation price."""
        if self.risk is None or self.risk.distance is None:
            return None
        return ZERO if self.risk.liquidatable else self.risk.distance.move_usd


@dataclass(frozen=True)
class CfdAccountRisk:
    account_id: int
    label: str
    live: bool
    snapshot_at: datetime | None
    quantity_oz: Decimal
    currency: str
    levels: liq.Mt5Levels | None
    state: liq.Mt5StopOut | None
    problem: str = ""

    @property
    def margin_level_pct(self) -> Decimal | None:
        return None if self.state is None else self.state.margin_level

    @property
    def level_above_stop_out(self) -> Decimal | None:
        return None if self.state is None else self.state.headroom

    @property
    def move_to_stop_out(self) -> Decimal | None:
        return None if self.state is None else self.state.move_to_stop_out

    @property
    def move_to_margin_call(self) -> Decimal | None:
        return None if self.state is None else self.state.move_to_margin_call

    @property
    def margin_use_pct(self) -> Decimal | None:
        if self.state is None or self.state.equity <= 0:
            return None
        return self.state.margin / self.state.equity * HUNDRED


@dataclass(frozen=True)
class Drawdown:
    current_pct: Decimal  # ≥ 0, percent below the peak
    max_pct: Decimal  # ≥ 0
    since: datetime
    until: datetime


@dataclass(frozen=True)
class Performance:
    drawdown: Drawdown | None
    daily_pnl_usd: Decimal | None
    loss_streak: int


@dataclass(frozen=True)
class GapFigures:
    window: wk.GapWindow
    move: wk.GapMove
    due: bool
    projection: wk.GapProjection | None
    changes: tuple[wk.MarginChange, ...] = ()

    @property
    def worst_net_pnl_usd(self) -> Decimal | None:
        if self.projection is None or not self.projection.scenarios:
            return None
        return min(scenario.net_pnl_usd for scenario in self.projection.scenarios)


@dataclass(frozen=True)
class UsdtRate:
    """The USDT/USD rate a pool is priced with: its pair's rate source, the newest observation of that source
    within `RATE_AGE_CAP_S` (its value, time and age in seconds), or the pair's fixed rate (an assumption by
    configuration: never stale)."""

    source: str  # a RateSource value
    fixed: bool
    usd_per_usdt: Decimal | None
    at: datetime | None
    age_s: Decimal | None

    @property
    def source_label(self) -> str:
        return str(RateSource(self.source).label) if self.source in RateSource.values else self.source

    @property
    def missing(self) -> bool:
        """No observation of the source within the horizon: nothing prices the pool's edges."""
        return not self.fixed and self.at is None

    @property
    def age_metric(self) -> Decimal | None:
        """The age the limits read: seconds, a missing rate at the cap; None for a fixed rate."""
        return None if self.fixed else lim.rate_age_s(self.age_s)

    @property
    def depeg_bps(self) -> Decimal | None:
        return None if self.usd_per_usdt is None else lim.depeg_bps(self.usd_per_usdt)


@dataclass(frozen=True)
class PoolRisk:
    pool_id: int
    tenant_id: int
    name: str
    pair_id: int | None
    priced_at: datetime | None
    usd_per_usdt: Decimal | None
    cfd_price: Decimal | None  # the CFD mid, USD/oz
    perp: PerpAccountRisk
    cfd: CfdAccountRisk
    exposure: ex.Exposure | None
    race: ex.LimitRace | None
    funding: ex.FundingForecast | None
    swap: ex.SwapForecast | None
    gap: GapFigures | None
    gap_note: str
    performance: Performance
    strategy_ids: tuple[int, ...] = ()
    rate: UsdtRate | None = None  # None: no pair prices the pool

    @property
    def first_leg(self) -> ex.LegLimit | None:
        return None if self.race is None else self.race.first

    @property
    def nearest_distance_pct(self) -> Decimal | None:
        """The perp's distance to liquidation in percent of the mark."""
        return self.perp.distance_pct


@dataclass(frozen=True)
class StrategyRisk:
    strategy_id: int
    pool_id: int
    name: str
    net_oz: Decimal
    gross_notional_usd: Decimal | None
    performance: Performance


@dataclass(frozen=True)
class DeskRisk:
    tenant_id: int
    name: str
    pools: tuple[PoolRisk, ...]
    strategies: tuple[StrategyRisk, ...]
    exposure: ex.Exposure | None
    performance: Performance
    gap_move: wk.GapMove | None
    now: datetime
    values: dict[tuple[Metric, Scope], Decimal | None] = field(default_factory=dict)

    def pool(self, pool_id: int) -> PoolRisk | None:
        return next((p for p in self.pools if p.pool_id == pool_id), None)

    @property
    def perp_margin_use_pct(self) -> Decimal | None:
        """Maintenance margin ÷ margin balance over the desk's Binance accounts (liquidation at 100)."""
        balance = sum((p.perp.margin_balance or ZERO for p in self.pools), ZERO)
        maintenance = sum((p.perp.maintenance_margin or ZERO for p in self.pools), ZERO)
        return None if balance <= 0 or maintenance <= 0 else maintenance / balance * HUNDRED

    @property
    def cfd_margin_use_pct(self) -> Decimal | None:
        """Used margin ÷ equity over the desk's MT5 accounts."""
        equity = sum((p.cfd.state.equity for p in self.pools if p.cfd.state is not None), ZERO)
        margin = sum((p.cfd.state.margin for p in self.pools if p.cfd.state is not None), ZERO)
        return None if equity <= 0 or margin <= 0 else margin / equity * HUNDRED

    @property
    def nearest_liquidation(self) -> PoolRisk | None:
        ranked = [p for p in self.pools if p.perp.distance_pct is not None]
        return min(ranked, key=lambda p: p.perp.distance_pct or ZERO, default=None)

    @property
    def nearest_stop_out(self) -> PoolRisk | None:
        ranked = [p for p in self.pools if p.cfd.move_to_stop_out is not None]
        return min(ranked, key=lambda p: abs(p.cfd.move_to_stop_out or ZERO), default=None)

    @property
    def next_funding(self) -> tuple[datetime, Decimal] | None:
        forecasts = [p.funding for p in self.pools if p.funding is not None and p.funding.amount_usdt != 0]
        if not forecasts:
            return None
        at = min(f.at for f in forecasts)
        return at, sum((f.amount_usd for f in forecasts if f.at == at), ZERO)

    @property
    def tonight_swap_usd(self) -> Decimal | None:
        swaps = [p.swap for p in self.pools if p.swap is not None and p.swap.amount != 0]
        if not swaps:
            return None
        return sum((s.amount for s in swaps), ZERO)

    @property
    def stalest_rate(self) -> PoolRisk | None:
        """The pool whose USDT/USD rate is oldest (a missing one first); None when every pool's is fixed or none
        is priced."""
        ranked = [p for p in self.pools if p.rate is not None and p.rate.age_metric is not None]
        return max(ranked, key=lambda p: p.rate.age_metric or ZERO, default=None)  # type: ignore[union-attr]

    @property
    def worst_gap(self) -> PoolRisk | None:
        ranked = [p for p in self.pools if p.gap is not None and p.gap.projection is not None]
        return min(
            ranked,
            key=lambda p: (
                p.gap.projection.min_liquidation_distance_pct  # type: ignore[union-attr]
                if p.gap.projection.min_liquidation_distance_pct is not None  # type: ignore[union-attr]
                else Decimal("Infinity")
            ),
            default=None,
        )


# --- reading ---------------------------------------------------------------------------------------------------


@dataclass
class _Data:
    now: datetime
    tenants: dict[int, str]
    pools: list[AccountPool]
    snapshots: dict[int, AccountSnapshot]
    book: dict[tuple[int, int | None], tuple[Decimal, Decimal]]  # (pool, strategy) → (perp oz, cfd oz)
    strategies: dict[int, list[tuple[int, str]]]  # pool → [(strategy id, name)]
    strategy_tenant: dict[int, int]
    closed: dict[tuple[str, int], list[Decimal]]  # ("pool"|"strategy"|"desk", id) → closed hedges' PnL, oldest first
    instruments: dict[tuple[str, str], Instrument]
    pool_pair: dict[int, SourcePair]
    samples: dict[int, SpreadSample]
    rates: dict[str, RateTick]  # rate source → its newest observation within the horizon
    funding: dict[int, FundingRateRecord]
    swaps: dict[int, SwapTermsRecord]
    hourly: dict[tuple[int, str, int], list[tuple[datetime, Decimal, Decimal]]]
    latest: dict[tuple[int, str, int], tuple[datetime, Decimal, Decimal]]
    overrides: dict[int, wk.GapMove]
    changes: dict[int, tuple[wk.MarginChange, ...]]
    calendars: dict[int, cal.SessionCalendar]  # pair id → the CFD's calendar
    gap_moves: dict[tuple[int, str], wk.GapMove]  # (pair id, gap kind) → recorded move
    spec_memo: dict[str, Mt5MarginSpec] = field(default_factory=dict)


def _instrument_key(account: VenueAccount) -> tuple[str, str] | None:
    spec = spec_for(account.venue)
    if spec is None or spec.instrument_venue is None or spec.instrument_symbol is None:
        return None  # no instrument is stored under a missing symbol: the pool is priced by no pair
    return (spec.instrument_venue, spec.instrument_symbol)


def _choose_pairs(
    pools: list[AccountPool], instruments: dict[tuple[str, str], Instrument], pairs: list[SourcePair]
) -> dict[int, SourcePair]:
    """The pair pricing each pool, as `trading.portfolio.equity.pair_of_pool` picks it (the desk's own before the
    platform's, the one at the pool's perp endpoint first), over pairs read once."""
    chosen: dict[int, SourcePair] = {}
    for pool in pools:
        perp_key, cfd_key = _instrument_key(pool.perp_account), _instrument_key(pool.cfd_account)
        perp, cfd = instruments.get(perp_key) if perp_key else None, instruments.get(cfd_key) if cfd_key else None
        if perp is None or cfd is None:
            continue
        candidates = [
            pair
            for pair in pairs
            if pair.perp_source.instrument_id == perp.pk
            and pair.cfd_source.instrument_id == cfd.pk
            and pair.tenant_id in (pool.tenant_id, None)
        ]
        candidates.sort(key=lambda pair: (pair.tenant_id is None, pair.pk))
        preferred = [p for p in candidates if p.perp_source.endpoint == pool.perp_account.rest_endpoint]
        if preferred or candidates:
            chosen[pool.pk] = (preferred or candidates)[0]
    return chosen


def _pair_calendar(pair: SourcePair) -> cal.SessionCalendar:
    """The CFD's calendar as the market data pipeline uses it (the demo's always-open one for a simulated source)."""
    return pair.cfd_source.session_calendar(demo_calendar=bool(_setting("QUANTARB_DEMO_CALENDAR", True)))


def past_gaps(calendar: cal.SessionCalendar, *, since: datetime, until: datetime) -> list[wk.GapWindow]:
    """The calendar's closed spells that closed and reopened within [since, until], oldest first."""
    windows: list[wk.GapWindow] = []
    moment = since
    while moment < until and len(windows) < 2000:
        window = wk.next_gap(calendar, moment)
        if window is None or window.reopen_at > until:
            break
        if not window.in_progress:
            windows.append(window)
        moment = window.reopen_at + timedelta(minutes=1)
    return windows


def _recorded_gap_moves(calendars: dict[int, cal.SessionCalendar], now: datetime) -> dict[tuple[int, str], wk.GapMove]:
    """p95/p99 of each pair's recorded gaps, per kind of gap (break, weekend, holiday): the CFD mid of the last
    spread sample before each close and the first after its reopen. One query for every pair."""
    since = now - timedelta(days=gap_lookback_days())
    ranges = Q(pk__in=[])
    windows_by_pair: dict[int, list[wk.GapWindow]] = {}
    for pair_id, calendar in calendars.items():
        if calendar.always_open:
            continue
        windows = past_gaps(calendar, since=since, until=now)
        if not windows:
            continue
        windows_by_pair[pair_id] = windows
        spans = Q()
        for window in windows:
            spans |= Q(ts__gt=window.close_at - GAP_EDGE, ts__lte=window.close_at)
            spans |= Q(ts__gte=window.reopen_at, ts__lt=window.reopen_at + GAP_EDGE)
        ranges |= Q(pair_id=pair_id) & spans
    if not windows_by_pair:
        return {}
    rows = (
        SpreadSample.objects.filter(ranges).order_by("pair_id", "ts").values_list("pair_id", "ts", "cfd_bid", "cfd_ask")
    )
    by_pair: dict[int, list[tuple[datetime, Decimal]]] = defaultdict(list)
    for pair_id, ts, bid, ask in rows:
        by_pair[pair_id].append((ts, (bid + ask) / TWO))
    moves: dict[tuple[int, str], wk.GapMove] = {}
    for pair_id, windows in windows_by_pair.items():
        samples = by_pair.get(pair_id, [])
        observations: dict[str, list[wk.GapObservation]] = defaultdict(list)
        for window in windows:
            before = [(ts, mid) for ts, mid in samples if window.close_at - GAP_EDGE < ts <= window.close_at]
            after = [(ts, mid) for ts, mid in samples if window.reopen_at <= ts < window.reopen_at + GAP_EDGE]
            if before and after and before[-1][1] > 0 and after[0][1] > 0:
                observations[str(window.kind)].append(
                    wk.GapObservation(before[-1][0], before[-1][1], after[0][0], after[0][1])
                )
        for kind, recorded in observations.items():
            moves[(pair_id, kind)] = wk.gap_move_from_observations(recorded)
    return moves


def _margin_changes(rows: Iterable[Any]) -> dict[int, tuple[wk.MarginChange, ...]]:
    changes: dict[int, list[wk.MarginChange]] = defaultdict(list)
    for row in rows:
        try:
            brackets = None if not row.perp_brackets else brackets_from_wire({"brackets": row.perp_brackets})
            changes[row.tenant_id].append(
                wk.MarginChange(
                    effective_at=row.effective_at,
                    brackets=brackets,
                    cfd_margin_rate_buy=row.cfd_margin_rate_buy,
                    cfd_margin_rate_sell=row.cfd_margin_rate_sell,
                    note=row.note,
                )
            )
        except (MarginError, ValueError, TypeError):
            continue  # the admin form refuses these; a row written around it is left out, not guessed at
    return {tenant: tuple(rows_) for tenant, rows_ in changes.items()}


def _latest(queryset: Any, key: str, *order: str) -> list[Any]:
    """The first row per `key` in `order` (newest first): PostgreSQL's DISTINCT ON in one query; elsewhere (a
    SQLite development database) the ordered rows filtered here."""
    ordered = queryset.order_by(key, *order)
    if connection.vendor == "postgresql":
        return list(ordered.distinct(key))
    seen: set[Any] = set()
    rows = []
    for row in ordered:
        value = getattr(row, key)
        if value not in seen:
            seen.add(value)
            rows.append(row)
    return rows


def _read(tenant_ids: Iterable[int] | None, now: datetime) -> _Data:
    tenants_qs = Tenant.objects.all() if tenant_ids is None else Tenant.objects.filter(pk__in=list(tenant_ids))
    tenants = dict(tenants_qs.values_list("pk", "name"))
    ids = list(tenants)
    pools = list(
        AccountPool.objects.filter(tenant_id__in=ids, enabled=True)
        .select_related("perp_account", "cfd_account")
        .order_by("tenant_id", "name")
    )
    pool_ids = [pool.pk for pool in pools]
    account_ids = [pool.perp_account_id for pool in pools] + [pool.cfd_account_id for pool in pools]
    snapshots = {
        row.account_id: row
        for row in _latest(
            AccountSnapshot.objects.filter(account_id__in=account_ids, at__lte=now), "account_id", "-at", "-pk"
        )
    }
    book: dict[tuple[int, int | None], tuple[Decimal, Decimal]] = {}
    for row in (
        Hedge.objects.filter(pool_id__in=pool_ids, status__in=LIVE_HEDGE_STATUSES)
        .values("pool_id", "strategy_id")
        .annotate(perp=Sum("perp_oz"), cfd=Sum("cfd_oz"))
    ):
        book[(row["pool_id"], row["strategy_id"])] = (row["perp"] or ZERO, row["cfd"] or ZERO)
    strategies: dict[int, list[tuple[int, str]]] = defaultdict(list)
    strategy_tenant: dict[int, int] = {}
    # The strategies through their pools (risk sits below strategies: it reads the relation, not their model).
    for pool_id, tenant_id, sid, name in (
        AccountPool.objects.filter(tenant_id__in=ids, strategies__isnull=False)
        .order_by("strategies__name")
        .values_list("pk", "tenant_id", "strategies__pk", "strategies__name")
    ):
        strategies[pool_id].append((sid, name))
        strategy_tenant[sid] = tenant_id
    closed: dict[tuple[str, int], list[Decimal]] = defaultdict(list)
    pnl_fields = ("pnl_spread", "pnl_fees", "pnl_funding", "pnl_swap", "pnl_fx")
    for row in (
        Hedge.objects.filter(
            tenant_id__in=ids, status=HedgeStatus.CLOSED, closed_at__gte=now - timedelta(days=LOSS_STREAK_DAYS)
        )
        .order_by("closed_at", "pk")
        .values_list("tenant_id", "pool_id", "strategy_id", *pnl_fields)
    ):
        total = pnl.PnlSplit(*row[3:]).total
        closed[("desk", row[0])].append(total)
        closed[("pool", row[1])].append(total)
        if row[2] is not None:
            closed[("strategy", row[2])].append(total)
    instruments = {
        (row.venue, row.symbol): row
        for row in Instrument.objects.select_related("calendar").prefetch_related("calendar__exceptions")
    }
    pairs = list(
        SourcePair.objects.filter(enabled=True)
        .filter(Q(tenant_id__in=ids) | Q(tenant__isnull=True))
        .select_related("perp_source__instrument__calendar", "cfd_source__instrument__calendar")
        .prefetch_related("cfd_source__instrument__calendar__exceptions")
    )
    pool_pair = _choose_pairs(pools, instruments, pairs)
    used = {pair.pk: pair for pair in pool_pair.values()}
    samples = {
        row.pair_id: row
        for row in _latest(SpreadSample.objects.filter(pair_id__in=list(used), ts__lte=now), "pair_id", "-ts")
    }
    rates = _latest_rates(used.values(), now)
    funding = {
        row.source_id: row
        for row in _latest(
            FundingRateRecord.objects.filter(source_id__in=[p.perp_source_id for p in used.values()]),
            "source_id",
            "-funding_time",
        )
    }
    swaps = {
        row.source_id: row
        for row in _latest(
            SwapTermsRecord.objects.filter(source_id__in=[p.cfd_source_id for p in used.values()]), "source_id", "-day"
        )
    }
    scopes = Q(scope=EquityScope.DESK) | Q(scope=EquityScope.POOL, scope_id__in=pool_ids)
    scopes |= Q(scope=EquityScope.STRATEGY, scope_id__in=list(strategy_tenant))
    hourly: dict[tuple[int, str, int], list[tuple[datetime, Decimal, Decimal]]] = defaultdict(list)
    for tenant_id, scope, scope_id, at, equity, flows in (
        EquityPoint.objects.filter(
            scopes,
            tenant_id__in=ids,
            resolution=EquityResolution.HOUR,
            at__gte=now - timedelta(days=drawdown_days()),
            at__lte=now,
        )
        .order_by("tenant_id", "scope", "scope_id", "at")
        .values_list("tenant_id", "scope", "scope_id", "at", "equity", "flows")
    ):
        hourly[(tenant_id, scope, scope_id)].append((at, equity, flows))
    latest: dict[tuple[int, str, int], tuple[datetime, Decimal, Decimal]] = {}
    for tenant_id, scope, scope_id, at, equity, flows in (
        EquityPoint.objects.filter(
            scopes, tenant_id__in=ids, resolution=EquityResolution.MINUTE, at__lte=now, at__gte=now - timedelta(hours=3)
        )
        .order_by("tenant_id", "scope", "scope_id", "-at")
        .values_list("tenant_id", "scope", "scope_id", "at", "equity", "flows")
    ):
        latest.setdefault((tenant_id, scope, scope_id), (at, equity, flows))
    overrides = {
        row.tenant_id: wk.override_gap_move(p95=row.p95, p99=row.p99, note=row.note)
        for row in GapMoveOverride.objects.filter(tenant_id__in=ids)
    }
    changes = _margin_changes(
        ScheduledMarginChange.objects.filter(tenant_id__in=ids, effective_at__gte=now - timedelta(days=30))
    )
    calendars = {pair_id: _pair_calendar(pair) for pair_id, pair in used.items()}
    return _Data(
        now=now,
        tenants=tenants,
        pools=pools,
        snapshots=snapshots,
        book=book,
        strategies=dict(strategies),
        strategy_tenant=strategy_tenant,
        closed=dict(closed),
        instruments=instruments,
        pool_pair=pool_pair,
        samples=samples,
        rates=rates,
        funding=funding,
        swaps=swaps,
        hourly=dict(hourly),
        latest=latest,
        overrides=overrides,
        changes=changes,
        calendars=calendars,
        gap_moves=_recorded_gap_moves(calendars, now),
    )


def _latest_rates(pairs: Iterable[SourcePair], now: datetime) -> dict[str, RateTick]:
    """The newest observation of each rate source the pairs price with, within the horizon: one query."""
    sources = sorted({pair.rate_source for pair in pairs if pair.rate_source != RateSource.FIXED})
    if not sources:
        return {}
    since = now - timedelta(seconds=int(lim.RATE_AGE_CAP_S))
    rows = RateTick.objects.filter(source__in=sources, ts__lte=now, ts__gte=since)
    return {row.source: row for row in _latest(rows, "source", "-ts", "-pk")}


def usdt_rate(pair: SourcePair, tick: RateTick | None, now: datetime) -> UsdtRate:
    """The rate `pair` prices with at `now`: fixed, the newest observation `tick` (its age), or missing."""
    if pair.rate_source == RateSource.FIXED:
        return UsdtRate(pair.rate_source, True, pair.fixed_usd_per_usdt, None, None)
    if tick is None:
        return UsdtRate(pair.rate_source, False, None, None, None)
    age = Decimal((now - tick.ts) // timedelta(microseconds=1)) / Decimal(1_000_000)
    return UsdtRate(pair.rate_source, False, tick.usd_per_usdt, tick.ts, max(age, ZERO))


def usdt_rates(tenant_id: int, scope_kind: str, scope_ref: int, *, now: datetime | None = None) -> list[UsdtRate]:
    """The USDT/USD rates the enabled pools of a limit's scope price with (the desk: all of them; a pool, a
    strategy's pool, an account's pools), one per rate source, the oldest (then the furthest from parity) first:
    what a USDT/USD limit's alert names. A few queries, read when a limit changes level."""
    moment = now or clock.now()
    pools = AccountPool.objects.filter(tenant_id=tenant_id, enabled=True).select_related("perp_account", "cfd_account")
    if scope_kind == ScopeKind.POOL:
        pools = pools.filter(pk=scope_ref)
    elif scope_kind == ScopeKind.STRATEGY:
        pools = pools.filter(strategies__pk=scope_ref)
    elif scope_kind == ScopeKind.ACCOUNT:
        pools = pools.filter(Q(perp_account_id=scope_ref) | Q(cfd_account_id=scope_ref))
    rows = list(pools.order_by("name", "pk"))
    if not rows:
        return []
    instruments = {(row.venue, row.symbol): row for row in Instrument.objects.all()}
    pairs = list(
        SourcePair.objects.filter(enabled=True)
        .filter(Q(tenant_id=tenant_id) | Q(tenant__isnull=True))
        .select_related("perp_source", "cfd_source")
    )
    chosen = _choose_pairs(rows, instruments, pairs)
    ticks = _latest_rates(chosen.values(), moment)
    by_source = {pair.rate_source: usdt_rate(pair, ticks.get(pair.rate_source), moment) for pair in chosen.values()}
    return sorted(
        by_source.values(),
        key=lambda rate: (-(rate.age_metric or ZERO), -(rate.depeg_bps or ZERO), rate.source),
    )


# --- per account ---------------------------------------------------------------------------------------------------


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def _position(snapshot: AccountSnapshot | None) -> dict[str, Any] | None:
    for position in (snapshot.positions if snapshot is not None else None) or []:
        if isinstance(position, dict) and _dec(position.get("quantity")):
            return position
    return None


@dataclass(frozen=True)
class PerpBrackets:
    brackets: tuple[LeverageBracket, ...]
    source: str  # "venue", "configured" or "default"
    read_at: datetime | None = None
    error: str = ""  # the last read of the venue's brackets failed: why


def venue_brackets(snapshot: AccountSnapshot | None) -> tuple[tuple[LeverageBracket, ...], datetime] | None:
    """The account's own brackets as the sync stored them in the snapshot (`margin_terms.venue_brackets`), with
    when they were read; None when it holds none, or none that are valid."""
    terms = snapshot.margin_terms if snapshot is not None else None
    kept = terms.get("venue_brackets") if isinstance(terms, dict) else None
    if not isinstance(kept, dict):
        return None
    try:
        return brackets_from_wire(kept), datetime.fromisoformat(str(kept.get("read_at")))
    except (MarginError, ValueError):
        return None


def perp_brackets(snapshot: AccountSnapshot | None = None) -> PerpBrackets:
    """The brackets a perp account is measured with: its own as the venue gave them, else the configured paper
    brackets, else the defaults."""
    terms = snapshot.margin_terms if snapshot is not None else None
    error = str(terms.get("venue_brackets_error") or "") if isinstance(terms, dict) else ""
    own = venue_brackets(snapshot)
    if own is not None:
        return PerpBrackets(own[0], "venue", own[1], error)
    brackets, configured = paper_brackets()
    return PerpBrackets(brackets, "configured" if configured else "default", None, error)


def perp_account_risk(
    account: VenueAccount,
    snapshot: AccountSnapshot | None,
    *,
    book_oz: Decimal,
    mark_price: Decimal | None,
    usd_per_usdt: Decimal | None,
    margin_type: str,
) -> PerpAccountRisk:
    """One Binance account: ours from the wallet balance, the position and the brackets; the venue's beside."""
    chosen = perp_brackets(snapshot)
    brackets = chosen.brackets
    position = _position(snapshot)
    quantity = _dec(position.get("quantity")) if position else book_oz
    quantity = quantity if quantity is not None else ZERO
    mark = mark_price or (_dec(position.get("mark_price")) if position else None)
    entry = (_dec(position.get("entry_price")) if position else None) or mark
    live = account.mode == AccountMode.LIVE
    venue = None
    if live and snapshot is not None:
        venue_liq = _dec(position.get("liquidation_price")) if position else None
        terms = snapshot.margin_terms or {}
        # The venue's own: `totalMaintMargin` of `/fapi/v3/account` (snapshots older than it: the USDT asset's).
        venue_mm = _dec(terms.get("total_maintenance_margin"))
        if venue_mm is None:
            venue_mm = _dec(terms.get("maintenance_margin"))
        venue = VenueFigures(
            margin_balance=snapshot.equity,
            maintenance_margin=venue_mm,
            liquidation_price=venue_liq,
            margin_balance_diff=None,
            maintenance_margin_diff=None,
            liquidation_price_diff=None,
            adl_quantile=int(str(position["adl"])) if position and str(position.get("adl", "")).isdigit() else None,
        )
    snapshot_at, wallet_balance = (None, None) if snapshot is None else (snapshot.at, snapshot.balance)

    def result(risk: liq.PerpRisk | None, venue: VenueFigures | None, problem: str = "") -> PerpAccountRisk:
        return PerpAccountRisk(
            account_id=account.pk,
            label=account.label,
            live=live,
            snapshot_at=snapshot_at,
            quantity_oz=quantity,
            mark_price=mark,
            wallet_balance=wallet_balance,
            risk=risk,
            brackets_source=chosen.source,
            venue=venue,
            problem=problem,
            brackets_read_at=chosen.read_at,
            brackets_error=chosen.error,
        )

    if snapshot is None:
        return result(None, venue, "no_snapshot")
    if mark is None or usd_per_usdt is None or entry is None or entry <= 0:
        return result(None, venue, "no_price" if quantity else "")
    try:
        risk = liq.perp_risk(
            position=liq.PerpPosition(quantity, entry),
            mark_price=mark,
            wallet_balance=snapshot.balance,
            brackets=brackets,
            usd_per_usdt=usd_per_usdt,
            margin_type=liq.MarginType(margin_type) if margin_type in ("cross", "isolated") else liq.MarginType.CROSS,
        )
    except MarginError:
        return result(None, venue, "beyond_brackets")
    if venue is not None:
        ours_liq = None if risk.liquidation is None else risk.liquidation.price
        venue = VenueFigures(
            margin_balance=venue.margin_balance,
            maintenance_margin=venue.maintenance_margin,
            liquidation_price=venue.liquidation_price,
            margin_balance_diff=None if venue.margin_balance is None else risk.margin_balance - venue.margin_balance,
            maintenance_margin_diff=None
            if venue.maintenance_margin is None
            else risk.maintenance_margin - venue.maintenance_margin,
            liquidation_price_diff=None
            if venue.liquidation_price is None or ours_liq is None
            else ours_liq - venue.liquidation_price,
            adl_quantile=venue.adl_quantile,
        )
    return result(risk, venue)


def mt5_levels(account: VenueAccount, snapshot: AccountSnapshot | None) -> liq.Mt5Levels | None:
    """The account's own margin-call / stop-out levels and mode: the terminal's (recorded by the sync), the
    simulated terminal's for a paper account; None while a live account's sync has not recorded them."""
    if account.mode != AccountMode.LIVE:
        return PAPER_MT5_LEVELS
    terms = (snapshot.margin_terms if snapshot is not None else None) or {}
    try:
        return liq.Mt5Levels.from_account_info(terms)
    except MarginError:
        return None


def _cfd_spec(
    account: VenueAccount, snapshot: AccountSnapshot, contract: Decimal, memo: dict[str, Mt5MarginSpec]
) -> Mt5MarginSpec:
    """How the account margins a lot. Paper: the simulated terminal's symbol terms. Live: the CFD-leverage mode
    at the margin rate that gives the terminal's own per-lot margin at its tick (the snapshot's), which moves
    with the price as the CFD modes do; without it, a margin held where the terminal reported it."""
    if account.mode != AccountMode.LIVE:
        if account.venue not in memo:  # the same for every paper account of a venue: read once
            memo[account.venue] = paper_cfd_terms(account)[0]
        return memo[account.venue]
    terms = snapshot.margin_terms or {}
    per_lot, ask, leverage = _dec(terms.get("buy_per_lot")), _dec(terms.get("ask")), _dec(terms.get("leverage"))
    if per_lot and ask and leverage and contract:
        rate = per_lot * leverage / (contract * ask)
        return Mt5MarginSpec(CalcMode.CFDLEVERAGE, contract, "USD", "XAU", "USD", rate, rate)
    return Mt5MarginSpec(CalcMode.FOREX_NO_LEVERAGE, contract, "USD", "XAU", "USD", ZERO, ZERO)


def cfd_account_risk(
    account: VenueAccount,
    snapshot: AccountSnapshot | None,
    *,
    book_oz: Decimal,
    bid: Decimal | None,
    ask: Decimal | None,
    usd_per_usdt: Decimal | None,
    contract_size: Decimal,
    spec_memo: dict[str, Mt5MarginSpec] | None = None,
) -> tuple[CfdAccountRisk, liq.Mt5Account | None, tuple[liq.Mt5Position, ...]]:
    """One MT5 account against its own levels, and its account and positions as the gap projection reads them."""
    position = _position(snapshot)
    quantity = _dec(position.get("quantity")) if position else book_oz
    quantity = quantity if quantity is not None else ZERO
    levels = mt5_levels(account, snapshot)
    live = account.mode == AccountMode.LIVE
    snapshot_at, currency = (None, "") if snapshot is None else (snapshot.at, snapshot.currency)

    def result(state: liq.Mt5StopOut | None, problem: str = "") -> CfdAccountRisk:
        return CfdAccountRisk(
            account_id=account.pk,
            label=account.label,
            live=live,
            snapshot_at=snapshot_at,
            quantity_oz=quantity,
            currency=currency,
            levels=levels,
            state=state,
            problem=problem,
        )

    if snapshot is None:
        return result(None, "no_snapshot"), None, ()
    if levels is None:
        return result(None, "no_levels"), None, ()
    profit_to_account = ONE
    if snapshot.currency == "USDT":
        if not usd_per_usdt:
            return result(None, "no_price"), None, ()
        profit_to_account = ONE / usd_per_usdt
    terms = snapshot.margin_terms or {}
    leverage = int(_dec(terms.get("leverage")) or 100)
    account_state = liq.Mt5Account(
        equity=snapshot.equity,
        margin=snapshot.used_margin,
        leverage=leverage,
        currency=snapshot.currency,
        levels=levels,
        profit_to_account=profit_to_account,
    )
    positions: tuple[liq.Mt5Position, ...] = ()
    if quantity != 0:
        buy = quantity > 0
        mark = _dec(position.get("mark_price")) if position else None
        current = mark or (bid if buy else ask)
        entry = (_dec(position.get("entry_price")) if position else None) or current
        if current is None or current <= 0 or entry is None or entry <= 0:
            return result(None, "no_price"), account_state, ()
        spec = _cfd_spec(account, snapshot, contract_size, {} if spec_memo is None else spec_memo)
        positions = (liq.Mt5Position(spec, abs(quantity) / spec.contract_size, buy, entry, current),)
    try:
        state = liq.mt5_stop_out(account_state, positions)
    except MarginError:
        return result(None, "margin_mode"), account_state, positions
    return result(state), account_state, positions


# --- performance ---------------------------------------------------------------------------------------------------


def drawdown_of(points: list[tuple[datetime, Decimal, Decimal]]) -> Drawdown | None:
    """Current and maximum drawdown of an hourly equity series (at, equity, cumulative flows) with its flows
    (a withdrawal is not a drawdown): `performance`'s, on the flow-adjusted wealth index. None for fewer than two
    points or a series the wealth index cannot chain (no capital, a gap in the clock)."""
    if len(points) < 2:
        return None
    # The longest run on the clock that ends at the last point.
    run = [points[-1]]
    for point in reversed(points[:-1]):
        if run[0][0] - point[0] != timedelta(hours=1):
            break
        run.insert(0, point)
    if len(run) < 2:
        return None
    flows = [CashFlow(at, flow - before) for (_, _, before), (at, _, flow) in pairwise(run)]
    try:
        series = EquitySeries.from_points([(at, equity) for at, equity, _ in run], Frequency.HOUR)
        report = performance(series, [f for f in flows if f.amount], frequency=Frequency.HOUR)
    except (ValueError, ZeroDivisionError):
        return None
    if not math.isfinite(report.current_drawdown) or not math.isfinite(report.max_drawdown):
        return None
    return Drawdown(
        current_pct=_pct(-report.current_drawdown),
        max_pct=_pct(-report.max_drawdown),
        since=run[0][0],
        until=run[-1][0],
    )


def _pct(fraction: float) -> Decimal:
    return (Decimal(repr(fraction)) * HUNDRED).quantize(Decimal("0.0001")) + ZERO


def daily_pnl_of(
    hourly: list[tuple[datetime, Decimal, Decimal]], latest: tuple[datetime, Decimal, Decimal] | None, now: datetime
) -> Decimal | None:
    """Today's PnL (UTC day) by `limits.daily_pnl`: from the equity at today's 00:00 (the hourly point) to the latest
    point, less the flows between."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = next((point for point in hourly if point[0] == today), None)
    end = latest if latest is not None and latest[0] >= today else None
    if end is None:
        end = next((point for point in reversed(hourly) if point[0] >= today), None)
    if start is None or end is None:
        return None
    if end[0] == start[0]:
        return ZERO
    days = lim.daily_pnl([(start[0], start[1]), (end[0], end[1])], [(end[0], end[2] - start[2])])
    return days.get(today.date())


def _performance(data: _Data, tenant_id: int, scope: str, scope_id: int, streak_key: tuple[str, int]) -> Performance:
    hourly = data.hourly.get((tenant_id, scope, scope_id), [])
    latest = data.latest.get((tenant_id, scope, scope_id))
    return Performance(
        drawdown=drawdown_of(hourly),
        daily_pnl_usd=daily_pnl_of(hourly, latest, data.now),
        loss_streak=lim.loss_streak(data.closed.get(streak_key, [])),
    )


# --- per pool ------------------------------------------------------------------------------------------------------


def _swap_terms(record: SwapTermsRecord | None, pair: SourcePair) -> pnl.SwapTerms:
    """The CFD's swap terms as the terminal last gave them (MT5 `swap_mode` 0 disabled, 1 points, 2–4 money,
    5 interest), else the pair's configured ones."""
    if record is not None:
        mode = {0: pnl.SwapMode.DISABLED, 1: pnl.SwapMode.POINTS, 2: pnl.SwapMode.MONEY, 3: pnl.SwapMode.MONEY}.get(
            record.swap_mode, pnl.SwapMode.MONEY if record.swap_mode == 4 else None
        )
        if record.swap_mode == 5:
            mode = pnl.SwapMode.INTEREST
        if mode is not None:
            return pnl.SwapTerms(
                mode,
                swap_long=record.swap_long,
                swap_short=record.swap_short,
                point=record.point,
                contract_size=record.contract_size,
                rollover3days=record.swap_rollover3days,
                currency=record.currency_profit or pnl.USD,
            )
    return pair.swap_terms()


def _gap_move(data: _Data, tenant_id: int, pair_id: int | None, kind: str) -> wk.GapMove | None:
    override = data.overrides.get(tenant_id)
    if override is not None:
        return override
    if pair_id is None:
        return None
    return data.gap_moves.get((pair_id, kind)) or data.gap_moves.get((pair_id, str(cal.SessionState.WEEKEND)))


def pool_risk(data: _Data, pool: AccountPool) -> PoolRisk:
    pair = data.pool_pair.get(pool.pk)
    sample = data.samples.get(pair.pk) if pair is not None else None
    usd_per_usdt = sample.usd_per_usdt if sample is not None else None
    perp_mid = (sample.perp_bid + sample.perp_ask) / TWO if sample is not None else None
    cfd_mid = (sample.cfd_bid + sample.cfd_ask) / TWO if sample is not None else None
    book_perp = sum((v[0] for (pid, _), v in data.book.items() if pid == pool.pk), ZERO)
    book_cfd = sum((v[1] for (pid, _), v in data.book.items() if pid == pool.pk), ZERO)
    perp = perp_account_risk(
        pool.perp_account,
        data.snapshots.get(pool.perp_account_id),
        book_oz=book_perp,
        mark_price=perp_mid,
        usd_per_usdt=usd_per_usdt,
        margin_type=pool.perp_margin_type,
    )
    contract = pair.cfd_source.instrument.contract_size if pair is not None else Decimal(100)
    cfd, mt5_account, mt5_positions = cfd_account_risk(
        pool.cfd_account,
        data.snapshots.get(pool.cfd_account_id),
        book_oz=book_cfd,
        bid=None if sample is None else sample.cfd_bid,
        ask=None if sample is None else sample.cfd_ask,
        usd_per_usdt=usd_per_usdt,
        contract_size=contract,
        spec_memo=data.spec_memo,
    )
    exposure = race = funding = swap = gap = None
    gap_note = ""
    if sample is not None and usd_per_usdt and perp_mid and cfd_mid:
        usdt_balance = perp.margin_balance or (perp.wallet_balance or ZERO)
        cfd_snapshot = data.snapshots.get(pool.cfd_account_id)
        if cfd_snapshot is not None and cfd_snapshot.currency == "USDT":
            usdt_balance += cfd_snapshot.equity
        exposure = ex.pool_exposure(
            ex.PoolPositions(perp.quantity_oz, cfd.quantity_oz, perp_mid, cfd_mid, usd_per_usdt),
            usdt_balance=usdt_balance,
        )
        race = ex.limit_race(perp=perp.risk, cfd=cfd.state, cfd_price=cfd_mid, usd_per_usdt=usd_per_usdt)
        assert pair is not None
        record = data.funding.get(pair.perp_source_id)
        funding = ex.next_funding(
            perp_oz=perp.quantity_oz,
            mark_price=perp_mid,
            rate=record.rate if record is not None else pair.funding_rate,
            usd_per_usdt=usd_per_usdt,
            now=data.now,
            interval_hours=pair.funding_interval_hours,
        )
        calendar = data.calendars[pair.pk]
        swap = ex.tonight_swap(
            _swap_terms(data.swaps.get(pair.cfd_source_id), pair),
            cfd_oz=cfd.quantity_oz,
            price=cfd_mid,
            now=data.now,
            calendar=calendar,
        )
        gap, gap_note = _pool_gap(data, pool, pair.pk, calendar, perp, sample, mt5_account, mt5_positions, cfd_mid)
    else:
        gap_note = "no_price"
    return PoolRisk(
        pool_id=pool.pk,
        tenant_id=pool.tenant_id,
        name=pool.name,
        pair_id=None if pair is None else pair.pk,
        priced_at=None if sample is None else sample.ts,
        usd_per_usdt=usd_per_usdt,
        cfd_price=cfd_mid,
        perp=perp,
        cfd=cfd,
        exposure=exposure,
        race=race,
        funding=funding,
        swap=swap,
        gap=gap,
        gap_note=gap_note,
        performance=_performance(data, pool.tenant_id, EquityScope.POOL, pool.pk, ("pool", pool.pk)),
        strategy_ids=tuple(sid for sid, _ in data.strategies.get(pool.pk, [])),
        rate=None if pair is None else usdt_rate(pair, data.rates.get(pair.rate_source), data.now),
    )


def _pool_gap(
    data: _Data,
    pool: AccountPool,
    pair_id: int,
    calendar: cal.SessionCalendar,
    perp: PerpAccountRisk,
    sample: SpreadSample,
    mt5_account: liq.Mt5Account | None,
    mt5_positions: tuple[liq.Mt5Position, ...],
    cfd_mid: Decimal,
) -> tuple[GapFigures | None, str]:
    window = wk.next_gap(calendar, data.now)
    if window is None:
        return None, "always_open"
    move = _gap_move(data, pool.tenant_id, pair_id, str(window.kind))
    if move is None:
        return None, "no_gaps_recorded"
    changes = data.changes.get(pool.tenant_id, ())
    due = wk.projection_due(data.now, window, lead=gap_lead())
    perp_state = None
    if perp.risk is not None and perp.mark_price is not None and perp.quantity_oz != 0:
        snapshot = data.snapshots.get(perp.account_id)
        brackets = perp_brackets(snapshot).brackets
        position = _position(snapshot)
        entry = (_dec(position.get("entry_price")) if position else None) or perp.mark_price
        perp_state = wk.PerpAccountState(
            position=liq.PerpPosition(perp.quantity_oz, entry),
            mark_price=perp.mark_price,
            wallet_balance=perp.wallet_balance or ZERO,
            brackets=brackets,
            usd_per_usdt=sample.usd_per_usdt,
            margin_type=liq.MarginType(pool.perp_margin_type)
            if pool.perp_margin_type in ("cross", "isolated")
            else liq.MarginType.CROSS,
        )
    cfd_state = None
    if mt5_account is not None and mt5_positions:
        cfd_state = wk.CfdAccountState(mt5_account, mt5_positions, cfd_mid)
    projection = None
    if perp_state is not None or cfd_state is not None:
        try:
            projection = wk.project_gap(window=window, move=move, perp=perp_state, cfd=cfd_state, changes=changes)
        except (MarginError, ValueError):
            return GapFigures(window, move, due, None, changes), "projection_failed"
    return GapFigures(window, move, due, projection, changes), ""


# --- per strategy and desk -----------------------------------------------------------------------------------------


def _strategy_risk(data: _Data, pool: PoolRisk, strategy_id: int, name: str) -> StrategyRisk:
    perp_oz, cfd_oz = data.book.get((pool.pool_id, strategy_id), (ZERO, ZERO))
    gross = None
    if pool.perp.mark_price is not None and pool.usd_per_usdt is not None and pool.cfd_price is not None:
        positions = ex.PoolPositions(perp_oz, cfd_oz, pool.perp.mark_price, pool.cfd_price, pool.usd_per_usdt)
        gross = ex.pool_exposure(positions).gross_notional_usd
    return StrategyRisk(
        strategy_id=strategy_id,
        pool_id=pool.pool_id,
        name=name,
        net_oz=perp_oz + cfd_oz,
        gross_notional_usd=gross,
        performance=_performance(data, pool.tenant_id, EquityScope.STRATEGY, strategy_id, ("strategy", strategy_id)),
    )


def _min(values: Iterable[Decimal | None]) -> Decimal | None:
    present = [value for value in values if value is not None]
    return min(present) if present else None


def _max(values: Iterable[Decimal | None]) -> Decimal | None:
    present = [value for value in values if value is not None]
    return max(present) if present else None


def _pool_values(pool: PoolRisk) -> dict[Metric, Decimal | None]:
    projection = pool.gap.projection if pool.gap is not None and pool.gap.due else None
    exposure = pool.exposure
    return {
        Metric.UNHEDGED_OZ: None if exposure is None else abs(exposure.net_oz),
        Metric.UNHEDGED_USD: None if exposure is None else abs(exposure.net_usd),
        Metric.LIQUIDATION_DISTANCE_PCT: pool.perp.distance_pct,
        Metric.MT5_MARGIN_LEVEL_PCT: pool.cfd.margin_level_pct,
        Metric.MT5_LEVEL_ABOVE_STOP_OUT: pool.cfd.level_above_stop_out,
        Metric.DRAWDOWN_PCT: _drawdown(pool.performance),
        Metric.DAILY_LOSS_USD: _loss(pool.performance),
        Metric.LOSS_STREAK: Decimal(pool.performance.loss_streak),
        Metric.USDT_EXPOSURE_USD: None if exposure is None else abs(exposure.usdt_exposure_usd),
        Metric.GROSS_NOTIONAL_USD: None if exposure is None else exposure.gross_notional_usd,
        Metric.WEEKEND_GAP_LIQUIDATION_DISTANCE_PCT: None
        if projection is None
        else projection.min_liquidation_distance_pct,
        Metric.WEEKEND_GAP_MT5_MARGIN_LEVEL_PCT: None if projection is None else projection.min_cfd_margin_level,
        Metric.USDT_RATE_AGE_S: None if pool.rate is None else pool.rate.age_metric,
        Metric.USDT_DEPEG_BPS: None if pool.rate is None else pool.rate.depeg_bps,
    }


def _drawdown(performance_: Performance) -> Decimal | None:
    return None if performance_.drawdown is None else performance_.drawdown.current_pct


def _loss(performance_: Performance) -> Decimal | None:
    """The daily loss as a positive figure (a day in profit: 0)."""
    if performance_.daily_pnl_usd is None:
        return None
    return max(-performance_.daily_pnl_usd, ZERO)


def _desk_values(desk: DeskRisk) -> dict[tuple[Metric, Scope], Decimal | None]:
    values: dict[tuple[Metric, Scope], Decimal | None] = {}
    desk_scope = Scope(ScopeKind.DESK, desk.tenant_id)
    pool_values = {pool.pool_id: _pool_values(pool) for pool in desk.pools}
    for pool in desk.pools:
        scope = Scope(ScopeKind.POOL, pool.pool_id)
        for metric, value in pool_values[pool.pool_id].items():
            values[(metric, scope)] = value
        perp_scope = Scope(ScopeKind.ACCOUNT, pool.perp.account_id)
        values[(Metric.LIQUIDATION_DISTANCE_PCT, perp_scope)] = pool.perp.distance_pct
        values[(Metric.WEEKEND_GAP_LIQUIDATION_DISTANCE_PCT, perp_scope)] = pool_values[pool.pool_id][
            Metric.WEEKEND_GAP_LIQUIDATION_DISTANCE_PCT
        ]
        cfd_scope = Scope(ScopeKind.ACCOUNT, pool.cfd.account_id)
        values[(Metric.MT5_MARGIN_LEVEL_PCT, cfd_scope)] = pool.cfd.margin_level_pct
        values[(Metric.MT5_LEVEL_ABOVE_STOP_OUT, cfd_scope)] = pool.cfd.level_above_stop_out
        values[(Metric.WEEKEND_GAP_MT5_MARGIN_LEVEL_PCT, cfd_scope)] = pool_values[pool.pool_id][
            Metric.WEEKEND_GAP_MT5_MARGIN_LEVEL_PCT
        ]
        for account_scope in (perp_scope, cfd_scope):  # an account is priced with its pool's rate
            for metric in (Metric.USDT_RATE_AGE_S, Metric.USDT_DEPEG_BPS):
                values[(metric, account_scope)] = pool_values[pool.pool_id][metric]
    inherited = (
        Metric.LIQUIDATION_DISTANCE_PCT,
        Metric.MT5_MARGIN_LEVEL_PCT,
        Metric.MT5_LEVEL_ABOVE_STOP_OUT,
        Metric.USDT_EXPOSURE_USD,
        Metric.WEEKEND_GAP_LIQUIDATION_DISTANCE_PCT,
        Metric.WEEKEND_GAP_MT5_MARGIN_LEVEL_PCT,
        Metric.USDT_RATE_AGE_S,
        Metric.USDT_DEPEG_BPS,
    )
    for strategy in desk.strategies:
        scope = Scope(ScopeKind.STRATEGY, strategy.strategy_id)
        own = pool_values.get(strategy.pool_id, {})
        for metric in inherited:  # a strategy runs on its pool's accounts: their distance is its own
            values[(metric, scope)] = own.get(metric)
        strategy_pool = desk.pool(strategy.pool_id)
        cfd_price = None if strategy_pool is None else strategy_pool.cfd_price
        values[(Metric.UNHEDGED_OZ, scope)] = abs(strategy.net_oz)
        values[(Metric.UNHEDGED_USD, scope)] = None if cfd_price is None else abs(strategy.net_oz) * cfd_price
        values[(Metric.GROSS_NOTIONAL_USD, scope)] = strategy.gross_notional_usd
        values[(Metric.DRAWDOWN_PCT, scope)] = _drawdown(strategy.performance)
        values[(Metric.DAILY_LOSS_USD, scope)] = _loss(strategy.performance)
        values[(Metric.LOSS_STREAK, scope)] = Decimal(strategy.performance.loss_streak)
    exposure = desk.exposure
    all_pools = list(pool_values.values())
    values.update(
        {
            (Metric.UNHEDGED_OZ, desk_scope): None if exposure is None else abs(exposure.net_oz),
            (Metric.UNHEDGED_USD, desk_scope): None if exposure is None else abs(exposure.net_usd),
            (Metric.LIQUIDATION_DISTANCE_PCT, desk_scope): _min(v[Metric.LIQUIDATION_DISTANCE_PCT] for v in all_pools),
            (Metric.MT5_MARGIN_LEVEL_PCT, desk_scope): _min(v[Metric.MT5_MARGIN_LEVEL_PCT] for v in all_pools),
            (Metric.MT5_LEVEL_ABOVE_STOP_OUT, desk_scope): _min(v[Metric.MT5_LEVEL_ABOVE_STOP_OUT] for v in all_pools),
            (Metric.DRAWDOWN_PCT, desk_scope): _drawdown(desk.performance),
            (Metric.DAILY_LOSS_USD, desk_scope): _loss(desk.performance),
            (Metric.LOSS_STREAK, desk_scope): Decimal(desk.performance.loss_streak),
            (Metric.USDT_EXPOSURE_USD, desk_scope): None if exposure is None else abs(exposure.usdt_exposure_usd),
            (Metric.GROSS_NOTIONAL_USD, desk_scope): None if exposure is None else exposure.gross_notional_usd,
            (Metric.WEEKEND_GAP_LIQUIDATION_DISTANCE_PCT, desk_scope): _min(
                v[Metric.WEEKEND_GAP_LIQUIDATION_DISTANCE_PCT] for v in all_pools
            ),
            (Metric.WEEKEND_GAP_MT5_MARGIN_LEVEL_PCT, desk_scope): _min(
                v[Metric.WEEKEND_GAP_MT5_MARGIN_LEVEL_PCT] for v in all_pools
            ),
            (Metric.USDT_RATE_AGE_S, desk_scope): _max(v[Metric.USDT_RATE_AGE_S] for v in all_pools),
            (Metric.USDT_DEPEG_BPS, desk_scope): _max(v[Metric.USDT_DEPEG_BPS] for v in all_pools),
        }
    )
    return values


# --- the public entry points ---------------------------------------------------------------------------------------


def desk_risks(tenant_ids: Iterable[int] | None = None, *, now: datetime | None = None) -> dict[int, DeskRisk]:
    """Every figure of every desk asked for (all desks: None), with `values` the limits' metrics. A bounded number
    of queries whatever the number of pools."""
    moment = now or clock.now()
    data = _read(tenant_ids, moment)
    by_tenant: dict[int, list[PoolRisk]] = defaultdict(list)
    for pool in data.pools:
        by_tenant[pool.tenant_id].append(pool_risk(data, pool))
    desks: dict[int, DeskRisk] = {}
    for tenant_id, name in data.tenants.items():
        pools = tuple(by_tenant.get(tenant_id, []))
        strategies = tuple(
            _strategy_risk(data, pool, sid, sname)
            for pool in pools
            for sid, sname in data.strategies.get(pool.pool_id, [])
        )
        moves = [p.gap.move for p in pools if p.gap is not None]
        desk = DeskRisk(
            tenant_id=tenant_id,
            name=name,
            pools=pools,
            strategies=strategies,
            exposure=ex.desk_exposure(p.exposure for p in pools if p.exposure is not None),
            performance=_performance(data, tenant_id, EquityScope.DESK, 0, ("desk", tenant_id)),
            gap_move=moves[0] if moves else data.overrides.get(tenant_id),
            now=moment,
        )
        desk.values.update(_desk_values(desk))
        desks[tenant_id] = desk
    return desks


def desk_risk(tenant_id: int, *, now: datetime | None = None) -> DeskRisk:
    """One desk's figures (`desk_risks` for one tenant)."""
    return desk_risks([tenant_id], now=now)[tenant_id]


def metric_values(
    tenant_ids: Iterable[int] | None = None, *, now: datetime | None = None
) -> dict[int, dict[tuple[Metric, Scope], Decimal | None]]:
    """Per tenant id, every `Metric` of every scope it applies to — the desk (`Scope(DESK, tenant_id)`), each
    enabled pool, each strategy, each account — signed as `risk.domain.limits` reads them: magnitudes for the
    unhedged and USDT/USD exposures, the daily loss positive, the USDT/USD rate's age in seconds (missing: a day;
    a fixed rate: None) and its distance from parity in bps (the desk: its pools' worst), distances and levels as
    they stand (percent; the MT5 level above stop-out in percentage points, or money in the money mode), None where
    there is nothing to measure (no position, no price, no series, no gap projection due)."""
    return {tenant_id: desk.values for tenant_id, desk in desk_risks(tenant_ids, now=now).items()}


def metric_scope_key(scope: Scope) -> tuple[str, int]:
    """How a scope is stored in the risk history: (kind, id)."""
    return (str(scope.kind), int(scope.ref))


__all__ = [
    "CfdAccountRisk",
    "DeskRisk",
    "Drawdown",
    "GapFigures",
    "PerpAccountRisk",
    "PoolRisk",
    "StrategyRisk",
    "UsdtRate",
    "VenueFigures",
    "cfd_account_risk",
    "daily_pnl_of",
    "desk_risk",
    "desk_risks",
    "drawdown_of",
    "metric_scope_key",
    "metric_values",
    "mt5_levels",
    "past_gaps",
    "perp_account_risk",
    "usdt_rate",
    "usdt_rates",
]
