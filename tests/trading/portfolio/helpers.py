"""Helpers of the portfolio tests: a cash flow's audit trail, and a clock that runs with the wall clock shifted."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from accounts.models import AuditEvent
from trading.models import CashFlow


def actions(flow: CashFlow) -> list[str]:
    return list(
        AuditEvent.objects.filter(object_type="trading.cashflow", object_id=str(flow.pk))
        .order_by("seq")
        .values_list("action", flat=True)
    )


class ShiftedClock:
    """quantarb's clock running with the wall clock, `shift` ahead: moved together with the venues' clocks, so that
    every process agrees on the time after a jump of hours."""

    def __init__(self) -> None:
        self.shift = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.shift

    def monotonic(self) -> float:
        return time.monotonic()


def next_triple_rollover_ms(server_ms: int, rollover3days: int = 3) -> int:
    """The server-time midnight that ends the next MT5 triple-swap weekday (0 = Sunday) after `server_ms`."""
    day = datetime.fromtimestamp(server_ms / 1000, UTC).date()
    while (day.weekday() + 1) % 7 != rollover3days or datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
        days=1
    ) <= datetime.fromtimestamp(server_ms / 1000, UTC):
        day += timedelta(days=1)
    return int((datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)).timestamp() * 1000)
