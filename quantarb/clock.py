"""The one injectable clock every part of quantarb reads time from.

Production code calls `clock.now()` (an aware UTC datetime) and `clock.monotonic()`; tests install a
`FrozenClock` pinned to an open or a closed session and move it by hand, and simulations run a
`SimulatedClock` faster than real time. Pure Python: domain code may import it.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant as an aware UTC datetime."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, for measuring ages and intervals."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class FrozenClock:
    """A clock that moves only when told to."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._at = at.astimezone(UTC)
        self._mono = 1_000.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self._at

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._at += timedelta(seconds=seconds)
            self._mono += seconds

    def set(self, at: datetime) -> None:
        with self._lock:
            delta = (at.astimezone(UTC) - self._at).total_seconds()
            self._at = at.astimezone(UTC)
            self._mono += max(delta, 0.0)


class SimulatedClock:
    """Runs `speed` times faster than the wall clock from `start`."""

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        self._start = start.astimezone(UTC)
        self._speed = speed
        self._origin = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._origin) * self._speed)

    def monotonic(self) -> float:
        return (time.monotonic() - self._origin) * self._speed


_current: Clock = SystemClock()


def get_clock() -> Clock:
    return _current


def set_clock(new_clock: Clock) -> Clock:
    """Install `new_clock` for the whole process and return the previous one (tests restore it)."""
    global _current
    previous, _current = _current, new_clock
    return previous


def now() -> datetime:
    return _current.now()


def monotonic() -> float:
    return _current.monotonic()
