"""Venue-side changes to live accounts (ARCHITECTURE.md "Order safety": a position the venue changed on its own is
detected within seconds).

The engine runs one `UserStreamWatcher` per live Binance account (the gateway opens the listen key and keeps it
alive) and one `Mt5ActivityWatcher` per live MT5 account (deals polled every few seconds). Every fill the venue
made on its own — a liquidation, an auto-deleverage, a stop-out — and every fill of an order whose client id is not
one quantarb makes (a trade placed by hand, or by another program on the same account) is recorded as a
`VenueEvent` and raises an alert in the account's tenant.

Events can be missed (a stream down, a deal outside the polled window, a fill under an id that looks like ours), so
each watcher also compares the account's position at the venue with our books every few seconds
(`PositionCheck`): a difference that holds for a grace period with no order of the account in flight is adopted
as an adjustment on the pool — in either direction, a position we do not know or one we believe in that the venue
no longer holds — and alerted, instead of waiting for the scheduled reconciliation.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from asgiref.sync import sync_to_async
from django.db import DatabaseError, IntegrityError, connection, models, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.choices import AccountMode, AccountStatus
from accounts.models import AccountPool, VenueAccount
from accounts.venue_kinds import Venue
from alerts.services import alert_raise
from quantarb import clock
from quantarb.phrases import phrase
from trading.choices import OPEN_ORDER_STATUSES, VenueEventKind
from trading.execution.fills import order_fill_from_stream
from trading.models import Order, VenueEvent
from trading.reconciliation.services import adopt_position_difference, adopt_venue_position, our_position_oz
from trading.venues.binance.gateway import BinanceUsdmGateway, OrderState, is_trade_update, trade_fill
from trading.venues.errors import VenueError
from trading.venues.mt5.gateway import Mt5Deal, Mt5Gateway
from trading.venues.registry import gateway_for

log = logging.getLogger(__name__)

# The client order ids quantarb makes: `qa{tenant}-{hedge}{leg}{intent}{attempt}`, numbers in base 36
# (ARCHITECTURE.md "Order safety"). Anything else filled on a live account was placed outside quantarb.
_OUR_CLIENT_ID = re.compile(r"^qa(0|[1-9a-z][0-9a-z]*)-(0|[1-9a-z][0-9a-z]*)[PC][OXR](0|[1-9a-z][0-9a-z]*)$")
# Executions that fill: a trade, or the venue's own liquidation / ADL execution.
_FILLING = {"TRADE", "CALCULATED"}


def is_our_client_order_id(client_order_id: str) -> bool:
    return bool(_OUR_CLIENT_ID.fullmatch(client_order_id)) and len(client_order_id) <= 26


def event_kind(order: OrderState, raw: dict[str, Any]) -> str | None:
    """What a user-stream order update means for us; None: nothing to record (our own order, or no fill)."""
    if str(raw.get("x", "")) not in _FILLING or Decimal(str(raw.get("l") or 0)) <= 0:
        return None
    if order.venue_initiated:
        if order.order_type == "ADL" or order.client_order_id.startswith("adl_"):
            return VenueEventKind.ADL
        return VenueEventKind.LIQUIDATION
    if not is_our_client_order_id(order.client_order_id):
        return VenueEventKind.MANUAL_TRADE
    return None


@transaction.atomic
def venue_event_record(*, account: VenueAccount, order: OrderState, raw: dict[str, Any]) -> VenueEvent | None:
    """Record one venue-side fill and raise its alert; a fill already recorded (a replay) adds nothing."""
    kind = event_kind(order, raw)
    if kind is None:
        return None
    price = Decimal(str(raw.get("L") or 0)) or order.average_price
    at_ms = int(raw.get("T") or order.updated_ms or clock.now().timestamp() * 1000)
    try:
        with transaction.atomic():
            event = VenueEvent.objects.create(
                tenant_id=account.tenant_id,
                account=account,
                kind=kind,
                symbol=str(raw.get("s", "")),
                side=order.side,
                quantity=Decimal(str(raw["l"])),
                price=price,
                client_order_id=order.client_order_id[:64],
                venue_order_id=order.venue_order_id,
                venue_trade_id=str(raw.get("t") or ""),
                raw=raw,
                at=datetime.fromtimestamp(at_ms / 1000, UTC),
                recorded_at=clock.now(),
            )
    except IntegrityError:
        return None
    _announce(event, account)
    return event


def _announce(event: VenueEvent, account: VenueAccount) -> None:
    """Alert the account's tenant, log, and adopt the change on the account's pool (legged until repaired)."""
    kind = event.kind
    titles = {
        VenueEventKind.LIQUIDATION: gettext_noop("Binance liquidated %(qty)s oz on %(account)s"),
        VenueEventKind.ADL: gettext_noop("Binance auto-deleveraged %(qty)s oz on %(account)s"),
        VenueEventKind.MANUAL_TRADE: gettext_noop("A trade outside quantarb filled %(qty)s oz on %(account)s"),
        VenueEventKind.STOP_OUT: gettext_noop("The broker stopped out %(qty)s oz on %(account)s"),
    }
    price = event.price
    alert_raise(
        tenant=account.tenant,
        category="account",
        severity="warning" if kind == VenueEventKind.MANUAL_TRADE else "critical",
        title=phrase(titles[VenueEventKind(kind)], qty=f"{event.quantity.normalize():f}", account=account.label),
        dedup_key=f"venue_event:{account.pk}:{kind}:{event.venue_order_id}",
        detail={
            "account": account.pk,
            "kind": kind,
            "side": event.side,
            "quantity": str(event.quantity),
            "price": None if price is None else str(price),
            "client_order_id": event.client_order_id,
            "venue_order_id": event.venue_order_id,
        },
        source=event,
    )
    log.warning(
        "venue-side fill recorded",
        extra={"account": account.pk, "kind": kind, "venue_order_id": event.venue_order_id},
    )
    venue_event_adopt(event)


def venue_event_adopt(event: VenueEvent) -> None:
    """A position the venue changed on its own becomes part of our records at once, on the account's pool: the
    pool's newest live hedge (or a new one) takes the fill as an adjustment and is then *legged*, so the strategy's
    runner completes or unwinds it within the maximum legging time, or trips the kill switch. Precondition: inside
    the transaction that recorded the event."""
    pool = (
        AccountPool.objects.filter(enabled=True)
        .filter(models.Q(perp_account_id=event.account_id) | models.Q(cfd_account_id=event.account_id))
        .select_related("perp_account", "cfd_account", "tenant")
        .first()
    )
    if pool is None:
        return  # an account outside every pool: recorded and alerted, nothing of ours to repair
    signed = event.quantity if event.side == "buy" else -event.quantity
    account = pool.perp_account if pool.perp_account_id == event.account_id else pool.cfd_account
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                # A hedge row held by a stuck writer must not hold up the recording of what the venue did: after
                # this long the adjustment is left to the next reconciliation (which finds the same difference).
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '5s'")
            adopt_venue_position(
                pool, account, signed, reason=f"{event.get_kind_display()} ({event.venue_order_id})", price=event.price
            )
    except DatabaseError as exc:
        log.error("venue event %s not adopted on pool %s: %s", event.pk, pool.pk, exc)


# --- positions against our books ---------------------------------------------------------------------------------
def _books(account: VenueAccount) -> tuple[Decimal, bool]:
    """Our position on the account and whether an order of it is in flight (its answer may not be recorded)."""
    in_flight = Order.objects.filter(account=account, status__in=[s.value for s in OPEN_ORDER_STATUSES]).exists()
    return our_position_oz(account), in_flight


def position_difference_adopt(*, account: VenueAccount, venue_oz: Decimal, price: Decimal | None) -> Decimal:
    """Adopt a position difference the venue shows (trading/reconciliation/services.py `adopt_position_difference`) and
    alert the account's tenant. Returns the ounces adopted (0: none — the books caught up meanwhile, or the account
    is in no pool, which is alerted only)."""
    try:
        delta, hedge = adopt_position_difference(
            account=account,
            venue_oz=venue_oz,
            price=price,
            reason=_("The venue holds %(oz)s oz, not what our books hold") % {"oz": _oz(venue_oz)},
        )
    except DatabaseError as exc:
        log.error("position difference on account %s not adopted: %s", account.pk, exc)
        return Decimal(0)
    if delta == 0:
        return delta
    alert_raise(
        tenant=account.tenant,
        category="account",
        severity="critical",
        title=phrase(
            gettext_noop("The position on %(account)s differed from our books by %(oz)s oz: adopted"),
            account=account.label,
            oz=_oz(delta),
        ),
        dedup_key=f"position_difference:{account.pk}:{hedge.pk if hedge is not None else 'none'}",
        detail={
            "account": account.pk,
            "venue_oz": str(venue_oz),
            "adopted_oz": str(delta),
            "price": None if price is None else str(price),
            "hedge": None if hedge is None else hedge.pk,
        },
        source=hedge,
    )
    if hedge is None:
        return Decimal(0)  # an account in no enabled pool: alerted, nothing of ours to repair
    log.warning("position difference adopted", extra={"account": account.pk, "adopted_oz": str(delta)})
    return delta


def _given(price: Decimal | None) -> Decimal | None:
    return price


def _oz(value: Decimal) -> str:
    return f"{value.normalize():f}"


@dataclass
class PositionCheck:
    """The account's position at the venue against our books, once per watcher cycle. A difference is adopted once
    it has been seen unchanged for `grace_s` with no order of the account in flight — an order on the wire (its
    answer not yet recorded) is the usual, harmless cause of a difference for a moment."""

    account: VenueAccount
    grace_s: float = 2.0
    adopted: Decimal = Decimal(0)
    _seen: tuple[Decimal, float] | None = None

    def observe(self, venue_oz: Decimal, price: Callable[[], Decimal | None]) -> Decimal:
        """Compare (synchronous: call it from a worker thread). `price` is asked only when a difference is
        adopted. Returns the ounces adopted now."""
        ours, in_flight = _books(self.account)
        if in_flight or venue_oz == ours:
            self._seen = None
            return Decimal(0)
        difference = venue_oz - ours
        now = clock.monotonic()
        if self._seen is None or self._seen[0] != difference:
            self._seen = (difference, now)
            return Decimal(0)
        if now - self._seen[1] < self.grace_s:
            return Decimal(0)
        self._seen = None
        adopted = position_difference_adopt(account=self.account, venue_oz=venue_oz, price=price())
        self.adopted += adopted
        return adopted


def watched_accounts() -> list[VenueAccount]:
    """Live Binance accounts with keys that are not disabled (an account in error is watched all the more)."""
    return [
        account
        for account in VenueAccount.objects.filter(venue=Venue.BINANCE_USDM, mode=AccountMode.LIVE).exclude(
            status=AccountStatus.DISABLED
        )
        if account.credentials
    ]


@dataclass
class UserStreamWatcher:
    """Follows one account's user-data stream until cancelled; reconnects with growing waits after a failure.
    Alongside, every `position_every_s`, compares the account's position with our books (`PositionCheck`)."""

    account: VenueAccount
    retry_delay_s: float = 1.0
    max_retry_delay_s: float = 30.0
    gateway: BinanceUsdmGateway | None = None
    recorded: int = 0
    fills: int = 0
    position_every_s: float = 3.0
    position_grace_s: float = 2.0
    positions: PositionCheck | None = None
    # The stream's recordings and the position check write one after the other, never at once (they may adopt
    # on the same hedge; SQLite takes one writer at a time).
    _writing: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def _watch_position(self) -> None:
        """The position check's loop (REST `positionRisk`, weight 5 every few seconds): what the stream missed."""
        assert self.gateway is not None
        check = self.positions = self.positions or PositionCheck(self.account, grace_s=self.position_grace_s)
        observe = sync_to_async(check.observe, thread_sensitive=False)
        while True:
            try:
                if self.gateway.spec is not None:  # connected by the stream loop
                    position = await self.gateway.fetch_position()
                    mark: Decimal | None = position.mark_price or None
                    async with self._writing:
                        await observe(position.quantity, functools.partial(_given, mark))
            except VenueError as exc:
                log.warning("position check failed", extra={"account": self.account.pk, "kind": exc.kind.value})
            except Exception:
                log.exception("position check failed", extra={"account": self.account.pk})
            await asyncio.sleep(self.position_every_s)

    async def run(self) -> None:
        record = sync_to_async(venue_event_record, thread_sensitive=False)
        delay = self.retry_delay_s
        if self.gateway is None:
            gateway = gateway_for(self.account)
            assert isinstance(gateway, BinanceUsdmGateway)  # this watcher follows Binance accounts
            self.gateway = gateway
        position_task = asyncio.create_task(self._watch_position(), name=f"position-check-{self.account.pk}")
        try:
            while True:
                try:
                    if self.gateway.spec is None:
                        await self.gateway.connect()
                    updates = await self.gateway.watch_order_events()
                except VenueError as exc:
                    log.warning(
                        "user-data stream interrupted", extra={"account": self.account.pk, "kind": exc.kind.value}
                    )
                    await asyncio.sleep(exc.retry_after_s or delay)
                    delay = min(delay * 2, self.max_retry_delay_s)
                    continue
                delay = self.retry_delay_s
                for order, raw in updates:
                    if event_kind(order, raw) is None:
                        if is_our_client_order_id(order.client_order_id) and is_trade_update(raw):
                            await self._record_fill(order, raw)
                        continue
                    try:
                        async with self._writing:
                            recorded = await record(account=self.account, order=order, raw=raw)
                        if recorded is not None:
                            self.recorded += 1
                    except Exception:
                        log.exception("recording a venue event failed", extra={"account": self.account.pk})
        finally:
            position_task.cancel()
            with contextlib.suppress(BaseException):
                await position_task
            # Bounded: a stream that does not close cleanly (a half-open socket) must not hold up a shutdown.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self.gateway.close()), 5)

    async def _record_fill(self, order: OrderState, raw: dict[str, Any]) -> None:
        """A trade of one of our orders heard on the stream: booked as its fill (once per trade id, whichever of the
        order's answer, this stream and the fill sync is first), its fee converted to USDT when charged in BNB."""
        assert self.gateway is not None
        try:
            fills = await self.gateway.convert_fees([trade_fill(raw)])
            if Decimal(str(raw.get("z") or 0)) > Decimal(str(raw["l"])):
                # Earlier trades of the order: the stream client keeps the latest update of an order only, so updates
                # that came together may have been folded into this one — read the order's trades over REST.
                fills = await self.gateway.fetch_order_fills(order.venue_order_id)
            for fill in fills:
                async with self._writing:
                    await sync_to_async(order_fill_from_stream, thread_sensitive=False)(
                        account=self.account, client_order_id=order.client_order_id, fill=fill
                    )
            self.fills += len(fills)
        except VenueError as exc:
            log.warning("a streamed fill's fee could not be converted (the fill sync reads it again): %s", exc)
        except Exception:
            log.exception("recording a streamed fill failed", extra={"account": self.account.pk})


