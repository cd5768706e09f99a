"""What differs between the MT5 backends, and the gateway's rules that need a pinned clock or a scripted answer:
native selection without the package, the bridge's own failures (stalls, refusals, no package, nothing
listening), the server-time offset and market closures on the real calendar, retcode and last_error mapping, and a
property: however answers are lost, no client order id ever executes twice."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import rpyc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rpyc.core.service import SlaveService
from rpyc.utils.server import ThreadedServer

from quantarb import clock
from tests.fakes.fixtures import Mt5BridgeFake
from trading.domain.calendar import bybit_mt5_gold
from trading.venues.errors import VenueError, VenueErrorKind
from trading.venues.mt5.gateway import (
    ModuleTransport,
    Mt5Gateway,
    OrderRequest,
    choose_filling,
    error_from_last_error,
    error_from_retcode,
    terminal_gateway,
    transport_for,
)
from trading.venues.mt5.rpyc_backend import RpycTransport
from trading.venues.mt5.sim import SimulatedMetaTrader5

pytestmark = pytest.mark.timeout(120)


def sim_gateway(terminal: SimulatedMetaTrader5, **options: Any) -> Mt5Gateway:
    options.setdefault("lookup_interval_s", 0.0)
    gateway = Mt5Gateway(ModuleTransport(terminal, "simulated terminal"), **options)
    gateway.connect()
    return gateway


# --- backend selection ------------------------------------------------------------------------------------------
@pytest.mark.skipif(importlib.util.find_spec("MetaTrader5") is not None, reason="the MetaTrader5 package is here")
def test_the_native_backend_without_the_package_is_a_clear_error() -> None:
    with pytest.raises(VenueError) as caught:
        transport_for("native", terminal_path=r"C:\MT5\terminal64.exe")
    assert caught.value.kind is VenueErrorKind.UNREACHABLE
    assert "Windows only" in str(caught.value) and "rpyc bridge" in str(caught.value)


def test_backends_are_chosen_by_the_terminal_instance() -> None:
    class Terminal:
        backend, host, bridge_port, terminal_path, pk = "rpyc", "127.0.0.1", 9, "", 1

    assert isinstance(terminal_gateway(Terminal()).transport, RpycTransport)
    Terminal.backend = "sim"
    sim = terminal_gateway(Terminal(), {"login": "81234567", "password": "p", "server": "s"})
    assert isinstance(sim.transport, ModuleTransport) and "password" not in repr(sim)
    assert sim.connect().connected and sim.account().login == 81234567
    # The same simulated terminal serves every gateway of that instance: state survives between uses.
    assert terminal_gateway(Terminal()).transport.module is sim.transport.module  # type: ignore[attr-defined]
    Terminal.backend = "abacus"
    with pytest.raises(VenueError):
        terminal_gateway(Terminal())


# --- the bridge's own failures ------------------------------------------------------------------------------------
def test_nothing_listening_is_unreachable() -> None:
    with pytest.raises(VenueError) as caught:
        Mt5Gateway(RpycTransport("127.0.0.1", 9, connect_timeout_s=2)).connect()
    assert caught.value.kind is VenueErrorKind.UNREACHABLE and "127.0.0.1:9" in str(caught.value)


@pytest.fixture
def bare_classic_server() -> Iterator[int]:
    """An rpyc classic server in this process (Linux: no MetaTrader5 package), on loopback."""
    server = ThreadedServer(SlaveService, hostname="127.0.0.1", port=0)
    server._listen()
    thread = threading.Thread(target=server.start, daemon=True)
    thread.start()
    yield server.port
    server.close()


def test_a_bridge_without_the_package_says_so(bare_classic_server: int) -> None:
    with pytest.raises(VenueError) as caught:
        Mt5Gateway(RpycTransport("127.0.0.1", bare_classic_server)).connect()
    assert caught.value.kind is VenueErrorKind.UNREACHABLE and "no MetaTrader5 package" in str(caught.value)


def test_the_bridge_refuses_a_dict_built_on_the_client(mt5_bridge: Mt5BridgeFake) -> None:
    """What a naive client gets: the request dict crosses as a proxy, which the terminal's extension won't read."""
    conn = rpyc.classic.connect("127.0.0.1", mt5_bridge.port)
    try:
        remote = conn.modules.MetaTrader5
        assert remote.initialize()
        request = {"action": 1, "symbol": "XAUUSD.s", "volume": 0.1, "type": 0, "type_filling": 1}
        assert remote.order_send(request) is None
        assert tuple(remote.last_error()) == (-2, 'Invalid "request" argument')
        # Built on the far side, the same request is accepted.
        answer = remote.order_send(conn.builtins.dict(**request))
        assert answer.retcode == 10009 and answer._asdict()["volume"] == 0.1
    finally:
        conn.close()


def test_a_stalled_answer_times_out_and_is_resolved_by_lookup(mt5_bridge: Mt5BridgeFake) -> None:
    gateway = Mt5Gateway(RpycTransport("127.0.0.1", mt5_bridge.port, timeout_s=1.0), lookup_interval_s=0.1)
    gateway.connect()
    mt5_bridge.terminal.qa_arm("stall", seconds=3)  # executed, answered after the client gave up
    result = gateway.place_order(OrderRequest("h11-cfd-a1", "sell", Decimal("0.05")))
    assert result.resolved_by_lookup and result.status == "filled" and result.volume == Decimal("0.05")
    state = mt5_bridge.state()
    assert len(state["sent"]) == 1 and len(state["deals"]) == 1
    gateway.close()


def test_calls_cross_the_bridge_as_plain_values(mt5_bridge: Mt5BridgeFake) -> None:
    transport = RpycTransport("127.0.0.1", mt5_bridge.port)
    try:
        transport.call("initialize")
        info, error = transport.call("symbol_info", "XAUUSD.s")
        # A dict of plain values, converted with _asdict() on the far side: no proxies came back.
        assert type(info) is dict and error == (1, "Success")
        assert all(isinstance(value, str | int | float | bool) for value in info.values())
        with pytest.raises(TypeError):
            transport.call("history_deals_get", datetime(2026, 1, 1, tzinfo=UTC), 0)  # times go as int seconds
    finally:
        transport.close()


# --- server time and sessions on the real calendar ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("at", "offset"),
    [
        (datetime(2026, 7, 15, 12, 0, tzinfo=UTC), timedelta(hours=3)),  # US daylight saving: GMT+3
        (datetime(2026, 11, 18, 12, 0, tzinfo=UTC), timedelta(hours=2)),  # winter: GMT+2
    ],
)
def test_the_server_offset_follows_the_broker_clock(at: datetime, offset: timedelta) -> None:
    pinned = clock.FrozenClock(at)
    previous = clock.set_clock(pinned)
    try:
        gateway = sim_gateway(SimulatedMetaTrader5(calendar=bybit_mt5_gold()))
        assert gateway.server_offset(polls=2, interval_s=0) is None  # the clock stands still: no tick moves
        gateway.tick()
        pinned.advance(0.5)
        assert gateway.server_offset(polls=1) == offset
        pinned.advance(20)  # a tick a little late still rounds to the offset
        tick = gateway.tick()
        assert tick.at == pinned.now()
    finally:
        clock.set_clock(previous)


def test_the_weekend_is_closed_on_the_real_calendar() -> None:
    pinned = clock.FrozenClock(datetime(2026, 11, 20, 21, 0, tzinfo=UTC))  # Friday 23:00 server time: open
    previous = clock.set_clock(pinned)
    try:
        terminal = SimulatedMetaTrader5(calendar=bybit_mt5_gold())
        gateway = sim_gateway(terminal, stale_after_s=60)
        gateway.tick()
        pinned.advance(1)
        assert gateway.market_state(polls=1).open
        pinned.set(datetime(2026, 11, 21, 12, 0, tzinfo=UTC))  # Saturday
        state = gateway.market_state(polls=2, interval_s=0)
        assert not state.open and state.last_tick_age_s is not None and state.last_tick_age_s > 3600
        with pytest.raises(VenueError) as caught:
            gateway.place_order(OrderRequest("h12-cfd-a1", "buy", Decimal("0.01")))
        assert caught.value.kind is VenueErrorKind.MARKET_CLOSED
    finally:
        clock.set_clock(previous)


# --- mapping ------------------------------------------------------------------------------------------------------
def test_last_errors_are_classified() -> None:
    assert error_from_last_error(-6, "Authorization failed", doing="logging in").kind is VenueErrorKind.AUTH
    timeout = error_from_last_error(-10005, "IPC timeout", doing="reading the account")
    assert timeout.kind is VenueErrorKind.UNREACHABLE and "IPC timeout" in str(timeout)
    assert error_from_last_error(-10003, "IPC initialize failed", doing="x").kind is VenueErrorKind.UNREACHABLE
    assert error_from_last_error(-2, 'Invalid "comment" argument', doing="x").kind is VenueErrorKind.REJECTED
    assert error_from_retcode(10031).kind is VenueErrorKind.UNREACHABLE
    assert error_from_retcode(10006, "Request rejected").kind is VenueErrorKind.REJECTED


def test_filling_choice() -> None:
    assert [choose_filling(mode) for mode in (0, 1, 2, 3)] == [2, 0, 1, 0]


class PartialFillTransport(ModuleTransport):
    """A terminal whose broker fills part of an IOC order (10010): the real terminal's answer, shape for shape."""

    def order_send(self, request: dict[str, Any]) -> tuple[Any, tuple[int, str]]:
        answer, error = super().order_send({**request, "volume": request["volume"] / 2})
        return {**answer, "retcode": 10010}, error


