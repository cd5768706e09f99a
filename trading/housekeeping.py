"""The execution side's beat jobs (quantarb/schedule.py): reconcile every pool, snapshot positions, book carry.

- `reconcile_pools`: every enabled pool with hedges or a strategy, against its venues (the paper ledger for paper
  accounts); a mismatch on a pool whose strategy is active trips that strategy's kill switch (with an alert).
  Pools with a hedge in flight are left to the next round (an order on its way is not a difference).
- `snapshot_positions`: per account of every enabled pool, our position and the venue's, for history.
- `book_carry`: funding and swap onto open hedges. Paper hedges accrue them from the domain's models
  (`pnl.funding_accrual`, `pnl.swap_accrual`) at each funding time (00:00, 08:00, 16:00 UTC by default) and each
  rollover (broker midnight: 22:00 UTC in winter, 21:00 in summer; triple on the pair's `swap_rollover3days`, the
  broker's triple day); every entry keeps the USDT/USD rate of its moment. Live hedges take Binance's own
  FUNDING_FEE records (`FundingPayment`), shared among the account's hedges open at that moment by their perp size.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from asgiref.sync import async_to_sync
from django.db import IntegrityError, transaction

from accounts.models import AccountPool
from quantarb import clock
from trading.domain import pnl

from .choices import LIVE_HEDGE_STATUSES, CarryKind, HedgeStatus, ReconciliationStatus, ReconciliationTrigger
from .models import CarryEntry, Hedge, PositionSnapshot, SourcePair, SpreadSample

log = logging.getLogger(__name__)
IN_FLIGHT = (HedgeStatus.OPENING, HedgeStatus.CLOSING, HedgeStatus.REPAIRING)
FUNDING_HOURS_UTC = (0, 8, 16)


def _pools() -> list[AccountPool]:
    return list(AccountPool.objects.filter(enabled=True).select_related("perp_account", "cfd_account", "tenant"))


def _venues(pool: AccountPool) -> dict[int, Any]:
    from strategies.runner import pair_id_for_pool

    from .venue_factory import execution_venues

    return execution_venues(pool, pair_id_for_pool(pool) or 0, None)


def reconcile_pools() -> dict[str, int]:
    """Reconcile each enabled pool that trades; trip the kill switch of an active strategy on a mismatch."""
    from risk.choices import KillScope, KillTrigger
    from risk.services import kill_switch_trip
    from strategies.choices import ACTIVE_STATES
    from strategies.models import Strategy

    from .reconciliation import reconcile_pool

    counts = {"matched": 0, "mismatch": 0, "failed": 0, "skipped": 0}
    for pool in _pools():
        if Hedge.objects.filter(pool=pool, status__in=[s.value for s in IN_FLIGHT]).exists():
            counts["skipped"] += 1
            continue
        if not Hedge.objects.filter(pool=pool).exists() and not Strategy.objects.filter(pool=pool).exists():
            counts["skipped"] += 1
            continue
        try:
            venues = _venues(pool)
        except Exception as exc:
            log.warning("reconciliation of pool %s: venues unavailable: %s", pool.pk, exc)
            counts["failed"] += 1
            continue
        report = async_to_sync(reconcile_pool)(pool=pool, venues=venues, trigger=ReconciliationTrigger.SCHEDULE)
        counts[
            {ReconciliationStatus.MATCHED: "matched", ReconciliationStatus.MISMATCH: "mismatch"}.get(
                ReconciliationStatus(report.status), "failed"
            )
        ] += 1
        if report.status == ReconciliationStatus.MISMATCH:
            for strategy in Strategy.objects.filter(pool=pool, state__in=[s.value for s in ACTIVE_STATES]):
                kill_switch_trip(
                    scope=KillScope.STRATEGY,
                    trigger=KillTrigger.RECONCILIATION_MISMATCH,
                    reason=f"reconciliation #{report.pk}: {len(report.differences)} differences",
                    strategy=strategy,
                )
    return counts


def snapshot_positions() -> int:
    """One PositionSnapshot per account of every enabled pool: ours, the venue's, the average price."""
    from .reconciliation import our_position_oz

    written = 0
    now = clock.now()
    for pool in _pools():
        try:
            venues = _venues(pool)
        except Exception:
            venues = {}
        for account in (pool.perp_account, pool.cfd_account):
            venue_oz = None
            venue = venues.get(account.pk)
            if venue is not None:
                try:
                    venue_oz = async_to_sync(venue.position_oz)()
                except Exception as exc:
                    log.warning("position snapshot of account %s: venue unreadable: %s", account.pk, exc)
            PositionSnapshot.objects.create(
                tenant_id=pool.tenant_id,
                account=account,
                pool=pool,
                at=now,
                ours_oz=our_position_oz(account),
                venue_oz=venue_oz,
            )
            written += 1
    return written


