"""Fixtures of MT5 operations' tests: a terminal pointed at the bridge fake (tests/fakes/mt5_bridge.py), logged in
to the canary MT5 account as a running terminal is, and quantarb's clock at the real time (the fake's ticks are
stamped with the real clock) with the demo's always-open calendar (so tick ages count at any hour)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from mt5ops.models import TerminalInstance
from quantarb import clock
from tests.fakes.fixtures import Mt5BridgeFake
from tests.mt5ops.helpers import log_in


@pytest.fixture
def real_time_clock(settings: Any) -> Iterator[clock.FrozenClock]:
    settings.QUANTARB_DEMO_CALENDAR = True
    pinned = clock.FrozenClock(datetime.now(UTC))
    previous = clock.set_clock(pinned)
    yield pinned
    clock.set_clock(previous)


@pytest.fixture
def bridge_terminal(
    canary_accounts: dict[str, Any], mt5_bridge: Mt5BridgeFake, real_time_clock: clock.FrozenClock
) -> TerminalInstance:
    log_in(mt5_bridge)
    terminal: TerminalInstance = canary_accounts["terminal"]
    terminal.bridge_port = mt5_bridge.port
    terminal.save()
    return terminal