def test_a_partial_fill_is_reported_as_partial() -> None:
    terminal = SimulatedMetaTrader5()
    gateway = Mt5Gateway(PartialFillTransport(terminal, "partial"))
    gateway.connect()
    result = gateway.place_order(OrderRequest("h13-cfd-a1", "buy", Decimal("0.20")))
    assert result.status == "partial" and result.retcode == 10010 and result.volume == Decimal("0.10")


# --- no duplicate, however answers are lost -----------------------------------------------------------------------
FAULTS = st.sampled_from(["none", "lose_answer", "drop_request", "retcode_10004", "retcode_10018"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cases=st.lists(st.tuples(FAULTS, st.booleans()), min_size=1, max_size=4))
def test_no_client_order_id_executes_twice(cases: list[tuple[str, bool]]) -> None:
    """Each case sends one order with its fault armed; whatever happened, the caller then retries the same client id
    the safe way (look up first). Every client id executes at most once, and one lost after execution is found."""
    terminal = SimulatedMetaTrader5()
    gateway = sim_gateway(terminal, lookup_attempts=1)
    for index, (fault, retry) in enumerate(cases):
        client_id = f"p{index}-cfd-a1"
        if fault.startswith("retcode_"):
            terminal.qa_arm("retcode", code=int(fault.split("_")[1]))
        elif fault != "none":
            terminal.qa_arm(fault)
        outcome: Any
        try:
            outcome = gateway.place_order(OrderRequest(client_id, "buy", Decimal("0.01")))
        except VenueError as exc:
            outcome = exc
        if fault == "lose_answer":
            assert outcome.resolved_by_lookup  # executed, answer lost, found
        if retry:
            gateway.place_order(OrderRequest(client_id, "buy", Decimal("0.01")), look_up_first=True)
    executions: dict[str, int] = {}
    for deal in terminal.qa_state()[2][1]:
        comment = dict(deal)["comment"]
        executions[comment] = executions.get(comment, 0) + 1
    assert all(count == 1 for count in executions.values()), executions
