"""Staged recovery against the out-of-process bridge fake and the real supervisor agent
(deploy/mt5-agent/agent.py) running a stand-in terminal that registers with the fake as its terminal process: each
fault is recovered by the right stage — a reconnect, a login with the stored credentials, a restart through the
agent — with backoff, healthy again within 120 s of the fault; the hourly restart budget holds; nothing is done
while an order on the terminal is in flight; AutoTrading off waits for an operator. Time between checks is
simulated (quantarb's clock and the fake terminal's move together); the network calls are real."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mt5ops.health import check_terminal
from mt5ops.models import TerminalEvent, TerminalInstance, TerminalStatus
from mt5ops.services import restarts_last_hour, set_agent_key
from tests.fakes.fixtures import Mt5BridgeFake, start_mt5_bridge
from tests.mt5ops.agent_harness import STANDIN, RunningAgent, running_agent, wait_until
from tests.mt5ops.helpers import advance, log_in
from trading.models import Order

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(300)]


@pytest.fixture
def agent(tmp_path: Path, mt5_bridge: Mt5BridgeFake) -> Iterator[RunningAgent]:
    """The agent, its stand-in terminal registered with the bridge fake as the terminal's process."""
    command = [sys.executable, str(STANDIN), "--bridge-port", str(mt5_bridge.port)]
    with running_agent(tmp_path, terminal_command=command) as running:
        wait_until(lambda: dict(mt5_bridge.terminal.qa_field())["terminal_pid"], what="the terminal's registration")
        yield running


@pytest.fixture
def supervised(bridge_terminal: TerminalInstance, agent: RunningAgent, mt5_bridge: Mt5BridgeFake) -> TerminalInstance:
    log_in(mt5_bridge)
    bridge_terminal.agent_host, bridge_terminal.agent_port = agent.host, agent.port
    set_agent_key(bridge_terminal, agent.key_line)
    bridge_terminal.save()
    return bridge_terminal


def run_checks(
    terminal: TerminalInstance, bridge: Mt5BridgeFake, clock: Any, *, seconds: float, every: float = 5
) -> list[str]:
    """The health job's checks every `every` s of simulated time for `seconds`; the states seen."""
    states = []
    elapsed = 0.0
    while elapsed < seconds:
        advance(bridge, clock, every)
        elapsed += every
        check_terminal(terminal)
        states.append(TerminalStatus.objects.get(terminal=terminal).state)
    return states


def actions(terminal: TerminalInstance) -> list[tuple[str, str]]:
    rows = TerminalEvent.objects.filter(terminal=terminal, kind="action").order_by("at", "pk")
    return [(row.action, row.outcome) for row in rows]


def healthy_after(terminal: TerminalInstance, bridge: Mt5BridgeFake, clock: Any, limit_s: float) -> float:
    """Check every 5 s until the terminal is healthy; the simulated seconds it took (fails past `limit_s`)."""
    elapsed = 0.0
    while elapsed <= limit_s:
        advance(bridge, clock, 5)
        elapsed += 5
        check_terminal(terminal)
        if TerminalStatus.objects.get(terminal=terminal).state == "healthy":
            return elapsed
    raise AssertionError(f"not healthy within {limit_s} s: {actions(terminal)}")


@pytest.mark.parametrize(
    ("fault", "stage"),
    [("logged_out", "relogin"), ("ticks_frozen", "relogin"), ("other_login", "relogin")],
)
def test_a_lost_login_a_stale_feed_and_a_wrong_account_are_recovered_by_logging_in_again(
    supervised: TerminalInstance, mt5_bridge: Mt5BridgeFake, real_time_clock: Any, fault: str, stage: str
) -> None:
    check_terminal(supervised)
    if fault == "other_login":
        mt5_bridge.terminal.qa_switch_login(5_550_123)
    else:
        mt5_bridge.terminal.qa_fault(fault)
        if fault == "ticks_frozen":
            advance(mt5_bridge, real_time_clock, 61)
    took = healthy_after(supervised, mt5_bridge, real_time_clock, 120)
    assert took <= 120
    # Two reconnects (they do not help), then a login with the stored credentials, which does.
    assert actions(supervised) == [("reinitialise", "done"), ("reinitialise", "done"), ("relogin", "done")]
    assert dict(mt5_bridge.terminal.qa_field())["starts"] == 1  # no restart was needed


