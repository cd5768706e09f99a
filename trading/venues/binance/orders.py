"""Binance USDⓈ-M XAUUSDT as an execution venue (trading/venues/base.py `ExecutionVenue`): orders by client
order id through the gateway, immediate-or-cancel limits for the perp leg, answers mapped onto our order machine,
with the order's trades (`userTrades`: price, quantity, commission converted to USDT, trade id, maker flag) as its
fills whenever it filled."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from decimal import Decimal

from trading.domain import orders as order_rules
from trading.venues.base import OrderRequest, VenueAnswer, optional_read_budget_s
from trading.venues.binance.gateway import BinanceUsdmGateway, OrderState
from trading.venues.errors import VenueError, VenueErrorKind

log = logging.getLogger(__name__)

# Binance's order status → ours. "NEW" means the venue holds it: accepted.
_STATUS = {
    "NEW": order_rules.OrderStatus.ACCEPTED,
    "PARTIALLY_FILLED": order_rules.OrderStatus.PARTIALLY_FILLED,
    "FILLED": order_rules.OrderStatus.FILLED,
    "CANCELED": order_rules.OrderStatus.CANCELLED,
    "EXPIRED": order_rules.OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": order_rules.OrderStatus.EXPIRED,
    "REJECTED": order_rules.OrderStatus.REJECTED,
}


def answer_of(state: OrderState) -> VenueAnswer:
    status = _STATUS.get(state.status)
    if status is None:
        raise VenueError(VenueErrorKind.REJECTED, f"Binance reported an unknown order status {state.status!r}.")
    if status is order_rules.OrderStatus.PARTIALLY_FILLED and state.filled >= state.quantity:
        status = order_rules.OrderStatus.FILLED
    report = order_rules.VenueOrderReport(
        found=True,
        status=status,
        filled=state.filled,
        avg_price=state.average_price if state.filled > 0 else None,
    )
    return VenueAnswer(report=report, venue_order_id=state.venue_order_id)


@dataclass
class BinanceExecutionVenue:
    """Orders of one Binance account. The gateway connects (time sync, market) on first use."""

    gateway: BinanceUsdmGateway
    connected: bool = False
    # Reading the trades of a filled order is one more request after the answer: bounded by this and by half the
    # caller's answer budget (base.py `optional_read_budget_s`), so a slow read never costs the answer itself (the
    # user-data stream and the fill sync bring trades not read here).
    fills_timeout_s: float = 2.0

    async def _ready(self) -> BinanceUsdmGateway:
        if not self.connected:
            await self.gateway.connect()
            self.connected = True
        return self.gateway

    async def place(self, request: OrderRequest) -> VenueAnswer:
        # One send: an ambiguous answer comes back as AMBIGUOUS and the executor records the order as unknown and
        # looks it up (the unknown state is then persisted, so even a crash cannot lead to a blind resend).
        try:
            gateway = await self._ready()
        except VenueError as exc:
            raise exc.not_sent() from exc  # connecting (time sync, market) sends no order
        state = await gateway.place_order(
            client_order_id=request.client_order_id,
            side="buy" if request.side == "buy" else "sell",
            quantity=request.quantity_oz,
            price=request.limit_price,
            reduce_only=request.reduce_only,
            time_in_force="IOC" if request.limit_price is not None else None,
            max_sends=1,
        )
        return await self._with_fills(state)

    async def lookup(self, client_order_id: str) -> VenueAnswer:
        state = await (await self._ready()).lookup_order(client_order_id)
        if state is None:
            return VenueAnswer(order_rules.VenueOrderReport.not_found())
        return await self._with_fills(state)

    async def _with_fills(self, state: OrderState) -> VenueAnswer:
        """The answer, with the order's trades when it filled. Trades that cannot be read in time are left out:
        the user-data stream or the fill sync records them (once per trade id). The read gets only what is left of
        its part of the caller's answer budget, so the answer itself always arrives in time."""
        answer = answer_of(state)
        if state.filled <= 0:
            return answer
        budget_s = optional_read_budget_s(self.fills_timeout_s)
        if budget_s <= 0:
            log.info("trades of order %s not read: the answer took the time for it", state.client_order_id)
            return answer
        try:
            fills = await asyncio.wait_for(self.gateway.fetch_order_fills(state.venue_order_id), budget_s)
        except (TimeoutError, VenueError) as exc:
            log.warning("trades of order %s not read within %.2f s: %r", state.client_order_id, budget_s, exc)
            return answer
        return replace(answer, fills=tuple(fills))

    async def cancel(self, client_order_id: str) -> VenueAnswer:
        return await self._with_fills(await (await self._ready()).cancel_order(client_order_id))

    async def position_oz(self) -> Decimal:
        return (await (await self._ready()).fetch_position()).quantity

    async def close(self) -> None:
        """Close the gateway's connections (ccxt's HTTP session): call it, on the event loop that used it, when
        done with the venue. Used again afterwards, it connects anew."""
        self.connected = False
        await self.gateway.close()

    async def open_orders(self) -> list[tuple[str, VenueAnswer]]:
        return [(state.client_order_id, answer_of(state)) for state in await (await self._ready()).fetch_open_orders()]

    async def mark_price(self) -> Decimal | None:
        return (await (await self._ready()).fetch_quote()).mid_price

    def backoff_s(self) -> float:
        return self.gateway.backoff_remaining_s
