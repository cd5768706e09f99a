"""Fills and fees from the venues, for every live order.

A live order's fills come from three places, whichever is first: the order's answer (the adapter reads the order's
trades or deals right after it), the venue's own stream (Binance `ORDER_TRADE_UPDATE`), and `sync_live_fills`, a
beat job that asks the venue again for every live order whose fills do not yet add up to what it filled. Each
fill is recorded once per account and venue fill id (a trade id, a deal ticket) by `execution.order_record`.

Fees are booked in the leg's currency (perp USDT, CFD USD). A fee in another asset is converted at the fill's time
from a named rate source and the conversion is stored with the fill: BNB by the Binance adapter (the BNBUSDT price
of the fill's minute), USDT on a CFD leg (an MT5 account funded in USDT) here, with the USDT/USD rate of the pool's
pair at the fill's time (`usd_per_usdt_at`).
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from asgiref.sync import async_to_sync
from django.db.models import DecimalField, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from accounts.models import AccountPool, VenueAccount
from quantarb import clock
from trading.choices import FillSource, RateSource
from trading.domain import fees as fee_rules
from trading.domain.orders import ADJUSTMENT_PREFIX, FillEvent
from trading.execution.services import order_record
from trading.execution.venue_factory import execution_venues
from trading.instruments import pair_id_for_pool
from trading.models import Fill, Order, RateTick, SourcePair
from trading.venues.base import ExecutionVenue, VenueAnswer

log = logging.getLogger(__name__)

# A rate tick older than this at the fill's time does not price its fee: the order's own rate does (it was read
# when the order was priced, seconds before the fill).
RATE_MAX_AGE = timedelta(minutes=10)
ORDER_RATE_SOURCE = "order-pricing"
ASSUMED_RATE_SOURCE = "fixed-1.0-assumption"
# How far back the fill sync looks for orders whose fills are incomplete.
SYNC_LOOKBACK = timedelta(days=7)


# --- fees ---------------------------------------------------------------------------------------------------
def _pair_of(order: Order) -> SourcePair | None:
    if order.hedge_id is None:
        return None
    pool = AccountPool.objects.filter(hedges__pk=order.hedge_id).select_related("perp_account", "cfd_account").first()
    if pool is None:
        return None
    pair_id = pair_id_for_pool(pool)
    return SourcePair.objects.filter(pk=pair_id).first() if pair_id is not None else None


def usd_per_usdt_at(order: Order, at: datetime) -> tuple[Decimal, str, datetime]:
    """The USDT/USD rate (USD per USDT) in force at `at` for the order's pool: the pair's rate source (its newest
    observation at or before `at`, not older than RATE_MAX_AGE), the pair's fixed rate when that is its source,
    else the rate the order was priced with, else 1.0 labelled as an assumption. Returns (rate, source, time)."""
    pair = _pair_of(order)
    if pair is not None and pair.rate_source == RateSource.FIXED:
        return pair.fixed_usd_per_usdt, RateSource.FIXED.value, at
    if pair is not None:
        tick = (
            RateTick.objects.filter(source=pair.rate_source, ts__lte=at, ts__gte=at - RATE_MAX_AGE)
            .order_by("-ts")
            .first()
        )
        if tick is not None:
            return tick.usd_per_usdt, str(tick.source), tick.ts
    if order.usd_per_usdt:
        return order.usd_per_usdt, ORDER_RATE_SOURCE, order.created_at
    return Decimal(1), ASSUMED_RATE_SOURCE, at


def booked_fill(order: Order, fill: FillEvent) -> FillEvent | None:
    """The fill with its fee in the leg's currency: a USD fee on the perp or a USDT fee on the CFD converted at the
    fill's USDT/USD rate (conversion recorded on the fill). None when the fee is in an asset nothing here converts
    (the adapter converts BNB; a fill it could not convert must not be booked as if its fee were USD)."""
    booked = fee_rules.leg_fee_currency(order.leg)
    currency = fill.fee_currency or booked
    if currency == booked:
        return fill if fill.fee_currency else replace(fill, fee_currency=booked)
    if {currency, booked} != {fee_rules.USD, fee_rules.USDT}:
        log.error(
            "fill %s of order %s: a fee in %s cannot be booked on the %s leg unconverted",
            fill.fill_id,
            order.client_order_id,
            currency,
            order.leg,
        )
        return None
    at = datetime.fromtimestamp(fill.ts_ms / 1000, UTC)
    usd_per_usdt, source, rate_at = usd_per_usdt_at(order, at)
    rate = usd_per_usdt if currency == fee_rules.USDT else 1 / usd_per_usdt
    fee, conversion = fee_rules.converted_fee(
        fill.fee, currency, rate=rate, source=source, ts_ms=int(rate_at.timestamp() * 1000)
    )
    return replace(fill, fee=fee, fee_currency=booked, conversion=conversion)


def fill_row(order: Order, fill: FillEvent, source: str) -> Fill:
    """The `Fill` row of a booked fill (not saved)."""
    conversion = fill.conversion
    return Fill(
        tenant_id=order.tenant_id,
        account_id=order.account_id,
        order=order,
        fill_id=fill.fill_id,
        quantity=fill.quantity,
        price=fill.price,
        fee=fill.fee,
        fee_currency=fill.fee_currency,
        maker=fill.maker,
        venue_fee=conversion.amount if conversion is not None else None,
        venue_fee_asset=conversion.asset if conversion is not None else "",
        fee_rate=conversion.rate.quantize(Decimal("0.00000001")) if conversion is not None else None,
        fee_rate_source=conversion.source[:80] if conversion is not None else "",
        fee_rate_at=datetime.fromtimestamp(conversion.ts_ms / 1000, UTC) if conversion is not None else None,
        realized_pnl=fill.realized_pnl,
        swap=fill.swap,
        source=FillSource(source),
        paper=order.paper,
        at=datetime.fromtimestamp(fill.ts_ms / 1000, UTC),
    )


# --- fills heard on a venue's stream ------------------------------------------------------------------------------
def order_fill_from_stream(*, account: VenueAccount, client_order_id: str, fill: FillEvent) -> Order | None:
    """Record a fill of one of our orders heard on the account's user-data stream (once per trade id: the order's
    answer or the fill sync may have recorded it first). None when no order of ours has that client id."""
    order = Order.objects.filter(account=account, client_order_id=client_order_id).first()
    if order is None:
        return None
    return order_record(order=order, report=None, fills=[fill], source=FillSource.STREAM)


# --- the safety net: ask the venues again ---------------------------------------------------------------------------
def orders_missing_fills(*, since: datetime) -> list[Order]:
    """Live orders submitted since `since` whose recorded fills do not add up to what the order filled. Adjustments
    (a venue-side change or a reconciliation adopted as an order of ours) were never sent: the venue holds no order
    under their id to ask about."""
    fill_total = (
        Fill.objects.filter(order=OuterRef("pk")).values("order").annotate(total=Sum("quantity")).values("total")
    )
    ounces: DecimalField[Decimal, Decimal] = DecimalField(max_digits=18, decimal_places=3)
    return list(
        Order.objects.filter(paper=False, filled__gt=0, created_at__gte=since)
        .annotate(
            fill_total=Coalesce(Subquery(fill_total, output_field=ounces), Value(Decimal(0)), output_field=ounces)
        )
        .filter(fill_total__lt=F("filled"))
        .exclude(client_order_id__startswith=ADJUSTMENT_PREFIX)
        .order_by("account_id", "created_at")
    )


async def _ask_venue(venue: ExecutionVenue, orders: list[Order]) -> list[tuple[Order, VenueAnswer | None]]:
    """Each order looked up at its venue (its fills with it), on one event loop; the gateway closed after."""
    answers: list[tuple[Order, VenueAnswer | None]] = []
    try:
        for order in orders:
            try:
                answers.append((order, await venue.lookup(order.client_order_id)))
            except Exception as exc:
                log.warning("fill sync of %s failed: %s", order.client_order_id, exc)
                answers.append((order, None))
    finally:
        gateway = getattr(venue, "gateway", None)
        if gateway is not None:
            with contextlib.suppress(Exception):
                closed = gateway.close()
                if inspect.isawaitable(closed):
                    await closed
    return answers


def sync_live_fills(now: datetime | None = None) -> dict[str, int]:
    """Ask the venues for the fills of every live order that is missing some (an answer whose trades could not be
    read, a stream that was down) and record them. Idempotent: a fill already recorded adds nothing."""
    now = now or clock.now()
    counts = {"orders": 0, "fills": 0, "failed": 0}
    by_account: dict[int, list[Order]] = {}
    for order in orders_missing_fills(since=now - SYNC_LOOKBACK):
        by_account.setdefault(order.account_id, []).append(order)
    for account_id, orders in by_account.items():
        pool = (
            AccountPool.objects.filter(Q(perp_account_id=account_id) | Q(cfd_account_id=account_id))
            .select_related("perp_account", "cfd_account__terminal")
            .first()
        )
        if pool is None:
            continue
        try:
            venue = execution_venues(pool, 0, None)[account_id]
        except Exception as exc:
            log.warning("fill sync of account %s: no venue: %s", account_id, exc)
            counts["failed"] += len(orders)
            continue
        for order, answer in async_to_sync(_ask_venue)(venue, orders):
            counts["orders"] += 1
            if answer is None:
                counts["failed"] += 1
                continue
            if not answer.fills:
                continue
            before = Fill.objects.filter(order=order).count()
            order_record(order=order, report=None, fills=list(answer.fills), source=FillSource.POLL)
            counts["fills"] += Fill.objects.filter(order=order).count() - before
    return counts
