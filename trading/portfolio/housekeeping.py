"""The execution side's beat jobs (quantarb/schedule.py): snapshot positions, book carry. (The scheduled
reconciliation of every pool, which trips the kill switch of an active strategy on a mismatch, is strategies'
`strategies/housekeeping.py`.)

- `snapshot_positions`: per account of every enabled pool, our position and the venue's, for history.
- `book_carry`: funding and swap onto open hedges. Paper hedges accrue them from the domain's models
  (`pnl.funding_accrual`, `pnl.swap_accrual`) at each funding time (00:00, 08:00, 16:00 UTC by default) and each
  rollover (broker midnight: 22:00 UTC in winter, 21:00 in summer; triple on the pair's `swap_rollover3days`, the
  broker's triple day); every entry keeps the USDT/USD rate of its moment. Live hedges take Binance's own
  FUNDING_FEE records (`FundingPayment`), apportioned to the hedges that held the perp position at each funding time
  (open or closed since), and MT5's own swap (positions and closing deals, found by ticket).
- `sync_fills` (trading/execution/fills.py) and `record_carry_inputs` (trading/marketdata/carry_inputs.py) are beat
jobs of their own.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from asgiref.sync import async_to_sync
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum

from accounts.models import AccountPool, VenueAccount
from quantarb import clock
from trading.choices import LIVE_HEDGE_STATUSES, CarryKind, HedgeStatus
from trading.domain import funding as funding_rules
from trading.domain import pnl
from trading.execution.services import rebook_pnl
from trading.execution.venue_factory import close_venues, execution_venues
from trading.instruments import pair_id_for_pool
from trading.models import CarryEntry, FundingPayment, Hedge, Order, PositionSnapshot, SourcePair, SpreadSample
from trading.reconciliation.services import our_position_oz
from trading.venues.errors import VenueError
from trading.venues.mt5.gateway import Mt5Gateway
from trading.venues.registry import gateway_for

log = logging.getLogger(__name__)
IN_FLIGHT = (HedgeStatus.OPENING, HedgeStatus.CLOSING, HedgeStatus.REPAIRING)
FUNDING_HOURS_UTC = (0, 8, 16)


def enabled_pools() -> list[AccountPool]:
    return list(AccountPool.objects.filter(enabled=True).select_related("perp_account", "cfd_account", "tenant"))


def pool_venues(pool: AccountPool) -> dict[int, Any]:
    """The pool's execution venues (its accounts' gateways, or the paper ledger), to be closed by the caller."""
    return execution_venues(pool, pair_id_for_pool(pool) or 0, None)


async def _venue_positions(venues: dict[int, Any]) -> dict[int, Decimal | None]:
    """Each venue's position (None: unreadable), the venues closed on the same event loop afterwards."""
    positions: dict[int, Decimal | None] = {}
    try:
        for account_id, venue in venues.items():
            try:
                positions[account_id] = await venue.position_oz()
            except Exception as exc:
                log.warning("position snapshot of account %s: venue unreadable: %s", account_id, exc)
                positions[account_id] = None
    finally:
        await close_venues(venues)
    return positions


def snapshot_positions() -> int:
    """One PositionSnapshot per account of every enabled pool: ours, the venue's, the average price."""
    written = 0
    now = clock.now()
    for pool in enabled_pools():
        try:
            venues = pool_venues(pool)
        except Exception:
            venues = {}
        positions = async_to_sync(_venue_positions)(venues) if venues else {}
        for account in (pool.perp_account, pool.cfd_account):
            venue_oz = positions.get(account.pk)
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
    counts["funding"] += _book_live_funding(now)
    counts["swap"] += _book_live_swap()
    return counts


def _pair_id(pool: AccountPool) -> int | None:
    return pair_id_for_pool(pool)


# Payments this recent are apportioned again at every run (fills recorded late change who held what); older ones
# only until they are booked once.
FUNDING_REVISE = timedelta(days=3)


def _book_live_funding(now: datetime | None = None) -> int:
    """Binance's FUNDING_FEE records, each apportioned to the hedges that held the account's perp position at its
    funding time, by their positions just before it (trading/domain/funding.py), whether or not they are still open
    now. A payment none of our hedges explains is booked unattributed (no hedge). Recent payments are apportioned
    again at every run and their entries corrected when the fills changed; a closed hedge whose funding changed has
    its PnL split booked again. Returns the number of entries written or changed."""
    now = now or clock.now()
    booked_refs = set(
        CarryEntry.objects.filter(kind=CarryKind.FUNDING, paper=False, venue_ref__startswith="binance-").values_list(
            "account_id", "venue_ref"
        )
    )
    booked_payments = {(account_id, _payment_of_ref(ref)) for account_id, ref in booked_refs}
    changed = 0
    for payment in FundingPayment.objects.filter(account__mode="live").order_by("at", "pk"):
        if payment.at < now - FUNDING_REVISE and (payment.account_id, payment.venue_id) in booked_payments:
            continue
        changed += _apportion_payment(payment)
    return changed


def _payment_ref(venue_id: str) -> str:
    return f"binance-{venue_id}"


def _payment_of_ref(ref: str) -> str:
    """The venue id of a funding entry's reference (`binance-<id>`, `binance-<id>-h<hedge>`, …)."""
    return ref.removeprefix("binance-").split("-", 1)[0]


