"""Paper fills (trading.domain.paper): taker prices, IOC limits, partial fills beyond the displayed size."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from trading.domain.orders import OrderStatus, Side, accept, apply_fill, expire, new_order, submit
from trading.domain.paper import MAX_LEVELS, PaperExecution, PaperQuote, paper_fill

from .builders import decimals

STEP = Decimal("0.001")
TICK = Decimal("0.01")
QUOTE = PaperQuote(bid=Decimal("4600.00"), ask=Decimal("4600.20"), bid_size=Decimal("3.000"), ask_size=Decimal("2.000"))


def execute(
    side: Side, quantity: str, limit: str | None, *, slippage: str = "0", quote: PaperQuote = QUOTE
) -> PaperExecution:
    return paper_fill(
        side=side,
        quantity=Decimal(quantity),
        limit_price=None if limit is None else Decimal(limit),
        quote=quote,
        slippage_bps=Decimal(slippage),
        fill_id_prefix="paper-7",
        ts_ms=1_000,
        step=STEP,
        tick=TICK,
        fee_rate=Decimal("0.0005"),
    )


def test_takers_fill_at_the_ask_or_bid_moved_by_the_slippage() -> None:
    buy = execute(Side.BUY, "1.000", None, slippage="1")
    assert [(f.quantity, f.price) for f in buy.fills] == [(Decimal("1.000"), Decimal("4600.67"))]  # 4600.2·1.0001↑
    sell = execute(Side.SELL, "1.000", None, slippage="1")
    assert [(f.quantity, f.price) for f in sell.fills] == [(Decimal("1.000"), Decimal("4599.54"))]  # 4600·0.9999↓
    assert buy.fills[0].fee == Decimal("2.30033500")  # 0.05 % of 4600.67
    assert buy.status is OrderStatus.FILLED


def test_an_ioc_limit_that_does_not_cross_fills_nothing() -> None:
    assert execute(Side.BUY, "1.000", "4600.19", slippage="1").fills == ()
    assert execute(Side.SELL, "1.000", "4600.01").fills == ()
    assert execute(Side.BUY, "1.000", "4600.19").status is OrderStatus.EXPIRED


def test_slippage_never_takes_a_limit_order_beyond_its_limit() -> None:
    buy = execute(Side.BUY, "1.000", "4600.30", slippage="5")
    assert [f.price for f in buy.fills] == [Decimal("4600.30")]


def test_an_ioc_limit_at_the_touch_fills_the_displayed_size_and_expires_the_rest() -> None:
    buy = execute(Side.BUY, "5.000", "4600.20")
    assert [(f.fill_id, f.quantity, f.price) for f in buy.fills] == [
        ("paper-7-0", Decimal("2.000"), Decimal("4600.20"))
    ]
    assert buy.status is OrderStatus.EXPIRED and buy.filled == Decimal("2.000")


def test_a_market_order_beyond_the_displayed_size_walks_worse_levels_to_the_end() -> None:
    sell = execute(Side.SELL, "7.500", None)
    assert [(f.quantity, f.price) for f in sell.fills] == [
        (Decimal("3.000"), Decimal("4600.00")),
        (Decimal("3.000"), Decimal("4599.54")),  # one displayed size down: 1 bp worse
        (Decimal("1.500"), Decimal("4599.08")),
    ]
    assert sell.status is OrderStatus.FILLED


def test_a_quote_without_sizes_fills_in_one_piece() -> None:
    quote = PaperQuote(bid=Decimal("4598.50"), ask=Decimal("4598.80"))
    assert len(execute(Side.BUY, "300.000", None, quote=quote).fills) == 1


sizes = st.one_of(st.none(), decimals("0.001", "50", 3))


@settings(max_examples=500, deadline=None)
@given(
    side=st.sampled_from(list(Side)),
    units=st.integers(1, 100_000),
    bid=decimals("1000", "10000", 2),
    spread=decimals("0.01", "5", 2),
    bid_size=sizes,
    ask_size=sizes,
    slippage=decimals("0", "20", 2),
    limit_offset=st.one_of(st.none(), decimals("-5", "5", 2)),
)
def test_fills_never_exceed_the_order_and_respect_the_limit(
    side: Side,
    units: int,
    bid: Decimal,
    spread: Decimal,
    bid_size: Decimal | None,
    ask_size: Decimal | None,
    slippage: Decimal,
    limit_offset: Decimal | None,
) -> None:
    quote = PaperQuote(bid, bid + spread, bid_size, ask_size)
    quantity = units * STEP
    touch = quote.ask if side is Side.BUY else quote.bid
    limit = None if limit_offset is None else touch + limit_offset

    def run() -> PaperExecution:
        return paper_fill(
            side=side,
            quantity=quantity,
            limit_price=limit,
            quote=quote,
            slippage_bps=slippage,
            fill_id_prefix="p",
            ts_ms=5,
            step=STEP,
            tick=TICK,
        )

    execution = run()
    assert execution == run()  # deterministic, fill ids included
    assert len({f.fill_id for f in execution.fills}) == len(execution.fills)
    assert execution.filled <= quantity
    assert all(f.quantity > 0 and f.quantity % STEP == 0 for f in execution.fills)
    prices = [f.price for f in execution.fills]
    if side is Side.BUY:
        assert prices == sorted(prices) and all(p >= quote.ask for p in prices)
    else:
        assert prices == sorted(prices, reverse=True) and all(p <= quote.bid for p in prices)
    if limit is None:
        assert execution.filled == quantity
    else:
        assert all(p <= limit if side is Side.BUY else p >= limit for p in prices)
        crosses = limit >= quote.ask if side is Side.BUY else limit <= quote.bid
        assert bool(execution.fills) == crosses
    displayed = quote.ask_size if side is Side.BUY else quote.bid_size
    if displayed is not None and execution.fills:
        assert execution.fills[0].quantity <= max(displayed, STEP)
        assert len(execution.fills) <= MAX_LEVELS

    # The fills drive the order machine to the same place, and replaying them changes nothing.
    order = accept(submit(new_order(quantity)))
    for fill in execution.fills + execution.fills:
        order = apply_fill(order, fill)
    if execution.status is OrderStatus.EXPIRED:
        order = expire(order)
    assert order.filled == execution.filled and order.status is execution.status
