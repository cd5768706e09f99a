"""The equity series: each account, pool, strategy and the desk marked to market on a fixed UTC
clock — one-minute points kept for 7 days, one-hour points kept for ever (`EquityPoint`).

What a point holds, at instant t (all USD, 8 dp):
- `flows`: the booked cash flows of the scope's accounts at or before t (trading/portfolio/cashflows.py), each at
  its USD value of its moment — transfers between two accounts of a scope cancel out in it;
- the money model's lines (trading/domain/pnl.py, never another PnL formula) of every hedge of the scope at t:
  a hedge no longer live (its legs flat) by t at its exit rate, over all its fills and carry (what it booked);
  a hedge live at t by `pnl.mark_to_market` over its fills and carry booked up to t, its open legs at the touch
  and USDT at the rate of the pool's pair's latest stored spread sample at or before t. Both legs, fees, funding,
  swap and USDT/USD: the split's five lines;
- `equity` = `flows` + the lines' total, exactly (the lines booked at 8 dp so that they add up to the total).

Scopes: an account holds its own legs of every hedge (the perp account the perp fills, fees and funding; the CFD
account the CFD's and the swap — `pnl_split` is linear in the fills, so the legs add up to the hedge exactly) and
its own flows; a pool, its hedges and the flows of its two accounts; a strategy, its hedges and its pool's flows;
the desk, every hedge and every flow. A hedge live at t whose pool has no stored marks yet cannot be valued: the
scopes holding it get no point at t (the reader carries the previous point forward).

Written by a beat job (`equity_record`, idempotent per slot: a slot's point is written again with the same
figures), back-filled by `manage.py backfill_equity`; `equity_check_accounts` compares each live account's equity
with what its venue reports once a day and alerts beyond a tolerance.
"""

from __future__ import annotations

import logging
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Prefetch, Q
from django.utils.translation import gettext_noop

from accounts.choices import AccountMode, AccountStatus
from accounts.models import AccountPool, AccountSnapshot, Tenant, VenueAccount
from accounts.venue_kinds import spec_for
from alerts.choices import ACTIVE_STATUSES
from alerts.models import Alert
from alerts.services import alert_raise, alert_resolve
from quantarb import clock
from quantarb.phrases import phrase
from trading.choices import LIVE_HEDGE_STATUSES, OrderSide
from trading.domain import pnl
from trading.domain.orders import Leg as DomainLeg
from trading.models import (
    CashFlow,
    CashFlowStatus,
    EquityPoint,
    EquityResolution,
    EquityScope,
    Hedge,
    Instrument,
    Order,
    SourcePair,
    SpreadSample,
)
from trading.portfolio.cashflows import cash_flows_book_due, usd_per_usdt_at

log = logging.getLogger(__name__)

LIVE = frozenset(status.value for status in LIVE_HEDGE_STATUSES)
STEP = {EquityResolution.MINUTE: timedelta(minutes=1), EquityResolution.HOUR: timedelta(hours=1)}
KEEP_MINUTES = timedelta(days=7)
# A slot is written this long after it ends, so fills and carry booked a little late are in it.
SETTLE = timedelta(minutes=2)
# The beat job catches up at most this far back on its own (the backfill command goes further).
CATCH_UP = {EquityResolution.MINUTE: timedelta(hours=2), EquityResolution.HOUR: timedelta(days=2)}
DESK_ID = 0
ScopeKey = tuple[str, int]


def floor_to(moment: datetime, resolution: str) -> datetime:
    step = STEP[EquityResolution(resolution)]
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return moment - (moment - epoch) % step


# --- a hedge as the series needs it ----------------------------------------------------------------------------
@dataclass
class _Leg:
    """One account's side of a hedge: its fills and carry in time order."""

    times: list[datetime] = field(default_factory=list)
    fills: list[pnl.PnlFill] = field(default_factory=list)
    carry_times: list[datetime] = field(default_factory=list)
    carry: list[pnl.CarryBooking] = field(default_factory=list)


