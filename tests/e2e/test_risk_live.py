"""The risk centre live, in Chromium at 1366×768: with /risk/ open and its pool table sorted by state, a
limit is created server-side (another tab of the same admin posts the limits form); the page is told over its socket
(`risk.changed`), re-fetches its figures without a reload, and the pool's state and figure show the new level as a
colour and a word, the limit named in the title — the sort kept, "updated" moved on. The table fits the screen in
English and in Chinese (screenshots in the test's tmp dir). The limit is disabled again at the end (the platform is
shared by the session's browser tests)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import choose_language

from .helpers import log_in, wait_live

pytestmark = pytest.mark.browser
ADMIN = "demo-admin"
NAME = "e2e streak floor"
FITS = """() => {
  const box = document.querySelector('[data-testid=risk-pools]').closest('.table-responsive');
  return { page: document.documentElement.scrollWidth <= window.innerWidth, table: box.scrollWidth <= box.clientWidth };
}"""


def post_limit(page: Any, base: str, path: str, pool_id: str, *, enabled: bool) -> None:
    """What the limits form sends: a floor of 1000 on the pool's loss streak (a streak of 0 sits below it: warning)."""
    token = page.locator("input[name=csrfmiddlewaretoken]").first.get_attribute("value")
    form = {
        "csrfmiddlewaretoken": token or "",
        "name": NAME,
        "scope_kind": "pool",
        "pool": pool_id,
        "metric": "loss_streak",
        "warning_level": "1000",
        "breach_level": "",
        "direction": "min",
        "action": "alert",
        "hysteresis": "0",
    }
    if enabled:
        form["enabled"] = "on"
    answer = page.context.request.post(base + path, form=form, max_redirects=0)
    assert answer.status == 302, f"{path}: HTTP {answer.status} {answer.text()[:400]}"


def limits_enabled(page: Any, base: str, ids: list[str], *, enabled: bool) -> None:
    """Tick or clear "enabled" on each of the limits `ids` through its edit form, as an admin does."""
    for limit_id in ids:
        page.goto(f"{base}/risk/limits/{limit_id}/")
        page.locator("[data-testid=limit-form] input[name=enabled]").set_checked(enabled)
        page.locator("[data-testid=limit-save]").click()
        page.wait_for_url(re.compile(r"/risk/limits/$"))


def enabled_limit_ids(page: Any, base: str) -> list[str]:
    """The ids of the desk's enabled limits (the desk's defaults among them), from the limits page."""
    page.goto(base + "/risk/limits/")
    links = page.locator("[data-testid=limits] tbody tr:not(.text-secondary) a[data-testid^=limit-edit-]")
    return [(link.get_attribute("data-testid") or "").removeprefix("limit-edit-") for link in links.all()]


def test_the_risk_centre_follows_a_new_limit_live_and_fits_the_screen(
    platform: Any, new_page: Any, tmp_path: Path
) -> None:
    url = platform.url
    page = new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, url, ADMIN)
    choose_language(page, "en")
    # The desk's own limits (its defaults: the USDT/USD rate's age and parity, the MT5 margin level) are set aside
    # while the test runs, so the pool's state is this test's limit alone; they are enabled again at the end.
    set_aside = enabled_limit_ids(page, url)
    limits_enabled(page, url, set_aside, enabled=False)
    page.goto(url + "/risk/")
    wait_live(page)
    table = page.locator("[data-testid=risk-pools]")
    row = table.locator("tbody tr").first
    pool_id = row.get_attribute("data-pool") or ""
    state = row.locator("[data-testid=pool-state]")
    header = table.locator("[data-testid=pool-state-header]")
    header.click()  # sorted by state, ascending
    expect(header).to_have_attribute("aria-sort", "ascending")
    stamp = page.locator("[data-testid=risk-updated]")
    expect(stamp).to_have_text(re.compile(r"^updated \d\d:\d\d:\d\d UTC$"))
    page.evaluate("window.qaNoReload = true")
    refreshes = page.evaluate("window.qaRisk.refreshes")

    other = page.context.new_page()  # the same admin in another tab
    other.goto(url + "/risk/limits/new/")
    limit_id = ""
    try:
        post_limit(other, url, "/risk/limits/new/", pool_id, enabled=True)
        other.goto(url + "/risk/limits/")
        edit = other.locator("[data-testid=limits] tr", has_text=NAME).locator("a[data-testid^=limit-edit-]")
        limit_id = (edit.get_attribute("data-testid") or "").removeprefix("limit-edit-")

        # Pushed, re-fetched, in place: the pool's state and its streak figure say "Warning", in amber.
        badge = state.locator(".badge")
        expect(badge).to_have_text("Warning", timeout=15_000)
        expect(badge).to_have_class(re.compile(r"\bbg-yellow-lt\b"))
        figure = row.locator("td[data-limit-level]").last
        expect(figure).to_have_attribute("data-limit-level", "warning")
        word = figure.locator(".qa-limit")
        expect(word).to_have_text("Warning")
        assert f"Warning: {NAME} (at least) — warning at 1,000" in (word.get_attribute("title") or "")
        assert page.evaluate("window.qaNoReload") is True  # no reload
        assert page.evaluate("window.qaRisk.pushes") >= 1  # the socket said so (not the fallback poll)
        assert page.evaluate("window.qaRisk.refreshes") > refreshes
        expect(header).to_have_attribute("aria-sort", "ascending")  # the reader's sort survived the refresh
        expect(stamp).to_have_text(re.compile(r"^updated \d\d:\d\d:\d\d UTC$"))
        assert page.evaluate(FITS) == {"page": True, "table": True}
        page.screenshot(path=str(tmp_path / "risk-live-en.png"))
        table.screenshot(path=str(tmp_path / "risk-pools-en.png"))

        choose_language(page, "zh-hans")
        wait_live(page)
        expect(state.locator(".badge")).to_have_text("警告")
        expect(page.locator("[data-testid=risk-updated]")).to_have_text(re.compile(r"^更新于 \d\d:\d\d:\d\d UTC$"))
        assert page.evaluate(FITS) == {"page": True, "table": True}
        page.screenshot(path=str(tmp_path / "risk-live-zh.png"))
        table.screenshot(path=str(tmp_path / "risk-pools-zh.png"))
        print(f"screenshots: {tmp_path}")
    finally:
        if limit_id:
            post_limit(other, url, f"/risk/limits/{limit_id}/", pool_id, enabled=False)
        choose_language(page, "en")
    try:
        expect(page.locator("[data-testid=pool-state] .badge")).to_have_count(0, timeout=15_000)  # gone, live again
    finally:
        limits_enabled(other, url, set_aside, enabled=True)
    assert errors == [], errors
