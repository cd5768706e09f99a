"""The live dashboard in a real Chromium against a running embedded platform (`runplatform`: daphne, simulated
venues, spread engine, scheduler).

Every wait is on a condition with a deadline; nothing sleeps. A failed test leaves a screenshot per page in
`test-artifacts/` (see conftest.py).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from .helpers import DEMO_USER, choose_language, log_in, set_theme, untranslated_words, wait_live

CONTRAST_JS = (Path(__file__).parent / "contrast.js").read_text()

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("processes")]  # tests/conftest.py

PRICE_IDS = ("perp-bid", "cfd-bid")

# Text of both venues' bids (null where the card has no quote yet). The partials are swapped by innerHTML on
# every frame, so elements are looked up afresh each time.
READ_PRICES = """(ids) => ids.map((k) => {
  const el = document.querySelector(`[data-testid="${k}"]`);
  return el ? el.textContent.trim() : null;
})"""
PRICES_PRESENT = """(ids) => ids.every((k) => document.querySelector(`[data-testid="${k}"]`))"""
PRICES_MOVED = """([ids, before]) => ids.every((k, i) => {
  const el = document.querySelector(`[data-testid="${k}"]`);
  return el !== null && el.textContent.trim() !== before[i];
})"""


class Deadline:
    """One budget shared by several waits: each wait gets what is left of it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    @property
    def ms(self) -> float:
        return max(1.0, (self.end - time.monotonic()) * 1000)


def wait_prices_move(page: Any, deadline: Deadline) -> tuple[list[str], list[str]]:
    """Both venues' bids on screen and then both different from what they were; returns (before, after)."""
    page.wait_for_function(PRICES_PRESENT, arg=list(PRICE_IDS), timeout=deadline.ms)
    before = page.evaluate(READ_PRICES, list(PRICE_IDS))
    page.wait_for_function(PRICES_MOVED, arg=[list(PRICE_IDS), before], timeout=deadline.ms)
    return before, page.evaluate(READ_PRICES, list(PRICE_IDS))


def pair_id(page: Any) -> str:
    pid = page.locator("section.qa-pair").first.get_attribute("data-pair-id")
    assert pid, "the dashboard shows no market pair (was seed_demo run?)"
    return str(pid)


# --- anonymous ---------------------------------------------------------------------------------------------
def test_anonymous_visit_redirects_to_login(platform: Any, page: Any) -> None:
    page.goto(platform.url + "/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"), timeout=5_000)
    expect(page.locator("input[name=username]")).to_be_visible()
    expect(page.locator("input[name=password]")).to_be_visible()
    expect(page.locator("#live-status")).to_have_count(0)  # no top bar, no socket for strangers


def test_wrong_password_shows_an_inline_error(platform: Any, page: Any) -> None:
    page.goto(platform.url + "/accounts/login/")
    page.fill("input[name=username]", DEMO_USER)
    page.fill("input[name=password]", "not-the-password")
    with page.expect_navigation(timeout=15_000) as navigation:
        page.click("button[type=submit]")
    assert navigation.value is not None and navigation.value.status == 200
    error = page.locator("form .alert-danger[role=alert]")
    expect(error).to_be_visible(timeout=5_000)
    expect(error).to_contain_text("correct username and password")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    expect(page.locator("input[name=username]")).to_have_value(DEMO_USER)  # kept, so only the password is retyped
    expect(page.locator("input[name=password]")).to_have_value("")
    body = page.locator("body").inner_text()
    for leak in ("Traceback", "Server Error", "Exception", "DEBUG"):
        assert leak not in body, f"the login page shows {leak!r}"


# --- live feed ---------------------------------------------------------------------------------------------
def test_both_venues_prices_move_and_the_chart_grows(platform: Any, page: Any) -> None:
    log_in(page, platform.url)
    wait_live(page)
    deadline = Deadline(5)  # both venues must have moved within 5 s of the page going live
    before, after = wait_prices_move(page, deadline)
    assert all(after), after
    assert before != after

    pid = pair_id(page)
    chart = page.locator('[data-testid="chart"]').first
    expect(chart.locator("canvas").first).to_be_visible(timeout=5_000)
    box = chart.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 100, f"chart has no room to draw: {box}"
    points = page.evaluate("(pid) => window.qaLive.charts[pid].points", pid)
    assert points > 0, "the chart started without history or live points"
    page.wait_for_function(
        """([pid, n]) => {
          const c = window.qaLive.charts[pid];
          return c.points > n && Number(c.el.dataset.points) === c.points;
        }""",
        arg=[pid, points],
        timeout=5_000,
    )
    assert int(chart.get_attribute("data-points") or 0) > points
    assert page.evaluate("window.qaLive.messages") > 0