@dataclass
class HedgeHistory:
    """A hedge's fills and carry per account, and when and at what rate it was done (None while live)."""

    pk: int
    pool_id: int
    strategy_id: int | None
    legs: dict[int, _Leg]
    first_at: datetime
    done_at: datetime | None
    exit_rate: Decimal
    _final: dict[int, pnl.PnlSplit] | None = None

    def final(self) -> dict[int, pnl.PnlSplit]:
        """Each account's split once the hedge is done: all its fills and carry, USDT at the exit rate."""
        if self._final is None:
            valuation = pnl.Valuation(usd_per_usdt=self.exit_rate)
            self._final = {
                account: pnl.pnl_split(fills=leg.fills, carry=leg.carry, valuation=valuation)
                for account, leg in self.legs.items()
            }
        return self._final

    def at(self, moment: datetime, marks: pnl.Marks | None) -> dict[int, pnl.PnlSplit] | None:
        """Each account's split at `moment` ({} before its first fill); None when it is live then and unmarked."""
        if moment < self.first_at:
            return {}
        if self.done_at is not None and moment >= self.done_at:
            return self.final()
        if marks is None:
            return None
        out = {}
        for account, leg in self.legs.items():
            fills = leg.fills[: bisect_right(leg.times, moment)]
            carry = leg.carry[: bisect_right(leg.carry_times, moment)]
            out[account] = pnl.mark_to_market(fills=fills, carry=carry, marks=marks)
        return out


def _signed(side: str, quantity: Decimal) -> Decimal:
    return quantity if side == OrderSide.BUY else -quantity


def _fee_currency(currency: str, leg: DomainLeg) -> str:
    if currency in (pnl.USD, pnl.USDT):
        return currency
    return pnl.USDT if leg is DomainLeg.PERP else pnl.USD


def hedges_with_books(tenant: Tenant) -> Any:
    """The desk's hedges that have a fill, with their orders, fills and carry read in one query each. The related
    rows land in plain lists (`Prefetch(to_attr=…)`): Django's default prefetch builds a queryset per hedge and per
    order to cache them in, which took most of a minute run's time on a desk of hundreds of hedges."""
    orders = Order.objects.filter(filled__gt=0).prefetch_related(Prefetch("fills", to_attr="booked_fills"))
    return (
        Hedge.objects.filter(tenant=tenant, orders__filled__gt=0)
        .distinct()
        .prefetch_related(
            Prefetch("orders", queryset=orders, to_attr="filled_orders"),
            Prefetch("carry", to_attr="booked_carry"),
        )
    )


def hedge_histories(hedges: Iterable[Hedge]) -> list[HedgeHistory]:
    """The hedges' fills (each at its time; an order's venue-reported remainder at its submission) and carry, per
    account — the inputs the money model takes, as trading.execution builds them, timed. Hedges read by
    `hedges_with_books` bring their rows along; any other hedge reads them here."""
    out = []
    for hedge in hedges:
        legs: dict[int, _Leg] = defaultdict(_Leg)
        timed: dict[int, list[tuple[datetime, pnl.PnlFill]]] = defaultdict(list)
        fallback_rate = hedge.entry_usd_per_usdt or Decimal(1)
        prefetched = getattr(hedge, "filled_orders", None)
        orders: Iterable[Order] = hedge.orders.all() if prefetched is None else prefetched
        for order in orders:
            if not order.filled:
                continue
            rate = order.usd_per_usdt or fallback_rate
            leg = DomainLeg(order.leg)
            fills = getattr(order, "booked_fills", None)
            fills = list(order.fills.all()) if fills is None else fills
            for fill in fills:
                timed[order.account_id].append(
                    (
                        fill.at,
                        pnl.PnlFill(
                            leg,
                            _signed(order.side, fill.quantity),
                            fill.price,
                            fill.fee,
                            _fee_currency(fill.fee_currency, leg),
                            rate,
                        ),
                    )
                )
            rest = order.filled - sum((fill.quantity for fill in fills), Decimal(0))
            if rest > 0 and order.venue_avg_price is not None:
                at = order.submitted_at or order.created_at
                fill_ = pnl.PnlFill(leg, _signed(order.side, rest), order.venue_avg_price, Decimal(0),
                                    _fee_currency("", leg), rate)  # fmt: skip
                timed[order.account_id].append((at, fill_))
        if not timed:
            continue
        for account, rows in timed.items():
            rows.sort(key=lambda row: row[0])
            legs[account].times = [row[0] for row in rows]
            legs[account].fills = [row[1] for row in rows]
        carry = getattr(hedge, "booked_carry", None)
        carry_rows = sorted(hedge.carry.all() if carry is None else carry, key=lambda entry: entry.at)
        for entry in carry_rows:
            leg_of = legs[entry.account_id]
            leg_of.carry_times.append(entry.at)
            leg_of.carry.append(
                pnl.CarryBooking(
                    pnl.CarryKind(entry.kind), entry.amount, entry.currency, entry.usd_per_usdt or fallback_rate
                )
            )
        first_at = min(leg.times[0] for leg in legs.values() if leg.times)
        done_at = None
        if hedge.status not in LIVE:
            flat = all(
                sum((fill.signed_oz for fill in leg.fills), Decimal(0)) == 0 for leg in legs.values()
            )  # a failed hedge with a leg left open is marked like a live one
            if flat:
                last = max(
                    [leg.times[-1] for leg in legs.values() if leg.times]
                    + [leg.carry_times[-1] for leg in legs.values() if leg.carry_times]
                )
                done_at = max(hedge.closed_at or last, last)
        out.append(
            HedgeHistory(
                pk=hedge.pk,
                pool_id=hedge.pool_id,
                strategy_id=hedge.strategy_id,
                legs=dict(legs),
                first_at=first_at,
                done_at=done_at,
                exit_rate=hedge.exit_usd_per_usdt or fallback_rate,
            )
        )
    return out