# --- carry --------------------------------------------------------------------------------------------------
def funding_times(since: datetime, until: datetime) -> list[datetime]:
    """The funding instants in (since, until] (UTC, every 8 h at FUNDING_HOURS_UTC)."""
    out = []
    day = since.replace(hour=0, minute=0, second=0, microsecond=0)
    while day <= until:
        for hour in FUNDING_HOURS_UTC:
            at = day.replace(hour=hour)
            if since < at <= until:
                out.append(at)
        day += timedelta(days=1)
    return out


def rollover_times(since: datetime, until: datetime) -> list[datetime]:
    """Broker-midnight rollovers in (since, until]: New York close (21:00 UTC in US summer, 22:00 in winter)."""
    from zoneinfo import ZoneInfo

    new_york = ZoneInfo("America/New_York")
    out = []
    day = (since - timedelta(days=1)).date()
    while datetime.combine(day, datetime.min.time(), tzinfo=since.tzinfo) <= until + timedelta(days=1):
        at = datetime(day.year, day.month, day.day, 17, 0, tzinfo=new_york).astimezone(since.tzinfo)
        if since < at <= until and at.weekday() < 5:
            out.append(at)
        day += timedelta(days=1)
    return out


def _book(
    hedge: Hedge,
    *,
    kind: str,
    account_id: int,
    amount: Decimal,
    currency: str,
    ref: str,
    at: datetime,
    usd_per_usdt: Decimal | None = None,
) -> bool:
    """Book one carry entry onto the hedge, once per `ref`, with the USDT/USD rate of its moment (`usd_per_usdt`,
    else the pair's rate at `at`): the split values a USDT amount at that rate and carries its move after in the
    USDT/USD line."""
    rate = usd_per_usdt if usd_per_usdt is not None else _rate_at(hedge, at)
    try:
        with transaction.atomic():
            CarryEntry.objects.create(
                tenant_id=hedge.tenant_id,
                account_id=account_id,
                hedge=hedge,
                kind=kind,
                amount=amount.quantize(pnl.MONEY_QUANTUM),
                currency=currency,
                amount_usd=(amount * rate if currency == pnl.USDT else amount).quantize(pnl.MONEY_QUANTUM),
                usd_per_usdt=rate,
                venue_ref=ref[:80],
                paper=hedge.paper,
                at=at,
            )
    except IntegrityError:
        return False  # booked before: each funding time and rollover once
    if hedge.status == HedgeStatus.CLOSED:
        from .execution import rebook_pnl

        rebook_pnl(hedge_id=hedge.pk)  # carry that arrives after the close still counts in its split
    return True


# A stored spread sample older than this before a funding time or rollover does not price it.
SAMPLE_MAX_AGE = timedelta(hours=1)


def _sample_at(pair_id: int | None, at: datetime) -> SpreadSample | None:
    """The pair's last stored spread sample at or before `at` (within `SAMPLE_MAX_AGE`)."""
    if pair_id is None:
        return None
    return SpreadSample.objects.filter(pair_id=pair_id, ts__lte=at, ts__gt=at - SAMPLE_MAX_AGE).order_by("-ts").first()


def _rate_at(hedge: Hedge, at: datetime) -> Decimal:
    """usd_per_usdt at `at`: the pool's pair's sample then, else the hedge's entry rate, else 1 (the assumption)."""
    sample = _sample_at(_pair_id(hedge.pool), at)
    if sample is not None:
        return sample.usd_per_usdt
    return hedge.entry_usd_per_usdt or Decimal(1)


