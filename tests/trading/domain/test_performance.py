"""Returns and risk figures of an equity series with cash flows (trading.domain.performance).

The reference is empyrical (empyrical-reloaded, a test-only dependency) wherever it defines the same figure,
fed the same flow-adjusted returns — computed here independently, period by period, as
r_i = E_i / (E_{i-1} + F_i) − 1 — and the same annualisation (`annualization=` periods per year: 365 days × the
return frequency's periods per day). Its conventions match ours: Sharpe = mean/std(ddof 1) · √N, Sortino's
downside deviation over every period (not the standard deviation of the losses), maximum drawdown negative,
VaR the linear-interpolated percentile, CVaR the mean up to index ⌊(n − 1)·cutoff⌋. Figures it does not
define (MWR, drawdown durations, recovery, daily PnL) are computed by hand.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any

import empyrical
import empyrical.stats
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading.domain.performance import CashFlow, EquitySeries, Frequency, _lowest, performance

TOL = 1e-9
Q8 = Decimal("0.00000001")
START = datetime(2025, 11, 3, tzinfo=UTC)


def approx(value: float) -> object:
    return pytest.approx(value, rel=0, abs=TOL)


def build(
    clock: Frequency,
    periods: int,
    *,
    start: datetime = START,
    flows: dict[int, Decimal] | None = None,
    seed: int = 18,
    drift: float = 0.0004,
    sigma: float = 0.01,
) -> tuple[EquitySeries, list[CashFlow], pd.Series]:
    """A seeded random walk of equity on `clock`, with `flows` (period index → amount) landing mid-period and
    applied at the start of their period, each point booked at 8 dp; and the reference returns, indexed by
    their period's start."""
    rng = random.Random(seed)
    flows = flows or {}
    step = clock.step
    equity = [Decimal("100000")]
    cash_flows: list[CashFlow] = []
    for index in range(1, periods + 1):
        amount = flows.get(index, Decimal(0))
        if amount:
            cash_flows.append(CashFlow(START_OF(start, step, index) - step / 2, amount))
        growth = Decimal(repr(1 + rng.gauss(drift, sigma)))
        equity.append(((equity[-1] + amount) * growth).quantize(Q8))
    returns = []
    with localcontext(prec=40):
        for index in range(1, periods + 1):
            base = equity[index - 1] + flows.get(index, Decimal(0))
            returns.append(float(equity[index] / base - 1))
    index = pd.DatetimeIndex([start + i * step for i in range(periods)])
    return EquitySeries(start, clock, tuple(equity)), cash_flows, pd.Series(returns, index=index)


def START_OF(start: datetime, step: timedelta, index: int) -> datetime:
    return start + index * step


def compound(returns: pd.Series, key: object) -> pd.Series:
    return (1 + returns).groupby(key).prod() - 1


Daily = tuple[EquitySeries, list[CashFlow], pd.Series]

# The shared fixture: 430 days (two year ends' worth of months), two deposits and two withdrawals mid-period.
DAILY_FLOWS = {
    40: Decimal("25000"),
    151: Decimal("-60000.5"),
    152: Decimal("10000"),
    300: Decimal("250000"),
    401: Decimal("-1234.56789"),
}


@pytest.fixture(scope="module")
def daily() -> tuple[EquitySeries, list[CashFlow], pd.Series]:
    return build(Frequency.DAY, 430, flows=DAILY_FLOWS)


def test_daily_figures_equal_empyrical_on_the_flow_adjusted_returns(daily: Daily) -> None:
    series, flows, ref = daily
    report = performance(series, flows)

    assert report.annualisation_days == 365
    assert report.periods_per_year == 365
    assert report.frequency is Frequency.DAY and report.clock is Frequency.DAY
    assert list(report.returns) == pytest.approx(list(ref), rel=0, abs=1e-12)
    assert report.twr == approx(empyrical.cum_returns_final(ref))
    assert report.total_return == report.twr
    assert report.cagr == approx(empyrical.annual_return(ref, annualization=365))
    assert report.volatility == approx(empyrical.annual_volatility(ref, annualization=365))
    assert report.sharpe == approx(empyrical.sharpe_ratio(ref, annualization=365))
    assert report.sortino == approx(empyrical.sortino_ratio(ref, annualization=365))
    assert report.calmar == approx(empyrical.calmar_ratio(ref, annualization=365))
    assert report.max_drawdown == approx(empyrical.max_drawdown(ref))
    assert report.max_drawdown < 0
    # The underwater series has the starting point too (0: at its own peak); empyrical's drops it.
    assert report.underwater[0] == 0.0
    assert list(report.underwater[1:]) == pytest.approx(list(empyrical.stats.drawdown_series(ref)), rel=0, abs=TOL)
    assert report.current_drawdown == report.underwater[-1]
    assert report.var == approx(empyrical.value_at_risk(ref, cutoff=0.05))
    assert report.cvar == approx(empyrical.conditional_value_at_risk(ref, cutoff=0.05))
    monthly = empyrical.aggregate_returns(ref, "monthly")
    assert [(m.year, m.month) for m in report.monthly] == list(monthly.index)
    assert [m.ret for m in report.monthly] == pytest.approx(list(monthly), rel=0, abs=TOL)
    assert [d.day for d in report.daily] == [t.date() for t in ref.index]
    assert [d.ret for d in report.daily] == pytest.approx(list(ref), rel=0, abs=TOL)