def test_switches_to_chinese_and_keeps_it(platform: Any, page: Any, new_page: Any) -> None:
    log_in(page, platform.url)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    try:
        choose_language(page, "zh-hans")
        nav = page.locator("nav.qa-nav a.qa-nav-link").first
        expect(nav).to_have_text("仪表盘")
        expect(page).to_have_title(re.compile("仪表盘"))
        expect(page.locator("select[name=language]")).to_have_value("zh-hans")
        # Live frames are rendered in the reader's language too: after a few pushes the cards are still Chinese.
        wait_live(page)
        expect(page.locator("#live-status .qa-live-text")).to_have_text("实时", timeout=5_000)
        seen = page.evaluate("window.qaLive.messages")
        page.wait_for_function("(n) => window.qaLive.messages > n + 2", arg=seen, timeout=5_000)
        venue = page.locator('[data-testid="venue-perp"]')
        expect(venue.locator("dt").first).to_have_text("买价")
        expect(venue).not_to_contain_text("Bid")
        expect(page.locator("main")).not_to_contain_text("Waiting for")
        page.wait_for_selector('#health [data-testid="health"]', timeout=10_000)  # the strip's first HTMX load
        leftovers = untranslated_words(page)
        assert not leftovers, f"English left in the Chinese UI: {sorted(leftovers)}"

        page.reload()
        expect(page.locator("html")).to_have_attribute("lang", "zh-hans", timeout=5_000)
        expect(nav).to_have_text("仪表盘")

        # Saved on the user, not only in this browser's cookie: a fresh browser logs in to Chinese.
        other = new_page()
        log_in(other, platform.url)
        expect(other.locator("html")).to_have_attribute("lang", "zh-hans", timeout=5_000)
        expect(other.locator("nav.qa-nav a.qa-nav-link").first).to_have_text("仪表盘")
    finally:
        try:
            choose_language(page, "en")
        except Exception:
            # Whatever state the page is in, the user goes back to English so later tests read English.
            page.goto(platform.url + "/")
            choose_language(page, "en")
    expect(page.locator("nav.qa-nav a.qa-nav-link").first).to_have_text("Dashboard")


def test_shows_reconnecting_when_the_socket_drops_and_recovers(platform: Any, page: Any) -> None:
    log_in(page, platform.url)
    wait_live(page)
    status = page.locator("#live-status")
    try:
        page.wait_for_selector('#health [data-testid="health"]', timeout=10_000)
        platform.stop()
        expect(status).to_have_attribute("data-state", "reconnecting", timeout=10_000)
        expect(status.locator(".qa-live-text")).to_have_text("reconnecting")
        # Nothing pretends to be current while the server is away: quote ages turn amber "stale" past the 5 s
        # limit, and the health strip, whose poll now fails, says since when it is not updated.
        for venue in ("perp", "cfd"):
            age = page.locator(f'[data-testid="venue-{venue}"] .qa-age')
            expect(age).to_have_class(re.compile(r"\bqa-stale\b"), timeout=10_000)
            expect(age).to_contain_text("stale")
        expect(page.locator("#health")).to_have_class(re.compile(r"\bqa-outdated\b"), timeout=10_000)
        expect(page.locator("#health")).to_have_attribute("data-outdated-text", re.compile("Not updated since"))

        platform.start()  # returns once /healthz answers
        deadline = Deadline(30)  # the browser's backoff must find the server again and prices move
        page.wait_for_selector("#live-status[data-state=live]", state="attached", timeout=deadline.ms)
        expect(status.locator(".qa-live-text")).to_have_text("live", timeout=deadline.ms)
        seen = page.evaluate("window.qaLive.messages")
        wait_prices_move(page, deadline)
        assert page.evaluate("window.qaLive.messages") > seen
        for venue in ("perp", "cfd"):
            expect(page.locator(f'[data-testid="venue-{venue}"] .qa-age')).to_have_class(
                re.compile(r"\bqa-fresh\b"), timeout=deadline.ms
            )
        expect(page.locator("#health")).not_to_have_class(re.compile(r"\bqa-outdated\b"), timeout=10_000)
    finally:
        if platform.process.poll() is not None:
            platform.start()  # later tests need a server


# --- readability ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("theme", ["dark", "light"])
def test_text_contrast_passes_wcag_aa(platform: Any, page: Any, theme: str) -> None:
    log_in(page, platform.url)
    try:
        set_theme(page, platform.url, theme)
        page.goto(platform.url + "/")
        expect(page.locator("html")).to_have_attribute("data-bs-theme", theme)
        wait_live(page)
        page.wait_for_function(PRICES_PRESENT, arg=list(PRICE_IDS), timeout=10_000)
        page.wait_for_selector('#health [data-testid="health"]', timeout=10_000)
        failures = page.evaluate(CONTRAST_JS)
        assert failures == [], f"text below WCAG AA contrast in the {theme} theme"
    finally:
        set_theme(page, platform.url, "dark")


def test_numbers_are_monospaced_right_aligned_and_signed(platform: Any, page: Any) -> None:
    log_in(page, platform.url)
    wait_live(page)
    page.wait_for_function(PRICES_PRESENT, arg=list(PRICE_IDS), timeout=10_000)
    for testid in PRICE_IDS:
        # Look the cell up and read its style in one task: a live update may swap the cell between two calls,
        # and a detached element has no computed style.
        style = page.evaluate(
            """(id) => { const el = document.querySelector(`[data-testid="${id}"]`);
                         return [getComputedStyle(el).textAlign, getComputedStyle(el).fontVariantNumeric]; }""",
            testid,
        )
        assert style == ["right", "tabular-nums"], (testid, style)
    page.wait_for_selector('[data-testid="edge-sell-perp-usd"]', timeout=10_000)
    for direction in ("sell-perp", "buy-perp"):
        usd = page.locator(f'[data-testid="edge-{direction}-usd"]').inner_text()
        bps = page.locator(f'[data-testid="edge-{direction}-bps"]').inner_text()
        # Never colour alone: every edge carries its sign, in USD/oz and in bps.
        assert re.fullmatch(r"[+-]\d+\.\d\d", usd), usd
        assert re.fullmatch(r"[+-]\d+\.\d\d", bps), bps
        colour = page.locator(f'[data-testid="edge-{direction}-usd"]').evaluate("(el) => el.parentElement.className")
        assert ("qa-neg" if usd.startswith("-") else "qa-pos") in colour