# --- MT5: deals polled every few seconds -----------------------------------------------------------------------
def mt5_watched_accounts() -> list[VenueAccount]:
    """Live MT5 accounts on a terminal that are not disabled."""
    return list(
        VenueAccount.objects.filter(venue=Venue.BYBIT_MT5, mode=AccountMode.LIVE, terminal__isnull=False)
        .exclude(status=AccountStatus.DISABLED)
        .select_related("terminal", "tenant")
    )


@transaction.atomic
def mt5_deal_record(*, account: VenueAccount, deal: Mt5Deal, contract_size: Decimal) -> VenueEvent | None:
    """Record a deal quantarb did not make (a stop-out, a trade by hand or by another program), alert and adopt it;
    a deal already recorded adds nothing."""
    if deal.side is None or (deal.ours and not deal.stop_out):
        return None
    kind = VenueEventKind.STOP_OUT if deal.stop_out else VenueEventKind.MANUAL_TRADE
    try:
        with transaction.atomic():
            event = VenueEvent.objects.create(
                tenant_id=account.tenant_id,
                account=account,
                kind=kind,
                symbol="XAUUSD.s",
                side=deal.side,
                quantity=deal.volume * contract_size,
                price=deal.price,
                client_order_id=deal.comment[:64],
                venue_order_id=str(deal.order_ticket),
                venue_trade_id=str(deal.ticket),
                raw={
                    "deal": deal.ticket,
                    "order": deal.order_ticket,
                    "position": deal.position_ticket,
                    "reason": deal.reason,
                    "entry": deal.entry,
                    "volume_lots": str(deal.volume),
                    "profit": str(deal.profit),
                    "swap": str(deal.swap),
                    "magic": deal.magic,
                    "comment": deal.comment,
                    "server_time_ms": deal.server_time_ms,
                },
                at=deal.at or clock.now(),
                recorded_at=clock.now(),
            )
    except IntegrityError:
        return None
    _announce(event, account)
    return event


