"""One alert (category mt5) when a terminal goes down, raised by the check that found it; a flapping terminal keeps
that one alert instead of raising one per flap; it resolves once the terminal has been healthy for two minutes;
a terminal in maintenance raises none."""

from __future__ import annotations

from typing import Any

import pytest

from alerts.models import Alert
from mt5ops.health import check_terminal
from mt5ops.models import TerminalInstance
from mt5ops.services import terminal_action
from tests.fakes.fixtures import Mt5BridgeFake
from tests.mt5ops.helpers import advance

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(180)]


def alerts(tenant: Any) -> list[Alert]:
    return list(Alert.objects.filter(tenant=tenant, dedup_key__startswith="rule:mt5_terminal_down:").order_by("pk"))


def check(terminal: TerminalInstance, clock: Any, seconds: float = 5) -> None:
    advance(BRIDGE[0], clock, seconds)
    check_terminal(terminal, recover=False)


BRIDGE: list[Mt5BridgeFake] = []


@pytest.fixture(autouse=True)
def _bridge(mt5_bridge: Mt5BridgeFake) -> Any:
    BRIDGE[:] = [mt5_bridge]
    yield
    BRIDGE.clear()


def test_a_flapping_terminal_raises_one_alert_which_resolves_when_it_is_steady(
    bridge_terminal: TerminalInstance, mt5_bridge: Mt5BridgeFake, real_time_clock: Any, alice: Any
) -> None:
    check(bridge_terminal, real_time_clock)
    for _flap in range(6):  # down and back, six times in a minute and a half
        mt5_bridge.terminal.qa_fault("disconnected")
        check(bridge_terminal, real_time_clock)
        check(bridge_terminal, real_time_clock)
        mt5_bridge.terminal.qa_fault("disconnected", False)
        check(bridge_terminal, real_time_clock)
        check(bridge_terminal, real_time_clock)
    [alert] = alerts(alice.tenant)
    assert alert.category == "mt5" and alert.status != "resolved"
    assert alert.title.startswith("MT5 terminal Terminal A is ")
    for _ in range(25):  # steady for two minutes: the alert resolves
        check(bridge_terminal, real_time_clock)
    [alert] = alerts(alice.tenant)
    assert alert.status == "resolved"
    # A new outage after that is news again: a new alert.
    mt5_bridge.terminal.qa_fault("disconnected")
    check(bridge_terminal, real_time_clock)
    assert len(alerts(alice.tenant)) == 1  # degraded: no alert yet
    check(bridge_terminal, real_time_clock)
    assert [a.status for a in alerts(alice.tenant)] == ["resolved", "open"]


def test_a_terminal_in_maintenance_raises_no_alert(
    bridge_terminal: TerminalInstance, mt5_bridge: Mt5BridgeFake, real_time_clock: Any, alice: Any
) -> None:
    check(bridge_terminal, real_time_clock)
    terminal_action(terminal=bridge_terminal, action="maintenance_on", actor=alice.user)
    mt5_bridge.terminal.qa_fault("logged_out")
    for _ in range(5):
        check(bridge_terminal, real_time_clock)
    assert alerts(alice.tenant) == []
    # Out of maintenance while still failing: the alert is armed, the next check raises it.
    terminal_action(terminal=bridge_terminal, action="maintenance_off", actor=alice.user)
    check(bridge_terminal, real_time_clock)
    [alert] = alerts(alice.tenant)
    assert alert.status == "open" and "not logged in" in alert.title
    # Back into maintenance: the alert resolves (no alerts in maintenance).
    terminal_action(terminal=bridge_terminal, action="maintenance_on", actor=alice.user)
    [alert] = alerts(alice.tenant)
    assert alert.status == "resolved"