def _book_paper_carry(hedge: Hedge, pair: SourcePair, now: datetime) -> dict[str, int]:
    """A paper hedge's funding and swap from the domain's accrual models, once per funding time and rollover since
    it opened: funding at the pair's expected rate on the perp mark then (the perp mid of the pair's sample, else
    the perp leg's opening price); swap on the pair's terms at each broker rollover, tripled on the pair's
    `swap_rollover3days` (MT5 weekday of the broker's server day that the rollover ends)."""
    from zoneinfo import ZoneInfo

    counts = {"funding": 0, "swap": 0}
    assert hedge.opened_at is not None
    booked = set(CarryEntry.objects.filter(hedge=hedge).values_list("venue_ref", flat=True))
    opening_price = hedge.orders.filter(leg="perp", intent="open").values_list("avg_price", flat=True).first()
    for at in funding_times(hedge.opened_at, now):
        ref = f"paper-funding-{hedge.pk}-{int(at.timestamp())}"
        if ref in booked:
            continue
        sample = _sample_at(pair.pk, at)
        mark = (sample.perp_bid + sample.perp_ask) / 2 if sample is not None else opening_price
        amount = pnl.funding_accrual(mark_price=mark or Decimal(0), signed_oz=hedge.perp_oz, rate=pair.funding_rate)
        if amount and _book(
            hedge,
            kind=CarryKind.FUNDING,
            account_id=hedge.pool.perp_account_id,
            amount=amount,
            currency=pnl.USDT,
            ref=ref,
            at=at,
            usd_per_usdt=sample.usd_per_usdt if sample is not None else None,
        ):
            counts["funding"] += 1
    terms = pair.swap_terms()
    server_day = ZoneInfo("America/New_York")  # the broker's server day ends at 17:00 New York (rollover_times)
    for at in rollover_times(hedge.opened_at, now):
        ref = f"paper-swap-{hedge.pk}-{at.date().isoformat()}"
        if ref in booked:
            continue
        sample = _sample_at(pair.pk, at)
        amount = pnl.swap_accrual(
            terms,
            signed_lots=hedge.cfd_oz / terms.contract_size,
            price=(sample.cfd_bid + sample.cfd_ask) / 2 if sample is not None else Decimal(0),
            rollover_day=at.astimezone(server_day).date(),
        )
        if amount and _book(
            hedge,
            kind=CarryKind.SWAP,
            account_id=hedge.pool.cfd_account_id,
            amount=amount,
            currency=terms.currency,
            ref=ref,
            at=at,
            usd_per_usdt=sample.usd_per_usdt if sample is not None else None,
        ):
            counts["swap"] += 1
    return counts


def book_carry(now: datetime | None = None) -> dict[str, int]:
    """Book funding and swap onto the hedges that held legs at each funding time / rollover since they opened."""
    now = now or clock.now()
    counts = {"funding": 0, "swap": 0}
    open_hedges = Hedge.objects.filter(status__in=[s.value for s in LIVE_HEDGE_STATUSES], opened_at__isnull=False)
    for hedge in open_hedges.filter(paper=True).select_related("pool"):
        pair_id = _pair_id(hedge.pool)
        pair = (
            SourcePair.objects.select_related("cfd_source__instrument").filter(pk=pair_id).first()
            if pair_id is not None
            else None
        )
        if pair is not None:
            for kind, booked in _book_paper_carry(hedge, pair, now).items():
                counts[kind] += booked
    counts["funding"] += _book_live_funding()
    counts["swap"] += _book_live_swap()
    return counts


def _pair_id(pool: AccountPool) -> int | None:
    from strategies.runner import pair_id_for_pool

    return pair_id_for_pool(pool)