def test_a_risk_free_rate_and_another_confidence_match_empyrical_with_the_same_per_period_rate(daily: Daily) -> None:
    series, flows, ref = daily
    report = performance(series, flows, risk_free_rate=0.04, var_confidence=0.99)
    per_day = 1.04 ** (1 / 365) - 1
    assert report.risk_free_rate == 0.04 and report.var_confidence == 0.99
    assert report.sharpe == approx(empyrical.sharpe_ratio(ref, risk_free=per_day, annualization=365))
    assert report.sortino == approx(empyrical.sortino_ratio(ref, required_return=per_day, annualization=365))
    assert report.var == approx(empyrical.value_at_risk(ref, cutoff=0.01))
    assert report.cvar == approx(empyrical.conditional_value_at_risk(ref, cutoff=0.01))


def test_the_annualisation_basis_is_a_parameter_and_the_report_states_it(daily: Daily) -> None:
    series, flows, ref = daily
    report = performance(series, flows, annualisation_days=252)
    assert report.annualisation_days == 252 and report.periods_per_year == 252
    assert report.sharpe == approx(empyrical.sharpe_ratio(ref, annualization=252))
    assert report.volatility == approx(empyrical.annual_volatility(ref, annualization=252))
    assert report.cagr == approx(empyrical.annual_return(ref, annualization=252))


