"""The manual desk in Chromium: the demo trader asks for a hedge of a billion ounces and is
refused on the form with the reasons (the venue's maximum per order, the position limit, the margin), nothing
queued; a kill switch tripped on the risk page shows on the desk before the form is filled, and any open is then
refused with its reason; the flatten dialog says what it will do, asked when it opens."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import expect

from .helpers import log_in, wait_live

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("processes")]  # tests/conftest.py


def open_desk(page: Any) -> None:
    page.click("[data-testid=nav-hedges]")
    page.click("button:has-text('Manual control')")
    page.click(".dropdown-menu >> text=Demo pool")
    expect(page.locator("h1")).to_contain_text("Manual control: Demo pool")


def review(page: Any, size: str, desk_url: str) -> None:
    """Ask for a buy-perp hedge of `size` oz; retried while the engine has not stored the pool's first quotes."""
    deadline = time.monotonic() + 20
    while True:
        page.goto(desk_url)
        page.select_option("#id_direction", "buy_perp")
        page.fill("#id_size_oz", size)
        page.click("[data-testid=open-hedge-form] button[type=submit]")
        page.wait_for_load_state()
        if "No quotes for this pool yet" not in page.content() or time.monotonic() > deadline:
            return
        page.wait_for_timeout(250)  # the store flushes the engine's samples about every second


def test_the_desk_refuses_a_billion_ounces_and_any_open_under_a_kill_switch(platform: Any, page: Any) -> None:
    log_in(page, platform.url)  # demo-trader, granted the demo pool
    wait_live(page)
    open_desk(page)
    desk_url = page.url
    expect(page.locator("[data-testid=desk-halted]")).to_have_count(0)

    review(page, "1000000000", desk_url)
    errors = page.locator("[data-testid=form-errors]")
    expect(errors).to_contain_text("Nothing was queued")
    expect(page.locator("text=1000000000 oz is above the perp maximum 1000 oz per order.")).to_be_visible()
    expect(page.locator("text=/The perp position would reach 1000000000 oz/")).to_be_visible()
    expect(page.locator("text=/USDT of margin/")).to_be_visible()
    assert "E+" not in page.content()
    page.goto(desk_url)
    expect(page.locator("[data-testid=commands]")).to_have_count(0)  # nothing was queued

    # The flatten dialog asks the server what it will do as it opens.
    page.click("[data-testid=action-flatten]")
    expect(page.locator("#manual-flatten_pool [data-testid=confirm-text]")).to_contain_text(
        "Flatten Demo pool at market"
    )
    expect(page.locator("[data-testid=confirm-manual-flatten_pool]")).to_be_enabled()
    page.keyboard.press("Escape")

    # A desk-wide kill switch, tripped on the risk page.
    page.goto(platform.url + "/risk/")
    page.fill("#trip-reason", "E2E halt")
    page.click("[data-testid=trip]")
    page.click("[data-testid=confirm-trip]")
    expect(page.locator("[data-testid=active-switches]")).to_contain_text("E2E halt")

    page.goto(desk_url)
    halted = page.locator("[data-testid=desk-halted]")
    expect(halted).to_be_visible()  # before anyone fills the form
    expect(halted).to_contain_text("E2E halt")
    review(page, "1", desk_url)
    expect(page.locator("[data-testid=refusals]")).to_contain_text(
        "Halted by a kill switch (the desk: E2E halt): only orders that reduce a position may be sent."
    )
    page.goto(desk_url)
    expect(page.locator("[data-testid=commands]")).to_have_count(0)
