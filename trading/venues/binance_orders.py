"""Binance USDⓈ-M XAUUSDT as an execution venue (trading/venues/base.py `ExecutionVenue`): orders by client
order id through the gateway, immediate-or-cancel limits for the perp leg, answers mapped onto our order machine."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from trading.domain import orders as order_rules

from .base import OrderRequest, VenueAnswer
from .binance import BinanceUsdmGateway, OrderState
from .errors import VenueError, VenueErrorKind

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
        return answer_of(state)

    async def lookup(self, client_order_id: str) -> VenueAnswer:
        state = await (await self._ready()).lookup_order(client_order_id)
        if state is None:
            return VenueAnswer(order_rules.VenueOrderReport.not_found())
        return answer_of(state)

    async def cancel(self, client_order_id: str) -> VenueAnswer:
        return answer_of(await (await self._ready()).cancel_order(client_order_id))

    async def position_oz(self) -> Decimal:
        return (await (await self._ready()).fetch_position()).quantity

    async def open_orders(self) -> list[tuple[str, VenueAnswer]]:
        return [(state.client_order_id, answer_of(state)) for state in await (await self._ready()).fetch_open_orders()]

    async def mark_price(self) -> Decimal | None:
        return (await (await self._ready()).fetch_quote()).mid_price

    def backoff_s(self) -> float:
        return self.gateway.backoff_remaining_s