@pytest.mark.parametrize(
    ("clock", "periods", "start", "frequency"),
    [
        # An hourly series starting mid-day: the first and last days are partial buckets.
        (Frequency.HOUR, 24 * 45 + 7, datetime(2026, 1, 28, 13, tzinfo=UTC), Frequency.DAY),
        (Frequency.HOUR, 24 * 45 + 7, datetime(2026, 1, 28, 13, tzinfo=UTC), Frequency.HOUR),
        (Frequency.MINUTE, 1440 * 3 + 17, datetime(2026, 2, 27, 22, 41, tzinfo=UTC), Frequency.HOUR),
        (Frequency.MINUTE, 1440 * 3 + 17, datetime(2026, 2, 27, 22, 41, tzinfo=UTC), Frequency.DAY),
        # Every minute a return: VaR/CVaR take their tail without sorting all 4,337.
        (Frequency.MINUTE, 1440 * 3 + 17, datetime(2026, 2, 27, 22, 41, tzinfo=UTC), Frequency.MINUTE),
    ],
)
def test_returns_at_a_coarser_frequency_compound_the_clock_returns_in_utc_buckets(
    clock: Frequency, periods: int, start: datetime, frequency: Frequency
) -> None:
    flows = {periods // 3: Decimal("40000"), 2 * periods // 3: Decimal("-70000")}
    series, cash_flows, fine = build(clock, periods, start=start, flows=flows, drift=0.00001, sigma=0.002)
    report = performance(series, cash_flows, frequency=frequency)

    ref = compound(
        fine, fine.index.floor({Frequency.DAY: "D", Frequency.HOUR: "h", Frequency.MINUTE: "min"}[frequency])
    )
    per_year = 365 * frequency.periods_per_day
    assert report.periods_per_year == per_year
    assert list(report.returns) == pytest.approx(list(ref), rel=0, abs=TOL)
    assert report.volatility == approx(empyrical.annual_volatility(ref, annualization=per_year))
    assert report.sharpe == approx(empyrical.sharpe_ratio(ref, annualization=per_year))
    assert report.sortino == approx(empyrical.sortino_ratio(ref, annualization=per_year))
    assert report.var == approx(empyrical.value_at_risk(ref))
    assert report.cvar == approx(empyrical.conditional_value_at_risk(ref))
    # Drawdowns stay at the clock's resolution, whatever the return frequency.
    assert report.max_drawdown == approx(empyrical.max_drawdown(fine))
    assert report.twr == approx(empyrical.cum_returns_final(fine))
    # CAGR over the window's length: the clock's periods over the clock's periods per year.
    assert report.cagr == approx(empyrical.annual_return(fine, annualization=365 * clock.periods_per_day))
    daily = compound(fine, fine.index.floor("D"))
    assert [d.day for d in report.daily] == [t.date() for t in daily.index]
    assert [d.ret for d in report.daily] == pytest.approx(list(daily), rel=0, abs=TOL)
    monthly = empyrical.aggregate_returns(fine, "monthly")
    assert [m.ret for m in report.monthly] == pytest.approx(list(monthly), rel=0, abs=TOL)


def test_daily_pnl_is_the_equity_change_less_the_days_flows(daily: Daily) -> None:
    series, flows, _ref = daily
    report = performance(series, flows)
    equity = series.equity
    # Period i (a day) moves equity from point i-1 to point i; its flow is DAILY_FLOWS.get(i).
    for index, day in enumerate(report.daily, start=1):
        assert day.pnl == equity[index] - equity[index - 1] - DAILY_FLOWS.get(index, Decimal(0))
    assert sum((d.pnl for d in report.daily), Decimal(0)) == report.pnl
    assert report.deposits == Decimal("285000")
    assert report.withdrawals == Decimal("-61235.06789")
    assert report.net_flows == Decimal("223764.93211")
    assert report.pnl == equity[-1] - equity[0] - report.net_flows
    assert report.starting_equity == equity[0] and report.ending_equity == equity[-1]


# --- a deposit in the middle, by hand ---------------------------------------------------------------------------
def two_days(deposit: Decimal) -> tuple[EquitySeries, list[CashFlow]]:
    """100 → +10 % on day 1 → `deposit` in the middle of day 2 → −10 % on day 2."""
    end = ((Decimal(110) + deposit) * Decimal("0.9")).quantize(Q8)
    series = EquitySeries(START, Frequency.DAY, (Decimal(100), Decimal(110), end))
    flows = [CashFlow(START + timedelta(days=1, hours=12), deposit)] if deposit else []
    return series, flows


def test_a_deposit_mid_period_leaves_twr_unchanged_and_moves_mwr_as_computed_by_hand() -> None:
    without = performance(*two_days(Decimal(0)))
    with_deposit = performance(*two_days(Decimal(110)))

    assert without.twr == approx(1.1 * 0.9 - 1)
    assert with_deposit.twr == approx(without.twr)
    assert with_deposit.cagr == approx(without.cagr)

    # Without flows the IRR is the compound rate: 100 (1 + r)² = 99.
    plain = math.sqrt(0.99) - 1
    assert without.mwr_per_period == approx(plain)
    assert without.mwr == approx(without.twr)
    # With 110 deposited at the start of day 2: 100 + 110 v = 198 v², v = 1 / (1 + r) — the quadratic's positive
    # root v = (110 + √(110² + 4·198·100)) / (2·198).
    v = (110 + math.sqrt(110**2 + 4 * 198 * 100)) / (2 * 198)
    per_day = 1 / v - 1
    assert with_deposit.mwr_per_period == approx(per_day)
    assert with_deposit.mwr == approx((1 + per_day) ** 2 - 1)
    assert with_deposit.mwr_annualised == approx((1 + per_day) ** 365 - 1)
    # Money came in before the losing day: the money-weighted return is worse than the time-weighted one.
    assert with_deposit.mwr < with_deposit.twr
    assert with_deposit.pnl == Decimal("-12")  # +10 on day 1, −22 on day 2 and with_deposit.net_flows == Decimal(110)


def test_with_a_constant_return_the_mwr_is_that_return_whatever_the_flows() -> None:
    equity = [Decimal(1000)]
    flows = []
    deposits = {90: Decimal(5000), 200: Decimal(-3000), 201: Decimal(700)}
    for index in range(1, 366):
        amount = deposits.get(index, Decimal(0))
        if amount:
            flows.append(CashFlow(START + index * timedelta(days=1) - timedelta(hours=3), amount))
        equity.append((equity[-1] + amount) * Decimal("1.001"))
    report = performance(EquitySeries(START, Frequency.DAY, tuple(equity)), flows)
    assert report.twr == approx(1.001**365 - 1)
    assert report.cagr == approx(1.001**365 - 1)
    assert report.mwr_annualised == approx(1.001**365 - 1)
    assert report.mwr_per_period == approx(0.001)
    assert report.max_drawdown == 0.0
    # No dispersion: no Sharpe, no Sortino (no downside), no Calmar (no drawdown).
    assert report.volatility == 0.0
    assert report.sharpe is None and report.sortino is None and report.calmar is None


def test_the_mwr_of_several_flows_solves_the_npv_equation(daily: Daily) -> None:
    series, flows, _ref = daily
    report = performance(series, flows)
    per_day = report.mwr_per_period
    assert per_day is not None
    # Σ c_k (1 + r)^(−t_k) = 0 with the investor's cash flows: −start, −each flow at the start of its period, +end.
    with localcontext(prec=50):
        rate = Decimal(repr(per_day))
        npv = -series.equity[0] + series.equity[-1] / (1 + rate) ** series.periods
        for index, amount in DAILY_FLOWS.items():
            npv -= amount / (1 + rate) ** (index - 1)
    assert abs(npv) < Decimal("1e-6")  # on ~400,000 of capital
    assert report.mwr == approx((1 + per_day) ** series.periods - 1)


# --- withdrawals and drawdowns ----------------------------------------------------------------------------------
def series_of(*values: str | int, clock: Frequency = Frequency.DAY) -> EquitySeries:
    return EquitySeries(START, clock, tuple(Decimal(v) for v in values))


def test_a_withdrawal_is_not_a_drawdown() -> None:
    series = series_of(100, 100, 50, 50)
    report = performance(series, [CashFlow(START + timedelta(days=1, hours=6), Decimal(-50))])
    assert report.twr == 0.0
    assert report.max_drawdown == 0.0 and report.current_drawdown == 0.0
    assert set(report.underwater) == {0.0}
    assert report.max_drawdown_duration == timedelta(0) and report.longest_drawdown_duration == timedelta(0)
    assert report.max_drawdown_peak_at is None and report.recovery_time is None
    assert report.pnl == 0


def test_a_withdrawal_during_a_loss_does_not_deepen_the_drawdown() -> None:
    # −10 % on day 1, then half withdrawn (45) and flat: the drawdown stays −10 %, not −55 %.
    series = series_of(100, 90, 45, 45)
    report = performance(series, [CashFlow(START + timedelta(days=2), Decimal(-45))])
    assert report.max_drawdown == approx(-0.1)
    assert list(report.underwater) == pytest.approx([0.0, -0.1, -0.1, -0.1], abs=TOL)


def test_drawdown_duration_and_recovery_by_hand() -> None:
    series = series_of(100, 110, 99, 105, 110, 120, 90, 130)
    report = performance(series)
    # Wealth = equity / 100; peaks 1, 1.1, 1.1, 1.1, 1.1, 1.2, 1.2, 1.3.
    assert list(report.underwater) == pytest.approx([0, 0, 99 / 110 - 1, 105 / 110 - 1, 0, 0, -0.25, 0], abs=TOL)
    assert report.max_drawdown == approx(-0.25)
    day = timedelta(days=1)
    assert report.max_drawdown_peak_at == START + 5 * day
    assert report.max_drawdown_trough_at == START + 6 * day
    assert report.max_drawdown_recovered_at == START + 7 * day
    assert report.max_drawdown_duration == 2 * day
    assert report.recovery_time == day
    # The longest stretch below a peak is the first one: from day 1 back to its peak on day 4.
    assert report.longest_drawdown_duration == 3 * day
    assert report.current_drawdown == 0.0
    assert report.cagr is not None and report.calmar == approx(report.cagr / 0.25)


def test_a_drawdown_still_open_has_no_recovery_and_lasts_to_the_last_point() -> None:
    series = series_of(100, 120, 90, 100, 96, clock=Frequency.HOUR)
    report = performance(series, frequency=Frequency.HOUR)
    hour = timedelta(hours=1)
    assert report.max_drawdown == approx(-0.25)
    assert report.max_drawdown_recovered_at is None and report.recovery_time is None
    assert report.max_drawdown_duration == 3 * hour
    assert report.longest_drawdown_duration == 3 * hour
    assert report.current_drawdown == approx(96 / 120 - 1)


def test_a_round_trip_back_to_the_peak_is_a_recovery_despite_float_noise() -> None:
    # 10 → 7 (−30 %), 14 deposited, 7 + 14 = 21 → 30 (+3/7): back at the peak exactly, but the unit arithmetic in
    # floats gives 0.9999999999999999; the tolerance says it is at the peak, not a drawdown of 1e-16 that never ends.
    series = series_of(10, 7, 30, 30)
    report = performance(series, [CashFlow(START + timedelta(days=1, hours=1), Decimal(14))])
    assert report.max_drawdown == approx(-0.3)
    assert report.max_drawdown_recovered_at == START + timedelta(days=2)
    assert report.underwater[2:] == (0.0, 0.0)
    assert report.current_drawdown == 0.0 and report.longest_drawdown_duration == timedelta(days=2)


def test_all_withdrawn_then_deposited_again_chains_the_returns() -> None:
    # +10 %, everything (110) withdrawn, idle, 200 deposited, +5 %.
    series = series_of(100, 110, 0, 0, 210)
    flows = [CashFlow(START + timedelta(days=2), Decimal(-110)), CashFlow(START + timedelta(days=4), Decimal(200))]
    report = performance(series, flows)
    assert list(report.returns) == pytest.approx([0.1, 0.0, 0.0, 0.05], abs=TOL)
    assert report.twr == approx(1.1 * 1.05 - 1)


def test_historical_var_and_cvar_by_hand() -> None:
    # Ten daily returns −5 %, −4 %, … , +4 %: the 5 % quantile of ten values interpolates 45 % of the way from
    # the lowest to the next; CVaR averages the returns up to index ⌊9 × 0.05⌋ = 0.
    returns = [Decimal(k) / 100 for k in range(-5, 5)]
    equity = [Decimal(1000)]
    for r in returns:
        equity.append(equity[-1] * (1 + r))
    report = performance(EquitySeries(START, Frequency.DAY, tuple(equity)))
    assert report.var == approx(-0.05 + 0.45 * 0.01)
    assert report.cvar == approx(-0.05)


def test_no_capital_at_risk_has_no_money_weighted_return() -> None:
    idle = performance(series_of(0, 0))
    assert idle.twr == 0.0 and idle.mwr is None and idle.mwr_annualised is None
    # Everything withdrawn at the start of the only period: nothing was ever at risk.
    gone = performance(series_of(100, 0), [CashFlow(START + timedelta(hours=2), Decimal(-100))])
    assert gone.twr == 0.0 and gone.mwr is None


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.floats(min_value=-1.0, max_value=1.0), min_size=1, max_size=3_000),
    share=st.floats(min_value=0.0, max_value=1.0),
)
def test_the_var_tail_is_the_lowest_values_in_order(values: list[float], share: float) -> None:
    count = max(1, int(len(values) * share))
    assert _lowest(values, count) == sorted(values)[:count]


