"""The MT5 gateway contract: every behaviour below holds for the `sim` backend (the simulated terminal in this
process) and for the `rpyc` backend against the bridge fake, a separate rpyc classic server process whose
MetaTrader5-shaped module refuses client-side dicts as a real terminal would."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from quantarb import clock
from tests.trading.venues.helpers import Rig
from tests.waiting import wait_for
from trading.domain.calendar import bybit_mt5_gold
from trading.venues.errors import VenueError, VenueErrorKind
from trading.venues.mt5.gateway import (
    COMMENT_MAX,
    DEFAULT_MAGIC,
    ORDER_FILLING_FOK,
    ORDER_FILLING_IOC,
    Mt5QuoteFeed,
    OrderRequest,
)

pytestmark = pytest.mark.timeout(60)


def buy(client_id: str, volume: str = "0.10", **fields: Any) -> OrderRequest:
    return OrderRequest(client_id, "buy", Decimal(volume), **fields)


# --- connection and account ---------------------------------------------------------------------------------------
def test_it_connects_and_reads_terminal_and_account(rig: Rig) -> None:
    gateway = rig.gateway(login=81234567, password="pw", server="Bybit-Live")
    status = gateway.connect()
    assert status.connected and status.trade_allowed and status.ping_ms == Decimal("1.800")
    account = gateway.account()
    assert account.login == 81234567 and account.currency == "USD" and account.balance == Decimal("10000")
    assert account.hedging and account.trade_allowed and account.margin_level is None  # no margin in use yet
    assert account.stop_out_level == Decimal(50) and account.stop_out_in_percent


def test_a_wrong_password_is_auth_failed(rig: Rig) -> None:
    rig.terminal.qa_configure(accounts={81234567: ("right", "Bybit-Live")})
    with pytest.raises(VenueError) as caught:
        rig.gateway(login=81234567, password="wrong", server="Bybit-Live").connect()
    assert caught.value.kind is VenueErrorKind.AUTH and caught.value.code == -6
    rig.gateway(login=81234567, password="right", server="Bybit-Live").connect()


def test_a_hung_terminal_is_an_ipc_timeout(rig: Rig) -> None:
    rig.terminal.qa_arm("ipc_timeout", count=-1)
    with pytest.raises(VenueError) as caught:
        rig.gateway().connect()
    assert caught.value.kind is VenueErrorKind.UNREACHABLE and caught.value.code == -10005
    assert "IPC timeout" in str(caught.value)


def test_it_reports_netting_and_autotrading_off(rig: Rig) -> None:
    rig.terminal.qa_configure(margin_mode=0, terminal_trade_allowed=False)
    gateway = rig.connected()
    assert not gateway.account().hedging
    assert not gateway.terminal_status().trade_allowed
    with pytest.raises(VenueError) as caught:
        gateway.place_order(buy("q-autotrading"))
    assert caught.value.kind is VenueErrorKind.TRADING_DISABLED and caught.value.code == 10027
    assert "AutoTrading" in str(caught.value)


# --- specs and ticks ----------------------------------------------------------------------------------------------
def test_symbol_spec_and_swap_terms_are_read_each_time(rig: Rig) -> None:
    gateway = rig.connected()
    spec = gateway.symbol_spec()
    assert (spec.symbol, spec.digits, spec.point) == ("XAUUSD.s", 2, Decimal("0.01"))
    assert (spec.contract_size, spec.volume_min, spec.volume_step) == (Decimal(100), Decimal("0.01"), Decimal("0.01"))
    assert spec.filling_mode == 2 and spec.currency_profit == "USD" and spec.ounce_step == 1
    assert (spec.swap_mode, spec.swap_long, spec.swap_short, spec.swap_rollover3days) == (
        1,
        Decimal("-55.2"),
        Decimal("21.4"),
        3,
    )
    rig.terminal.qa_configure(volume_step=0.1, contract_size=10.0)  # the broker changed the spec
    changed = gateway.symbol_spec()
    assert (changed.volume_step, changed.contract_size) == (Decimal("0.1"), Decimal(10))


def test_the_server_offset_is_derived_from_fresh_ticks(rig: Rig) -> None:
    gateway = rig.connected()
    offset = gateway.server_offset(interval_s=0.05)
    # The fake's server runs on New York close time: GMT+2 in (US) winter, GMT+3 in summer.
    assert offset == bybit_mt5_gold().server_offset(clock.now())
    assert offset in (timedelta(hours=2), timedelta(hours=3))
    tick = gateway.tick()
    assert tick.at is not None and abs((clock.now() - tick.at).total_seconds()) < 5
    assert Decimal(4000) < tick.bid < tick.ask < Decimal(5200)


def test_the_quote_feed_polls_ticks_in_utc(rig: Rig) -> None:
    gateway = rig.connected()
    gateway.server_offset(interval_s=0.05)
    feed = Mt5QuoteFeed(gateway, "bybit-mt5:XAUUSD.s")
    quotes = feed.snapshot() or feed.snapshot()
    assert quotes and quotes[0].source == "bybit-mt5:XAUUSD.s"
    assert abs(quotes[0].ts_ms / 1000 - clock.now().timestamp()) < 5


def test_a_closed_market_is_detected(rig: Rig) -> None:
    gateway = rig.connected(stale_after_s=0.2)
    assert gateway.market_state(polls=20, interval_s=0.02).open
    rig.terminal.qa_configure(market_open=False)  # ticks stop: the last one stays and ages
    gateway.tick()

    def closed() -> Any:  # once the last tick has aged past `stale_after_s`
        state = gateway.market_state(polls=3, interval_s=0.02)
        return None if state.open else state

    state = wait_for(closed, 5, "the market seen closed")
    assert not state.open and state.reason == "no_fresh_tick" and (state.last_tick_age_s or 0) > 0.2
    with pytest.raises(VenueError) as caught:
        gateway.place_order(buy("q-closed"))
    assert caught.value.kind is VenueErrorKind.MARKET_CLOSED and caught.value.code == 10018


# --- orders -------------------------------------------------------------------------------------------------------
def test_an_order_carries_magic_comment_and_the_symbols_filling(rig: Rig) -> None:
    gateway = rig.connected()
    result = gateway.place_order(buy("h42-cfd-a1", price=None, deviation=30))
    assert result.status == "filled" and result.retcode == 10009 and result.volume == Decimal("0.10")
    assert result.position_ticket == result.order_ticket and not result.resolved_by_lookup
    [sent] = rig.state()["sent"]
    assert sent["magic"] == DEFAULT_MAGIC and sent["comment"] == "h42-cfd-a1" and sent["deviation"] == 30
    assert sent["type_filling"] == ORDER_FILLING_IOC  # filling_mode 2: IOC only


@pytest.mark.parametrize(("filling_mode", "expected"), [(1, ORDER_FILLING_FOK), (3, ORDER_FILLING_FOK), (2, 1)])
def test_the_filling_follows_the_symbols_filling_mode(rig: Rig, filling_mode: int, expected: int) -> None:
    rig.terminal.qa_configure(filling_mode=filling_mode)
    rig.connected().place_order(buy(f"fill-{filling_mode}"))
    assert rig.state()["sent"][0]["type_filling"] == expected


def test_a_long_client_id_is_refused_before_sending(rig: Rig) -> None:
    gateway = rig.connected()
    with pytest.raises(VenueError) as caught:
        gateway.place_order(buy("x" * (COMMENT_MAX + 1)))
    assert caught.value.kind is VenueErrorKind.REJECTED and "26" in str(caught.value)
    gateway.place_order(buy("x" * COMMENT_MAX))
    assert [sent["comment"] for sent in rig.state()["sent"]] == ["x" * COMMENT_MAX]


def test_a_volume_off_the_step_is_refused_before_sending(rig: Rig) -> None:
    gateway = rig.connected()
    with pytest.raises(VenueError) as caught:
        gateway.place_order(buy("q-step", "0.015"))
    assert caught.value.code == 10014 and rig.state()["sent"] == []


@pytest.mark.parametrize(
    ("retcode", "kind"),
    [
        (10004, VenueErrorKind.PRICE_MOVED),
        (10020, VenueErrorKind.PRICE_MOVED),
        (10014, VenueErrorKind.REJECTED),
        (10018, VenueErrorKind.MARKET_CLOSED),
        (10019, VenueErrorKind.NO_MONEY),
        (10027, VenueErrorKind.TRADING_DISABLED),
        (10030, VenueErrorKind.REJECTED),
    ],
)
def test_retcodes_are_classified(rig: Rig, retcode: int, kind: VenueErrorKind) -> None:
    gateway = rig.connected()
    rig.terminal.qa_arm("retcode", code=retcode)
    with pytest.raises(VenueError) as caught:
        gateway.place_order(buy(f"rc-{retcode}"))
    assert caught.value.kind is kind and caught.value.code == retcode and str(retcode) in str(caught.value)
    assert rig.state()["deals"] == []  # nothing executed


def test_the_terminal_computes_margin_by_the_symbols_calc_mode(rig: Rig) -> None:
    gateway = rig.connected()
    price = Decimal("4600.25")
    # CFD leverage (the simulated broker's gold): 0.5 lot × 100 oz × 4,600.25 ÷ 100 × rate 1
    assert gateway.margin_for("buy", Decimal("0.5"), price) == Decimal("2300.125")
    rig.terminal.qa_configure(trade_calc_mode=2, margin_rate=0.05)  # CFD: lots × 100 × price × 5 %, no leverage
    assert gateway.margin_for("sell", Decimal("0.5"), price) == Decimal("11500.625")
    rig.terminal.qa_configure(trade_calc_mode=0, currency_margin="XAU", margin_rate=2.0)  # Forex: 50 ÷ 100 × 2 XAU
    assert gateway.margin_for("buy", Decimal("0.5"), price) == Decimal("4600.25")  # 1 XAU at the price, in USD
    with pytest.raises(VenueError) as caught:
        gateway.margin_for("buy", Decimal(0), price)
    assert caught.value.code == -2


def test_the_accounts_margin_is_its_positions_margin_at_the_market(rig: Rig) -> None:
    gateway = rig.connected()
    gateway.place_order(buy("m-1", "0.30"))
    account, tick = gateway.account(), gateway.tick()
    # 0.3 lot × 100 oz × the ask ÷ 100: the simulated market may move a few cents between the two calls
    assert abs(account.margin - gateway.margin_for("buy", Decimal("0.30"), tick.ask)) < Decimal("0.5")
    assert account.margin_level is not None and abs(account.margin_level - account.equity / account.margin * 100) < 1
    assert gateway.symbol_spec().currency_margin == "USD"


def test_the_venue_refuses_an_unsupported_filling_and_too_little_money(rig: Rig) -> None:
    gateway = rig.connected()
    rig.terminal.qa_configure(balance=100.0)
    with pytest.raises(VenueError) as caught:
        gateway.place_order(buy("q-money", "1.00"))
    assert caught.value.kind is VenueErrorKind.NO_MONEY and caught.value.code == 10019


def test_a_lost_answer_is_resolved_by_lookup_without_a_second_order(rig: Rig) -> None:
    gateway = rig.connected()
    rig.terminal.qa_arm("lose_answer")  # executed, then the call answers None with -10005
    result = gateway.place_order(buy("h7-cfd-a1"))
    assert result.resolved_by_lookup and result.status == "filled" and result.volume == Decimal("0.10")
    state = rig.state()
    assert len(state["sent"]) == 1 and len(state["deals"]) == 1
    assert result.order_ticket == state["orders"][0]["ticket"] and result.price == Decimal(
        str(state["deals"][0]["price"])
    ).quantize(Decimal("0.00000001"))
    # A caller unsure of the outcome asks again with look_up_first: it is found, not sent.
    again = gateway.place_order(buy("h7-cfd-a1"), look_up_first=True)
    assert again.order_ticket == result.order_ticket and len(rig.state()["sent"]) == 1


def test_an_order_lost_before_the_venue_stays_ambiguous_and_is_not_resent(rig: Rig) -> None:
    gateway = rig.connected(lookup_attempts=2)
    rig.terminal.qa_arm("drop_request")  # the send itself times out: nothing reaches the terminal
    with pytest.raises(VenueError) as caught:
        gateway.place_order(buy("h8-cfd-a1"))
    assert caught.value.kind is VenueErrorKind.AMBIGUOUS and "look it up again" in str(caught.value)
    assert rig.state()["sent"] == []
    assert gateway.find_order("h8-cfd-a1") is None


def test_find_order_ignores_other_magic_numbers(rig: Rig) -> None:
    rig.connected(magic=111).place_order(buy("shared-id"))
    assert rig.connected().find_order("shared-id") is None
    assert rig.connected(magic=111).find_order("shared-id") is not None


def test_a_position_is_closed_by_its_ticket(rig: Rig) -> None:
    gateway = rig.connected()
    gateway.place_order(buy("h9-open"))
    [position] = gateway.positions()
    assert position.ours and position.comment == "h9-open" and position.side == "buy"
    closed = gateway.close_position(position, "h9-close")
    assert closed.status == "filled" and closed.position_ticket == position.ticket
    assert gateway.positions() == ()
    assert rig.state()["sent"][-1]["position"] == position.ticket


# --- venue-side changes -------------------------------------------------------------------------------------------
def test_stop_outs_and_manual_trades_are_seen(rig: Rig) -> None:
    gateway = rig.connected()
    gateway.server_offset(interval_s=0.05)
    since = clock.now() - timedelta(seconds=1)
    gateway.place_order(buy("h10-cfd-a1"))
    rig.terminal.qa_manual_trade("sell", 0.2)
    activity = gateway.activity_since(since)
    assert len(activity.positions) == 2 and sum(p.ours for p in activity.positions) == 1
    [manual] = activity.foreign_deals
    assert manual.manual and manual.side == "sell" and manual.volume == Decimal("0.20") and manual.magic == 0
    rig.terminal.qa_stop_out()
    after = gateway.activity_since(since)
    assert after.positions == ()
    stop_outs = [deal for deal in after.deals if deal.stop_out]
    assert len(stop_outs) == 2 and all(deal.entry == 1 for deal in stop_outs)
    assert all(deal.at is not None and deal.at >= since for deal in after.deals)
    # Deals before `since` are left out.
    assert gateway.activity_since(clock.now() + timedelta(seconds=5)).deals == ()