# --- marks --------------------------------------------------------------------------------------------------------
def pair_of_pool(pool: AccountPool) -> int | None:
    """The source pair that prices the pool: its desk's own (or the platform's) enabled pair whose sources quote
    the instruments of its two accounts, the one at the pool's perp endpoint first."""
    return pairs_of_pools([pool])[pool.pk]


def pairs_of_pools(pools: Iterable[AccountPool]) -> dict[int, int | None]:
    """`pair_of_pool` of many pools (their accounts selected with them) in two queries, whatever their number: the
    instruments (reference data) and the candidate pairs of their desks are read once and matched here."""
    pools = list(pools)
    if not pools:
        return {}
    instruments: dict[tuple[str, str], int] = {}
    for pk, venue, symbol in Instrument.objects.order_by("pk").values_list("pk", "venue", "symbol"):
        instruments.setdefault((venue, symbol), pk)

    def instrument_id(account: VenueAccount) -> int | None:
        spec = spec_for(account.venue)
        if spec is None or spec.instrument_venue is None or spec.instrument_symbol is None:
            return None
        return instruments.get((spec.instrument_venue, spec.instrument_symbol))

    tenants = {pool.tenant_id for pool in pools}
    candidates = list(
        SourcePair.objects.filter(enabled=True)
        .filter(Q(tenant_id__in=tenants) | Q(tenant__isnull=True))
        .order_by(F("tenant_id").asc(nulls_last=True), "pk")
        .values_list(
            "pk", "tenant_id", "perp_source__instrument_id", "cfd_source__instrument_id", "perp_source__endpoint"
        )
    )
    out: dict[int, int | None] = {}
    for pool in pools:
        perp, cfd = instrument_id(pool.perp_account), instrument_id(pool.cfd_account)
        if perp is None or cfd is None:
            out[pool.pk] = None
            continue
        fitting = [row for row in candidates if row[1] in (pool.tenant_id, None) and row[2:4] == (perp, cfd)]
        preferred = [row for row in fitting if row[4] == pool.perp_account.rest_endpoint]
        out[pool.pk] = (preferred or fitting)[0][0] if preferred or fitting else None
    return out


class MarkBook:
    """The stored marks of a pair (spread samples) over a window, and the latest at or before any instant."""

    FIELDS = ("ts", "usd_per_usdt", "perp_bid", "perp_ask", "cfd_bid", "cfd_ask")

    def __init__(self, pair_id: int | None, intervals: list[tuple[datetime, datetime]]) -> None:
        self.times: list[datetime] = []
        self.marks: list[pnl.Marks] = []
        if pair_id is None or not intervals:
            return
        rows: dict[datetime, pnl.Marks] = {}
        samples = SpreadSample.objects.filter(pair_id=pair_id)
        for begin, end in _merged(intervals):
            before = samples.filter(ts__lt=begin).order_by("-ts").values_list(*self.FIELDS).first()
            window = samples.filter(ts__gte=begin, ts__lte=end).order_by("ts").values_list(*self.FIELDS)
            for row in ([before] if before else []) + list(window):
                rows[row[0]] = pnl.Marks(*row[1:])
        self.times = sorted(rows)
        self.marks = [rows[at] for at in self.times]

    def at(self, moment: datetime) -> pnl.Marks | None:
        index = bisect_right(self.times, moment)
        return self.marks[index - 1] if index else None


