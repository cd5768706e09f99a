"""Compliance rules, pure: trading windows (midnight-spanning too), maximum orders per day,
restricted instruments, the pattern-day-trader rule through `evaluate`, and properties of the rule over generated
order histories (the wired rule refuses exactly when the count says it must)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk.domain import compliance as c
from risk.domain.day_trades import BusinessCalendar, Execution, PdtRule, TradeSide, day_trade_count, would_day_trade

D = Decimal
NY = ZoneInfo("America/New_York")
WEEKDAYS = c.TradingWindow(frozenset(range(5)), time(8), time(17), NY, "NY day")
OVERNIGHT = c.TradingWindow(frozenset({6}), time(22), time(2), NY, "Sunday night")
CALENDAR = BusinessCalendar()
MON = date(2026, 1, 12)


def ny(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NY)


def order(
    at: datetime, *, reducing: bool = False, instrument: str = "XAUUSDT", side: TradeSide = TradeSide.BUY
) -> c.OrderFacts:
    return c.OrderFacts(account_id=1, instrument=instrument, side=side, quantity=D(1), reducing=reducing, at=at)


def test_a_window_holds_its_days_and_hours_in_its_time_zone() -> None:
    assert WEEKDAYS.contains(ny(MON, 8))
    assert WEEKDAYS.contains(ny(MON, 16, 59))
    assert not WEEKDAYS.contains(ny(MON, 17))  # the end is outside
    assert not WEEKDAYS.contains(ny(MON, 7, 59))
    assert not WEEKDAYS.contains(ny(MON + timedelta(days=5), 12))  # Saturday
    # 13:30 UTC is 08:30 in New York in January: inside, whatever zone the moment is given in.
    assert WEEKDAYS.contains(datetime(2026, 1, 12, 13, 30, tzinfo=UTC))
    assert not WEEKDAYS.contains(datetime(2026, 1, 12, 12, 30, tzinfo=UTC))


def test_a_window_across_midnight_runs_into_the_next_day() -> None:
    sunday, monday = MON - timedelta(days=1), MON
    assert OVERNIGHT.contains(ny(sunday, 22))
    assert OVERNIGHT.contains(ny(monday, 1, 59))
    assert not OVERNIGHT.contains(ny(monday, 2))
    assert not OVERNIGHT.contains(ny(monday, 22))  # Monday is not listed
    assert not OVERNIGHT.contains(ny(sunday, 1))  # Sunday's morning belongs to Saturday's window


def test_a_window_needs_days_and_a_span() -> None:
    with pytest.raises(ValueError):
        c.TradingWindow(frozenset(), time(8), time(9), NY)
    with pytest.raises(ValueError):
        c.TradingWindow(frozenset({7}), time(8), time(9), NY)
    with pytest.raises(ValueError):
        c.TradingWindow(frozenset({0}), time(8), time(8), NY)
    with pytest.raises(ValueError):
        WEEKDAYS.contains(datetime(2026, 1, 12, 12))  # naive


def test_outside_every_window_an_opening_order_is_refused_and_a_reducing_one_passes() -> None:
    rules = c.DeskRules(windows=(WEEKDAYS, OVERNIGHT), window_rule="hours")
    account = c.AccountRules()
    assert c.evaluate(rules, order(ny(MON, 9)), account) == []
    assert c.evaluate(rules, order(ny(MON, 1)), account) == []  # Sunday night's window
    (breach,) = c.evaluate(rules, order(ny(MON, 18)), account)
    assert breach.code is c.Code.WINDOW and breach.rule == "hours"
    assert breach.message == (
        "Outside the desk's trading windows (Mon,Tue,Wed,Thu,Fri 08:00–17:00 America/New_York; "
        "Sun 22:00–02:00 America/New_York): no new positions now."
    )
    assert c.evaluate(rules, order(ny(MON, 18), reducing=True), account) == []


def test_the_maximum_orders_per_day_counts_this_one() -> None:
    rules = c.DeskRules(max_orders_per_day=(("cap", 3),))
    assert c.evaluate(rules, order(ny(MON, 9)), c.AccountRules(orders_today=2)) == []
    (breach,) = c.evaluate(rules, order(ny(MON, 9)), c.AccountRules(orders_today=3))
    assert breach.message == "The account has sent 3 orders today (maximum 3 per day)."
    assert c.evaluate(rules, order(ny(MON, 9), reducing=True), c.AccountRules(orders_today=30)) == []


def test_restricted_instruments_are_matched_without_case() -> None:
    rules = c.DeskRules(restricted=(("no perps", "xauusdt"),))
    (breach,) = c.evaluate(rules, order(ny(MON, 9)), c.AccountRules())
    assert breach.code is c.Code.RESTRICTED and breach.message == "XAUUSDT is a restricted instrument."
    assert c.evaluate(rules, order(ny(MON, 9), instrument="XAUUSD.s"), c.AccountRules()) == []
    assert c.evaluate(rules, order(ny(MON, 9), reducing=True), c.AccountRules()) == []


def _pdt(executions: list[Execution], equity: str = "10000") -> c.AccountRules:
    return c.AccountRules(pdt=c.PdtSetup(PdtRule(), CALENDAR, tuple(executions), D(equity)))


def _round_trip(day: date, hour: int) -> list[Execution]:
    return [
        Execution("AAPL", ny(day, hour), TradeSide.BUY, D(10)),
        Execution("AAPL", ny(day, hour, 30), TradeSide.SELL, D(10)),
    ]


def test_the_fourth_day_trade_below_the_floor_is_refused_with_its_figures() -> None:
    history = _round_trip(MON, 10) + _round_trip(MON, 11) + _round_trip(MON + timedelta(days=1), 10)
    history.append(Execution("AAPL", ny(MON + timedelta(days=2), 10), TradeSide.BUY, D(10)))
    closing = order(ny(MON + timedelta(days=2), 11), instrument="AAPL", side=TradeSide.SELL, reducing=True)
    (breach,) = c.evaluate(c.DeskRules(), closing, _pdt(history))
    assert breach.code is c.Code.PATTERN_DAY_TRADER
    assert breach.message == (
        "A day trade now would be number 4 within 5 business days with 10000 of equity, below the "
        "pattern-day-trader floor of 25000."
    )
    assert c.evaluate(c.DeskRules(), closing, _pdt(history, "25000")) == []
    # Not a day trade (opening more): passes.
    assert c.evaluate(c.DeskRules(), order(ny(MON + timedelta(days=2), 11), instrument="AAPL"), _pdt(history)) == []


def test_gold_is_told_apart_and_days_parse() -> None:
    assert c.is_gold("XAUUSDT") and c.is_gold("xauusd.s") and c.is_gold("GOLD") and not c.is_gold("AAPL")
    assert c.parse_days("0, 1,4") == frozenset({0, 1, 4})
    for bad in ("", "7", "mon", "1,,x"):
        with pytest.raises(ValueError):
            c.parse_days(bad)
    assert c.local_day_start(datetime(2026, 1, 12, 3, tzinfo=UTC), NY) == ny(MON - timedelta(days=1), 0)


BUSINESS_DAYS = [MON + timedelta(days=i) for i in range(12) if (MON + timedelta(days=i)).weekday() < 5]
executions = st.builds(
    lambda day, minute, side, quantity, name: Execution(
        name, ny(day, 9) + timedelta(minutes=minute), side, D(quantity)
    ),
    st.sampled_from(BUSINESS_DAYS),
    st.integers(0, 420),
    st.sampled_from(list(TradeSide)),
    st.integers(1, 5),
    st.sampled_from(["AAPL", "MSFT"]),
)


@settings(max_examples=150, deadline=None)
@given(
    history=st.lists(executions, max_size=25),
    extra=executions,
    equity=st.sampled_from(["1000", "24999.99", "25000", "100000"]),
)
def test_the_rule_refuses_exactly_a_day_trade_reaching_the_count_below_the_floor(
    history: list[Execution], extra: Execution, equity: str
) -> None:
    """Over generated histories, `evaluate` refuses the extra order iff it completes a day trade, the day trades
    already in the window ending on its day reach the threshold with it, and the equity is below the floor."""
    history = [e for e in history if e.at < extra.at]
    rule = PdtRule()
    facts = c.OrderFacts(1, extra.instrument, extra.side, extra.quantity, reducing=False, at=extra.at)
    refused = bool(c.evaluate(c.DeskRules(), facts, _pdt(history, equity)))
    count = day_trade_count(history, as_of=extra.at.date(), window_days=rule.window_days, calendar=CALENDAR)
    day_trade = would_day_trade(history, extra, calendar=CALENDAR)
    assert refused == (day_trade and D(equity) < rule.equity_floor and count + 1 >= rule.day_trades)
    # The count over a window never falls when history grows at its end.
    assert day_trade_count(
        [*history, extra], as_of=extra.at.date(), window_days=rule.window_days, calendar=CALENDAR
    ) == count + int(day_trade)
