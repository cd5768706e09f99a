"""Terminal health checks through the gateway: a bridge terminal (the bridge fake), a simulated one, and the faults
an operator must see."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from mt5ops.health import check_terminals, latest_health, terminal_health_check
from mt5ops.models import TerminalHealth, TerminalInstance
from tests import canary
from tests.fakes.fixtures import Mt5BridgeFake

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(120)]


@pytest.fixture
def bridge_terminal(canary_accounts: dict[str, Any], mt5_bridge: Mt5BridgeFake) -> TerminalInstance:
    """Alpha's terminal (it runs the live canary MT5 account) pointed at the bridge fake."""
    mt5_bridge.terminal.qa_configure(accounts={81234567: (canary.CANARY_MT5_PASSWORD, "Bybit-Live")})
    terminal: TerminalInstance = canary_accounts["terminal"]
    terminal.bridge_port = mt5_bridge.port
    terminal.save()
    return terminal


def test_a_healthy_terminal_is_recorded(bridge_terminal: TerminalInstance, frozen_clock: Any) -> None:
    health = terminal_health_check(terminal=bridge_terminal)
    assert health.ok and health.reachable and health.connected and health.trade_allowed
    assert health.ping_ms == Decimal("1.800") and health.build == 5120 and health.error == ""
    assert health.at == frozen_clock.now() and latest_health(bridge_terminal) == health


def test_autotrading_off_is_a_fault(bridge_terminal: TerminalInstance, mt5_bridge: Mt5BridgeFake) -> None:
    mt5_bridge.terminal.qa_configure(terminal_trade_allowed=False)
    health = terminal_health_check(terminal=bridge_terminal)
    assert not health.ok and health.reachable and health.connected and not health.trade_allowed
    assert health.error == "AutoTrading is off"


def test_a_hung_terminal_and_a_refused_login_are_faults(
    bridge_terminal: TerminalInstance, mt5_bridge: Mt5BridgeFake
) -> None:
    mt5_bridge.terminal.qa_arm("ipc_timeout", count=-1)
    hung = terminal_health_check(terminal=bridge_terminal)
    assert not hung.ok and not hung.reachable and hung.error_code == -10005 and "IPC timeout" in hung.error
    mt5_bridge.terminal.qa_reset()
    mt5_bridge.terminal.qa_configure(accounts={81234567: ("changed", "Bybit-Live")})
    refused = terminal_health_check(terminal=bridge_terminal)
    assert not refused.ok and refused.reachable and refused.error_code == -6
    assert canary.CANARY_MT5_PASSWORD not in refused.error


def test_an_unreachable_bridge_is_recorded(canary_accounts: dict[str, Any]) -> None:
    terminal: TerminalInstance = canary_accounts["terminal"]
    terminal.bridge_port = 9
    terminal.save()
    health = terminal_health_check(terminal=terminal)
    assert not health.ok and not health.reachable and "127.0.0.1:9" in health.error


def test_the_job_checks_every_terminal_and_prunes_old_rows(
    bridge_terminal: TerminalInstance, alice: Any, frozen_clock: Any
) -> None:
    sim = TerminalInstance.objects.create(tenant=alice.tenant, label="Sim", backend="sim")
    old = TerminalHealth.objects.create(
        terminal=sim, at=frozen_clock.now() - timedelta(days=8), ok=True, reachable=True
    )
    assert check_terminals() == {"ok": 2, "fault": 0}
    assert not TerminalHealth.objects.filter(pk=old.pk).exists()
    assert latest_health(sim).ok


def test_the_health_job_is_scheduled() -> None:
    from quantarb.schedule import SCHEDULE

    assert any(job.task == "mt5ops.tasks.check_terminals" and job.every_s == 30 for job in SCHEDULE)
