"""The paper venue: fills against live quotes, booked into its own ledger (`PaperOrder`, `PaperPosition`).

It plays a venue for paper accounts: orders by client id, a taker fill after a configurable latency at the
quote then in force (trading/domain/paper.py has the rule: bid/ask ± slippage, partial fills past the displayed
size), lookups, positions. Its ledger is kept apart from our `Order`/`Fill` records so that reconciliation
reads it as *the venue*; a difference injected into it is found like one at a real venue. Each fill also moves
the account's realised PnL and writes its balance and margin snapshot (trading/execution/paper_ledger.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from asgiref.sync import sync_to_async
from django.db import transaction

from accounts.models import VenueAccount
from quantarb import clock
from trading.choices import OrderKind
from trading.domain import orders as order_rules
from trading.domain.paper import PaperBook, PaperQuote, paper_fill
from trading.domain.quotes import Quote
from trading.execution.paper_ledger import PaperMark, paper_account_snapshot
from trading.models import PaperOrder, PaperPosition
from trading.venues.base import OrderRequest, VenueAnswer
from trading.venues.errors import VenueError, VenueErrorKind

OUNCE = Decimal("0.001")


@dataclass
class PaperVenue:
    """The paper venue of one account. `quote` gives the leg's latest quote (None: no quote yet)."""

    account: VenueAccount
    quote: Callable[[], Quote | None]
    step_oz: Decimal
    tick: Decimal
    fee_rate: Decimal
    fee_currency: str
    latency_ms: int = 50
    slippage_bps: Decimal = Decimal(0)
    displayed_oz: Decimal | None = None
    depth_bps: Decimal = Decimal(1)
    sleep: Callable[[float], Awaitable[Any]] = field(default=asyncio.sleep)

    async def place(self, request: OrderRequest) -> VenueAnswer:
        if self.latency_ms:
            await self.sleep(self.latency_ms / 1000)
        quote = self.quote()
        if quote is None:
            raise VenueError(
                VenueErrorKind.MARKET, "The paper venue has no quote for this instrument yet.", refused=True
            )
        side = order_rules.Side(request.side)
        ts_ms = int(clock.now().timestamp() * 1000)
        execution = paper_fill(
            side=side,
            quantity=request.quantity_oz,
            limit_price=request.limit_price,
            quote=PaperQuote(
                bid=quote.bid_price, ask=quote.ask_price, bid_size=self.displayed_oz, ask_size=self.displayed_oz
            ),
            slippage_bps=self.slippage_bps,
            fill_id_prefix=f"P{self.account.pk}-{request.client_order_id}",
            ts_ms=ts_ms,
            step=self.step_oz,
            tick=self.tick,
            depth_bps=self.depth_bps,
            fee_rate=self.fee_rate,
            fee_currency=self.fee_currency,
        )
        return await sync_to_async(self._book, thread_sensitive=True)(request, execution, quote)

    @transaction.atomic
    def _book(self, request: OrderRequest, execution: Any, quote: Quote) -> VenueAnswer:
        existing = PaperOrder.objects.filter(account=self.account, client_order_id=request.client_order_id).first()
        if existing is not None:
            # Binance -4116: a reused client id is refused; the caller looks the order up.
            raise VenueError(VenueErrorKind.DUPLICATE_CLIENT_ID, "ClientOrderId is duplicated.", code=-4116)
        filled = execution.filled
        notional = sum((fill.quantity * fill.price for fill in execution.fills), Decimal(0))
        avg = (notional / filled).quantize(Decimal("0.00000001")) if filled else None
        paper_order = PaperOrder.objects.create(
            account=self.account,
            client_order_id=request.client_order_id,
            venue_order_id=f"P{self.account.pk}-{PaperOrder.objects.filter(account=self.account).count() + 1}",
            side=request.side,
            kind=OrderKind.LIMIT_IOC if request.limit_price is not None else OrderKind.MARKET,
            quantity=request.quantity_oz,
            limit_price=request.limit_price,
            status=execution.status.value,
            filled=filled,
            avg_price=avg,
            fee=sum((fill.fee for fill in execution.fills), Decimal(0)),
            fills=[
                {
                    "fill_id": fill.fill_id,
                    "quantity": str(fill.quantity),
                    "price": str(fill.price),
                    "fee": str(fill.fee),
                    "fee_currency": fill.fee_currency,
                    "ts_ms": fill.ts_ms,
                }
                for fill in execution.fills
            ],
            at=clock.now(),
        )
        if filled and avg is not None:
            self._move_position(request.side, filled, avg)
            # The account's equity and margin moved with the fill: its snapshot, valued at the quote that priced it.
            paper_account_snapshot(
                account=self.account, at=paper_order.at, mark=PaperMark(quote.bid_price, quote.ask_price)
            )
        return _answer(paper_order)

    def _move_position(self, side: str, quantity: Decimal, price: Decimal) -> None:
        move_paper_position(self.account, side=side, quantity=quantity, price=price)

    async def lookup(self, client_order_id: str) -> VenueAnswer:
        return await sync_to_async(self._lookup, thread_sensitive=True)(client_order_id)

    def _lookup(self, client_order_id: str) -> VenueAnswer:
        paper_order = PaperOrder.objects.filter(account=self.account, client_order_id=client_order_id).first()
        if paper_order is None:
            return VenueAnswer(order_rules.VenueOrderReport.not_found())
        return _answer(paper_order)

    async def cancel(self, client_order_id: str) -> VenueAnswer:
        # Paper orders are immediate (IOC or market): there is never anything left to cancel.
        answer = await self.lookup(client_order_id)
        if not answer.report.found:
            raise VenueError(VenueErrorKind.UNKNOWN_ORDER, f"The paper venue knows no order {client_order_id}.")
        return answer

    async def position_oz(self) -> Decimal:
        return await sync_to_async(paper_position_oz, thread_sensitive=True)(self.account)

    async def open_orders(self) -> list[tuple[str, VenueAnswer]]:
        return []

    async def mark_price(self) -> Decimal | None:
        quote = self.quote()
        return None if quote is None else quote.mid_price

    def backoff_s(self) -> float:
        return 0.0