def perp_holdings(account_id: int, instant: datetime) -> dict[int, Decimal]:
    """Each live hedge's signed perp position on the account just before `instant`, from its perp fills' times (a
    part of an order no fill covers yet counts from the order's send). Hedges closed well before are not read."""
    orders = (
        Order.objects.filter(
            account_id=account_id,
            leg="perp",
            paper=False,
            filled__gt=0,
            hedge__isnull=False,
            created_at__lt=instant,
        )
        .exclude(hedge__closed_at__lt=instant - timedelta(days=1))
        .prefetch_related("fills")
    )
    timed: dict[int, list[tuple[int, Decimal]]] = {}
    for order in orders:
        sign = 1 if order.side == "buy" else -1
        rows = timed.setdefault(order.hedge_id, [])  # type: ignore[arg-type]
        covered = Decimal(0)
        for fill in order.fills.all():
            rows.append((int(fill.at.timestamp() * 1000), sign * fill.quantity))
            covered += fill.quantity
        if order.filled > covered:
            sent = order.submitted_at or order.created_at
            rows.append((int(sent.timestamp() * 1000), sign * (order.filled - covered)))
    instant_ms = int(instant.timestamp() * 1000)
    return {hedge_id: funding_rules.position_before(rows, instant_ms) for hedge_id, rows in timed.items()}


@transaction.atomic
def _apportion_payment(payment: Any) -> int:
    """Book one payment's shares (creating, correcting or removing its entries); rebook closed hedges touched."""
    base = _payment_ref(payment.venue_id)
    instant_ms = funding_rules.funding_instant_ms(int(payment.at.timestamp() * 1000))
    instant = datetime.fromtimestamp(instant_ms / 1000, tz=payment.at.tzinfo)
    shares = funding_rules.funding_shares(payment.amount, perp_holdings(payment.account_id, instant))
    hedges = {hedge.pk: hedge for hedge in Hedge.objects.filter(pk__in=list(shares))}
    wanted: dict[str, tuple[Hedge | None, Decimal]] = {
        f"{base}-h{hedge_id}": (hedges[hedge_id], share) for hedge_id, share in shares.items() if share != 0
    }
    if not shares:
        wanted[f"{base}-unattributed"] = (None, payment.amount.quantize(Decimal("0.00000001")))
    existing = {
        entry.venue_ref: entry
        for entry in CarryEntry.objects.select_for_update().filter(
            account_id=payment.account_id, kind=CarryKind.FUNDING
        )
        if entry.venue_ref == base or entry.venue_ref.startswith(f"{base}-")
    }
    touched: set[int] = set()
    kept: set[str] = set()
    changed = 0
    for ref, entry in existing.items():
        hedge, share = wanted.get(ref, (None, None))
        if share is not None and entry.hedge_id == (hedge.pk if hedge is not None else None) and entry.amount == share:
            kept.add(ref)
            continue
        if entry.hedge_id is not None:
            touched.add(entry.hedge_id)
        entry.delete()
        changed += 1
    currency = payment.asset or "USDT"
    for ref, (hedge, share) in wanted.items():
        if ref in kept:
            continue
        rate = _rate_at(hedge, payment.at) if hedge is not None else Decimal(1)
        CarryEntry.objects.create(
            tenant_id=payment.tenant_id,
            account_id=payment.account_id,
            hedge=hedge,
            kind=CarryKind.FUNDING,
            amount=share,
            currency=currency,
            amount_usd=(share * rate if currency == pnl.USDT else share).quantize(pnl.MONEY_QUANTUM),
            usd_per_usdt=rate if hedge is not None else None,
            venue_ref=ref[:80],
            paper=False,
            at=payment.at,
        )
        if hedge is not None:
            touched.add(hedge.pk)
        changed += 1
    if touched:
        for hedge_id in sorted(touched):
            rebook_pnl(hedge_id=hedge_id)  # funding that arrives or changes after the close counts in its split
    return changed


# MT5 moves a closed position's swap onto its closing deal: hedges closed this recently are still read.
SWAP_SETTLE_DAYS = 3


def _book_live_swap() -> int:
    """MT5's own swap on the CFD legs of live hedges. An open position carries the swap the broker booked so far (in
    the account currency); when it closes, MT5 moves that swap onto the closing deal, so a hedge closed within the
    last `SWAP_SETTLE_DAYS` is read from the deals that carry its orders' client ids (their comments). What is new
    since our last booking is booked onto the hedge."""
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
            gateway = gateway_for(account)
            assert isinstance(gateway, Mt5Gateway)  # a CFD account with a terminal is an MT5 account
            gateway.connect()
            try:
                ours = [position for position in gateway.positions() if position.ours]
                positions = {position.comment: position for position in ours}
                by_ticket = {position.ticket: position for position in ours}
                deals = gateway.activity_since(min(closed) - timedelta(hours=1)).deals if closed else ()
                currency = gateway.account().currency
            finally:
                gateway.close()
        except VenueError as exc:
            log.warning("swap of account %s not read: %s", account_id, exc)
            continue
        for hedge in account_hedges:
            cfd_orders = list(hedge.orders.filter(leg="cfd").values_list("client_order_id", "intent", "venue_order_id"))
            cids = {cid for cid, _intent, _ticket in cfd_orders}
            tickets = {int(ticket) for _cid, _intent, ticket in cfd_orders if ticket.isdigit()}
            if hedge.status == HedgeStatus.CLOSED:
                # Brokers may rewrite comments, never order tickets: a deal is the hedge's by either.
                settled = [
                    deal for deal in deals if deal.order_ticket in tickets or (deal.ours and deal.comment in cids)
                ]
                if not settled:
                    continue
                total, ref = sum((deal.swap for deal in settled), Decimal(0)), f"mt5-swap-deals-{hedge.pk}"
            else:
                # On a hedging account the position opened by an order carries that order's ticket.
                opening = next(((cid, ticket) for cid, intent, ticket in cfd_orders if intent == "open"), ("", ""))
                position = by_ticket.get(int(opening[1])) if opening[1].isdigit() else None
                position = position or positions.get(opening[0])
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