def _book_live_funding() -> int:
    """Binance's FUNDING_FEE records, shared among the account's hedges open at that moment by perp size."""
    from .models import FundingPayment

    booked = 0
    booked_refs = set(
        CarryEntry.objects.filter(kind=CarryKind.FUNDING, paper=False).values_list("venue_ref", flat=True)
    )
    for payment in FundingPayment.objects.order_by("at")[:5000]:
        ref = f"binance-{payment.venue_id}"
        if ref in booked_refs:
            continue
        holders = [
            hedge
            for hedge in Hedge.objects.filter(
                pool__perp_account_id=payment.account_id, paper=False, opened_at__lte=payment.at
            ).exclude(closed_at__lt=payment.at)
            if hedge.perp_oz != 0
        ]
        total = sum((abs(hedge.perp_oz) for hedge in holders), Decimal(0))
        for hedge in holders:
            share = payment.amount * abs(hedge.perp_oz) / total
            if _book(
                hedge,
                kind=CarryKind.FUNDING,
                account_id=payment.account_id,
                amount=share,
                currency=payment.asset or "USDT",
                ref=f"{ref}-{hedge.pk}" if len(holders) > 1 else ref,
                at=payment.at,
            ):
                booked += 1
    return booked


# MT5 moves a closed position's swap onto its closing deal: hedges closed this recently are still read.
SWAP_SETTLE_DAYS = 3


def _book_live_swap() -> int:
    """MT5's own swap on the CFD legs of live hedges. An open position carries the swap the broker booked so far (in
    the account currency); when it closes, MT5 moves that swap onto the closing deal, so a hedge closed within the
    last `SWAP_SETTLE_DAYS` is read from the deals that carry its orders' client ids (their comments). What is new
    since our last booking is booked onto the hedge."""
    from django.db.models import Q, Sum

    from accounts.models import VenueAccount

    from .venues.errors import VenueError
    from .venues.mt5 import gateway_for

    booked = 0
    recent = clock.now() - timedelta(days=SWAP_SETTLE_DAYS)
    hedges = (
        Hedge.objects.filter(paper=False, pool__cfd_account__venue="bybit-mt5")
        .filter(
            Q(status__in=[s.value for s in LIVE_HEDGE_STATUSES])
            | Q(status=HedgeStatus.CLOSED, closed_at__gte=recent, opened_at__isnull=False)
        )
        .select_related("pool")
    )
    by_account: dict[int, list[Hedge]] = {}
    for hedge in hedges:
        by_account.setdefault(hedge.pool.cfd_account_id, []).append(hedge)
    for account_id, account_hedges in by_account.items():
        account = VenueAccount.objects.select_related("terminal").get(pk=account_id)
        if account.terminal is None:
            continue
        closed = [hedge.closed_at for hedge in account_hedges if hedge.closed_at is not None]
        try:
            gateway = gateway_for(account.terminal, account.credentials or {})
            gateway.connect()
            try:
                positions = {position.comment: position for position in gateway.positions() if position.ours}
                deals = gateway.activity_since(min(closed) - timedelta(hours=1)).deals if closed else ()
                currency = gateway.account().currency
            finally:
                gateway.close()
        except VenueError as exc:
            log.warning("swap of account %s not read: %s", account_id, exc)
            continue
        for hedge in account_hedges:
            cids = dict(hedge.orders.filter(leg="cfd").values_list("client_order_id", "intent"))
            if hedge.status == HedgeStatus.CLOSED:
                settled = [deal for deal in deals if deal.ours and deal.comment in cids]
                if not settled:
                    continue
                total, ref = sum((deal.swap for deal in settled), Decimal(0)), f"mt5-swap-deals-{hedge.pk}"
            else:
                opening = next((cid for cid, intent in cids.items() if intent == "open"), "")
                position = positions.get(opening)
                if position is None:
                    continue
                total, ref = position.swap, f"mt5-swap-{position.ticket}"
            so_far = CarryEntry.objects.filter(hedge=hedge, kind=CarryKind.SWAP).aggregate(total=Sum("amount"))["total"]
            new = total - (so_far or Decimal(0))
            if new and _book(
                hedge,
                kind=CarryKind.SWAP,
                account_id=account_id,
                amount=new,
                currency=currency if currency in ("USD", "USDT") else "USD",
                ref=f"{ref}-{total}",
                at=clock.now(),
            ):
                booked += 1
    return booked
