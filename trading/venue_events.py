"""Venue-side changes to live Binance accounts, from each account's user-data stream (ARCHITECTURE.md "Order
safety": a position the venue changed on its own is detected within seconds).

The engine runs one `UserStreamWatcher` per live Binance account (the gateway opens the listen key and keeps it
alive). Every fill the venue made on its own — a liquidation, an auto-deleverage — and every fill of an order
whose client id is not one quantarb makes (a trade placed by hand, or by another program on the same account) is
recorded as a `VenueEvent` and raises an alert in the account's tenant.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from asgiref.sync import sync_to_async
from django.db import DatabaseError, IntegrityError, connection, models, transaction
from django.utils.translation import gettext as _

from accounts.choices import AccountMode, AccountStatus
from accounts.models import VenueAccount
from quantarb import clock

from .choices import Venue, VenueEventKind
from .models import VenueEvent
from .venues.binance import BinanceUsdmGateway, OrderState, is_trade_update, trade_fill
from .venues.errors import VenueError
from .venues.mt5 import Mt5Deal, Mt5Gateway

log = logging.getLogger(__name__)

# The client order ids quantarb makes: `qa{tenant}-{hedge}{leg}{intent}{attempt}`, numbers in base 36
# (ARCHITECTURE.md "Order safety"). Anything else filled on a live account was placed outside quantarb.
_OUR_CLIENT_ID = re.compile(r"^qa(0|[1-9a-z][0-9a-z]*)-(0|[1-9a-z][0-9a-z]*)[PC][OXR](0|[1-9a-z][0-9a-z]*)$")
# Executions that fill: a trade, or the venue's own liquidation / ADL execution.
_FILLING = {"TRADE", "CALCULATED"}


def is_our_client_order_id(client_order_id: str) -> bool:
    return bool(_OUR_CLIENT_ID.fullmatch(client_order_id)) and len(client_order_id) <= 26


def binance_account_gateway(account: VenueAccount, **options: Any) -> BinanceUsdmGateway:
    """A signed gateway for a live Binance account: its keys, its endpoint override or testnet."""
    credentials = account.credentials or {}
    return BinanceUsdmGateway(
        api_key=str(credentials.get("api_key", "")) or None,
        api_secret=str(credentials.get("api_secret", "")) or None,
        rest_url=account.rest_endpoint or None,
        ws_url=account.ws_endpoint or None,
        testnet=account.binance_testnet,
        **options,
    )


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
    from alerts.services import alert_raise

    kind = event.kind
    titles = {
        VenueEventKind.LIQUIDATION: _("Binance liquidated %(qty)s oz on %(account)s"),
        VenueEventKind.ADL: _("Binance auto-deleveraged %(qty)s oz on %(account)s"),
        VenueEventKind.MANUAL_TRADE: _("A trade outside quantarb filled %(qty)s oz on %(account)s"),
        VenueEventKind.STOP_OUT: _("The broker stopped out %(qty)s oz on %(account)s"),
    }
    price = event.price
    alert_raise(
        tenant=account.tenant,
        category="account",
        severity="warning" if kind == VenueEventKind.MANUAL_TRADE else "critical",
        title=titles[VenueEventKind(kind)] % {"qty": f"{event.quantity.normalize():f}", "account": account.label},
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
    from accounts.models import AccountPool

    from .reconciliation import adopt_venue_position

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
    """Follows one account's user-data stream until cancelled; reconnects with growing waits after a failure."""

    account: VenueAccount
    retry_delay_s: float = 1.0
    max_retry_delay_s: float = 30.0
    gateway: BinanceUsdmGateway | None = None
    recorded: int = 0
    fills: int = 0

    async def run(self) -> None:
        record = sync_to_async(venue_event_record, thread_sensitive=False)
        delay = self.retry_delay_s
        self.gateway = self.gateway or binance_account_gateway(self.account)
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
                        if await record(account=self.account, order=order, raw=raw) is not None:
                            self.recorded += 1
                    except Exception:
                        log.exception("recording a venue event failed", extra={"account": self.account.pk})
        finally:
            # Bounded: a stream that does not close cleanly (a half-open socket) must not hold up a shutdown.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self.gateway.close()), 5)

    async def _record_fill(self, order: OrderState, raw: dict[str, Any]) -> None:
        """A trade of one of our orders heard on the stream: booked as its fill (once per trade id, whichever of the
        order's answer, this stream and the fill sync is first), its fee converted to USDT when charged in BNB."""
        from .fills import order_fill_from_stream

        assert self.gateway is not None
        try:
            fills = await self.gateway.convert_fees([trade_fill(raw)])
            if Decimal(str(raw.get("z") or 0)) > Decimal(str(raw["l"])):
                # Earlier trades of the order: the stream client keeps the latest update of an order only, so updates
                # that came together may have been folded into this one — read the order's trades over REST.
                fills = await self.gateway.fetch_order_fills(order.venue_order_id)
            for fill in fills:
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
    """Polls one MT5 account's deals every few seconds (the terminal pushes nothing) and records those quantarb did
    not make, so a stop-out or a trade in the terminal is seen within seconds."""

    account: VenueAccount
    every_s: float = 3.0
    overlap: timedelta = timedelta(minutes=2)
    gateway: Mt5Gateway | None = None
    recorded: int = 0

    def _poll(self, since: datetime) -> list[VenueEvent]:
        from .venues.mt5 import gateway_for

        if self.gateway is None:
            self.gateway = gateway_for(self.account.terminal, self.account.credentials or {})
            self.gateway.connect()
        size = self.gateway.symbol_spec().contract_size
        events = []
        for deal in self.gateway.activity_since(since).foreign_deals:
            event = mt5_deal_record(account=self.account, deal=deal, contract_size=size)
            if event is not None:
                events.append(event)
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
