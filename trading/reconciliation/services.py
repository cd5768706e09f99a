"""Reconciliation: each venue's orders and positions (the paper ledger for paper accounts) against ours, plus
the net hedge of the pool, into a report of differences.

Kinds of difference:
- `order_status` / `order_filled`: the venue holds our order in another state or with another filled quantity;
- `order_missing`: an order we believe reached the venue (acknowledged or filled) that the venue does not know;
- `order_extra`: an order working at the venue that is not ours (a manual trade in the terminal, another bot);
- `position`: the account's position at the venue differs from the sum of our fills on it;
- `unhedged`: the pool's hedges hold gold (perp + CFD ≠ 0) though none of them is being opened, closed or repaired.

Runs on every runner start (a strategy refuses to start on a mismatch) and as a beat job. An admin may *sync*
a mismatched report: our records adopt the venue's state (orders take the venue's status and fills; a position
difference becomes an adjustment order on the pool's newest live hedge, or on a new one, which is then legged
and repaired like any other), audited.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from asgiref.sync import sync_to_async
from django.db import transaction
from django.db.models import Case, F, Q, Sum, When

from accounts.audit import audit_record
from accounts.choices import AccountMode, AuditAction
from accounts.http import AuditContext
from accounts.models import AccountPool, User, VenueAccount
from quantarb import clock
from trading.choices import (
    LIVE_HEDGE_STATUSES,
    OPEN_ORDER_STATUSES,
    Direction,
    FillSource,
    HedgeStatus,
    Leg,
    OrderIntent,
    OrderKind,
    OrderSide,
    OrderStatus,
    ReconciliationStatus,
)
from trading.domain import orders as order_rules
from trading.domain.orders import ADJUSTMENT_PREFIX
from trading.execution import services as execution
from trading.instruments import instrument_of
from trading.models import Hedge, Order, QuoteSource, QuoteTick, ReconciliationReport
from trading.venues.base import ExecutionVenue, VenueAnswer
from trading.venues.errors import VenueError

log = logging.getLogger(__name__)

# Orders we are sure the venue received: it acknowledged them or filled something.
ACKNOWLEDGED = (
    OrderStatus.ACCEPTED,
    OrderStatus.PARTIALLY_FILLED,
    OrderStatus.FILLED,
    OrderStatus.CANCELLED,
    OrderStatus.EXPIRED,
)
# How far back finished orders are compared (older ones were reconciled by earlier runs).
RECENT_ORDERS = 200


def _db(function: Any) -> Any:
    return sync_to_async(function, thread_sensitive=True)


def our_position_oz(account: VenueAccount) -> Decimal:
    """The account's position by our records: the signed sum of everything filled on it."""
    total = Order.objects.filter(account=account).aggregate(
        net=Sum(Case(When(side=OrderSide.BUY, then=F("filled")), default=-F("filled")))
    )["net"]
    return Decimal(total or 0).quantize(Decimal("0.001"))


def _orders_to_compare(account: VenueAccount) -> list[Order]:
    ours = Order.objects.filter(account=account).exclude(client_order_id__startswith=ADJUSTMENT_PREFIX)
    working = list(ours.filter(status__in=[s.value for s in OPEN_ORDER_STATUSES]))
    recent = list(
        ours.exclude(status__in=[s.value for s in OPEN_ORDER_STATUSES])
        .exclude(status=OrderStatus.REJECTED)
        .order_by("-created_at", "-id")[:RECENT_ORDERS]
    )
    return working + recent


def _compare_order(order: Order, answer: VenueAnswer) -> dict[str, Any] | None:
    report = answer.report
    base = {"account_id": order.account_id, "client_order_id": order.client_order_id, "order_id": order.pk}
    if not report.found:
        if order.status in ACKNOWLEDGED or order.filled > 0:
            return {**base, "kind": "order_missing", "ours": order.status, "venue": None}
        return None  # never acknowledged: settled by the order's own lookup, not a difference
    assert report.status is not None
    if report.filled != order.filled:
        return {
            **base,
            "kind": "order_filled",
            "ours": str(order.filled),
            "venue": str(report.filled),
            "venue_status": report.status.value,
        }
    if report.status.value != order.status and order.status != OrderStatus.UNKNOWN:
        return {**base, "kind": "order_status", "ours": order.status, "venue": report.status.value}
    return None


