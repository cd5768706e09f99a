"""Pattern-day-trader counting: hand cases of what is and is not a day trade, the rolling window of business days
over weekends and holidays, the pre-trade decision, and properties over generated order histories."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk.domain.day_trades import (
    BusinessCalendar,
    Execution,
    PdtRule,
    TradeSide,
    day_trade_count,
    day_trades_by_day,
    pdt_check,
    pdt_status,
    would_day_trade,
)

D = Decimal
BUY, SELL = TradeSide.BUY, TradeSide.SELL
MLK_DAY = date(2026, 1, 19)  # a Monday holiday
CALENDAR = BusinessCalendar(holidays=frozenset({MLK_DAY}))
RULE = PdtRule()  # 4 day trades in 5 business days, 25,000 floor


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """`hour` New York time in January (UTC−5)."""
    return datetime(day.year, day.month, day.day, hour + 5, minute, tzinfo=UTC)


def ex(instrument: str, day: date, hour: int, side: TradeSide, quantity: int = 100, minute: int = 0) -> Execution:
    return Execution(instrument, at(day, hour, minute), side, D(quantity))


MON, TUE, WED, THU, FRI = (date(2026, 1, 12) + timedelta(days=i) for i in range(5))


def count_on(executions: list[Execution], day: date, **kwargs: object) -> int:
    return day_trades_by_day(executions, calendar=CALENDAR, **kwargs).get(day, 0)


def test_what_counts_as_a_day_trade() -> None:
    # Buy, buy, sell all: one.
    assert count_on([ex("A", MON, 10, BUY), ex("A", MON, 11, BUY), ex("A", MON, 12, SELL, 200)], MON) == 1
    # Buy, sell, buy, sell: two.
    assert (
        count_on([ex("A", MON, 10, BUY), ex("A", MON, 11, SELL), ex("A", MON, 12, BUY), ex("A", MON, 13, SELL)], MON)
        == 2
    )
    # Buy 100, sell 50, sell 50: one.
    assert count_on([ex("A", MON, 10, BUY), ex("A", MON, 11, SELL, 50), ex("A", MON, 12, SELL, 50)], MON) == 1
    # Short then cover: one.
    assert count_on([ex("A", MON, 10, SELL), ex("A", MON, 11, BUY)], MON) == 1
    # Bought Monday, sold Tuesday: none.
    assert day_trades_by_day([ex("A", MON, 10, BUY), ex("A", TUE, 10, SELL)], calendar=CALENDAR) == {}
    # Two instruments never pair.
    assert count_on([ex("A", MON, 10, BUY), ex("B", MON, 11, SELL)], MON) == 0


def test_positions_held_overnight() -> None:
    held = {"A": D(100)}
    # Selling what was held overnight, then buying it back, is not a day trade.
    assert count_on([ex("A", MON, 10, SELL), ex("A", MON, 11, BUY)], MON, opening_positions=held) == 0
    # Buying more and selling that much is (the day's own shares close first).
    assert count_on([ex("A", MON, 10, BUY), ex("A", MON, 11, SELL)], MON, opening_positions=held) == 1
    # A reversal closes and opens: long 100 bought today, sell 200 (one), buy 100 back (two).
    history = [ex("A", MON, 10, BUY), ex("A", MON, 11, SELL, 200), ex("A", MON, 12, BUY)]
    assert count_on(history, MON) == 2


def test_a_trade_on_a_day_off_is_refused() -> None:
    with pytest.raises(ValueError):
        day_trades_by_day([ex("A", MLK_DAY, 10, BUY)], calendar=CALENDAR)
    with pytest.raises(ValueError):
        Execution("A", datetime(2026, 1, 12, 15), BUY, D(1))


def test_the_window_slides_over_weekends_and_holidays() -> None:
    # Friday 16th back five business days: Mon 12 … Fri 16. From Tuesday 20th (Monday 19th a holiday): Tue 13,
    # Wed 14, Thu 15, Fri 16, Tue 20. Over the weekend the window is Friday's.
    assert CALENDAR.window(date(2026, 1, 16), 5) == (MON, TUE, WED, THU, FRI)
    assert CALENDAR.window(date(2026, 1, 20), 5) == (TUE, WED, THU, FRI, date(2026, 1, 20))
    assert CALENDAR.window(date(2026, 1, 18), 5) == CALENDAR.window(date(2026, 1, 16), 5)
    assert CALENDAR.window(MLK_DAY, 5) == CALENDAR.window(date(2026, 1, 16), 5)
    history = [ex("A", MON, 10, BUY), ex("A", MON, 11, SELL), ex("B", FRI, 10, BUY), ex("B", FRI, 11, SELL)]
    counted = {
        as_of: day_trade_count(history, as_of=as_of, window_days=5, calendar=CALENDAR)
        for as_of in (date(2026, 1, 16), date(2026, 1, 17), MLK_DAY, date(2026, 1, 20))
    }
    # Monday's day trade leaves the window on Tuesday the 20th, not on Saturday or the holiday.
    assert counted == {date(2026, 1, 16): 2, date(2026, 1, 17): 2, MLK_DAY: 2, date(2026, 1, 20): 1}


def test_the_fourth_day_trade_is_refused_below_the_floor_and_allowed_above() -> None:
    history = []
    for hour, day in zip((10, 10, 10), (MON, TUE, WED), strict=True):
        history += [ex("A", day, hour, BUY), ex("A", day, hour + 1, SELL)]
    history.append(ex("A", THU, 10, BUY))
    closing = ex("A", THU, 11, SELL)
    status = pdt_status(history, as_of=THU, equity=D(10_000), rule=RULE, calendar=CALENDAR)
    assert (status.count, status.pattern_day_trader, status.day_trades_left) == (3, False, 0)
    refused = pdt_check(history, closing, equity=D(10_000), rule=RULE, calendar=CALENDAR)
    assert refused.day_trade and not refused.allowed
    assert pdt_check(history, closing, equity=D(25_000), rule=RULE, calendar=CALENDAR).allowed
    # An opening order is no day trade and passes whatever the count.
    opening = ex("B", THU, 11, BUY)
    decision = pdt_check(history, opening, equity=D(10_000), rule=RULE, calendar=CALENDAR)
    assert decision.allowed and not decision.day_trade
    # With a rule of 5 in 5 days (thresholds are settings), the same order passes.
    assert pdt_check(history, closing, equity=D(10_000), rule=PdtRule(day_trades=5), calendar=CALENDAR).allowed


def test_an_account_above_the_floor_has_no_cap() -> None:
    status = pdt_status([], as_of=THU, equity=D(30_000), rule=RULE, calendar=CALENDAR)
    assert status.day_trades_left is None and not status.below_floor


# --- properties over generated histories -----------------------------------------------------------------------

BUSINESS_DAYS = CALENDAR.window(date(2026, 1, 30), 14)  # Jan 12 … Jan 30 without weekends and the holiday
INSTRUMENTS = ("A", "B", "C")

executions = st.builds(
    lambda instrument, day, minute, side, quantity: Execution(
        instrument, at(day, 9, 30) + timedelta(minutes=minute), side, D(quantity)
    ),
    st.sampled_from(INSTRUMENTS),
    st.sampled_from(BUSINESS_DAYS),
    st.integers(min_value=0, max_value=380),
    st.sampled_from([BUY, SELL]),
    st.integers(min_value=1, max_value=5),
)
histories = st.lists(executions, max_size=40)


def per_instrument_day(history: list[Execution]) -> dict[tuple[str, date], list[Execution]]:
    grouped: dict[tuple[str, date], list[Execution]] = {}
    for execution in history:
        grouped.setdefault((execution.instrument, CALENDAR.day_of(execution.at)), []).append(execution)
    return grouped


@given(histories)
def test_the_count_never_exceeds_the_round_trips_a_day_could_hold(history: list[Execution]) -> None:
    total = sum(day_trades_by_day(history, calendar=CALENDAR).values())
    # Every day trade needs an opening and a later closing execution of that instrument that day: at most one per
    # execution after the day's first.
    assert total <= sum(len(group) - 1 for group in per_instrument_day(history).values())
    # Instruments are counted apart.
    separate = sum(
        sum(day_trades_by_day([e for e in history if e.instrument == name], calendar=CALENDAR).values())
        for name in INSTRUMENTS
    )
    assert total == separate


@given(
    trips=st.lists(
        st.tuples(st.sampled_from(BUSINESS_DAYS), st.integers(0, 300), st.sampled_from([BUY, SELL]), st.integers(1, 9)),
        max_size=15,
    )
)
def test_separate_round_trips_are_each_one_day_trade(trips: list[tuple[date, int, TradeSide, int]]) -> None:
    # Each round trip on an instrument of its own: open, then close the same quantity later that day.
    history = []
    for index, (day, minute, side, quantity) in enumerate(trips):
        start = at(day, 9, 30) + timedelta(minutes=minute)
        back = SELL if side is BUY else BUY
        history += [
            Execution(f"T{index}", start, side, D(quantity)),
            Execution(f"T{index}", start + timedelta(minutes=30), back, D(quantity)),
        ]
    assert sum(day_trades_by_day(history, calendar=CALENDAR).values()) == len(trips)


@given(history=histories, instrument=st.sampled_from(INSTRUMENTS), day=st.sampled_from(BUSINESS_DAYS))
@settings(max_examples=150)
def test_adding_a_same_day_round_trip_adds_exactly_one(history: list[Execution], instrument: str, day: date) -> None:
    # At 16:10 on `day`, after that day's executions (the latest is at 15:50) and before the next day's, open
    # further in the direction the instrument is held (or either way when flat) and close that much again.
    position = sum((e.signed for e in history if e.instrument == instrument and e.at < at(day, 16)), D(0))
    opening = BUY if position >= 0 else SELL
    closing = SELL if opening is BUY else BUY
    trip = [
        Execution(instrument, at(day, 16, 10), opening, D(3)),
        Execution(instrument, at(day, 16, 20), closing, D(3)),
    ]
    before = day_trades_by_day(history, calendar=CALENDAR)
    after = day_trades_by_day(history + trip, calendar=CALENDAR)
    assert after.get(day, 0) == before.get(day, 0) + 1
    assert {d: n for d, n in after.items() if d != day} == {d: n for d, n in before.items() if d != day}
    as_of = BUSINESS_DAYS[-1]
    in_window = day in CALENDAR.window(as_of, 5)
    assert day_trade_count(history + trip, as_of=as_of, window_days=5, calendar=CALENDAR) == day_trade_count(
        history, as_of=as_of, window_days=5, calendar=CALENDAR
    ) + int(in_window)


@given(
    history=histories,
    as_of=st.dates(min_value=date(2026, 1, 13), max_value=date(2026, 2, 10)),
    window_days=st.integers(min_value=1, max_value=10),
    holidays=st.frozensets(st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 2, 10)), max_size=6),
)
def test_windows_hold_exactly_n_business_days_and_sum_their_days(
    history: list[Execution], as_of: date, window_days: int, holidays: frozenset[date]
) -> None:
    calendar = BusinessCalendar(holidays=holidays - set(BUSINESS_DAYS))  # the history's days stay open
    window = calendar.window(as_of, window_days)
    assert len(window) == window_days == len(set(window))
    assert all(calendar.is_business_day(day) for day in window)
    assert list(window) == sorted(window) and window[-1] <= as_of
    # No business day is skipped between the window's first day and as_of.
    day = window[0]
    while day <= as_of:
        assert calendar.is_business_day(day) == (day in window)
        day += timedelta(days=1)
    by_day = day_trades_by_day(history, calendar=calendar)
    count = day_trade_count(history, as_of=as_of, window_days=window_days, calendar=calendar)
    assert count == sum(n for d, n in by_day.items() if d in window)
    # A day off counts like the business day before it.
    if not calendar.is_business_day(as_of):
        previous = calendar.latest_business_day(as_of)
        assert count == day_trade_count(history, as_of=previous, window_days=window_days, calendar=calendar)


@given(history=histories, extra=executions)
def test_would_day_trade_agrees_with_the_count(history: list[Execution], extra: Execution) -> None:
    # Placed after the whole history, an order is a day trade exactly when it adds one to its day's count.
    late = Execution(extra.instrument, at(BUSINESS_DAYS[-1], 15, 59), extra.side, extra.quantity)
    before = day_trades_by_day(history, calendar=CALENDAR).get(BUSINESS_DAYS[-1], 0)
    after = day_trades_by_day([*history, late], calendar=CALENDAR).get(BUSINESS_DAYS[-1], 0)
    assert would_day_trade(history, late, calendar=CALENDAR) == (after == before + 1)