def move_paper_position(account: VenueAccount, *, side: str, quantity: Decimal, price: Decimal) -> None:
    """Move the paper account's position and realised PnL by a fill (trading/domain/paper.py `PaperBook`)."""
    position, _created = PaperPosition.objects.select_for_update().get_or_create(account=account)
    book = PaperBook(position.quantity_oz, position.avg_price, position.realised_pnl).fill(
        signed_oz=quantity if side == "buy" else -quantity, price=price
    )
    position.quantity_oz, position.avg_price = book.quantity_oz, book.avg_price
    position.realised_pnl = book.realised
    position.save(update_fields=["quantity_oz", "avg_price", "realised_pnl", "updated_at"])


def paper_position_oz(account: VenueAccount) -> Decimal:
    position = PaperPosition.objects.filter(account=account).values_list("quantity_oz", flat=True).first()
    return position if position is not None else Decimal(0)


def _answer(paper_order: PaperOrder) -> VenueAnswer:
    status = order_rules.OrderStatus(paper_order.status)
    if status is order_rules.OrderStatus.EXPIRED and paper_order.filled == paper_order.quantity:
        status = order_rules.OrderStatus.FILLED
    report = order_rules.VenueOrderReport(
        found=True,
        status=status,
        filled=paper_order.filled,
        avg_price=paper_order.avg_price if paper_order.filled else None,
    )
    fills = tuple(
        order_rules.FillEvent(
            fill_id=row["fill_id"],
            quantity=Decimal(row["quantity"]),
            price=Decimal(row["price"]),
            fee=Decimal(row["fee"]),
            fee_currency=row["fee_currency"],
            ts_ms=int(row["ts_ms"]),
        )
        for row in paper_order.fills
    )
    return VenueAnswer(report=report, fills=fills, venue_order_id=paper_order.venue_order_id)