@pytest.mark.parametrize("fault", ["ipc_timeout", "hang"])
def test_a_terminal_stuck_in_ipc_timeouts_or_hung_is_restarted_through_the_agent(
    supervised: TerminalInstance, mt5_bridge: Mt5BridgeFake, real_time_clock: Any, agent: RunningAgent, fault: str
) -> None:
    check_terminal(supervised)
    first_pid = dict(mt5_bridge.terminal.qa_field())["terminal_pid"]
    if fault == "hang":
        mt5_bridge.terminal.qa_fault("hang")  # a dialog on screen: nothing answers until the terminal restarts
    else:
        mt5_bridge.terminal.qa_arm("ipc_timeout", count=-1)
    took = healthy_after(supervised, mt5_bridge, real_time_clock, 120)
    assert took <= 120
    assert actions(supervised) == [
        ("reinitialise", "failed"),
        ("reinitialise", "failed"),
        ("restart_via_agent", "done"),
    ]
    field = dict(mt5_bridge.terminal.qa_field())
    assert field["starts"] == 2 and field["terminal_pid"] != first_pid  # a new terminal process
    assert agent.status()["pid"] == field["terminal_pid"]
    assert restarts_last_hour(supervised) == 1


def test_a_bridge_that_died_is_reconnected_once_it_is_back(
    bridge_terminal: TerminalInstance, real_time_clock: Any
) -> None:
    own = start_mt5_bridge()
    try:
        log_in(own)
        bridge_terminal.bridge_port = own.port
        bridge_terminal.save()
        check_terminal(bridge_terminal)
        own.control_conn.close()
        own.process.kill()  # the bridge process dies
        own.process.wait(timeout=10)
        states = []
        for _ in range(3):
            real_time_clock.advance(5)
            check_terminal(bridge_terminal)
            states.append(TerminalStatus.objects.get(terminal=bridge_terminal).state)
        assert states == ["degraded", "down", "down"]
        assert TerminalStatus.objects.get(terminal=bridge_terminal).failure == "bridge_down"
        assert {action for action, _outcome in actions(bridge_terminal)} == {"reinitialise"}  # never a restart
        own = start_mt5_bridge(bridge_terminal.bridge_port)  # its service manager starts it again
        log_in(own)
        took = healthy_after(bridge_terminal, own, real_time_clock, 120)
        assert took <= 120
    finally:
        if own.control_conn is not None:
            own.control_conn.close()
        own.process.kill()
        own.process.wait(timeout=10)


def test_autotrading_off_waits_for_an_operator(
    supervised: TerminalInstance, mt5_bridge: Mt5BridgeFake, real_time_clock: Any
) -> None:
    check_terminal(supervised)
    mt5_bridge.terminal.qa_configure(terminal_trade_allowed=False)
    run_checks(supervised, mt5_bridge, real_time_clock, seconds=30)
    assert actions(supervised) == []  # nothing automatic switches Algo Trading on
    [wait] = TerminalEvent.objects.filter(terminal=supervised, kind="wait")
    assert wait.failure == "autotrading_off" and "needs an operator" in wait.detail
    mt5_bridge.terminal.qa_configure(terminal_trade_allowed=True)  # the operator presses the button
    assert healthy_after(supervised, mt5_bridge, real_time_clock, 30) <= 10


