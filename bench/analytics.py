"""Every performance figure over a year of one-minute equity: our pure-Python path against bare numpy.

    .venv/bin/python bench/analytics.py [--days 365] [--frequency 1m|1h|1d] [--seed S] [--runs R]

Input: one year of one-minute equity (525,600 points + the closing one) booked as 8-dp Decimals, a random walk
around 250,000 USD with a few deposits and withdrawals, from a fixed seed. "ours" is
`trading.domain.performance.performance` on it as production would call it (Decimal series and flows in,
every figure of the report out: TWR, CAGR, MWR, volatility, Sharpe, Sortino, Calmar, drawdowns with durations
and recovery, underwater series, VaR/CVaR, daily and monthly tables) with the return statistics at
`--frequency` (1m by default: every statistic over all 525,600 returns, the heaviest case). "baseline" is the
least numpy that computes the same figures from the same Decimals (converted with `np.fromiter`, which is in
its time; the time without the conversion is printed too). The figures of both are checked against each other
(1e-9) before anything is timed. Both are the best of `--runs` runs. numpy is a dev dependency (pyproject.toml);
the domain code does not use it. The last line printed is one JSON object (bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from trading.domain.performance import CashFlow, EquitySeries, Frequency, PerformanceReport, performance

START = datetime(2026, 1, 1, tzinfo=UTC)
Q8 = Decimal("0.00000001")
ANNUALISATION_DAYS = 365
CONFIDENCE = 0.95


def make_series(days: int, seed: int) -> tuple[EquitySeries, list[CashFlow]]:
    """One-minute equity: ~8 % a year of drift and ~12 % volatility (annualised on 365 days), a deposit of
    100,000 and a withdrawal of 80,000 each quarter, landing mid-minute."""
    rng = random.Random(seed)
    periods = days * 1440
    per_year = ANNUALISATION_DAYS * 1440
    drift, sigma = 0.08 / per_year, 0.12 / math.sqrt(per_year)
    flows_at = {}
    for quarter in range(0, periods, 90 * 1440):
        flows_at[quarter + 17 * 1440 + 611] = Decimal("100000")
        flows_at[quarter + 61 * 1440 + 1222] = Decimal("-80000")
    flows_at = {index: amount for index, amount in flows_at.items() if 1 <= index <= periods}
    equity = [Decimal("250000")]
    value = 250_000.0
    for index in range(1, periods + 1):
        value = (value + float(flows_at.get(index, 0))) * (1.0 + rng.gauss(drift, sigma))
        equity.append(Decimal(value).quantize(Q8))
    step = timedelta(minutes=1)
    flows = [CashFlow(START + index * step - step / 2, amount) for index, amount in sorted(flows_at.items())]
    return EquitySeries(START, Frequency.MINUTE, tuple(equity)), flows


def run_ours(
    series: EquitySeries, flows: list[CashFlow], frequency: Frequency
) -> tuple[float, float, PerformanceReport]:
    """(wall seconds, CPU seconds, the report)."""
    started, cpu = time.perf_counter(), time.process_time()
    report = performance(
        series, flows, frequency=frequency, annualisation_days=ANNUALISATION_DAYS, var_confidence=CONFIDENCE
    )
    return time.perf_counter() - started, time.process_time() - cpu, report


def numpy_figures(
    equity: np.ndarray, flow_index: np.ndarray, flow_amount: np.ndarray, stride: int, day: int, months: np.ndarray
) -> dict[str, float]:
    """The same figures with bare numpy: flow-adjusted returns, wealth index, drawdowns, statistics, IRR."""
    periods = equity.size - 1
    flows = np.zeros(periods + 1)
    np.add.at(flows, flow_index, flow_amount)
    ret = equity[1:] / (equity[:-1] + flows[1:]) - 1.0
    wealth = np.empty(periods + 1)
    wealth[0] = 1.0
    np.cumprod(1.0 + ret, out=wealth[1:])
    peaks = np.maximum.accumulate(wealth)
    underwater = wealth / peaks - 1.0
    underwater[underwater >= -1e-12] = 0.0
    trough = int(np.argmin(underwater))
    at_peak = np.flatnonzero(underwater == 0.0)
    peak = int(at_peak[np.searchsorted(at_peak, trough) - 1])
    after = np.searchsorted(at_peak, trough)
    recovered = int(at_peak[after]) if after < at_peak.size else periods
    gaps = np.diff(at_peak)
    longest = max(int(gaps.max()) if gaps.size and gaps.max() > 1 else 0, periods - int(at_peak[-1]))
    clock_per_year = ANNUALISATION_DAYS * 1440
    per_year = clock_per_year // stride
    bounds = np.append(np.arange(0, periods, stride), periods)
    rets = wealth[bounds[1:]] / wealth[bounds[:-1]] - 1.0
    std = rets.std(ddof=1)
    downside = math.sqrt(np.mean(np.minimum(rets, 0.0) ** 2))
    cagr = wealth[-1] ** (clock_per_year / periods) - 1.0
    tail = round(1 - CONFIDENCE, 12)
    cutoff = int((rets.size - 1) * tail)
    days = np.append(np.arange(0, periods, day), periods)
    daily = wealth[days[1:]] / wealth[days[:-1]] - 1.0
    day_flows = np.add.reduceat(flows[1:], days[:-1]) if periods else flows[1:]
    daily_pnl = np.diff(equity[days]) - day_flows
    monthly = wealth[months[1:]] / wealth[months[:-1]] - 1.0
    # IRR on the investor's cash flows (−start, −flows at the start of their period, +end): Newton on a handful.
    times = np.r_[0.0, flow_index - 1.0, float(periods)] / clock_per_year
    cash = np.r_[-equity[0], -flow_amount, equity[-1]] / np.abs(equity).max()
    g = 0.0
    for _ in range(100):
        discount = np.exp(-g * times)
        step = np.dot(cash, discount) / np.dot(-times * cash, discount)
        g -= step
        if abs(step) < 1e-15:
            break
    return {
        "twr": wealth[-1] - 1.0,
        "cagr": cagr,
        "mwr_annualised": math.expm1(g),
        "volatility": std * math.sqrt(per_year),
        "sharpe": rets.mean() / std * math.sqrt(per_year),
        "sortino": rets.mean() * per_year / (downside * math.sqrt(per_year)),
        "calmar": cagr / -underwater[trough],
        "max_drawdown": underwater[trough],
        "max_drawdown_minutes": recovered - peak,
        "longest_drawdown_minutes": longest,
        "current_drawdown": underwater[-1],
        "var": float(np.percentile(rets, 100 * tail)),
        "cvar": float(np.mean(np.partition(rets, cutoff)[: cutoff + 1])),
        "daily_sum": float(daily.sum()),
        "daily_pnl_sum": float(daily_pnl.sum()),
        "monthly_sum": float(monthly.sum()),
        "underwater_sum": float(underwater.sum()),
    }


def ours_as_figures(report: PerformanceReport) -> dict[str, float]:
    minute = timedelta(minutes=1)
    return {
        "twr": report.twr,
        "cagr": report.cagr or math.nan,
        "mwr_annualised": report.mwr_annualised or math.nan,
        "volatility": report.volatility or math.nan,
        "sharpe": report.sharpe or math.nan,
        "sortino": report.sortino or math.nan,
        "calmar": report.calmar or math.nan,
        "max_drawdown": report.max_drawdown,
        "max_drawdown_minutes": report.max_drawdown_duration / minute,
        "longest_drawdown_minutes": report.longest_drawdown_duration / minute,
        "current_drawdown": report.current_drawdown,
        "var": report.var or math.nan,
        "cvar": report.cvar or math.nan,
        "daily_sum": math.fsum(d.ret for d in report.daily),
        "daily_pnl_sum": float(sum(d.pnl for d in report.daily)),
        "monthly_sum": math.fsum(m.ret for m in report.monthly),
        "underwater_sum": math.fsum(report.underwater),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--frequency", choices=[f.value for f in Frequency], default=Frequency.MINUTE.value)
    parser.add_argument("--seed", type=int, default=20_260_101)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    frequency = Frequency(args.frequency)

    series, flows = make_series(args.days, args.seed)
    points = len(series.equity)
    periods = series.periods
    month_starts = [0]
    year, month = START.year, START.month
    while True:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        index = (datetime(year, month, 1, tzinfo=UTC) - START) // timedelta(minutes=1)
        if index >= periods:
            break
        month_starts.append(index)
    months = np.array([*month_starts, periods])
    step = timedelta(minutes=1)
    flow_index = np.array([-(-(flow.at - START) // step) for flow in flows])
    flow_amount = np.array([float(flow.amount) for flow in flows])
    stride = frequency.seconds // 60

    def run_baseline(convert: bool) -> tuple[float, float, dict[str, float]]:
        """(wall seconds, CPU seconds, the figures); `convert`: the Decimal→float conversion is timed too."""
        floats = np.fromiter(map(float, series.equity), dtype=np.float64, count=points) if not convert else None
        started, cpu = time.perf_counter(), time.process_time()
        if convert:
            floats = np.fromiter(map(float, series.equity), dtype=np.float64, count=points)
        assert floats is not None
        figures = numpy_figures(floats, flow_index, flow_amount, stride, 1440, months)
        return time.perf_counter() - started, time.process_time() - cpu, figures

    report = run_ours(series, flows, frequency)[2]
    reference = run_baseline(True)[2]
    ours_figures = ours_as_figures(report)
    for name, expected in reference.items():
        got = ours_figures[name]
        if not math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-9):
            raise SystemExit(f"figures differ: {name} ours {got!r} numpy {expected!r}")

    # The machine is shared: CPU time moves much less with the load than wall time, so both are kept (best of).
    ours_seconds = baseline_seconds = bare_seconds = ours_cpu = baseline_cpu = float("inf")
    for _ in range(args.runs):
        wall, cpu, _report = run_ours(series, flows, frequency)
        ours_seconds, ours_cpu = min(ours_seconds, wall), min(ours_cpu, cpu)
        wall, cpu, _figures = run_baseline(True)
        baseline_seconds, baseline_cpu = min(baseline_seconds, wall), min(baseline_cpu, cpu)
        bare_seconds = min(bare_seconds, run_baseline(False)[0])

    ours = points / ours_seconds
    baseline = points / baseline_seconds
    python = sys.version.split()[0]
    print(
        f"analytics: {points:,} one-minute points over {args.days} days, {len(flows)} cash flows, returns at "
        f"{frequency} ({len(report.returns):,}), seed {args.seed}, best of {args.runs} runs, Python {python}, "
        f"numpy {np.__version__}"
    )
    print(f"  ours      {ours_seconds * 1e3:9.1f} ms  ({ours:>12,.0f} points/s)  CPU {ours_cpu * 1e3:,.1f} ms")
    print(
        f"  baseline  {baseline_seconds * 1e3:9.1f} ms  ({baseline:>12,.0f} points/s)  CPU {baseline_cpu * 1e3:,.1f} ms"
        "  (numpy, Decimal→float included)"
    )
    print(f"  numpy     {bare_seconds * 1e3:9.1f} ms  (the same without the conversion)")
    print(f"  ratio     {ours / baseline:.4f}  (CPU time: {baseline_cpu / ours_cpu:.4f})")
    print(
        f"  figures equal to 1e-9: TWR {report.twr:.6%}, MWR {report.mwr_annualised:.6%} a year, "
        f"Sharpe {report.sharpe:.4f}, max drawdown {report.max_drawdown:.4%}"
    )
    print(
        json.dumps(
            {
                "name": "analytics",
                "ours": round(ours, 1),
                "baseline": round(baseline, 1),
                "ratio": round(ours / baseline, 4),
                "unit": "points/s",
                "ours_ms": round(ours_seconds * 1e3, 1),
                "baseline_ms": round(baseline_seconds * 1e3, 1),
                "ours_cpu_ms": round(ours_cpu * 1e3, 1),
                "baseline_cpu_ms": round(baseline_cpu * 1e3, 1),
                "numpy_without_conversion_ms": round(bare_seconds * 1e3, 1),
                "points": points,
                "frequency": str(frequency),
            }
        )
    )


if __name__ == "__main__":
    main()
