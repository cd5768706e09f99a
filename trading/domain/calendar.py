"""The CFD's trading calendar, kept in the broker's server time (ARCHITECTURE.md "Sessions and time").

Brokers on the "New York close" convention run their server clock at New York time + 7 h: GMT+2 in winter,
GMT+3 while the US is on daylight saving, so the daily break at server midnight falls at 22:00 UTC in winter
and 21:00 UTC in summer. Sessions, holidays and early closes are data in server time; the UTC instants are
derived here. A venue's observed offset (from a fresh tick) can replace the rule at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
MINUTES_PER_DAY = 24 * 60
_SEARCH_DAYS = 21
# A closed spell no longer than this between two sessions is the daily break, not a weekend or holiday.
_BREAK_MAX = timedelta(hours=12)


class SessionState(StrEnum):
    OPEN = "open"
    BREAK = "break"
    WEEKEND = "weekend"
    HOLIDAY = "holiday"


class ServerTimeRule(StrEnum):
    NY_CLOSE = "ny_close"  # New York time + 7 h
    FIXED = "fixed"  # a fixed offset in minutes
    UTC = "utc"


@dataclass(frozen=True, slots=True)
class DayHours:
    """One day's trading hours in server time, as minutes after server midnight (close may be 1440)."""

    open_minute: int
    close_minute: int

    def __post_init__(self) -> None:
        if not 0 <= self.open_minute < self.close_minute <= MINUTES_PER_DAY:
            raise ValueError("trading hours need 0 <= open < close <= 1440 minutes")

    @classmethod
    def parse(cls, text: str) -> DayHours:
        """`"01:00-23:59"` → DayHours(60, 1439); `"24:00"` is accepted as a close."""
        start, _, end = text.partition("-")
        return cls(_minutes(start), _minutes(end))


def _minutes(hhmm: str) -> int:
    hours, _, minutes = hhmm.strip().partition(":")
    value = int(hours) * 60 + int(minutes or 0)
    if not 0 <= value <= MINUTES_PER_DAY:
        raise ValueError(f"not a time of day: {hhmm!r}")
    return value


@dataclass(frozen=True, slots=True)
class SessionStatus:
    state: SessionState
    opened_at: datetime | None  # UTC start of the current session (None when closed)
    closes_at: datetime | None  # UTC end of the current session (None when closed)
    opens_at: datetime | None  # UTC start of the next session (None when open)
    demo: bool = False

    @property
    def is_open(self) -> bool:
        return self.state is SessionState.OPEN


@dataclass(frozen=True, slots=True)
class SessionCalendar:
    """Weekly hours (weekday 0 = Monday → hours) and per-date exceptions, all in server time.

    An exception maps a server date to its hours that day, or to None when the market is closed all day.
    `always_open` is the embedded demo's calendar: every instant is open and labelled a demo session.
    """

    name: str
    weekly: dict[int, DayHours] = field(default_factory=dict)
    exceptions: dict[date, DayHours | None] = field(default_factory=dict)
    server_time: ServerTimeRule = ServerTimeRule.NY_CLOSE
    fixed_offset_minutes: int = 0
    always_open: bool = False

    # --- server time -----------------------------------------------------------------------------------
    def server_offset(self, at: datetime) -> timedelta:
        """The server's UTC offset at the UTC instant `at`."""
        if self.server_time is ServerTimeRule.NY_CLOSE:
            ny_offset = at.astimezone(NEW_YORK).utcoffset()
            assert ny_offset is not None
            return ny_offset + timedelta(hours=7)
        if self.server_time is ServerTimeRule.FIXED:
            return timedelta(minutes=self.fixed_offset_minutes)
        return timedelta(0)

    def to_server(self, at: datetime) -> datetime:
        """UTC instant → naive server wall time."""
        return (at.astimezone(UTC) + self.server_offset(at)).replace(tzinfo=None)

    def to_utc(self, server_wall: datetime) -> datetime:
        """Naive server wall time → UTC instant (the offset is resolved at the instant itself)."""
        guess = server_wall.replace(tzinfo=UTC) - self.server_offset(server_wall.replace(tzinfo=UTC))
        return server_wall.replace(tzinfo=UTC) - self.server_offset(guess)

    # --- sessions -------------------------------------------------------------------------------------
    def hours_on(self, server_day: date) -> DayHours | None:
        if server_day in self.exceptions:
            return self.exceptions[server_day]
        return self.weekly.get(server_day.weekday())

    def _sessions_around(self, server_day: date) -> list[tuple[datetime, datetime, date]]:
        """(open, close, day) in server wall time for the days around `server_day`, in order."""
        sessions = []
        for delta in range(-_SEARCH_DAYS, _SEARCH_DAYS + 1):
            day = server_day + timedelta(days=delta)
            hours = self.hours_on(day)
            if hours is None:
                continue
            midnight = datetime.combine(day, time())
            sessions.append(
                (
                    midnight + timedelta(minutes=hours.open_minute),
                    midnight + timedelta(minutes=hours.close_minute),
                    day,
                )
            )
        return sessions

    def status(self, at: datetime) -> SessionStatus:
        if self.always_open:
            return SessionStatus(SessionState.OPEN, None, None, None, demo=True)
        wall = self.to_server(at)
        previous_close: datetime | None = None
        for open_wall, close_wall, _day in self._sessions_around(wall.date()):
            if open_wall <= wall < close_wall:
                return SessionStatus(SessionState.OPEN, self.to_utc(open_wall), self.to_utc(close_wall), None)
            if close_wall <= wall:
                previous_close = close_wall
                continue
            # First session that starts after `wall`: we are in the gap before it.
            return SessionStatus(self._closed_state(previous_close, open_wall), None, None, self.to_utc(open_wall))
        return SessionStatus(self._closed_state(previous_close, None), None, None, None)

    def _closed_state(self, previous_close: datetime | None, next_open: datetime | None) -> SessionState:
        if previous_close is not None and next_open is not None and next_open - previous_close <= _BREAK_MAX:
            return SessionState.BREAK
        if previous_close is not None and next_open is not None:
            day = previous_close.date()
            while day <= next_open.date():
                if day in self.exceptions and self.exceptions[day] is None:
                    return SessionState.HOLIDAY
                day += timedelta(days=1)
        return SessionState.WEEKEND


