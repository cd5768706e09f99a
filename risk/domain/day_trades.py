"""Pattern-day-trader counting (the QuantVision spec's rule for accounts flagged as US equity
margin accounts; off for gold pools): pure, over Decimal, no Django, no I/O.

A **day trade** is the opening and the closing of a position in the same instrument on the same business day.
Executions are walked in time order per instrument: one that grows the position (or opens it from flat) opens,
one against it closes (a reversal closes the position, then opens the rest). A close counts one day trade when
the position was opened that day and an opening has happened since the last counted close — so buy, buy, sell all
is one day trade; buy, sell, buy, sell is two; buy 100, sell 50, sell 50 is one. A close takes the day's own
openings first (the conservative reading: holding 100 overnight, buying 100 and selling 100 counts), and closing
a position carried overnight is never a day trade by itself.

The **rule** (`PdtRule`, all three figures are settings, as the regulator's thresholds change): an account with
`day_trades` or more day trades within a rolling window of `window_days` business days is a pattern day trader
and may only day trade with at least `equity_floor` of equity. The pre-trade check refuses an order that would
be a day trade bringing the count to the threshold (or past it) while the equity is below the floor. The
regulator's further condition (day trades above 6 % of all trades in the window) is not applied: the rule as
implemented can only refuse more, never less.

Business days come from a `BusinessCalendar` (weekend days, holidays, and the exchange's timezone in which an
execution's business day is its local date). An execution on a day that is not a business day is refused.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

ZERO = Decimal(0)
NEW_YORK = ZoneInfo("America/New_York")


class TradeSide(StrEnum):
    BUY = "buy"
    SELL = "sell"


@dataclass(frozen=True, slots=True)
class Execution:
    """A fill (or an order about to be sent): `quantity` positive, its direction in `side`, `at` timezone-aware."""

    instrument: str
    at: datetime
    side: TradeSide
    quantity: Decimal

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise ValueError("An execution's quantity must be positive.")
        if self.at.tzinfo is None:
            raise ValueError("An execution's time must be timezone-aware.")

    @property
    def signed(self) -> Decimal:
        return self.quantity if self.side is TradeSide.BUY else -self.quantity


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Business days: not a `weekend` weekday (Monday = 0) nor a holiday; an instant's day is its date in `tz`."""

    holidays: frozenset[date] = frozenset()
    weekend: frozenset[int] = frozenset({5, 6})
    tz: tzinfo = field(default=NEW_YORK)

    def __post_init__(self) -> None:
        if len(self.weekend) >= 7:
            raise ValueError("A calendar needs business days.")

    def is_business_day(self, day: date) -> bool:
        return day.weekday() not in self.weekend and day not in self.holidays

    def day_of(self, at: datetime) -> date:
        return at.astimezone(self.tz).date()

    def latest_business_day(self, day: date) -> date:
        """`day` when it is a business day, else the business day before it."""
        while not self.is_business_day(day):
            day -= timedelta(days=1)
        return day

    def window(self, as_of: date, days: int) -> tuple[date, ...]:
        """The `days` business days ending at the latest business day on or before `as_of`, oldest first."""
        if days < 1:
            raise ValueError("A window holds at least one business day.")
        found = [self.latest_business_day(as_of)]
        while len(found) < days:
            found.append(self.latest_business_day(found[-1] - timedelta(days=1)))
        return tuple(reversed(found))


@dataclass(frozen=True, slots=True)
class PdtRule:
    """`day_trades` or more within `window_days` business days make a pattern day trader, who needs
    `equity_floor` to day trade (FINRA's 4, 5 and 25,000 USD by default)."""

    day_trades: int = 4
    window_days: int = 5
    equity_floor: Decimal = Decimal(25_000)

    def __post_init__(self) -> None:
        if self.day_trades < 1 or self.window_days < 1 or self.equity_floor < 0:
            raise ValueError("A day-trading rule needs a positive count and window and a non-negative floor.")


@dataclass(slots=True)
class _Book:
    """One instrument's running state while the executions are walked."""

    position: Decimal = ZERO
    day: date | None = None
    opened_today: Decimal = ZERO
    pending: bool = False  # an opening today since the last counted close


