"""The CFD session calendar in broker server time (ARCHITECTURE.md "Sessions and time").

`bybit_mt5_gold()` trades 01:00–23:59 server time Monday–Friday on the New York close convention
(server = New York + 7 h: GMT+2 in winter, GMT+3 during US daylight saving). In UTC that is a close at 21:59
and a reopen at 23:00 in winter, a close at 20:59 and a reopen at 22:00 in summer. US daylight saving starts
on Sunday 2026-03-08 and ends on Sunday 2026-11-01; both changes fall inside the weekend.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantarb import clock
from quantarb.clock import FrozenClock, SimulatedClock, SystemClock
from trading.domain.calendar import (
    DayHours,
    ServerTimeRule,
    SessionCalendar,
    SessionState,
    bybit_mt5_gold,
    demo_always_open,
    observed_server_offset,
)

EXAMPLES = settings(max_examples=200, deadline=None)
GOLD = bybit_mt5_gold()


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture
def frozen() -> Iterator[FrozenClock]:
    """A process clock pinned by the test; the previous clock is restored afterwards."""
    pinned = FrozenClock(utc(2026, 3, 5, 12, 0))
    previous = clock.set_clock(pinned)
    yield pinned
    clock.set_clock(previous)


# --- server time ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("at", "hours"),
    [
        (utc(2026, 3, 8, 6, 59, 59), 2),  # US winter: New York GMT−5, server GMT+2
        (utc(2026, 3, 8, 7, 0), 3),  # 02:00 EST → 03:00 EDT
        (utc(2026, 11, 1, 5, 59, 59), 3),
        (utc(2026, 11, 1, 6, 0), 2),  # 02:00 EDT → 01:00 EST
    ],
)
def test_the_ny_close_server_offset_follows_us_daylight_saving(at: datetime, hours: int) -> None:
    assert GOLD.server_offset(at) == timedelta(hours=hours)


def test_other_server_time_rules_do_not_follow_daylight_saving() -> None:
    fixed = SessionCalendar(name="fixed", server_time=ServerTimeRule.FIXED, fixed_offset_minutes=120)
    plain = SessionCalendar(name="utc", server_time=ServerTimeRule.UTC)

    for at in (utc(2026, 1, 15, 12), utc(2026, 7, 15, 12)):
        assert fixed.server_offset(at) == timedelta(hours=2)
        assert plain.server_offset(at) == timedelta(0)


@EXAMPLES
@given(st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)))
def test_server_wall_time_converts_back_to_the_same_instant_on_trading_days(at: datetime) -> None:
    wall = GOLD.to_server(at)
    # The daylight-saving changes happen on Sunday morning server time, where wall times repeat or are
    # skipped; the calendar only resolves wall times on trading days.
    if wall.weekday() == 6:
        return

    assert GOLD.to_utc(wall) == at


# --- the daily break across the daylight-saving changes ---------------------------------------------------
@pytest.mark.parametrize(
    ("last_open", "closes_at", "reopens_at"),
    [
        # Thursday before the March change (winter, GMT+2): server 23:59 / 01:00.
        (utc(2026, 3, 5, 21, 58, 59), utc(2026, 3, 5, 21, 59), utc(2026, 3, 5, 23, 0)),
        # Tuesday after the March change (summer, GMT+3): one hour earlier in UTC.
        (utc(2026, 3, 10, 20, 58, 59), utc(2026, 3, 10, 20, 59), utc(2026, 3, 10, 22, 0)),
        # Thursday before the November change (summer).
        (utc(2026, 10, 29, 20, 58, 59), utc(2026, 10, 29, 20, 59), utc(2026, 10, 29, 22, 0)),
        # Tuesday after the November change (winter again).
        (utc(2026, 11, 3, 21, 58, 59), utc(2026, 11, 3, 21, 59), utc(2026, 11, 3, 23, 0)),
    ],
)
def test_the_daily_break_moves_in_utc_with_us_daylight_saving(
    last_open: datetime, closes_at: datetime, reopens_at: datetime
) -> None:
    before = GOLD.status(last_open)
    at_close = GOLD.status(closes_at)
    in_break = GOLD.status(closes_at + timedelta(minutes=30))
    at_reopen = GOLD.status(reopens_at)

    assert before.state is SessionState.OPEN and before.closes_at == closes_at
    assert at_close.state is SessionState.BREAK and at_close.opens_at == reopens_at
    assert in_break.state is SessionState.BREAK and in_break.opens_at == reopens_at
    assert at_reopen.state is SessionState.OPEN and at_reopen.opened_at == reopens_at
    assert not at_close.is_open


def test_an_open_status_carries_the_sessions_utc_bounds() -> None:
    status = GOLD.status(utc(2026, 3, 5, 12, 0))

    assert status.is_open
    assert (status.opened_at, status.closes_at, status.opens_at) == (
        utc(2026, 3, 4, 23, 0),
        utc(2026, 3, 5, 21, 59),
        None,
    )
    assert status.demo is False


# --- weekends, holidays, early closes ---------------------------------------------------------------------
def test_saturday_is_a_weekend_that_reopens_on_the_other_side_of_the_march_change() -> None:
    # Friday closes on winter time (21:59 UTC); Monday 01:00 server is already summer time: Sunday 22:00 UTC.
    friday = GOLD.status(utc(2026, 3, 6, 21, 59))
    saturday = GOLD.status(utc(2026, 3, 7, 12, 0))
    sunday_before = GOLD.status(utc(2026, 3, 8, 21, 59, 59))
    sunday_open = GOLD.status(utc(2026, 3, 8, 22, 0))

    for closed in (friday, saturday, sunday_before):
        assert closed.state is SessionState.WEEKEND
        assert closed.opens_at == utc(2026, 3, 8, 22, 0)
    assert sunday_open.is_open and sunday_open.closes_at == utc(2026, 3, 9, 20, 59)


def test_saturday_is_a_weekend_that_reopens_on_the_other_side_of_the_november_change() -> None:
    # Friday closes on summer time (20:59 UTC); Monday 01:00 server is winter time again: Sunday 23:00 UTC.
    friday = GOLD.status(utc(2026, 10, 30, 20, 59))
    saturday = GOLD.status(utc(2026, 10, 31, 12, 0))
    sunday_summer_hour = GOLD.status(utc(2026, 11, 1, 22, 30))  # would be open on summer time

    for closed in (friday, saturday, sunday_summer_hour):
        assert closed.state is SessionState.WEEKEND
        assert closed.opens_at == utc(2026, 11, 1, 23, 0)
    assert GOLD.status(utc(2026, 11, 1, 23, 0)).is_open


def test_an_exception_date_closed_all_day_is_a_holiday() -> None:
    calendar = SessionCalendar(
        name="gold",
        weekly=GOLD.weekly,
        exceptions={date(2026, 1, 1): None},  # Thursday, New Year's Day
    )

    status = calendar.status(utc(2026, 1, 1, 12, 0))

    assert status.state is SessionState.HOLIDAY
    # Closed since Wednesday's 23:59 server close; reopens Friday 01:00 server, 23:00 UTC the day before.
    assert status.opens_at == utc(2026, 1, 1, 23, 0)
    assert GOLD.status(utc(2026, 1, 1, 12, 0)).is_open  # the same instant trades without the exception


def test_an_early_close_ends_the_session_early_and_then_breaks_as_usual() -> None:
    calendar = SessionCalendar(
        name="gold", weekly=GOLD.weekly, exceptions={date(2026, 11, 26): DayHours.parse("01:00-20:45")}
    )

    open_status = calendar.status(utc(2026, 11, 26, 18, 0))
    after_close = calendar.status(utc(2026, 11, 26, 18, 45))  # server 20:45 in winter

    assert open_status.is_open and open_status.closes_at == utc(2026, 11, 26, 18, 45)
    assert after_close.state is SessionState.BREAK
    assert after_close.opens_at == utc(2026, 11, 26, 23, 0)


def test_an_early_close_before_a_holiday_is_a_holiday_until_the_next_session() -> None:
    calendar = SessionCalendar(
        name="gold",
        weekly=GOLD.weekly,
        exceptions={date(2026, 12, 24): DayHours.parse("01:00-19:45"), date(2026, 12, 25): None},
    )

    status = calendar.status(utc(2026, 12, 24, 18, 0))  # server 20:00 on Christmas Eve

    assert status.state is SessionState.HOLIDAY
    assert status.opens_at == utc(2026, 12, 27, 23, 0)  # Monday 01:00 server


def test_day_hours_parse_server_times_and_refuse_nonsense() -> None:
    assert DayHours.parse("01:00-23:59") == DayHours(60, 1439)
    assert DayHours.parse("00:00-24:00") == DayHours(0, 1440)
    for text in ("23:00-01:00", "01:00-01:00", "01:00-25:00"):
        with pytest.raises(ValueError):
            DayHours.parse(text)


def test_a_session_to_server_midnight_runs_into_the_next_day_without_a_gap() -> None:
    calendar = SessionCalendar(
        name="24h",
        weekly=dict.fromkeys(range(5), DayHours.parse("00:00-24:00")),
        server_time=ServerTimeRule.UTC,
    )

    status = calendar.status(utc(2026, 3, 4, 23, 59, 59))

    assert status.is_open and status.closes_at == utc(2026, 3, 5, 0, 0)
    assert calendar.status(utc(2026, 3, 5, 0, 0)).is_open


@EXAMPLES
@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)))
def test_every_status_is_consistent_with_its_own_bounds(at: datetime) -> None:
    status = GOLD.status(at)

    if status.is_open:
        assert status.opened_at is not None and status.closes_at is not None
        assert status.opened_at <= at < status.closes_at
    else:
        assert status.opens_at is not None and status.opens_at > at
        # The announced reopen is really the next open instant.
        assert GOLD.status(status.opens_at).is_open
        assert not GOLD.status(status.opens_at - timedelta(seconds=1)).is_open


# --- observed offset, demo calendar, injectable clock -------------------------------------------------------
@pytest.mark.parametrize(
    ("server_tick", "utc_now", "expected"),
    [
        (datetime(2026, 3, 5, 14, 0, 3), utc(2026, 3, 5, 12, 0), timedelta(hours=2)),
        (datetime(2026, 7, 1, 14, 59, 20), utc(2026, 7, 1, 12, 0), timedelta(hours=3)),  # a 40 s old tick
        (datetime(2026, 7, 1, 17, 30, 1), utc(2026, 7, 1, 12, 0), timedelta(hours=5, minutes=30)),
        (datetime(2026, 7, 1, 12, 0), utc(2026, 7, 1, 12, 0), timedelta(0)),
    ],
)
def test_the_observed_server_offset_rounds_to_a_quarter_hour(
    server_tick: datetime, utc_now: datetime, expected: timedelta
) -> None:
    assert observed_server_offset(server_tick, utc_now) == expected


@EXAMPLES
@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)))
def test_the_observed_offset_of_a_fresh_tick_matches_the_ny_close_rule(at: datetime) -> None:
    assert observed_server_offset(GOLD.to_server(at), at) == GOLD.server_offset(at)


@pytest.mark.parametrize(
    "at", [utc(2026, 3, 7, 12, 0), utc(2026, 3, 5, 22, 30), utc(2026, 12, 25, 12, 0), utc(2026, 1, 1, 0, 0)]
)
def test_the_demo_calendar_is_always_open_and_says_so(at: datetime) -> None:
    status = demo_always_open().status(at)

    assert status.is_open
    assert status.demo is True


def test_a_frozen_clock_pins_the_calendar_to_an_open_then_a_closed_session(frozen: FrozenClock) -> None:
    assert GOLD.status(clock.now()).is_open  # Thursday 2026-03-05 12:00 UTC

    frozen.set(utc(2026, 3, 5, 22, 0))
    in_break = GOLD.status(clock.now())
    frozen.set(utc(2026, 3, 7, 12, 0))
    weekend = GOLD.status(clock.now())

    assert in_break.state is SessionState.BREAK
    assert weekend.state is SessionState.WEEKEND


def test_a_frozen_clock_moves_only_when_told(frozen: FrozenClock) -> None:
    start, mono = clock.now(), clock.monotonic()

    frozen.advance(90)
    frozen.set(start)  # going back in wall time never moves the monotonic clock back

    assert clock.now() == start
    assert clock.monotonic() == mono + 90


def test_a_frozen_clock_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="aware"):
        FrozenClock(datetime(2026, 3, 5, 12, 0))


def test_set_clock_returns_the_previous_clock_so_tests_can_restore_it() -> None:
    pinned = FrozenClock(utc(2026, 3, 5, 12, 0))

    previous = clock.set_clock(pinned)
    try:
        assert clock.get_clock() is pinned
    finally:
        assert clock.set_clock(previous) is pinned
    assert clock.get_clock() is previous


def test_the_system_and_simulated_clocks_are_aware_utc() -> None:
    start = utc(2026, 3, 5, 12, 0)
    fast = SimulatedClock(start, speed=3_600.0)

    assert SystemClock().now().tzinfo is UTC
    assert fast.now() >= start
    assert fast.now().tzinfo is UTC
    assert fast.monotonic() >= 0
