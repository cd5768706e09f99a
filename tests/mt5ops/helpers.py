"""Helpers of MT5 operations' tests: the bridge fake's terminal logged in to the canary MT5 account, and quantarb's
clock moved together with the terminal's."""

from __future__ import annotations

from quantarb import clock
from tests import canary
from tests.fakes.fixtures import Mt5BridgeFake

LOGIN = 81234567
SERVER = "Bybit-Live"


def log_in(bridge: Mt5BridgeFake) -> None:
    """The terminal as it runs: initialised and logged in to the canary account."""
    bridge.terminal.qa_configure(accounts={LOGIN: (canary.CANARY_MT5_PASSWORD, SERVER)})
    assert bridge.terminal.initialize(login=LOGIN, password=canary.CANARY_MT5_PASSWORD, server=SERVER)


def advance(bridge: Mt5BridgeFake, pinned: clock.FrozenClock, seconds: float) -> None:
    """Move quantarb's clock and the bridge fake's terminal clock together (its ticks are stamped with it: a
    quantarb clock running ahead alone would read every tick as stale)."""
    pinned.advance(seconds)
    bridge.terminal.qa_advance(seconds)