def _walk(
    executions: Iterable[Execution], calendar: BusinessCalendar, opening_positions: Mapping[str, Decimal]
) -> list[tuple[Execution, date, bool]]:
    """Each execution in time order (ties in the order given) with its business day and whether it completed a
    day trade."""
    ordered = sorted(enumerate(executions), key=lambda item: (item[1].at, item[0]))
    books: dict[str, _Book] = defaultdict(_Book)
    for instrument, position in opening_positions.items():
        books[instrument].position = position
    walked = []
    for _, execution in ordered:
        day = calendar.day_of(execution.at)
        if not calendar.is_business_day(day):
            raise ValueError(f"{execution.instrument} traded on {day.isoformat()}, not a business day.")
        book = books[execution.instrument]
        if book.day != day:
            book.day, book.opened_today, book.pending = day, ZERO, False
        signed = execution.signed
        counted = False
        if book.position == 0 or (book.position > 0) == (signed > 0):
            book.opened_today += abs(signed)
            book.pending = True
        else:
            closed = min(abs(signed), abs(book.position))
            if book.pending:
                counted = True
                book.pending = False
            book.opened_today = max(ZERO, book.opened_today - closed)
            reopened = abs(signed) - closed
            if reopened > 0:
                book.opened_today = reopened
                book.pending = True
        book.position += signed
        walked.append((execution, day, counted))
    return walked


def day_trades_by_day(
    executions: Iterable[Execution],
    *,
    calendar: BusinessCalendar,
    opening_positions: Mapping[str, Decimal] | None = None,
) -> dict[date, int]:
    """Day trades per business day (days with none left out). `opening_positions`: signed positions held before
    the first execution, by instrument."""
    counts: dict[date, int] = defaultdict(int)
    for _, day, counted in _walk(executions, calendar, opening_positions or {}):
        if counted:
            counts[day] += 1
    return dict(counts)


def day_trade_count(
    executions: Iterable[Execution],
    *,
    as_of: date,
    window_days: int,
    calendar: BusinessCalendar,
    opening_positions: Mapping[str, Decimal] | None = None,
) -> int:
    """Day trades within the `window_days` business days ending at `as_of` (see `BusinessCalendar.window`)."""
    by_day = day_trades_by_day(executions, calendar=calendar, opening_positions=opening_positions)
    return sum(by_day.get(day, 0) for day in calendar.window(as_of, window_days))


@dataclass(frozen=True, slots=True)
class PdtStatus:
    """The account against the rule on `window[-1]`."""

    count: int
    window: tuple[date, ...]
    equity: Decimal
    rule: PdtRule

    @property
    def pattern_day_trader(self) -> bool:
        return self.count >= self.rule.day_trades

    @property
    def below_floor(self) -> bool:
        return self.equity < self.rule.equity_floor

    @property
    def day_trades_left(self) -> int | None:
        """How many more day trades the window allows below the floor (None: the floor is met, no cap)."""
        if not self.below_floor:
            return None
        return max(0, self.rule.day_trades - 1 - self.count)


def pdt_status(
    executions: Iterable[Execution],
    *,
    as_of: date,
    equity: Decimal,
    rule: PdtRule,
    calendar: BusinessCalendar,
    opening_positions: Mapping[str, Decimal] | None = None,
) -> PdtStatus:
    window = calendar.window(as_of, rule.window_days)
    by_day = day_trades_by_day(executions, calendar=calendar, opening_positions=opening_positions)
    return PdtStatus(sum(by_day.get(day, 0) for day in window), window, equity, rule)


def would_day_trade(
    executions: Sequence[Execution],
    order: Execution,
    *,
    calendar: BusinessCalendar,
    opening_positions: Mapping[str, Decimal] | None = None,
) -> bool:
    """Whether `order`, executed after `executions`, completes a day trade."""
    walked = _walk([*executions, order], calendar, opening_positions or {})
    return next(counted for execution, _, counted in walked if execution is order)


@dataclass(frozen=True, slots=True)
class PdtDecision:
    """The pre-trade answer: `allowed`, and when refused the status that refused it (the caller words the reason
    from `status.count`, `status.rule` and `status.equity`)."""

    allowed: bool
    day_trade: bool
    status: PdtStatus


def pdt_check(
    executions: Sequence[Execution],
    order: Execution,
    *,
    equity: Decimal,
    rule: PdtRule,
    calendar: BusinessCalendar,
    opening_positions: Mapping[str, Decimal] | None = None,
) -> PdtDecision:
    """Refuse an order that would be a day trade reaching the rule's count within the window while the equity is
    below the floor; anything else passes."""
    day_trade = would_day_trade(executions, order, calendar=calendar, opening_positions=opening_positions)
    status = pdt_status(
        executions,
        as_of=calendar.day_of(order.at),
        equity=equity,
        rule=rule,
        calendar=calendar,
        opening_positions=opening_positions,
    )
    refused = day_trade and status.below_floor and status.count + 1 >= rule.day_trades
    return PdtDecision(allowed=not refused, day_trade=day_trade, status=status)