@dataclass
class Mt5ActivityWatcher:
    """Polls one MT5 account's deals and positions every few seconds (the terminal pushes nothing): records the
    deals quantarb did not make, so a stop-out or a trade in the terminal is seen within seconds, then compares the
    positions with our books (`PositionCheck`) for whatever no deal explained."""

    account: VenueAccount
    every_s: float = 3.0
    overlap: timedelta = timedelta(minutes=2)
    gateway: Mt5Gateway | None = None
    recorded: int = 0
    position_grace_s: float = 2.0
    positions: PositionCheck | None = None

    def _poll(self, since: datetime) -> list[VenueEvent]:
        if self.gateway is None:
            gateway = gateway_for(self.account)
            assert isinstance(gateway, Mt5Gateway)  # this poller follows MT5 accounts
            self.gateway = gateway
            self.gateway.connect()
        gateway = self.gateway
        size = gateway.symbol_spec().contract_size
        events = []
        activity = gateway.activity_since(since)
        for deal in activity.foreign_deals:
            event = mt5_deal_record(account=self.account, deal=deal, contract_size=size)
            if event is not None:
                events.append(event)
        venue_oz = sum(((p.volume if p.side == "buy" else -p.volume) * size for p in activity.positions), Decimal(0))

        def mid() -> Decimal | None:
            tick = gateway.tick()
            return ((tick.bid + tick.ask) / 2).quantize(Decimal("0.00000001"))

        check = self.positions = self.positions or PositionCheck(self.account, grace_s=self.position_grace_s)
        check.observe(venue_oz, mid)
        return events

    async def run(self) -> None:
        started = clock.now()
        while True:
            try:
                # Deals from a little before the last poll: a deal stamped late is not missed; a repeat adds nothing.
                events = await asyncio.to_thread(self._poll, max(started, clock.now() - self.overlap))
                self.recorded += len(events)
            except VenueError as exc:
                log.warning("MT5 activity poll failed", extra={"account": self.account.pk, "kind": exc.kind.value})
                self.gateway = None
            except Exception:
                log.exception("MT5 activity poll failed", extra={"account": self.account.pk})
                self.gateway = None
            await asyncio.sleep(self.every_s)