async def reconcile_pool(
    *,
    pool: AccountPool,
    venues: Mapping[int, ExecutionVenue],
    trigger: str,
    strategy_id: int | None = None,
) -> ReconciliationReport:
    """Compare the pool's accounts at their venues with our records; returns the stored report."""
    report: ReconciliationReport = await _db(ReconciliationReport.objects.create)(
        tenant_id=pool.tenant_id, pool=pool, strategy_id=strategy_id, trigger=trigger, started_at=clock.now()
    )
    differences: list[dict[str, Any]] = []
    try:
        for account_id in (pool.perp_account_id, pool.cfd_account_id):
            account = await _db(VenueAccount.objects.get)(pk=account_id)
            venue = venues[account_id]
            ours = await _db(_orders_to_compare)(account)
            known = {order.client_order_id for order in ours}
            for order in ours:
                answer = await venue.lookup(order.client_order_id)
                difference = _compare_order(order, answer)
                if difference is not None:
                    differences.append(difference)
            for client_order_id, _answer in await venue.open_orders():
                if (
                    client_order_id not in known
                    and not await _db(Order.objects.filter(account=account, client_order_id=client_order_id).exists)()
                ):
                    differences.append(
                        {"kind": "order_extra", "account_id": account_id, "client_order_id": client_order_id}
                    )
            venue_oz = await venue.position_oz()
            ours_oz = await _db(our_position_oz)(account)
            if venue_oz != ours_oz:
                differences.append(
                    {"kind": "position", "account_id": account_id, "ours": str(ours_oz), "venue": str(venue_oz)}
                )
        unhedged = await _db(_pool_unhedged)(pool)
        if unhedged != 0:
            differences.append({"kind": "unhedged", "pool_id": pool.pk, "ours": str(unhedged)})
    except (VenueError, OSError) as exc:
        report.status = ReconciliationStatus.FAILED
        report.error = str(exc)[:500]
    else:
        report.status = ReconciliationStatus.MISMATCH if differences else ReconciliationStatus.MATCHED
    report.differences = differences
    report.finished_at = clock.now()
    await _db(report.save)(update_fields=["status", "error", "differences", "finished_at"])
    if report.status != ReconciliationStatus.MATCHED:
        log.warning("reconciliation %s of pool %s: %s %s", report.pk, pool.pk, report.status, differences)
    return report


def _pool_unhedged(pool: AccountPool) -> Decimal:
    """Gold held by the pool's settled hedges (those not being worked on right now)."""
    settled = Hedge.objects.filter(pool=pool).filter(
        Q(status=HedgeStatus.OPEN) | Q(status=HedgeStatus.CLOSED) | Q(status=HedgeStatus.FAILED)
    )
    total = Decimal(0)
    for perp_oz, cfd_oz in settled.values_list("perp_oz", "cfd_oz"):
        total += perp_oz + cfd_oz
    return total


# --- sync: adopt the venue's state --------------------------------------------------------------------------
async def reconciliation_sync(
    *,
    report: ReconciliationReport,
    venues: Mapping[int, ExecutionVenue],
    actor: User,
    context: AuditContext | None = None,
) -> ReconciliationReport:
    """Adopt the venue's state for every difference of a mismatched report, then audit. Orders take the
    venue's answer (looked up afresh); position differences become adjustment orders (filled, marked as from
    reconciliation) on the pool's newest live hedge, or on a new hedge, which then shows as legged."""
    if report.status != ReconciliationStatus.MISMATCH:
        raise ValueError("only a mismatched report can be synced")
    pool = await _db(AccountPool.objects.select_related("tenant").get)(pk=report.pool_id)
    adopted: list[dict[str, Any]] = []
    for difference in report.differences:
        kind = difference["kind"]
        if kind in ("order_filled", "order_status", "order_missing"):
            order = await _db(Order.objects.get)(pk=difference["order_id"])
            answer = await venues[order.account_id].lookup(order.client_order_id)
            await _db(_adopt_order)(order, answer)
            adopted.append({"kind": kind, "client_order_id": order.client_order_id})
    # Positions last: adopting the orders may already have closed the gap. The venue did not say at what price
    # the difference arose, so it is booked at the instrument's price now (its PnL is then booked like any leg's).
    for account_id in (pool.perp_account_id, pool.cfd_account_id):
        account = await _db(VenueAccount.objects.get)(pk=account_id)
        venue_oz = await venues[account_id].position_oz()
        ours_oz = await _db(our_position_oz)(account)
        if venue_oz != ours_oz:
            mark = await _mark(venues[account_id], account)
            await _db(_adopt_position)(pool, account, venue_oz - ours_oz, price=mark)
            adopted.append(
                {
                    "kind": "position",
                    "account_id": account_id,
                    "adjusted_oz": str(venue_oz - ours_oz),
                    "price": None if mark is None else str(mark),
                }
            )
    synced: ReconciliationReport = await _db(_mark_synced)(report, actor, adopted, context)
    return synced


