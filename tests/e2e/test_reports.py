"""The Reports page in Chromium, on the demo's seeded history, in English and in Chinese: for each
chart the series plotted on the page equal the analytics API's figures for the same filter (read from the charts
themselves, not merely a drawn canvas), the metric cards show the API's values, and the page fits 1366×768."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import choose_language

from .helpers import log_in, set_theme

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("processes")]  # tests/conftest.py

PLOTTED = """() => {
  const r = window.quantarbReports;
  const option = (name) => r.charts[name].getOption();
  return {
    equity: r.series.equity.data().map((p) => [p.time, p.value]),
    underwater: r.series.underwater.data().map((p) => [p.time, p.value]),
    daily: { x: option("daily").xAxis[0].data, y: option("daily").series[0].data },
    monthly: { years: option("monthly").yAxis[0].data, cells: option("monthly").series[0].data },
    waterfall: { base: option("waterfall").series[0].data, height: option("waterfall").series[1].data },
    entry: option("entryEdge").series[0].data,
    holding: option("holding").series[0].data,
    cards: Object.fromEntries(
      [...document.querySelectorAll("[data-metric]")].map((el) => [el.dataset.metric, el.dataset.value])
    ),
    strategies: Object.fromEntries(
      [...document.querySelectorAll("[data-testid=strategy-comparison] tr[data-strategy]")].map((row) => [
        row.dataset.strategy,
        Object.fromEntries(
          [...row.querySelectorAll("[data-strategy-metric]")].map((el) => [el.dataset.strategyMetric, el.dataset.value])
        ),
      ])
    ),
    entryLabels: option("entryEdge").xAxis[0].data,
    waterfallNames: option("waterfall").xAxis[0].data.length,
  };
}"""


def api(page: Any, base: str, path: str, params: dict[str, Any]) -> Any:
    answer = page.request.get(base + path, params=params)
    assert answer.ok, answer.text()
    return answer.json()


def check_charts(page: Any, base: str) -> None:
    page.wait_for_function("() => document.body.dataset.reportsReady === '1'", timeout=60_000)
    config = json.loads(page.locator("#report-config").text_content())
    params, urls = config["params"], config["urls"]
    equity = api(page, base, urls["equity"], params)
    attribution = api(page, base, urls["attribution"], params)
    metrics = api(page, base, urls["metrics"], params)
    plotted = page.evaluate(PLOTTED)

    assert len(equity["points"]) > 24 and attribution["hedges"] > 5, "the demo's history is on the page"
    assert plotted["equity"] == [[p["t"], float(p["equity"])] for p in equity["points"]]
    assert plotted["underwater"] == [[p["t"], p["underwater"]] for p in equity["points"]]
    assert min(value for _t, value in plotted["underwater"]) < 0
    assert plotted["daily"]["x"] == [d["day"] for d in equity["daily"]]
    assert plotted["daily"]["y"] == [float(d["pnl"]) for d in equity["daily"]]
    years = plotted["monthly"]["years"]
    assert sorted((int(years[y]), m + 1, ret) for m, y, ret in plotted["monthly"]["cells"]) == sorted(
        (m["year"], m["month"], m["ret"]) for m in equity["monthly"]
    )
    # The waterfall: one bar per line from where the previous one ended, then the net PnL from zero.
    running = 0.0
    for index, line in enumerate(attribution["lines"]):
        value = float(line["usd"])
        assert plotted["waterfall"]["height"][index] == abs(value)
        assert plotted["waterfall"]["base"][index] == min(running, running + value)
        running += value
    assert plotted["waterfall"]["height"][-1] == abs(float(attribution["total"]))
    assert plotted["waterfallNames"] == len(attribution["lines"]) + 1
    assert plotted["entry"] == [b["count"] for b in attribution["entry_edge"]["buckets"]]
    assert plotted["entryLabels"] == [f"{float(b['lower']):.2f}" for b in attribution["entry_edge"]["buckets"]]
    assert plotted["holding"] == [b["count"] for b in attribution["holding_time"]["buckets"]]
    for key in ("twr", "mwr", "sharpe", "max_drawdown", "win_rate", "hedges"):
        shown = plotted["cards"][key]
        assert (None if shown == "" else float(shown)) == (None if metrics[key] is None else float(metrics[key])), key
    # Strategies side by side: each row the API's figures of that strategy over the same period.
    assert plotted["strategies"] and set(plotted["strategies"]) == {str(s["id"]) for s in config["strategies"]}
    for strategy_id, shown in plotted["strategies"].items():
        figures = api(page, base, urls["metrics"], {**params, "scope": "strategy", "id": strategy_id})
        for key in ("twr", "sharpe", "max_drawdown", "win_rate", "hedges", "pnl"):
            expected = None if figures[key] is None else float(figures[key])
            assert (None if shown[key] == "" else float(shown[key])) == expected, (strategy_id, key)
    # Readable at 1366×768: nothing wider than the window.
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def test_the_reports_page_plots_the_apis_figures_in_both_languages(platform: Any, page: Any) -> None:
    log_in(page, platform.url, username="demo-analyst")
    page.click("[data-testid=nav-reports]")
    expect(page.locator("h1")).to_have_text("Reports")
    check_charts(page, platform.url)
    expect(page.locator("[data-metric=twr]")).not_to_have_text("")
    # The other theme: the same figures, the charts coloured from its variables, still within 1366×768.
    original = page.get_attribute("html", "data-bs-theme") or "dark"
    other = "light" if original == "dark" else "dark"
    set_theme(page, platform.url, other)
    try:
        page.reload()
        assert page.get_attribute("html", "data-bs-theme") == other
        check_charts(page, platform.url)
    finally:
        set_theme(page, platform.url, original)
    page.reload()

    choose_language(page, "zh-hans")
    try:
        expect(page.locator("h1")).to_have_text("报表")
        check_charts(page, platform.url)
        assert "Time-weighted return" not in page.locator("#metric-cards").inner_text()
        page.select_option("#f-target", label="策略：Demo basis")
        with page.expect_navigation():
            page.click("[data-testid=report-filters] button[type=submit]")
        check_charts(page, platform.url)
    finally:
        choose_language(page, "en")
