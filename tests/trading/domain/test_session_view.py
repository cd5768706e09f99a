"""The session view the decision and the risk checks read, and the entry windows around opens and closes."""

from __future__ import annotations

from datetime import UTC, datetime

from trading.domain.calendar import EntryBlock, SessionView, bybit_mt5_gold, demo_always_open, entry_block

MINUTE = 60_000


def block(view: SessionView, now_ms: int) -> EntryBlock | None:
    return entry_block(view, now_ms, no_entry_before_close_minutes=15, no_entry_after_open_minutes=10)


def test_it_converts_a_calendar_status_to_milliseconds() -> None:
    at = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # a Wednesday: open
    view = SessionView.of(bybit_mt5_gold().status(at))
    now_ms = int(at.timestamp() * 1000)
    assert view.is_open
    assert view.opened_at_ms is not None and view.opened_at_ms < now_ms
    assert view.closes_at_ms is not None and view.closes_at_ms > now_ms
    assert SessionView.of(demo_always_open().status(at)) == SessionView(True)


def test_entry_windows() -> None:
    now = 1_800_000_000_000
    assert block(SessionView(False), now) is EntryBlock.CLOSED
    assert block(SessionView(True, now - 60 * MINUTE, now + 15 * MINUTE), now) is EntryBlock.BEFORE_CLOSE
    assert block(SessionView(True, now - 60 * MINUTE, now + 16 * MINUTE), now) is None
    assert block(SessionView(True, now - 9 * MINUTE, now + 60 * MINUTE), now) is EntryBlock.AFTER_OPEN
    assert block(SessionView(True, now - 10 * MINUTE, now + 60 * MINUTE), now) is None
    assert block(SessionView(True), now) is None  # the demo: no windows
