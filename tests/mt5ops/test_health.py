"""Health = ready to trade: a probe through the bridge fake (tests/fakes/mt5_bridge.py, out of
process) with each fault of the field injected, classified, recorded, and the terminal's state moved and logged."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from mt5ops.health import (
    check_terminal,
    check_terminals,
    latest_health,
    probe_target,
    take_lease,
    terminal_health_check,
)
from mt5ops.models import TerminalEvent, TerminalHealth, TerminalInstance, TerminalStatus
from mt5ops.probe import probe
from tests.fakes.fixtures import Mt5BridgeFake
from tests.mt5ops.helpers import LOGIN

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(180)]


def test_a_ready_terminal_is_healthy_with_every_fact_recorded(bridge_terminal: TerminalInstance) -> None:
    health = terminal_health_check(terminal=bridge_terminal)
    assert health.ok and health.failure == "healthy" and health.reason == "ok" and health.error == ""
    assert health.reachable and health.connected and health.trade_allowed and health.tradeapi_disabled is False
    assert health.login == LOGIN and health.account_trade_allowed and health.account_trade_expert
    assert health.build == 5120 and health.ping_ms == Decimal("1.800") and health.session_open
    assert health.tick_age_s is not None and health.tick_age_s < 5
    assert health.rtt_p50_ms is not None and health.rtt_p99_ms is not None and health.rtt_p50_ms <= health.rtt_p99_ms
    assert latest_health(bridge_terminal) == health
    status = TerminalStatus.objects.get(terminal=bridge_terminal)
    assert status.state == "healthy" and status.last_check_at == health.at


def _logged_out(bridge: Mt5BridgeFake, clock: Any) -> None:
    bridge.terminal.qa_fault("logged_out")


def _disconnected(bridge: Mt5BridgeFake, clock: Any) -> None:
    bridge.terminal.qa_fault("disconnected")


def _other_login(bridge: Mt5BridgeFake, clock: Any) -> None:
    bridge.terminal.qa_switch_login(5_550_123)


def _other_server(bridge: Mt5BridgeFake, clock: Any) -> None:
    bridge.terminal.qa_switch_login(LOGIN, "Bybit-Demo")


def _autotrading_off(bridge: Mt5BridgeFake, clock: Any) -> None:
    bridge.terminal.qa_configure(terminal_trade_allowed=False)


def _tradeapi_disabled(bridge: Mt5BridgeFake, clock: Any) -> None:
    bridge.terminal.qa_fault("tradeapi_disabled")


def _account_no_trade(bridge: Mt5BridgeFake, clock: Any) -> None:
    bridge.terminal.qa_configure(account_trade_allowed=False)


def _expert_disabled(bridge: Mt5BridgeFake, clock: Any) -> None:
    bridge.terminal.qa_fault("expert_disabled")


def _ipc_timeout(bridge: Mt5BridgeFake, clock: Any) -> None:
    bridge.terminal.qa_arm("ipc_timeout", count=-1)


def _ticks_frozen(bridge: Mt5BridgeFake, clock: Any) -> None:
    bridge.terminal.qa_fault("ticks_frozen")
    clock.advance(61)  # no tick for longer than the policy's 60 s, with the session open


def _hang(bridge: Mt5BridgeFake, clock: Any) -> None:
    bridge.terminal.qa_fault("hang")


FAULTS: list[tuple[str, Callable[[Mt5BridgeFake, Any], None], str, str]] = [
    ("logged out", _logged_out, "not_logged_in", "no_account"),
    ("disconnected", _disconnected, "not_logged_in", "disconnected"),
    ("another login", _other_login, "wrong_account", "other_login"),
    ("another server", _other_server, "wrong_account", "other_server"),
    ("AutoTrading off", _autotrading_off, "autotrading_off", "terminal_autotrading_off"),
    ("API disabled", _tradeapi_disabled, "autotrading_off", "tradeapi_disabled"),
    ("account may not trade", _account_no_trade, "autotrading_off", "account_trade_disabled"),
    ("no expert trading", _expert_disabled, "autotrading_off", "account_expert_disabled"),
    ("IPC timeout", _ipc_timeout, "ipc_timeout", "ipc_timeout"),
    ("ticks frozen", _ticks_frozen, "ticks_stale", "tick_age"),
    ("hung terminal", _hang, "not_responding", "no_answer"),
]


@pytest.mark.parametrize(("name", "inject", "failure", "reason"), FAULTS, ids=[fault[0] for fault in FAULTS])
def test_each_fault_is_classified_by_one_probe_within_its_timeouts(
    name: str,
    inject: Callable[[Mt5BridgeFake, Any], None],
    failure: str,
    reason: str,
    bridge_terminal: TerminalInstance,
    mt5_bridge: Mt5BridgeFake,
    real_time_clock: Any,
) -> None:
    assert terminal_health_check(terminal=bridge_terminal).ok
    inject(mt5_bridge, real_time_clock)
    started = time.monotonic()
    health = terminal_health_check(terminal=bridge_terminal)
    elapsed = time.monotonic() - started
    assert (health.failure, health.reason) == (failure, reason), health.error
    assert not health.ok and health.error
    assert elapsed < 4.0  # probe.py's timeouts: one probe takes at most ~3 s whatever the fault
    status = TerminalStatus.objects.get(terminal=bridge_terminal)
    assert status.state == "degraded" and status.failure == failure and status.reason == reason
    mt5_bridge.terminal.qa_fault("hang", False)


def test_a_bridge_that_is_not_there_is_bridge_down(bridge_terminal: TerminalInstance) -> None:
    bridge_terminal.bridge_port = 9  # nothing listens on the discard port here
    bridge_terminal.save()
    started = time.monotonic()
    health = terminal_health_check(terminal=bridge_terminal)
    assert time.monotonic() - started < 3.0
    assert (health.failure, health.reason) == ("bridge_down", "bridge_unreachable")
    assert not health.reachable and "127.0.0.1:9" in health.error


def test_two_failing_checks_make_a_terminal_down_and_the_log_has_each_change(
    bridge_terminal: TerminalInstance, mt5_bridge: Mt5BridgeFake, real_time_clock: Any
) -> None:
    check_terminal(bridge_terminal, recover=False)
    mt5_bridge.terminal.qa_fault("logged_out")
    for _ in range(2):
        real_time_clock.advance(5)
        check_terminal(bridge_terminal, recover=False)
    status = TerminalStatus.objects.get(terminal=bridge_terminal)
    assert status.state == "down" and status.failures == 2 and status.alert_open
    assert status.outage_started_at == real_time_clock.now() - timedelta(seconds=5)
    mt5_bridge.terminal.qa_fault("logged_out", False)
    for _ in range(2):
        real_time_clock.advance(5)
        check_terminal(bridge_terminal, recover=False)
    changes = list(
        TerminalEvent.objects.filter(terminal=bridge_terminal, kind="state")
        .order_by("at", "pk")
        .values_list("before", "after", "failure")
    )
    assert changes == [
        ("degraded", "healthy", ""),
        ("healthy", "degraded", "not_logged_in"),
        ("degraded", "down", "not_logged_in"),
        ("down", "degraded", ""),
        ("degraded", "healthy", ""),
    ]
    recovered = TerminalEvent.objects.filter(terminal=bridge_terminal, after="healthy").order_by("-at").first()
    assert recovered is not None and recovered.recovered_after_s == 15.0


def test_a_terminal_is_checked_by_one_check_at_a_time(
    bridge_terminal: TerminalInstance, alice: Any, real_time_clock: Any
) -> None:
    sim = TerminalInstance.objects.create(tenant=alice.tenant, label="Sim", backend="sim")
    assert take_lease(bridge_terminal.pk)  # a check of it is under way elsewhere
    assert check_terminals() == {"ok": 1, "fault": 0, "skipped": 1}
    assert not TerminalHealth.objects.filter(terminal=bridge_terminal).exists()
    assert latest_health(sim) is not None and latest_health(sim).ok
    assert check_terminal(bridge_terminal) is None
    real_time_clock.advance(31)  # a lease outlives no check: a crashed one is taken over
    assert check_terminal(bridge_terminal) is not None


def test_the_job_probes_terminals_in_parallel_and_prunes_old_rows(
    bridge_terminal: TerminalInstance, mt5_bridge: Mt5BridgeFake, alice: Any, real_time_clock: Any
) -> None:
    hung = TerminalInstance.objects.create(
        tenant=alice.tenant, label="Hung", backend="rpyc", host="127.0.0.1", bridge_port=mt5_bridge.port
    )
    other = TerminalInstance.objects.create(tenant=alice.tenant, label="Also hung", backend="rpyc", host="127.0.0.1")
    other.bridge_port = mt5_bridge.port
    other.save()
    old = TerminalHealth.objects.create(
        terminal=hung, at=real_time_clock.now() - timedelta(days=8), ok=True, reachable=True
    )
    mt5_bridge.terminal.qa_fault("hang")
    try:
        started = time.monotonic()
        assert check_terminals() == {"ok": 0, "fault": 3, "skipped": 0}
        # Three hung terminals probed, then each reconnected, in parallel: one probe's timeout and one step's,
        # not three of each (~3 s + ~8 s each).
        assert time.monotonic() - started < 16.0
    finally:
        mt5_bridge.terminal.qa_fault("hang", False)
    assert not TerminalHealth.objects.filter(pk=old.pk).exists()


def test_the_probe_asks_with_short_timeouts(bridge_terminal: TerminalInstance) -> None:
    from mt5ops import probe as probe_module

    target = probe_target(bridge_terminal)
    transport = probe_module.default_transport(target)
    assert transport._timeout_s == probe_module.REQUEST_TIMEOUT_S == 1.5  # type: ignore[attr-defined]
    assert transport._connect_timeout_s == probe_module.CONNECT_TIMEOUT_S  # type: ignore[attr-defined]
    assert probe_module.INITIALIZE_TIMEOUT_MS == 1_200
    assert target.expected_login == LOGIN and target.expected_server == "Bybit-Live"
    assert probe(target).facts.account_login == LOGIN


def test_the_health_job_runs_every_five_seconds() -> None:
    from quantarb.schedule import SCHEDULE

    assert any(job.task == "mt5ops.tasks.check_terminals" and job.every_s == 5 for job in SCHEDULE)


def test_an_order_refused_for_autotrading_since_the_last_check_fails_the_next_one(
    bridge_terminal: TerminalInstance, canary_accounts: dict[str, Any], real_time_clock: Any
) -> None:
    from trading.models import Order

    assert terminal_health_check(terminal=bridge_terminal).ok
    real_time_clock.advance(1)
    Order.objects.create(
        tenant=bridge_terminal.tenant,
        account=canary_accounts["mt5"],
        leg="cfd",
        intent="open",
        client_order_id="qa-refused-10027",
        side="buy",
        kind="market",
        quantity=Decimal(1),
        status="rejected",
        error="trading_disabled: MT5 retcode 10027: AutoTrading is off in the terminal: switch on Algo Trading",
        created_at=real_time_clock.now(),
    )
    real_time_clock.advance(4)
    refused = terminal_health_check(terminal=bridge_terminal)
    assert (refused.failure, refused.reason) == ("autotrading_off", "order_refused_10027")
    real_time_clock.advance(5)
    assert terminal_health_check(terminal=bridge_terminal).ok  # no refusal since: the terminal is fine again