def observed_server_offset(server_tick_time: datetime, utc_now: datetime) -> timedelta:
    """A server's UTC offset derived from a fresh tick's server timestamp, rounded to 15 minutes.

    `server_tick_time` is the naive wall time the terminal reports; ticks a few seconds old still round right.
    """
    raw = server_tick_time.replace(tzinfo=UTC) - utc_now.astimezone(UTC)
    quarter = timedelta(minutes=15)
    return round(raw / quarter) * quarter


def bybit_mt5_gold() -> SessionCalendar:
    """Default hours for XAUUSD.s in server time: Monday–Friday 01:00–23:59 (a break around midnight).

    Exact Bybit hours are unconfirmed (VENUES.md): deployments edit this calendar as data in the admin.
    """
    day = DayHours.parse("01:00-23:59")
    return SessionCalendar(name="bybit-mt5-gold", weekly=dict.fromkeys(range(5), day))


def demo_always_open() -> SessionCalendar:
    return SessionCalendar(name="demo", always_open=True)


@dataclass(frozen=True, slots=True)
class SessionView:
    """A session status in epoch milliseconds, as the pure decision and risk code read it.

    `opened_at_ms`/`closes_at_ms` are unknown (None) in the demo's always-open calendar; then no window
    around an open or a close applies.
    """

    is_open: bool
    opened_at_ms: int | None = None
    closes_at_ms: int | None = None

    @classmethod
    def of(cls, status: SessionStatus) -> SessionView:
        def ms(at: datetime | None) -> int | None:
            return None if at is None else int(at.timestamp() * 1000)

        return cls(status.is_open, ms(status.opened_at), ms(status.closes_at))

    def ms_to_close(self, now_ms: int) -> int | None:
        return None if self.closes_at_ms is None else self.closes_at_ms - now_ms

    def ms_since_open(self, now_ms: int) -> int | None:
        return None if self.opened_at_ms is None else now_ms - self.opened_at_ms


class EntryBlock(StrEnum):
    CLOSED = "session_closed"
    BEFORE_CLOSE = "before_close"
    AFTER_OPEN = "after_open"


def entry_block(
    session: SessionView, now_ms: int, *, no_entry_before_close_minutes: int, no_entry_after_open_minutes: int
) -> EntryBlock | None:
    """Why no new hedge may open in this session now (ARCHITECTURE.md "Sessions and time"), or None."""
    if not session.is_open:
        return EntryBlock.CLOSED
    to_close = session.ms_to_close(now_ms)
    if to_close is not None and to_close <= no_entry_before_close_minutes * 60_000:
        return EntryBlock.BEFORE_CLOSE
    since_open = session.ms_since_open(now_ms)
    if since_open is not None and since_open < no_entry_after_open_minutes * 60_000:
        return EntryBlock.AFTER_OPEN
    return None
