"""Uptime and incidents from the health log (the terminal page's figures): time healthy over the window with
maintenance left out, and each outage with its time to recover."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from mt5ops.models import TerminalEvent, TerminalInstance
from mt5ops.selectors import incidents, uptime

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)


def change(
    terminal: TerminalInstance, hours_ago: float, before: str, after: str, failure: str = "", **extra: Any
) -> None:
    TerminalEvent.objects.create(
        terminal=terminal,
        at=NOW - timedelta(hours=hours_ago),
        kind="state",
        before=before,
        after=after,
        failure=failure,
        **extra,
    )


def test_uptime_leaves_maintenance_out_and_incidents_have_their_time_to_recover(alice: Any) -> None:
    terminal = TerminalInstance.objects.create(tenant=alice.tenant, label="T", backend="sim")
    change(terminal, 48, "degraded", "healthy")
    change(terminal, 20, "healthy", "degraded", "ipc_timeout")  # an outage of 2 h (went down)
    change(terminal, 19.99, "degraded", "down", "ipc_timeout")
    change(terminal, 18, "down", "healthy", outage_started_at=NOW - timedelta(hours=20))
    change(terminal, 10, "healthy", "maintenance")  # 4 h of maintenance: not counted
    change(terminal, 6, "maintenance", "healthy")
    # 24 h window: 20 h counted (4 h maintenance out), 2 h of them failing.
    assert uptime(terminal, timedelta(hours=24), NOW) == Decimal("90.00")
    # 7 d window: known from 48 h ago: 44 h counted, 2 h failing.
    assert uptime(terminal, timedelta(days=7), NOW) == (Decimal(42) / Decimal(44) * 100).quantize(Decimal("0.01"))
    [outage] = incidents(terminal, NOW - timedelta(days=30))
    assert outage.failure == "ipc_timeout" and outage.went_down and outage.recovered_after_s == 2 * 3600
    assert (
        uptime(TerminalInstance.objects.create(tenant=alice.tenant, label="U", backend="sim"), timedelta(days=1), NOW)
        is None
    )
