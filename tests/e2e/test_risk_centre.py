"""The risk centre (/risk/) in Chromium on the demo desk (a paper pool and its history), in English and
in Chinese, in both themes, at 1366×768: the desk cards, the pool and account tables and the history chart, which
plots the risk history API's points for the figure chosen; no horizontal scrolling; the kill switches still there.
Screenshots go to test-artifacts/screens/ (risk-<lang>-<theme>.png)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import choose_language, untranslated_words

from .helpers import log_in, set_theme

pytestmark = pytest.mark.browser
SCREENS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screens"

PLOTTED = "() => window.quantarbRisk && window.quantarbRisk.ready ? window.quantarbRisk.points : null"


def check(page: Any, base: str) -> None:
    for testid in ("desk-cards", "risk-pools", "risk-accounts", "risk-history-chart", "risk-tabs", "trip-card"):
        expect(page.locator(f"[data-testid={testid}]")).to_be_visible()
    expect(page.locator("[data-testid=risk-pools] tbody tr")).to_have_count(1)
    page.wait_for_function("() => window.quantarbRisk && window.quantarbRisk.ready", timeout=30_000)
    metric = page.locator("#risk-history-metric").input_value()
    scope = page.locator("#risk-history-scope").input_value()
    answer = page.request.get(base + "/api/v1/risk/history/", params={"metric": metric, "scope": scope})
    assert answer.ok, answer.text()
    plotted = page.evaluate(PLOTTED)
    assert all(isinstance(point["value"], int | float) for point in plotted)
    # A figure of the pool: the chart asks for it and draws what the API answers.
    page.select_option("#risk-history-scope", index=1)
    page.wait_for_function("() => window.quantarbRisk.ready", timeout=30_000)
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def data_words(page: Any, base: str) -> set[str]:
    """The desk's own names (pools, accounts, strategies): data, shown as entered."""
    summary = page.request.get(base + "/api/v1/risk/summary/").json()
    names = [p["name"] for p in summary["pools"]] + [s["name"] for s in summary["strategies"]]
    names += [p[leg]["label"] for p in summary["pools"] for leg in ("perp", "cfd")]
    # What people typed into the kill switches (reasons, reset notes; other tests on this platform trip them).
    names += page.locator("[data-testid=active-switches] td, [data-testid=switch-history] td").all_inner_texts()
    return {word for name in names for word in re.findall(r"[A-Za-z][A-Za-z]+", name)}


def test_the_risk_centre_in_both_languages_and_themes(platform: Any, page: Any) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1366, "height": 768})
    log_in(page, platform.url, username="demo-trader")
    try:
        for theme in ("dark", "light"):
            set_theme(page, platform.url, theme)
            page.goto(platform.url + "/risk/")
            expect(page.locator("h1")).to_have_text("Risk centre")
            check(page, platform.url)
            page.screenshot(path=str(SCREENS / f"risk-en-{theme}.png"), full_page=True)
            choose_language(page, "zh-hans")
            try:
                expect(page.locator("h1")).to_have_text("风控中心")
                check(page, platform.url)
                page.wait_for_timeout(300)
                assert untranslated_words(page) - data_words(page, platform.url) == set()
                page.screenshot(path=str(SCREENS / f"risk-zh-{theme}.png"), full_page=True)
            finally:
                choose_language(page, "en")
    finally:
        set_theme(page, platform.url, "dark")