def test_nothing_is_done_while_an_order_on_the_terminal_is_in_flight(
    supervised: TerminalInstance, mt5_bridge: Mt5BridgeFake, real_time_clock: Any, canary_accounts: Any
) -> None:
    check_terminal(supervised)
    order = Order.objects.create(
        tenant=supervised.tenant,
        account=canary_accounts["mt5"],
        leg="cfd",
        intent="open",
        client_order_id="qa-inflight-1",
        side="buy",
        kind="market",
        quantity=Decimal(1),
        status="unknown",
        created_at=real_time_clock.now(),
    )
    mt5_bridge.terminal.qa_fault("logged_out")
    run_checks(supervised, mt5_bridge, real_time_clock, seconds=60)
    assert actions(supervised) == []
    [wait] = TerminalEvent.objects.filter(terminal=supervised, kind="wait")
    assert "in flight" in wait.detail and wait.action == "reinitialise"
    Order.objects.filter(pk=order.pk).update(status="filled")  # its lookup found it
    assert healthy_after(supervised, mt5_bridge, real_time_clock, 120) <= 120
    assert actions(supervised)[-1] == ("relogin", "done")


def test_the_hourly_restart_budget_is_respected(
    supervised: TerminalInstance, mt5_bridge: Mt5BridgeFake, real_time_clock: Any, agent: RunningAgent
) -> None:
    """A fault no restart clears (the terminal's IPC keeps timing out whatever runs): three restarts in the hour,
    then recovery waits for the oldest to leave the window."""
    check_terminal(supervised)
    mt5_bridge.terminal.qa_fault("stale_state")  # what is on disk breaks every new terminal process too
    mt5_bridge.terminal.qa_arm("ipc_timeout", count=-1)
    run_checks(supervised, mt5_bridge, real_time_clock, seconds=60 * 60, every=60)
    restarts = [row for row in actions(supervised) if row[0] == "restart_via_agent"]
    assert len(restarts) == 3 and restarts_last_hour(supervised) == 3
    waits = TerminalEvent.objects.filter(terminal=supervised, kind="wait")
    assert any("restart budget" in row.detail for row in waits)
    run_checks(supervised, mt5_bridge, real_time_clock, seconds=30 * 60, every=60)
    assert restarts_last_hour(supervised) <= 3
    assert len([row for row in actions(supervised) if row[0] == "restart_via_agent"]) > 3  # the window moved on


def test_a_manual_restart_asked_for_while_an_order_is_in_flight_waits_for_it_then_runs(
    supervised: TerminalInstance,
    mt5_bridge: Mt5BridgeFake,
    real_time_clock: Any,
    canary_accounts: Any,
    agent: RunningAgent,
    alice: Any,
) -> None:
    """Recovery waits for the order or its lookup: an operator's restart is queued, not refused,
    and the first check after the order has settled takes it — by that operator, in the health log."""
    from mt5ops.services import terminal_action

    check_terminal(supervised)
    first_pid = dict(mt5_bridge.terminal.qa_field())["terminal_pid"]
    order = Order.objects.create(
        tenant=supervised.tenant,
        account=canary_accounts["mt5"],
        leg="cfd",
        intent="open",
        client_order_id="qa-inflight-manual",
        side="buy",
        kind="market",
        quantity=Decimal(1),
        status="submitting",
        created_at=real_time_clock.now(),
    )
    admin = alice.user
    result = terminal_action(terminal=supervised, action="restart_via_agent", actor=admin)
    assert result.outcome == "queued" and result.event.kind == "wait" and result.event.actor == admin
    run_checks(supervised, mt5_bridge, real_time_clock, seconds=20)
    assert actions(supervised) == []  # the order is still in flight: nothing ran
    assert dict(mt5_bridge.terminal.qa_field())["terminal_pid"] == first_pid
    Order.objects.filter(pk=order.pk).update(status="filled")
    advance(mt5_bridge, real_time_clock, 5)
    check_terminal(supervised)
    assert actions(supervised) == [("restart_via_agent", "done")]
    [event] = TerminalEvent.objects.filter(terminal=supervised, kind="action")
    assert event.actor == admin and not event.automatic and "queued at" in event.detail
    assert TerminalStatus.objects.get(terminal=supervised).queued_action == ""
    wait_until(lambda: dict(mt5_bridge.terminal.qa_field())["terminal_pid"] not in (None, first_pid))
    assert healthy_after(supervised, mt5_bridge, real_time_clock, 120) <= 120
    run_checks(supervised, mt5_bridge, real_time_clock, seconds=15)
    assert actions(supervised) == [("restart_via_agent", "done")]  # taken once
