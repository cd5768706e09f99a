"""Fills and fees as the venues report them, and the fakes that speak their wire format: Binance's
`userTrades` rows and ORDER_TRADE_UPDATE events, its funding history and income, BNB commissions; MT5 deals with
commission and fee, found by order ticket, and swap charged at the rollovers of the terminal's own clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from quantarb import clock
from tests.fakes.fixtures import BinanceFake, Mt5BridgeFake
from tests.trading.venues.helpers import gateway_for
from tests.waiting import until
from trading.domain.orders import FeeConversion, FillEvent
from trading.venues.base import OrderRequest, answer_budget
from trading.venues.binance.gateway import BinanceUsdmGateway, is_trade_update, trade_fill
from trading.venues.binance.orders import BinanceExecutionVenue
from trading.venues.mt5.gateway import ModuleTransport, Mt5Deal, Mt5Gateway
from trading.venues.mt5.gateway import OrderRequest as Mt5OrderRequest
from trading.venues.mt5.orders import Mt5ExecutionVenue, fill_from_deal
from trading.venues.mt5.rpyc_backend import RpycTransport
from trading.venues.mt5.sim import SimulatedMetaTrader5

pytestmark = pytest.mark.timeout(60)

USER_TRADE_FIELDS = {
    "symbol", "id", "orderId", "side", "price", "qty", "realizedPnl", "quoteQty", "commission", "commissionAsset",
    "time", "positionSide", "buyer", "maker",
}  # fmt: skip


# --- Binance: parsing the wire format ------------------------------------------------------------------------
def test_a_user_trades_row_is_a_fill_with_its_commission_maker_flag_and_trade_id() -> None:
    row = {
        "symbol": "XAUUSDT", "id": 698759, "orderId": 25851813, "side": "SELL", "price": "4600.10", "qty": "0.002",
        "realizedPnl": "-0.91539999", "quoteQty": "9.2002", "commission": "0.00460010", "commissionAsset": "USDT",
        "time": 1796803200123, "positionSide": "BOTH", "buyer": False, "maker": True,
    }  # fmt: skip
    assert trade_fill(row) == FillEvent(
        fill_id="698759",
        quantity=Decimal("0.002"),
        price=Decimal("4600.10"),
        fee=Decimal("0.00460010"),
        fee_currency="USDT",
        ts_ms=1796803200123,
        maker=True,
        realized_pnl=Decimal("-0.91539999"),
    )


def test_an_order_trade_update_is_the_same_fill_as_its_user_trades_row() -> None:
    update = {
        "s": "XAUUSDT", "c": "qa1-2PO1", "S": "SELL", "o": "LIMIT", "f": "IOC", "q": "2", "p": "4590", "ap": "4600.1",
        "x": "TRADE", "X": "FILLED", "i": 25851813, "l": "0.002", "z": "2", "L": "4600.10", "N": "BNB",
        "n": "0.00000676", "T": 1796803200123, "t": 698759, "m": False, "rp": "0", "ps": "BOTH",
    }  # fmt: skip
    assert is_trade_update(update)
    fill = trade_fill(update)
    assert (fill.fill_id, fill.quantity, fill.price, fill.ts_ms) == ("698759", Decimal("0.002"), Decimal("4600.10"),
                                                                      1796803200123)  # fmt: skip
    assert (fill.fee, fill.fee_currency, fill.maker) == (Decimal("0.00000676"), "BNB", False)


def test_a_trade_update_without_commission_fields_has_no_fee_and_other_events_are_no_trades() -> None:
    update = {"x": "TRADE", "l": "1", "L": "4600", "t": 5, "T": 1, "m": True}
    assert trade_fill(update).fee == 0 and trade_fill(update).fee_currency == "USDT"
    assert not is_trade_update({"x": "NEW", "l": "0", "t": 0})
    assert not is_trade_update({"x": "EXPIRED", "l": "0", "t": 0})
    assert not is_trade_update({"x": "CALCULATED", "l": "1", "t": 9})  # a liquidation is a venue event


# --- Binance: the fake and the gateway ------------------------------------------------------------------------
async def test_the_fake_serves_each_trade_of_an_order_in_binance_s_wire_format(
    gateway: BinanceUsdmGateway, binance_fake: BinanceFake
) -> None:
    binance_fake.config(trades_per_fill=2)
    state = await gateway.place_order(client_order_id="qa1-1PO1", side="sell", quantity=Decimal("2.000"))
    rows = await gateway.exchange.fapiPrivateGetUserTrades({"symbol": "XAUUSDT", "orderId": state.venue_order_id})
    assert len(rows) == 2 and all(set(row) == USER_TRADE_FIELDS for row in rows)
    assert sum(Decimal(row["qty"]) for row in rows) == Decimal(2)
    assert all(row["commissionAsset"] == "USDT" and row["maker"] is False and row["buyer"] is False for row in rows)
    # taker 0.05 % of each trade's notional
    assert [Decimal(row["commission"]) for row in rows] == [Decimal("2.30005000")] * 2
    fills = await gateway.fetch_order_fills(state.venue_order_id)
    assert [fill.fill_id for fill in fills] == [str(row["id"]) for row in rows]


async def test_a_bnb_commission_is_converted_at_the_open_of_the_trade_s_minute(
    gateway: BinanceUsdmGateway, binance_fake: BinanceFake
) -> None:
    binance_fake.bnb_commission(count=1, price="612.34")
    state = await gateway.place_order(client_order_id="qa1-1PO1", side="sell", quantity=Decimal("1.000"))
    (trade,) = binance_fake.records()["trades"]
    # the USDT commission (2.30005) with BNB's 10 % discount, in BNB at 612.34
    assert (trade["commissionAsset"], trade["commission"]) == ("BNB", "0.00338055")
    (fill,) = await gateway.fetch_order_fills(state.venue_order_id)
    minute = trade["time"] - trade["time"] % 60_000
    assert fill.conversion == FeeConversion(
        Decimal("0.00338055"), "BNB", Decimal("612.34"), "binance-usdm:BNBUSDT:1m-open", minute
    )
    assert (fill.fee, fill.fee_currency) == (Decimal("2.07004599"), "USDT")  # 0.00338055 × 612.34 = 2.070045987


async def test_the_order_answer_carries_the_order_s_trades(binance_fake: BinanceFake) -> None:
    venue = BinanceExecutionVenue(gateway_for(binance_fake))
    try:
        binance_fake.config(trades_per_fill=3)
        answer = await venue.place(OrderRequest("qa1-1PO1", "buy", Decimal("0.300"), limit_price=Decimal("4601")))
        trades = binance_fake.records()["trades"]
        assert [fill.fill_id for fill in answer.fills] == [str(trade["id"]) for trade in trades]
        assert sum(fill.quantity for fill in answer.fills) == answer.report.filled == Decimal("0.3")
        looked_up = await venue.lookup("qa1-1PO1")
        assert looked_up.fills == answer.fills
    finally:
        await venue.gateway.close()


async def test_a_slow_trades_read_gets_only_half_the_caller_s_answer_budget(binance_fake: BinanceFake) -> None:
    venue = BinanceExecutionVenue(gateway_for(binance_fake), fills_timeout_s=30.0)
    try:
        binance_fake.arm("trades_slow", count=2, seconds=5)
        # The executor times each call out at its answer budget; a trades read slower than the budget does not
        # cost the answer: it comes back filled, without the trades (the stream and the fill sync book them).
        with answer_budget(1.0):
            answer = await asyncio.wait_for(
                venue.place(OrderRequest("qa1-2PO1", "buy", Decimal("0.300"), limit_price=Decimal("4601"))), 1.0
            )
        assert (answer.report.status, answer.report.filled, answer.fills) == ("filled", Decimal("0.3"), ())
        with answer_budget(1.0):
            looked_up = await asyncio.wait_for(venue.lookup("qa1-2PO1"), 1.0)
        assert (looked_up.report.filled, looked_up.fills) == (Decimal("0.3"), ())
        # Read fast enough, the trades come with the answer.
        with answer_budget(10.0):
            looked_up = await asyncio.wait_for(venue.lookup("qa1-2PO1"), 10.0)
        assert [fill.fill_id for fill in looked_up.fills] == [
            str(trade["id"]) for trade in binance_fake.records()["trades"]
        ]
    finally:
        await venue.gateway.close()


async def test_user_stream_trade_events_carry_trade_id_commission_and_maker(
    gateway: BinanceUsdmGateway, binance_fake: BinanceFake
) -> None:
    waiting = asyncio.ensure_future(gateway.watch_order_events())
    await until(lambda: binance_fake.state()["private_sockets"], 5, "the user-data stream opened")
    await gateway.place_order(client_order_id="qa1-1PO1", side="sell", quantity=Decimal("1.000"))
    events = await asyncio.wait_for(waiting, 5)
    (trade,) = binance_fake.records()["trades"]
    raw = next(raw for _state, raw in events if raw.get("x") == "TRADE")
    assert (raw["t"], raw["l"], raw["L"], raw["n"], raw["N"], raw["m"]) == (
        trade["id"], trade["qty"], trade["price"], trade["commission"], "USDT", False,
    )  # fmt: skip
    assert trade_fill(raw) == (await gateway.fetch_order_fills(str(trade["orderId"])))[0]


async def test_funding_is_booked_to_the_holder_at_each_funding_time(
    gateway: BinanceUsdmGateway, binance_fake: BinanceFake
) -> None:
    await gateway.place_order(client_order_id="qa1-1PO1", side="sell", quantity=Decimal("2.000"))
    server_ms = binance_fake.records()["server_ms"]
    interval = 8 * 3_600_000
    moved = binance_fake.advance((interval - server_ms % interval) / 1000 + interval / 1000 + 1)
    # −position · mark · rate with a positive rate: the short receives, at both funding times crossed
    assert [row["income"] for row in moved["funding_booked"]] == ["0.92002200", "0.92002200"]
    due = [row["time"] for row in moved["funding_booked"]]
    assert due[1] - due[0] == interval and due[0] % interval == 0
    await gateway.sync_time()  # the venue's clock jumped
    income = await gateway.fetch_funding_income(due[0])
    assert [(row.ts_ms, row.amount) for row in income] == [(due[0], Decimal("0.920022")), (due[1], Decimal("0.920022"))]
    history = await gateway.fetch_funding_rate_history(due[0])
    assert [(row.funding_ms, row.rate, row.mark_price) for row in history] == [
        (due[0], Decimal("0.0001"), Decimal("4600.11")),
        (due[1], Decimal("0.0001"), Decimal("4600.11")),
    ]


# --- MT5 -----------------------------------------------------------------------------------------------------
def _deal(**values: Any) -> Mt5Deal:
    base = dict(ticket=1000002, order_ticket=1000001, position_ticket=1000001, side="buy", entry=0, reason=3,
                volume=Decimal("0.02"), price=Decimal("4600.25"), profit=Decimal(0), swap=Decimal(0),
                commission=Decimal("-0.12"), fee=Decimal("-0.03"), magic=460046, comment="qa1-1CO1",
                server_time_ms=0, at=datetime(2026, 12, 7, 10, tzinfo=UTC), ours=True)  # fmt: skip
    base.update(values)
    return Mt5Deal(**base)


def test_a_deal_is_a_fill_with_its_commission_and_fee_as_the_fee() -> None:
    fill = fill_from_deal(_deal(), Decimal(100), "USD")
    assert fill == FillEvent(
        fill_id="1000002",
        quantity=Decimal("2.000"),
        price=Decimal("4600.25"),
        fee=Decimal("0.15"),
        fee_currency="USD",
        ts_ms=int(datetime(2026, 12, 7, 10, tzinfo=UTC).timestamp() * 1000),
        realized_pnl=Decimal(0),
        swap=Decimal(0),
    )
    closing = fill_from_deal(_deal(entry=1, profit=Decimal("-3.26"), swap=Decimal("-1.10")), Decimal(100), "USDT")
    assert (closing.realized_pnl, closing.swap, closing.fee_currency) == (Decimal("-3.26"), Decimal("-1.10"), "USDT")
    assert fill_from_deal(_deal(commission=Decimal(0), fee=Decimal(0)), Decimal(100), "USD").fee.is_signed() is False


@pytest.fixture
def sim_terminal(frozen_clock: Any) -> SimulatedMetaTrader5:
    terminal = SimulatedMetaTrader5()
    terminal.qa_configure(commission_per_lot=6.0, deal_fee=0.03)
    return terminal


def test_the_order_s_deals_are_found_by_its_order_ticket_and_become_its_fills(
    sim_terminal: SimulatedMetaTrader5,
) -> None:
    venue = Mt5ExecutionVenue(Mt5Gateway(ModuleTransport(sim_terminal, "sim")))
    answer = asyncio.run(venue.place(OrderRequest("qa1-1CO1", "buy", Decimal(2))))
    deals = [dict(row) for row in dict(sim_terminal.qa_state())["deals"]]
    (deal,) = deals
    assert (deal["commission"], deal["fee"]) == (-0.12, -0.03)  # 6 per lot × 0.02 lot; 0.03 a deal
    (fill,) = answer.fills
    assert (fill.fill_id, fill.quantity, fill.fee, fill.fee_currency) == (str(deal["ticket"]), Decimal(2),
                                                                          Decimal("0.15"), "USD")  # fmt: skip
    # `ticket=` is the ORDER ticket for history_deals_get, as the package documents it
    assert [row.ticket for row in sim_terminal.history_deals_get(ticket=deal["order"])] == [deal["ticket"]]
    assert sim_terminal.history_deals_get(ticket=deal["ticket"]) == ()
    assert asyncio.run(venue.lookup("qa1-1CO1")).fills == answer.fills
    assert dict(sim_terminal.qa_state())["balance"] == pytest.approx(10_000 - 0.15)


def test_deals_are_found_by_order_ticket_when_the_broker_rewrote_the_comment(
    sim_terminal: SimulatedMetaTrader5,
) -> None:
    gateway = Mt5Gateway(ModuleTransport(sim_terminal, "sim"))
    gateway.connect()
    result = gateway.place_order(Mt5OrderRequest("qa1-1CO1", "sell", Decimal("0.01")))
    sim_terminal._deals[:] = [row._replace(comment="[rewritten]") for row in sim_terminal._deals]
    (deal,) = gateway.order_deals(result.order_ticket, client_order_id="qa1-1CO1")
    assert deal.order_ticket == result.order_ticket and deal.fee == Decimal("-0.03")
    found = gateway.find_order("qa1-1CO1")
    assert found is not None and [d.ticket for d in found.deals] == [deal.ticket]


def test_swap_is_charged_at_each_rollover_with_the_triple_day(frozen_clock: Any) -> None:
    # Monday 2026-12-07 12:00 UTC; the broker's server runs at GMT+2 (New York close, winter).
    frozen_clock.set(datetime(2026, 12, 7, 12, tzinfo=UTC))
    terminal = SimulatedMetaTrader5()
    gateway = Mt5Gateway(ModuleTransport(terminal, "sim"))
    gateway.connect()
    gateway.place_order(Mt5OrderRequest("qa1-1CO1", "buy", Decimal("0.02")))
    night = -55.2 * 0.01 * 100 * 0.02  # swap_long points × point × contract size × lots
    frozen_clock.advance(timedelta(hours=10).total_seconds())  # Monday 22:00 UTC = server midnight: Monday's night
    assert terminal.positions_get()[0].swap == pytest.approx(round(night, 2))
    frozen_clock.advance(timedelta(days=2).total_seconds())  # Tuesday's night, then Wednesday's, tripled
    assert terminal.positions_get()[0].swap == pytest.approx(round(night * 5, 2))
    frozen_clock.advance(timedelta(days=4).total_seconds())  # Thursday, Friday; no rollover on the weekend
    assert terminal.positions_get()[0].swap == pytest.approx(round(night * 7, 2))
    terminal.qa_configure(swap_rollover3days=5)  # a broker that triples on Friday
    frozen_clock.advance(timedelta(days=5).total_seconds())  # Monday … Friday (tripled)
    assert terminal.positions_get()[0].swap == pytest.approx(round(night * 14, 2))


def test_the_bridge_s_clock_moves_forward_on_request(mt5_bridge: Mt5BridgeFake) -> None:
    terminal = mt5_bridge.terminal
    transport = RpycTransport("127.0.0.1", mt5_bridge.port, timeout_s=5)
    try:
        gateway = Mt5Gateway(transport)
        gateway.connect()
        gateway.place_order(Mt5OrderRequest("qa1-1CO1", "sell", Decimal("0.01")))
        before = terminal.qa_server_time()
        terminal.qa_advance(7 * 86_400)  # a week: five rollovers, one tripled
        assert terminal.qa_server_time() - before >= 7 * 86_400_000
        (position,) = gateway.positions()
        assert position.swap == round(Decimal("21.4") * Decimal("0.01") * 100 * Decimal("0.01") * 7, 2)
    finally:
        transport.close()


def test_the_sim_terminal_runs_on_quantarb_s_clock_plus_its_own_shift(frozen_clock: Any) -> None:
    terminal = SimulatedMetaTrader5()
    terminal.initialize()
    start = terminal.qa_server_time()
    terminal.qa_advance(3600)
    frozen_clock.advance(60)
    assert terminal.qa_server_time() - start == 3_660_000
    assert clock.now() == frozen_clock.now()
