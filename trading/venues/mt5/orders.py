"""An MT5 account as an execution venue (trading/venues/base.py `ExecutionVenue`): market orders with a deviation
by client order id (carried in the order's `comment` with our `magic`), volumes converted from ounces to lots with
the symbol's contract size re-read at each order, closes of a hedging account's positions by ticket. The order's
deals (read by its order ticket) are its fills: one per deal ticket, its commission and fee as the fill's fee in
the account currency, its profit and swap kept with it.

The gateway is synchronous like the MetaTrader5 package: every call runs in a worker thread.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from quantarb import clock
from trading.domain import orders as order_rules
from trading.domain.clientids import parse_client_order_id
from trading.venues.base import OrderRequest, VenueAnswer
from trading.venues.errors import VenueError, VenueErrorKind
from trading.venues.mt5.gateway import Mt5Deal, Mt5Gateway, Mt5Position, OrderResult
from trading.venues.mt5.gateway import OrderRequest as Mt5OrderRequest

OUNCE = Decimal("0.001")


def fill_from_deal(deal: Mt5Deal, contract_size: Decimal, currency: str) -> order_rules.FillEvent:
    """A deal as a fill: ounces from lots, the fee the cost of its commission and fee (MT5 books both negative when
    charged) in the account currency, its time in UTC (the time it was read when the server's offset is not known
    yet), its profit and swap as the venue booked them."""
    fee = -(deal.commission + deal.fee)
    at = deal.at or clock.now()
    return order_rules.FillEvent(
        fill_id=str(deal.ticket),
        quantity=(deal.volume * contract_size).quantize(OUNCE),
        price=deal.price,
        # The deal's own commission and fee (the venue's record); a deal that charged none books exactly zero,
        # not the "-0" negating two zeros gives.
        fee=fee if fee != 0 else Decimal(0),
        fee_currency=currency,
        ts_ms=int(at.timestamp() * 1000),
        realized_pnl=deal.profit,
        swap=deal.swap,
    )


def position_to_close(positions: list[Mt5Position], *, client_order_id: str, lots: Decimal) -> Mt5Position:
    """Which of our positions (non-empty, on the side to close) a reducing order of `client_order_id` closes on a
    hedging account: the hedge's own — a position whose comment is an order id of the same hedge —, else any.
    Among those, one of exactly `lots`, else one at least that large, else the largest. Closing another hedge's
    position would hand that hedge's accrued swap (which MT5 moves onto the closing deal) to this one, and leave
    positions of sizes no close of either hedge matches. The comment is a preference only: brokers may rewrite it."""
    key = parse_client_order_id(client_order_id)

    def same_hedge(position: Mt5Position) -> bool:
        own = parse_client_order_id(position.comment)
        return key is not None and own is not None and (own.tenant_id, own.hedge_id) == (key.tenant_id, key.hedge_id)

    return min(
        positions,
        key=lambda p: (not same_hedge(p), p.volume != lots, p.volume < lots, -p.volume, p.ticket),
    )


_STATUS = {
    "filled": order_rules.OrderStatus.FILLED,
    "partial": order_rules.OrderStatus.EXPIRED,  # a market order's unfilled rest is gone (FOK/IOC filling)
    "placed": order_rules.OrderStatus.ACCEPTED,
    "rejected": order_rules.OrderStatus.REJECTED,
}


def answer_of(
    result: OrderResult,
    contract_size: Decimal,
    quantity_oz: Decimal | None = None,
    fills: tuple[order_rules.FillEvent, ...] = (),
) -> VenueAnswer:
    filled_oz = result.volume * contract_size
    status = _STATUS[result.status]
    if quantity_oz is not None and status is order_rules.OrderStatus.FILLED and filled_oz < quantity_oz:
        status = order_rules.OrderStatus.EXPIRED  # closed less than asked (a smaller position was all there was)
    report = order_rules.VenueOrderReport(
        found=True,
        status=status,
        filled=filled_oz if status is not order_rules.OrderStatus.REJECTED else Decimal(0),
        avg_price=result.price if filled_oz > 0 and status is not order_rules.OrderStatus.REJECTED else None,
    )
    return VenueAnswer(
        report=report,
        fills=fills if status is not order_rules.OrderStatus.REJECTED else (),
        venue_order_id=str(result.order_ticket),
    )


@dataclass
class Mt5ExecutionVenue:
    """Orders of one MT5 account. The gateway connects (and logs in) on first use, in the worker thread."""

    gateway: Mt5Gateway
    connected: bool = False
    _currency: str | None = field(default=None, init=False)

    def _ready(self) -> Mt5Gateway:
        if not self.connected:
            self.gateway.connect()
            self.connected = True
        return self.gateway

    def _fills(self, result: OrderResult, contract_size: Decimal) -> tuple[order_rules.FillEvent, ...]:
        """The order's trade deals as fills (fees in the account currency, read once per venue)."""
        deals = [deal for deal in result.deals if deal.side is not None and deal.volume > 0]
        if not deals:
            return ()
        if self._currency is None:
            self._currency = self._ready().account().currency
        return tuple(fill_from_deal(deal, contract_size, self._currency) for deal in deals)

    def _contract_size(self) -> Decimal:
        return self._ready().symbol_spec().contract_size

    def _place(self, request: OrderRequest) -> VenueAnswer:
        """Read what the order needs (symbol, tick, positions to close), each read asked again on an IPC timeout
        within the gateway's short budget, then send once. A failure before `order_send` comes out as not sent
        (nothing reached the terminal); one after it is the gateway's to classify (refused or unknown)."""
        try:
            gateway = self._ready()
            spec = gateway.read_before_order(gateway.symbol_spec)
            lots = (request.quantity_oz / spec.contract_size).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
            if lots * spec.contract_size != request.quantity_oz:
                raise VenueError(
                    VenueErrorKind.REJECTED,
                    f"{request.quantity_oz} oz is not a whole number of 0.01 lots of {spec.contract_size} oz",
                )
            tick = gateway.read_before_order(gateway.tick)
            expected = tick.ask if request.side == "buy" else tick.bid
            position = None
            if request.reduce_only:
                # A hedging account opens a new position on an opposite order unless it names the ticket to close.
                opposite = "sell" if request.side == "buy" else "buy"
                candidates = [p for p in gateway.read_before_order(gateway.positions) if p.ours and p.side == opposite]
                if not candidates:
                    raise VenueError(VenueErrorKind.REJECTED, "no position of ours to close on this account")
                closed = position_to_close(candidates, client_order_id=request.client_order_id, lots=lots)
                position = closed.ticket
                lots = min(lots, closed.volume)
        except VenueError as exc:
            raise exc.not_sent() from exc
        result = gateway.place_order(
            Mt5OrderRequest(
                client_order_id=request.client_order_id,
                side="buy" if request.side == "buy" else "sell",
                volume=lots,
                price=expected,
                deviation=request.deviation if request.deviation is not None else 20,
                position=position,
            ),
            spec=spec,
        )
        fills = self._fills_quietly(result, spec.contract_size)
        return answer_of(result, spec.contract_size, request.quantity_oz, fills)

    def _fills_quietly(self, result: OrderResult, contract_size: Decimal) -> tuple[order_rules.FillEvent, ...]:
        # The order executed: a failed read of the account currency must not turn the answer into an error (the
        # lookup or the fill sync read the deals again).
        try:
            return self._fills(result, contract_size)
        except VenueError:
            return ()

    async def place(self, request: OrderRequest) -> VenueAnswer:
        return await asyncio.to_thread(self._place, request)

    def _lookup(self, client_order_id: str) -> VenueAnswer:
        found = self._ready().find_order(client_order_id)
        if found is None:
            return VenueAnswer(order_rules.VenueOrderReport.not_found())
        size = self._contract_size()
        return answer_of(found, size, fills=self._fills(found, size))

    async def lookup(self, client_order_id: str) -> VenueAnswer:
        return await asyncio.to_thread(self._lookup, client_order_id)

    async def cancel(self, client_order_id: str) -> VenueAnswer:
        # Market orders execute or die at once: there is nothing working to cancel; say what the venue holds.
        answer = await self.lookup(client_order_id)
        if not answer.report.found:
            raise VenueError(VenueErrorKind.UNKNOWN_ORDER, f"MT5 knows no order {client_order_id}.")
        return answer

    def _position_oz(self) -> Decimal:
        size = self._contract_size()
        total = Decimal(0)
        for position in self._ready().positions():
            total += (position.volume if position.side == "buy" else -position.volume) * size
        return total

    async def position_oz(self) -> Decimal:
        return await asyncio.to_thread(self._position_oz)

    async def open_orders(self) -> list[tuple[str, VenueAnswer]]:
        return []  # quantarb sends market orders only; pending orders of others show up as positions when filled

    def _mark_price(self) -> Decimal:
        tick = self._ready().tick()
        return ((tick.bid + tick.ask) / 2).quantize(Decimal("0.00000001"))

    async def mark_price(self) -> Decimal | None:
        return await asyncio.to_thread(self._mark_price)

    def backoff_s(self) -> float:
        return 0.0  # the terminal asks for no waits; a 10024 (too many requests) is a refusal of that order