async def _mark(venue: ExecutionVenue, account: VenueAccount) -> Decimal | None:
    """The price a position difference is booked at: the venue's mark, else the newest stored quote's mid (a web
    process streams no quotes, and its paper venues have none)."""
    try:
        mark = await venue.mark_price()
    except VenueError as exc:
        log.warning("no mark from the venue of account %s: %s", account.pk, exc)
        mark = None
    if mark is None:
        mark = await _db(_stored_mark)(account)
    return mark


def _stored_mark(account: VenueAccount) -> Decimal | None:
    instrument = instrument_of(account)
    if instrument is None:
        return None
    newest = None
    for source in QuoteSource.objects.filter(instrument=instrument):
        tick = QuoteTick.objects.filter(source=source).order_by("-ts").first()
        if tick is not None and (newest is None or tick.ts > newest.ts):
            newest = tick
    if newest is None:
        return None
    return ((newest.bid + newest.ask) / 2).quantize(Decimal("0.00000001"))


@transaction.atomic
def _adopt_order(order: Order, answer: VenueAnswer) -> None:
    order = Order.objects.select_for_update().get(pk=order.pk)
    report = answer.report
    view = execution.order_view(order)
    if not report.found:
        # The venue never had it: whatever we recorded as filled did not happen.
        order.status, order.filled, order.avg_price = OrderStatus.REJECTED, Decimal(0), None
        order.venue_filled, order.venue_avg_price = Decimal(0), None
        order.fills.all().delete()
        order.error = "reconciliation: the venue has no such order"
        order.save()
    else:
        assert report.status is not None
        fresh = order_rules.OrderView(status=order_rules.OrderStatus.SUBMITTING, quantity=view.quantity)
        fresh = order_rules.resolve(fresh, report)
        order.status = fresh.status.value
        order.filled = fresh.filled
        order.avg_price = fresh.avg_price
        order.venue_filled, order.venue_avg_price = fresh.venue_filled, fresh.venue_avg_price
        order.error = "reconciliation: adopted the venue's state"
        order.save()
        for fill in answer.fills:
            order.fills.get_or_create(
                fill_id=fill.fill_id,
                defaults={
                    "tenant_id": order.tenant_id,
                    "account_id": order.account_id,
                    "quantity": fill.quantity,
                    "price": fill.price,
                    "fee": fill.fee,
                    "fee_currency": fill.fee_currency,
                    "source": FillSource.RECONCILIATION,
                    "paper": order.paper,
                    "at": clock.now(),
                },
            )
    if order.hedge_id is not None:
        _resync_hedge(order.hedge_id)


def _resync_hedge(hedge_id: int) -> None:
    hedge = Hedge.objects.select_for_update().get(pk=hedge_id)
    if hedge.status in (HedgeStatus.OPEN, HedgeStatus.CLOSED, HedgeStatus.FAILED):
        # Settled hedges are re-opened for assessment when their legs changed.
        execution.hedge_sync(hedge_id=hedge_id)
        hedge.refresh_from_db()
        if hedge.perp_oz + hedge.cfd_oz != 0 and hedge.status == HedgeStatus.OPEN:
            execution.hedge_mark(hedge=hedge, status=HedgeStatus.LEGGED, reason="reconciliation")
    else:
        execution.hedge_sync(hedge_id=hedge_id)


_strategy_of_pool: Callable[[AccountPool], Any] | None = None


def install_strategy_of_pool(lookup: Callable[[AccountPool], Any]) -> None:
    """Which strategy trades a pool now (None: none active) — strategies' knowledge, installed by the composition
    root (quantarb/wiring.py): an adjustment booked on a pool belongs to that strategy's books."""
    global _strategy_of_pool
    _strategy_of_pool = lookup


def _pool_strategy(pool: AccountPool) -> Any:
    if _strategy_of_pool is None:
        raise RuntimeError("the pool's strategy lookup is not installed (quantarb/wiring.py install_strategy_of_pool)")
    return _strategy_of_pool(pool)