def _merged(intervals: list[tuple[datetime, datetime]]) -> Iterator[tuple[datetime, datetime]]:
    current: tuple[datetime, datetime] | None = None
    for begin, end in sorted(intervals):
        if current is not None and begin <= current[1]:
            current = (current[0], max(current[1], end))
            continue
        if current is not None:
            yield current
        current = (begin, end)
    if current is not None:
        yield current


# --- the book of a desk ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Value:
    """A scope's value at an instant: booked flows and the split (exact), and the hedges live then."""

    flows: Decimal
    split: pnl.PnlSplit
    open_hedges: int

    def booked(self) -> tuple[Decimal, pnl.PnlSplit, Decimal]:
        """(flows, split, equity) at 8 dp: the split's lines add up to its booked total, equity = flows + total."""
        split = self.split.quantized()
        flows = self.flows.quantize(pnl.MONEY_QUANTUM)
        with localcontext(prec=pnl.PRECISION):
            return flows, split, flows + split.total


class DeskBook:
    """Everything one desk's equity series is made of over a window, loaded once: its hedges' fills and carry, its
    booked flows, its scopes and its pools' marks. `values(t)` is every scope's value at t."""

    def __init__(self, tenant: Tenant, since: datetime, until: datetime) -> None:
        self.tenant = tenant
        self.hedges = [h for h in hedge_histories(hedges_with_books(tenant)) if h.first_at <= until]
        self.pools = {pool.pk: pool for pool in AccountPool.objects.filter(tenant=tenant).select_related(
            "perp_account", "cfd_account")}  # fmt: skip
        self.accounts = list(VenueAccount.objects.filter(tenant=tenant).values_list("pk", flat=True))
        # Strategies by reference (their app is a layer above): each one's pool.
        strategy = apps.get_model("strategies", "Strategy")
        self.strategies = dict(strategy.objects.filter(tenant=tenant).values_list("pk", "pool_id"))
        flows = CashFlow.objects.filter(tenant=tenant, status=CashFlowStatus.BOOKED, at__lte=until).order_by("at", "pk")
        self.flow_times: dict[int, list[datetime]] = defaultdict(list)
        self.flow_sums: dict[int, list[Decimal]] = defaultdict(list)  # running sums per account
        for account_id, at, amount in flows.values_list("account_id", "at", "amount_usd"):
            sums = self.flow_sums[account_id]
            self.flow_times[account_id].append(at)
            sums.append((sums[-1] if sums else Decimal(0)) + amount)
        live_windows: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
        for hedge in self.hedges:
            end = min(hedge.done_at or until, until)
            if end >= since and end >= hedge.first_at:
                live_windows[hedge.pool_id].append((max(hedge.first_at, since), end))
        # Marks per pair, not per pool: the pools a pair prices share one read of its samples.
        pair_of = pairs_of_pools(self.pools[pool_id] for pool_id in live_windows if pool_id in self.pools)
        pair_windows: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
        for pool_id, pair_id in pair_of.items():
            if pair_id is not None:
                pair_windows[pair_id].extend(live_windows[pool_id])
        books = {pair_id: MarkBook(pair_id, windows) for pair_id, windows in pair_windows.items()}
        unpriced = MarkBook(None, [])
        self.marks = {
            pool_id: books.get(pair_id, unpriced) if pair_id else unpriced for pool_id, pair_id in pair_of.items()
        }

    def scopes(self) -> list[ScopeKey]:
        return [
            (EquityScope.DESK, DESK_ID),
            *((EquityScope.POOL, pk) for pk in self.pools),
            *((EquityScope.STRATEGY, pk) for pk in self.strategies),
            *((EquityScope.ACCOUNT, pk) for pk in self.accounts),
        ]

    def _flows(self, account_id: int, moment: datetime) -> Decimal:
        index = bisect_right(self.flow_times.get(account_id, []), moment)
        return self.flow_sums[account_id][index - 1] if index else Decimal(0)

    def _pool_accounts(self, pool_id: int | None) -> tuple[int, ...]:
        pool = self.pools.get(pool_id) if pool_id is not None else None
        return () if pool is None else (pool.perp_account_id, pool.cfd_account_id)

    @staticmethod
    def _keys(hedge: HedgeHistory) -> list[ScopeKey]:
        keys: list[ScopeKey] = [(EquityScope.DESK, DESK_ID), (EquityScope.POOL, hedge.pool_id)]
        if hedge.strategy_id is not None:
            keys.append((EquityScope.STRATEGY, hedge.strategy_id))
        return keys

    def _done_totals(self) -> None:
        """Running totals of the done hedges' final splits per scope, in the order they were done: a tick adds the
        done ones with one look-up instead of one sum per hedge."""
        done = sorted((h for h in self.hedges if h.done_at is not None), key=lambda h: h.done_at)  # type: ignore[arg-type,return-value]
        self.done_times: list[datetime] = []
        self.done_totals: list[dict[ScopeKey, pnl.PnlSplit]] = []
        running: dict[ScopeKey, pnl.PnlSplit] = {}
        for hedge in done:
            running = dict(running)
            for account, split in hedge.final().items():
                for key in (*self._keys(hedge), (EquityScope.ACCOUNT, account)):
                    running[key] = running.get(key, pnl.PnlSplit()) + split
            assert hedge.done_at is not None
            self.done_times.append(hedge.done_at)
            self.done_totals.append(running)
        self.undone = [h for h in self.hedges if h.done_at is None]

    def values(self, moment: datetime) -> dict[ScopeKey, Value]:
        """Every scope's value at `moment`; a scope holding a live hedge that cannot be marked then is left out."""
        if not hasattr(self, "done_times"):
            self._done_totals()
        done = bisect_right(self.done_times, moment)
        splits: dict[ScopeKey, pnl.PnlSplit] = dict(self.done_totals[done - 1]) if done else {}
        live: dict[ScopeKey, int] = defaultdict(int)
        unmarked: set[ScopeKey] = set()
        for hedge in self.hedges:
            if hedge.first_at > moment or (hedge.done_at is not None and hedge.done_at <= moment):
                continue  # not started yet, or already in the done totals
            book = self.marks.get(hedge.pool_id)
            by_account = hedge.at(moment, book.at(moment) if book is not None else None)
            keys = self._keys(hedge)
            account_keys: list[ScopeKey] = [(EquityScope.ACCOUNT, account) for account in hedge.legs]
            if by_account is None:
                unmarked.update(keys + account_keys)
                continue
            for account, split in by_account.items():
                for key in (*keys, (EquityScope.ACCOUNT, account)):
                    splits[key] = splits.get(key, pnl.PnlSplit()) + split
            for key in keys + account_keys:
                live[key] += 1
        with localcontext(prec=pnl.PRECISION):
            account_flows = {account: self._flows(account, moment) for account in self.accounts}
            flows: dict[ScopeKey, Decimal] = {(EquityScope.DESK, DESK_ID): sum(account_flows.values(), Decimal(0))}
            for account, amount in account_flows.items():
                flows[(EquityScope.ACCOUNT, account)] = amount
            for pool_id in self.pools:
                flows[(EquityScope.POOL, pool_id)] = sum(
                    (account_flows.get(a, Decimal(0)) for a in set(self._pool_accounts(pool_id))), Decimal(0)
                )
            for strategy_id, pool_id in self.strategies.items():
                flows[(EquityScope.STRATEGY, strategy_id)] = sum(
                    (account_flows.get(a, Decimal(0)) for a in set(self._pool_accounts(pool_id))), Decimal(0)
                )
        return {
            key: Value(flows.get(key, Decimal(0)), splits.get(key, pnl.PnlSplit()), live[key])
            for key in self.scopes()
            if key not in unmarked
        }


