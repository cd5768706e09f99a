"""Sending persisted orders to venues, concurrently per hedge, and settling every answer (ARCHITECTURE.md
"Order safety").

An order reaches a venue only after `order_submitting` (fenced by the runner's lease) has committed. An answer
lost in a timeout or an ambiguous error makes the order *unknown*; it is then looked up by its client order id
until the venue says what it holds — never sent again blind. A venue "not found" is trusted only once the
send deadline has passed (the venue may still be processing the request), and then means it never arrived.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from asgiref.sync import sync_to_async

from quantarb import clock
from strategies.services import Lease
from trading.venues.base import ExecutionVenue, OrderRequest, VenueAnswer
from trading.venues.errors import VenueError, VenueErrorKind

from . import execution
from .choices import FillSource, OrderKind, OrderStatus
from .models import Order

log = logging.getLogger(__name__)
T = TypeVar("T")


def _db(function: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    return sync_to_async(function, thread_sensitive=True)


@dataclass
class Executor:
    """Sends orders for one pool: `venues` maps an account id to its execution venue."""

    venues: Mapping[int, ExecutionVenue]
    lease: Lease | None = None
    answer_timeout_s: float = 10.0
    # How long after the send a venue's "not found" still may mean "not processed yet".
    send_deadline_s: float = 15.0
    lookup_interval_s: float = 0.5
    lookup_give_up_s: float = 120.0
    sleep: Callable[[float], Awaitable[Any]] = field(default=asyncio.sleep)

    def _venue(self, order: Order) -> ExecutionVenue:
        try:
            return self.venues[order.account_id]
        except KeyError:
            raise VenueError(VenueErrorKind.UNREACHABLE, f"No execution venue for account {order.account_id}") from None

    async def send_all(self, orders: list[Order]) -> list[Order]:
        """Send the orders concurrently (the two legs of a hedge leave together) and settle each."""
        results = await asyncio.gather(*(self.send(order) for order in orders), return_exceptions=True)
        # Both legs are given the chance to settle before an error (e.g. LeaseLost) propagates.
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return [result for result in results if isinstance(result, Order)]

    async def send(self, order: Order) -> Order:
        venue = self._venue(order)
        if order.status == OrderStatus.NEW:
            # Fenced: a runner whose lease was taken over raises LeaseLost here, before anything leaves. (Orders
            # written by `hedge_open` / `hedge_leg_orders` are already submitting, fenced in that same commit.)
            order = await _db(execution.order_submitting)(order=order, lease=self.lease)
        request = OrderRequest(
            client_order_id=order.client_order_id,
            side=order.side,
            quantity_oz=order.quantity,
            limit_price=order.limit_price if order.kind == OrderKind.LIMIT_IOC else None,
            deviation=order.deviation,
            reduce_only=order.reducing,
        )
        sent_at = clock.monotonic()
        try:
            answer = await asyncio.wait_for(venue.place(request), timeout=self.answer_timeout_s)
        except TimeoutError:
            await _db(execution.order_unknown)(order=order, error="no answer within the timeout")
            return await self.settle_unknown(order, sent_at=sent_at)
        except VenueError as exc:
            if exc.kind == VenueErrorKind.AMBIGUOUS:
                await _db(execution.order_unknown)(order=order, error=str(exc))
                return await self.settle_unknown(order, sent_at=sent_at)
            return await _db(execution.order_rejected)(order=order, error=f"{exc.kind.value}: {exc}")
        return await self._record(order, answer, FillSource.ANSWER)

    async def _record(self, order: Order, answer: VenueAnswer, source: str) -> Order:
        return await _db(execution.order_record)(
            order=order,
            report=answer.report,
            fills=list(answer.fills),
            source=source,
            venue_order_id=answer.venue_order_id,
        )

    async def settle_unknown(self, order: Order, *, sent_at: float | None = None) -> Order:
        """Look an unknown order up by client id until the venue settles it. Returns the order as recorded;
        still `unknown` if the venue could not be asked within `lookup_give_up_s` (the caller flags the hedge)."""
        venue = self._venue(order)
        started = clock.monotonic()
        sent_at = started if sent_at is None else sent_at
        while True:
            try:
                answer = await asyncio.wait_for(venue.lookup(order.client_order_id), timeout=self.answer_timeout_s)
            except (TimeoutError, VenueError) as exc:
                log.warning("lookup of %s failed: %s", order.client_order_id, exc)
            else:
                if answer.report.found or clock.monotonic() - sent_at >= self.send_deadline_s:
                    return await self._record(order, answer, FillSource.LOOKUP)
            if clock.monotonic() - started >= self.lookup_give_up_s:
                return order
            await self.sleep(self.lookup_interval_s)

    async def refresh(self, order: Order) -> Order:
        """Ask the venue about a working order (accepted / partially filled / unknown) and record the answer."""
        if order.status == OrderStatus.UNKNOWN:
            return await self.settle_unknown(order)
        answer = await self._venue(order).lookup(order.client_order_id)
        return await self._record(order, answer, FillSource.LOOKUP)

    async def cancel(self, order: Order) -> Order:
        answer = await self._venue(order).cancel(order.client_order_id)
        return await self._record(order, answer, FillSource.LOOKUP)


def signed_oz(side: str, quantity: Decimal) -> Decimal:
    return execution.signed(side, quantity)