# --- inputs the function refuses -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "flows", "message"),
    [
        ({}, [CashFlow(START, Decimal(10))], "outside the series"),
        ({}, [CashFlow(START + timedelta(days=2, seconds=1), Decimal(10))], "outside the series"),
        ({}, [CashFlow(START + timedelta(hours=1), Decimal(-200))], "below zero"),
        ({"frequency": Frequency.HOUR}, [], "at least that fine"),
        ({"annualisation_days": 0}, [], "positive"),
        ({"var_confidence": 1.0}, [], "between 0 and 1"),
        ({"risk_free_rate": -1.0}, [], "above"),
    ],
)
def test_it_refuses_what_it_cannot_measure(kwargs: dict[str, Any], flows: list[CashFlow], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        performance(series_of(100, 101, 102), flows, **kwargs)


def test_a_series_must_be_aware_aligned_regular_and_at_least_two_points() -> None:
    with pytest.raises(ValueError, match="aware"):
        EquitySeries(datetime(2026, 1, 1), Frequency.DAY, (Decimal(1), Decimal(2)))
    with pytest.raises(ValueError, match="not on the 1h clock"):
        EquitySeries(START + timedelta(minutes=5), Frequency.HOUR, (Decimal(1), Decimal(2)))
    with pytest.raises(ValueError, match="two points"):
        EquitySeries(START, Frequency.DAY, (Decimal(1),))
    hour = timedelta(hours=1)
    points = [(START, Decimal(1)), (START + hour, Decimal(2)), (START + 3 * hour, Decimal(3))]
    with pytest.raises(ValueError, match="point 2"):
        EquitySeries.from_points(points, Frequency.HOUR)
    series = EquitySeries.from_points(points[:2], Frequency.HOUR)
    assert series.end == START + hour and series.periods == 1
    with pytest.raises(ValueError, match="no capital"):
        performance(series_of(0, 0, 5))


def test_days_are_utc_days_whatever_the_start_timezone() -> None:
    from zoneinfo import ZoneInfo

    start = datetime(2026, 3, 1, 8, tzinfo=ZoneInfo("Asia/Shanghai"))  # 2026-03-01T00:00Z
    series = EquitySeries(start, Frequency.HOUR, tuple(Decimal(100 + i) for i in range(49)))
    report = performance(series)
    assert series.start == datetime(2026, 3, 1, tzinfo=UTC)
    assert [d.day for d in report.daily] == [date(2026, 3, 1), date(2026, 3, 2)]
    assert report.daily[0].ret == approx(124 / 100 - 1) and report.daily[0].pnl == 24


# --- properties ---------------------------------------------------------------------------------------------------
period_returns = st.lists(st.floats(min_value=-0.05, max_value=0.05), min_size=2, max_size=60)


@st.composite
def walks_with_flows(draw: st.DrawFn) -> tuple[list[float], dict[int, float]]:
    returns = draw(period_returns)
    indices = st.integers(min_value=1, max_value=len(returns))
    # A flow as a share of the equity before it: withdrawals up to half, deposits up to 3×. (With the equity
    # booked at 8 dp, a series withdrawn down to a few dollars carries rounding of its own beyond 1e-9.)
    shares = st.floats(min_value=-0.5, max_value=3.0).filter(lambda share: abs(share) > 1e-6)
    return returns, draw(st.dictionaries(indices, shares, max_size=5))


def walk(returns: list[float], shares: dict[int, float]) -> tuple[EquitySeries, list[CashFlow]]:
    equity = [Decimal("10000000")]
    flows = []
    for index, r in enumerate(returns, start=1):
        amount = Decimal(0)
        if index in shares:
            amount = (equity[-1] * Decimal(repr(shares[index]))).quantize(Q8)
            flows.append(CashFlow(START + index * timedelta(days=1) - timedelta(minutes=1), amount))
        equity.append(((equity[-1] + amount) * Decimal(repr(1 + r))).quantize(Q8))
    return EquitySeries(START, Frequency.DAY, tuple(equity)), flows


@settings(max_examples=120, deadline=None)
@given(case=walks_with_flows())
def test_twr_and_drawdowns_are_invariant_under_flows_with_matching_equity_jumps(
    case: tuple[list[float], dict[int, float]],
) -> None:
    returns, shares = case
    plain = performance(*walk(returns, {}))
    flowed = performance(*walk(returns, shares))
    assert flowed.twr == pytest.approx(plain.twr, rel=TOL, abs=TOL)
    assert flowed.max_drawdown == pytest.approx(plain.max_drawdown, abs=TOL)
    assert list(flowed.underwater) == pytest.approx(list(plain.underwater), abs=TOL)


@settings(max_examples=120, deadline=None)
@given(case=walks_with_flows())
def test_drawdowns_are_never_positive(case: tuple[list[float], dict[int, float]]) -> None:
    report = performance(*walk(*case))
    assert report.max_drawdown <= 0.0
    assert report.current_drawdown <= 0.0
    assert all(value <= 0.0 for value in report.underwater)
    assert report.max_drawdown == min(report.underwater)


@settings(max_examples=120, deadline=None)
@given(case=walks_with_flows())
def test_the_mwr_found_zeroes_the_npv(case: tuple[list[float], dict[int, float]]) -> None:
    series, flows = walk(*case)
    report = performance(series, flows)
    if report.mwr_per_period is None:
        return
    with localcontext(prec=50):
        rate = Decimal(repr(report.mwr_per_period))
        step = timedelta(days=1)
        npv = -series.equity[0] + series.equity[-1] / (1 + rate) ** series.periods
        for flow in flows:
            index = -(-(flow.at - START) // step)  # the period it lands in
            npv -= flow.amount / (1 + rate) ** (index - 1)
        scale = max([abs(series.equity[0]), abs(series.equity[-1])] + [abs(f.amount) for f in flows])
    assert abs(npv) <= scale * Decimal("1e-9")