# --- writing ------------------------------------------------------------------------------------------------------
_VALUE_COLUMNS = ("equity", "flows", "pnl_spread", "pnl_fees", "pnl_funding", "pnl_swap", "pnl_fx", "open_hedges")
_KEY_COLUMNS = ("tenant_id", "scope", "scope_id", "resolution", "at")


def _upsert_sql() -> str:
    """One INSERT … ON CONFLICT DO UPDATE of the point's slot (the same statement on PostgreSQL and SQLite ≥ 3.24):
    points are written in bulk by the backfill (tens of thousands), where the ORM's per-object bulk_create spends
    most of its time building models and statements."""
    table = connection.ops.quote_name(EquityPoint._meta.db_table)
    columns = [*_KEY_COLUMNS, *_VALUE_COLUMNS]
    names = ", ".join(connection.ops.quote_name(column) for column in columns)
    places = ", ".join(["%s"] * len(columns))
    keys = ", ".join(connection.ops.quote_name(column) for column in _KEY_COLUMNS)
    updates = ", ".join(
        f"{connection.ops.quote_name(c)} = excluded.{connection.ops.quote_name(c)}" for c in _VALUE_COLUMNS
    )
    return f"INSERT INTO {table} ({names}) VALUES ({places}) ON CONFLICT ({keys}) DO UPDATE SET {updates}"  # noqa: S608