@transaction.atomic
def adopt_position_difference(
    *, account: VenueAccount, venue_oz: Decimal, price: Decimal | None, reason: str
) -> tuple[Decimal, Hedge | None]:
    """What the venue holds on `account` (`venue_oz`, read just before) against our books, adopted when they differ:
    an adjustment at `price` (the venue's, or its mark) on the account's pool, legged until repaired. Nothing while
    an order of the account is in flight (its answer may not be recorded yet; the next look decides). The account
    row is locked, so two watchers, or a watcher and an admin's sync, adopt one difference once. Returns the
    adopted ounces (0: none) and the hedge that took them (None: the account is in no enabled pool)."""
    VenueAccount.objects.select_for_update().filter(pk=account.pk).first()
    if Order.objects.filter(account=account, status__in=[s.value for s in OPEN_ORDER_STATUSES]).exists():
        return Decimal(0), None
    delta = venue_oz - our_position_oz(account)
    if delta == 0:
        return Decimal(0), None
    pool = (
        AccountPool.objects.filter(enabled=True)
        .filter(Q(perp_account_id=account.pk) | Q(cfd_account_id=account.pk))
        .select_related("perp_account", "cfd_account", "tenant")
        .first()
    )
    if pool is None:
        return delta, None
    return delta, _adopt_position(pool, account, delta, reason=reason, price=price)


@transaction.atomic
def adopt_venue_position(
    pool: AccountPool, account: VenueAccount, delta_oz: Decimal, *, reason: str, price: Decimal | None = None
) -> None:
    """Record a position change the venue made (or that reconciliation found) on the pool: an adjustment order
    (at the venue's price when known) on its newest live hedge (or a new hedge), which is then legged until
    repaired."""
    _adopt_position(pool, account, delta_oz, reason=reason, price=price)


@transaction.atomic
def _adopt_position(
    pool: AccountPool,
    account: VenueAccount,
    delta_oz: Decimal,
    *,
    reason: str = "reconciliation: venue position adopted",
    price: Decimal | None = None,
) -> Hedge:
    leg = Leg.PERP if account.pk == pool.perp_account_id else Leg.CFD
    hedge = (
        Hedge.objects.select_for_update()
        .filter(pool=pool, status__in=[s.value for s in LIVE_HEDGE_STATUSES])
        .order_by("-planned_at", "-id")
        .first()
    )
    now = clock.now()
    if hedge is None:
        # The strategy trading the pool (if one runs) owns the adjustment: its runner repairs it like any legged
        # hedge. Without one it is the operators' to repair by hand (its legged alert says so).
        hedge = Hedge.objects.create(
            tenant_id=pool.tenant_id,
            pool=pool,
            strategy=_pool_strategy(pool),
            direction=Direction.SELL_PERP if (leg == Leg.PERP) == (delta_oz < 0) else Direction.BUY_PERP,
            status=HedgeStatus.NEEDS_RECONCILE,
            paper=account.mode == AccountMode.PAPER,
            manual=True,
            size_oz=abs(delta_oz),
            planned_at=now,
            status_reason=reason[:300],
        )
    attempt = Order.objects.filter(hedge=hedge, leg=leg, intent=OrderIntent.REPAIR).count() + 1
    Order.objects.create(
        tenant_id=pool.tenant_id,
        hedge=hedge,
        account=account,
        leg=leg,
        intent=OrderIntent.REPAIR,
        attempt=attempt,
        client_order_id=f"{ADJUSTMENT_PREFIX}{hedge.pk}-{leg}-{attempt}"[:36],
        side=OrderSide.BUY if delta_oz > 0 else OrderSide.SELL,
        kind=OrderKind.MARKET,
        quantity=abs(delta_oz),
        status=OrderStatus.FILLED,
        filled=abs(delta_oz),
        venue_filled=abs(delta_oz),
        avg_price=price,
        venue_avg_price=price,
        paper=account.mode == AccountMode.PAPER,
        error=reason[:500],
        created_at=now,
    )
    execution.hedge_sync(hedge_id=hedge.pk)
    hedge.refresh_from_db()
    if hedge.perp_oz + hedge.cfd_oz != 0 and hedge.status in (HedgeStatus.OPEN, HedgeStatus.NEEDS_RECONCILE):
        hedge = execution.hedge_mark(hedge=hedge, status=HedgeStatus.LEGGED, reason=reason)
    return hedge


@transaction.atomic
def _mark_synced(
    report: ReconciliationReport, actor: User, adopted: list[dict[str, Any]], context: AuditContext | None
) -> ReconciliationReport:
    report = ReconciliationReport.objects.select_for_update().get(pk=report.pk)
    report.status = ReconciliationStatus.SYNCED
    report.synced_by = actor
    report.synced_at = clock.now()
    report.save(update_fields=["status", "synced_by", "synced_at"])
    audit_record(
        tenant=report.pool.tenant,
        actor=actor,
        action=AuditAction.RECONCILIATION_SYNC,
        obj=report,
        summary={"pool": report.pool.name, "adopted": adopted, "differences": len(report.differences)},
        context=context,
    )
    return report
