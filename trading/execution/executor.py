"""Sending persisted orders to venues, concurrently per hedge, and settling every answer (ARCHITECTURE.md
"Order safety").

An order reaches a venue only after `order_submitting` (fenced by the runner's lease) has committed. What a
failed send means is decided from the error alone (trading/venues/errors.py), never from its kind:
- the request never left (a back-off, a read before the send that failed): the order row is withdrawn — no row
  claims a send that was never made;
- the venue's code says it refused: rejected;
- anything else (a timeout, a lost answer, an unknown code, a read after the send that failed) makes the order
  *unknown*; it is then looked up by its client order id until the venue says what it holds — never sent again
  blind, and the hedge does not move on before. A venue "not found" is trusted only once the send deadline has
  passed (the venue may still be processing the request), and then means it never arrived.

While a call is in flight the runner's lease is kept alive (`keep_alive`, every `keep_alive_every_s`) by a task
of this process, so a slow answer does not cost the lease; a process that dies stops renewing, and its lease
runs out after the usual TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from asgiref.sync import sync_to_async

from quantarb import clock
from trading.choices import FillSource, OrderKind, OrderStatus
from trading.execution import services as execution
from trading.execution.leases import Lease, LeaseLost
from trading.models import Order
from trading.venues.base import ExecutionVenue, OrderRequest, VenueAnswer, answer_budget
from trading.venues.errors import VenueError, VenueErrorKind

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
    # Renews the runner's lease while a venue call is in flight (None: nothing to keep, e.g. the manual desk).
    keep_alive: Callable[[], Awaitable[Any]] | None = None
    keep_alive_every_s: float = 3.0
    _in_flight: int = field(default=0, init=False, repr=False)
    _keeper: asyncio.Task[None] | None = field(default=None, init=False, repr=False)

    def _venue(self, order: Order) -> ExecutionVenue:
        try:
            return self.venues[order.account_id]
        except KeyError:
            raise VenueError(VenueErrorKind.UNREACHABLE, f"No execution venue for account {order.account_id}") from None

    @contextlib.asynccontextmanager
    async def _kept_alive(self) -> AsyncIterator[None]:
        """Keep the lease alive for as long as any call of this executor is in flight (one keeper task for all)."""
        self._in_flight += 1
        if self._in_flight == 1 and self.keep_alive is not None:
            self._keeper = asyncio.create_task(self._keep(), name="lease-keeper")
        try:
            yield
        finally:
            self._in_flight -= 1
            if self._in_flight == 0 and self._keeper is not None:
                keeper, self._keeper = self._keeper, None
                keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keeper

    async def _keep(self) -> None:
        """Renew every `keep_alive_every_s` (real time: the lease's TTL is real time). A lost lease ends it: the
        call in flight still records its answer (recording is not fenced), and the runner stops after."""
        assert self.keep_alive is not None
        while True:
            await asyncio.sleep(self.keep_alive_every_s)
            try:
                await self.keep_alive()
            except LeaseLost as exc:
                log.warning("lease lost while an order call was in flight: %s", exc)
                return
            except Exception:
                log.exception("renewing the lease during an order call failed")

    async def send_all(self, orders: list[Order]) -> list[Order]:
        """Send the orders concurrently (the two legs of a hedge leave together) and settle each. An order whose
        request never left is withdrawn (not in the result)."""
        results = await asyncio.gather(*(self.send(order) for order in orders), return_exceptions=True)
        # Both legs are given the chance to settle before an error (e.g. LeaseLost) propagates.
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return [result for result in results if isinstance(result, Order)]

    async def send(self, order: Order) -> Order | None:
        """Send one persisted order and settle it. None: the request never left and the order was withdrawn.
        The lease is kept alive while the call is in flight."""
        async with self._kept_alive():
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
                answer = await self._answer(venue.place(request))
            except TimeoutError:
                await _db(execution.order_unknown)(order=order, error="no answer within the timeout")
                return await self._settle(order, sent_at=sent_at)
            except VenueError as exc:
                if not exc.sent:
                    log.info("order %s not sent: %s", order.client_order_id, exc)
                    await _db(execution.order_withdraw)(order=order, reason=f"{exc.kind.value}: {exc}")
                    return None
                if exc.refused:
                    return await _db(execution.order_rejected)(order=order, error=f"{exc.kind.value}: {exc}")
                await _db(execution.order_unknown)(order=order, error=f"{exc.kind.value}: {exc}")
                return await self._settle(order, sent_at=sent_at)
            return await self._record(order, answer, FillSource.ANSWER)

    async def _answer(self, call: Coroutine[Any, Any, VenueAnswer]) -> VenueAnswer:
        """The venue's answer within `answer_timeout_s` (TimeoutError past it). The venue knows the budget
        (base.py `answer_budget`): what it reads after the answer (an order's trades) takes only part of it, so a slow
        optional read never turns an answer the venue gave into an unknown."""
        with answer_budget(self.answer_timeout_s):
            return await asyncio.wait_for(call, timeout=self.answer_timeout_s)

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
        async with self._kept_alive():
            return await self._settle(order, sent_at=sent_at)

    async def _settle(self, order: Order, *, sent_at: float | None = None) -> Order:
        venue = self._venue(order)
        started = clock.monotonic()
        sent_at = started if sent_at is None else sent_at
        while True:
            wait = self.lookup_interval_s
            try:
                answer = await self._answer(venue.lookup(order.client_order_id))
            except (TimeoutError, VenueError) as exc:
                log.warning("lookup of %s failed: %s", order.client_order_id, exc)
                if isinstance(exc, VenueError) and exc.retry_after_s:
                    wait = max(wait, exc.retry_after_s)  # a back-off: asking sooner sends nothing anyway
            else:
                if answer.report.found or clock.monotonic() - sent_at >= self.send_deadline_s:
                    return await self._record(order, answer, FillSource.LOOKUP)
            elapsed = clock.monotonic() - started
            if elapsed >= self.lookup_give_up_s:
                return order
            await self.sleep(min(wait, max(self.lookup_give_up_s - elapsed, 0.0)))

    async def refresh(self, order: Order) -> Order:
        """Ask the venue about a working order (accepted / partially filled / unknown) and record the answer."""
        if order.status == OrderStatus.UNKNOWN:
            return await self.settle_unknown(order)
        async with self._kept_alive():
            answer = await self._venue(order).lookup(order.client_order_id)
            return await self._record(order, answer, FillSource.LOOKUP)

    async def cancel(self, order: Order) -> Order:
        answer = await self._venue(order).cancel(order.client_order_id)
        return await self._record(order, answer, FillSource.LOOKUP)


def signed_oz(side: str, quantity: Decimal) -> Decimal:
    return execution.signed(side, quantity)
