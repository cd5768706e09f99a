"""The dashboard's trading strip in Chromium against the running embedded platform: the demo
strategy is started, paused and stopped from another tab, and the dashboard's strip follows each change over the
WebSocket without a reload — in English, then in Chinese. Screenshots in test-artifacts/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.helpers.platform import ROOT, Platform

from .helpers import log_in, wait_live

pytestmark = pytest.mark.browser
ADMIN = "demo-admin"
ARTIFACTS = ROOT / "test-artifacts"
# Marks the page (a reload would lose the mark) and counts the socket's `trading.changed` pushes.
COUNT_PUSHES = (
    "window.qaNoReload = true; window.qaPushes = 0;"
    " document.body.addEventListener('trading-changed', () => { window.qaPushes += 1; })"
)


def lifecycle(page: Any, base_url: str, strategy_id: str, action: str) -> None:
    """What the strategy page's lifecycle buttons send (a POST with the page's CSRF token)."""
    token = page.locator("input[name=csrfmiddlewaretoken]").first.get_attribute("value")
    response = page.context.request.post(
        f"{base_url}/strategies/{strategy_id}/lifecycle/",
        form={"csrfmiddlewaretoken": token or "", "action": action},
        max_redirects=0,
    )
    assert response.status in (302, 202), f"{action}: HTTP {response.status}"


def switch_language(page: Any, base_url: str, language: str) -> None:
    token = page.locator("input[name=csrfmiddlewaretoken]").first.get_attribute("value")
    response = page.context.request.post(
        base_url + "/accounts/language/", form={"csrfmiddlewaretoken": token or "", "language": language, "next": "/"}
    )
    assert response.ok, f"language {language!r}: HTTP {response.status}"


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=False)
    return path


def test_the_trading_strip_follows_a_strategy_live_in_english_and_chinese(platform: Platform, new_page: Any) -> None:
    url = platform.url
    dashboard = new_page()
    dashboard.set_viewport_size({"width": 1366, "height": 768})
    errors: list[str] = []
    dashboard.on("pageerror", lambda error: errors.append(str(error)))
    dashboard.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    log_in(dashboard, url, ADMIN)
    switch_language(dashboard, url, "en")  # another test may have left this user's choice on Chinese
    dashboard.reload()
    wait_live(dashboard)
    strip = dashboard.locator("[data-testid=trading-strip]")
    expect(strip).to_be_visible(timeout=10_000)
    expect(strip.locator("[data-testid=strip-switches]")).to_contain_text("Kill switches")

    # The other tab: the strategy list, where the demo strategy is (stopped: not on the strip yet).
    other = dashboard.context.new_page()
    other.goto(url + "/strategies/")
    href = other.get_by_role("link", name="Demo basis").first.get_attribute("href")
    strategy_id = re.search(r"/strategies/(\d+)/", href or "").group(1)
    row = strip.locator(f"[data-testid=strip-strategy][data-strategy-id='{strategy_id}']")
    expect(row).to_have_count(0)
    try:
        dashboard.evaluate(COUNT_PUSHES)

        lifecycle(other, url, strategy_id, "start")
        # Starting, then running once the platform's engine took its lease: on the strip, no reload.
        expect(row).to_have_attribute("data-state", re.compile("starting|running"), timeout=15_000)
        expect(row).to_have_attribute("data-state", "running", timeout=30_000)
        expect(row.locator("[data-testid=strip-strategy-state]")).to_have_text("Running")
        expect(row.locator("[data-testid=strip-strategy-pnl]")).to_have_text(re.compile(r"^[+−-]?[\d,]+\.\d\d"))
        lifecycle(other, url, strategy_id, "pause")
        expect(row).to_have_attribute("data-state", "paused", timeout=10_000)
        expect(row.locator("[data-testid=strip-strategy-state]")).to_have_text("Paused")
        assert dashboard.evaluate("window.qaNoReload") is True  # the page was never reloaded
        assert dashboard.evaluate("window.qaPushes") >= 2  # the socket said so (not the 30 s fallback poll)
        # The basis chart took the strip's hedge markers (how many depends on what the demo strategy traded).
        expect(dashboard.locator(".qa-chart").first).to_have_attribute("data-hedge-markers", re.compile(r"^\d+$"))
        shot(dashboard, "trading-strip-en.png")

        # In Chinese: the strip's words, and it still follows a change live.
        switch_language(dashboard, url, "zh-hans")
        dashboard.goto(url + "/")
        wait_live(dashboard)
        expect(strip.locator("[data-testid=strip-strategies] h2")).to_have_text("策略", timeout=10_000)
        expect(row.locator("[data-testid=strip-strategy-state]")).to_have_text("已暂停")
        dashboard.evaluate(COUNT_PUSHES)
        lifecycle(other, url, strategy_id, "resume")
        expect(row.locator("[data-testid=strip-strategy-state]")).to_have_text("运行中", timeout=10_000)
        latin = set(re.findall(r"[A-Za-z][A-Za-z]+", strip.inner_text())) - {"Demo", "basis", "MT", "USD", "H"}
        assert latin == set(), f"English left on the Chinese strip: {latin}"
        shot(dashboard, "trading-strip-zh.png")
    finally:
        lifecycle(other, url, strategy_id, "stop")  # the session's platform is shared: leave the demo as it was
    expect(row).to_have_count(0, timeout=30_000)  # stopped: off the strip, live again
    assert dashboard.evaluate("window.qaNoReload") is True and dashboard.evaluate("window.qaPushes") >= 2
    switch_language(dashboard, url, "en")
    assert errors == [], errors
