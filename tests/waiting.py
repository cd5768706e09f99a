"""Waiting on a condition instead of sleeping "long enough": poll until it holds, failing with what was awaited once
the stated deadline passes (a loaded machine makes a test slower, never wrong)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

EVERY_S = 0.05


def wait_for(
    condition: Callable[[], T],
    within_s: float,
    what: str,
    *,
    every_s: float = EVERY_S,
    tolerate: tuple[type[Exception], ...] = (),
) -> T:
    """`until` for code that runs no event loop (a test thread waiting on another process): the same polling, the
    same AssertionError naming `what` once `within_s` seconds have passed. A condition raising one of `tolerate`
    (a server not listening yet) counts as not yet; the last such error is named in the failure."""
    deadline = time.monotonic() + within_s
    last_error: Exception | None = None
    while True:
        try:
            value = condition()
        except tolerate as exc:
            last_error, value = exc, None
        if value:
            return value
        if time.monotonic() > deadline:
            detail = f" (last error: {type(last_error).__name__}: {last_error})" if last_error else ""
            raise AssertionError(f"{what}: not within {within_s} s{detail}")
        time.sleep(every_s)


async def until(condition: Callable[[], T], within_s: float, what: str, *, every_s: float = EVERY_S) -> T:
    """Poll `condition` on the running loop until it returns a true value (returned); AssertionError naming `what`
    once `within_s` seconds have passed without."""
    deadline = time.monotonic() + within_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within_s} s")
        await asyncio.sleep(every_s)


async def until_async(
    condition: Callable[[], Awaitable[T]], within_s: float, what: str, *, every_s: float = EVERY_S
) -> T:
    """`until` for a condition that must be awaited (a database read through `sync_to_async`)."""
    deadline = time.monotonic() + within_s
    while True:
        value = await condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within_s} s")
        await asyncio.sleep(every_s)