def _row(tenant: Tenant, key: ScopeKey, resolution: str, moment: datetime, value: Value) -> tuple[Any, ...]:
    flows, split, equity = value.booked()
    ops = connection.ops
    money = [equity, flows, split.spread, split.fees, split.funding, split.swap, split.fx]
    return (
        tenant.pk,
        str(key[0]),
        key[1],
        str(resolution),
        ops.adapt_datetimefield_value(moment),
        *(ops.adapt_decimalfield_value(amount, 24, 8) for amount in money),
        value.open_hedges,
    )


def slots(since: datetime, until: datetime, resolution: str) -> list[datetime]:
    """The clock's ticks in [since, until]."""
    step = STEP[EquityResolution(resolution)]
    first = floor_to(since, resolution)
    if first < since:
        first += step
    count = max(0, (until - first) // step + 1)
    return [first + index * step for index in range(count)]


def equity_write(
    *,
    tenant: Tenant,
    since: datetime,
    until: datetime,
    resolution: str,
    progress: Callable[[int, int], None] | None = None,
    batch: int = 2_000,
) -> int:
    """Write every scope's point at each tick of `resolution` in [since, until] (existing points of those slots are
    written again with the same figures: idempotent). Returns how many points were written."""
    ticks = slots(since, until, resolution)
    if not ticks:
        return 0
    book = DeskBook(tenant, ticks[0], ticks[-1])
    written = 0
    pending: list[tuple[Any, ...]] = []
    statement = _upsert_sql()
    for index, moment in enumerate(ticks):
        for key, value in book.values(moment).items():
            pending.append(_row(tenant, key, resolution, moment, value))
        if len(pending) >= batch or index == len(ticks) - 1:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.executemany(statement, pending)
            written += len(pending)
            pending = []
        if progress is not None:
            progress(index + 1, len(ticks))
    return written


def equity_record(now: datetime | None = None) -> dict[str, int]:
    """The beat job: book the approved flows that came due, then write each desk's points up to the last settled
    tick of each clock — from its last point (at most `CATCH_UP` back), or from the earliest flow booked since the
    last run when one was booked late — and prune minute points older than 7 days."""

    moment = now or clock.now()
    counts = {"booked_flows": cash_flows_book_due(moment), "points": 0, "pruned": 0}
    for tenant in Tenant.objects.all():
        for resolution in (EquityResolution.MINUTE, EquityResolution.HOUR):
            until = floor_to(moment - SETTLE, resolution)
            step = STEP[resolution]
            last = (
                EquityPoint.objects.filter(tenant=tenant, resolution=resolution, scope=EquityScope.DESK)
                .order_by("-at")
                .values_list("at", flat=True)
                .first()
            )
            since = max(last + step, until - CATCH_UP[resolution]) if last is not None else until
            late = (
                CashFlow.objects.filter(
                    tenant=tenant, status=CashFlowStatus.BOOKED, booked_at__gt=F("at") + SETTLE, at__lte=until
                )
                .filter(booked_at__gte=moment - 2 * CATCH_UP[EquityResolution.MINUTE])
                .order_by("at")
                .values_list("at", flat=True)
                .first()
            )
            if late is not None:
                floor = moment - KEEP_MINUTES if resolution == EquityResolution.MINUTE else late
                since = min(since, max(late, floor))
            counts["points"] += equity_write(tenant=tenant, since=since, until=until, resolution=resolution)
    counts["pruned"], _ = EquityPoint.objects.filter(
        resolution=EquityResolution.MINUTE, at__lt=moment - KEEP_MINUTES
    ).delete()
    return counts


# --- the daily check against the venues ---------------------------------------------------------------------------
def tolerance_usd(venue_equity_usd: Decimal) -> Decimal:
    absolute = Decimal(str(settings.QUANTARB_EQUITY_CHECK_TOLERANCE_USD))
    share = Decimal(str(settings.QUANTARB_EQUITY_CHECK_TOLERANCE_SHARE))
    return max(absolute, abs(venue_equity_usd) * share)


@dataclass(frozen=True)
class EquityCheck:
    account: VenueAccount
    at: datetime
    ours_usd: Decimal
    venue_usd: Decimal
    tolerance_usd: Decimal

    @property
    def difference(self) -> Decimal:
        return self.ours_usd - self.venue_usd

    @property
    def ok(self) -> bool:
        return abs(self.difference) <= self.tolerance_usd


def equity_check_account(account: VenueAccount, snapshot: AccountSnapshot) -> EquityCheck | None:
    """Our equity of `account` at the venue's snapshot time against the equity the venue reported then (USDT at the
    rate of that moment). None when we cannot value it then (a live hedge without marks). The venue's figure values
    the account's whole USDT balance at today's rate, ours its deposits at the rate of their day: the tolerance
    covers that move of USDT/USD on the capital (10,000 USDT × 0.05 % = 5 USD)."""

    book = DeskBook(account.tenant, snapshot.at, snapshot.at)
    value = book.values(snapshot.at).get((EquityScope.ACCOUNT, account.pk))
    if value is None:
        return None
    _flows, _split, ours = value.booked()
    venue = snapshot.equity
    if snapshot.currency == pnl.USDT:
        rate, _observed = usd_per_usdt_at(account.tenant, snapshot.at)
        venue = (venue * rate).quantize(pnl.MONEY_QUANTUM)
    return EquityCheck(account, snapshot.at, ours, venue, tolerance_usd(venue))


def equity_check_accounts(now: datetime | None = None) -> dict[str, int]:
    """The daily check (a beat job): each live account's equity series against the equity its venue last reported
    (a balance snapshot of the past day); an account beyond the tolerance raises an account alert, one back within
    it resolves that alert."""

    moment = now or clock.now()
    counts = {"checked": 0, "mismatched": 0, "skipped": 0}
    accounts = VenueAccount.objects.filter(mode=AccountMode.LIVE, status=AccountStatus.ACTIVE).select_related("tenant")
    for account in accounts:
        snapshot = (
            AccountSnapshot.objects.filter(account=account, at__gte=moment - timedelta(days=1), at__lte=moment)
            .order_by("-at")
            .first()
        )
        check = None if snapshot is None else equity_check_account(account, snapshot)
        if check is None:
            counts["skipped"] += 1
            continue
        counts["checked"] += 1
        key = f"equity_check:{account.pk}"
        if check.ok:
            for alert in Alert.objects.filter(tenant=account.tenant, dedup_key=key, status__in=ACTIVE_STATUSES):
                alert_resolve(alert=alert, actor=None, code="equity_agrees")
            continue
        counts["mismatched"] += 1
        alert_raise(
            tenant=account.tenant,
            category="account",
            severity="warning",
            title=phrase(
                gettext_noop("%(account)s: equity series differs from the venue by %(difference)s USD"),
                account=account.label,
                difference=f"{check.difference:+.2f}",
            ),
            dedup_key=key,
            detail={
                "at": check.at.isoformat(),
                "ours_usd": str(check.ours_usd),
                "venue_usd": str(check.venue_usd),
                "difference_usd": str(check.difference),
                "tolerance_usd": str(check.tolerance_usd),
            },
            source=account,
        )
    return counts
