"""A desk admin sets up a live pair in the portal and sees its quotes on the dashboard without a restart: a Binance
quote source pointed at the out-of-process fake Binance through its endpoint override, a pair of it with the
platform's simulated CFD, then the dashboard — all against the running embedded platform, which is never restarted.
The pair is deleted at the end, and the engine stops streaming it.

Every wait is on a condition with a deadline; nothing sleeps.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.fakes.fixtures import BinanceFake

from .helpers import log_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("processes")]  # tests/conftest.py

# A book no simulated market quotes: seeing it on the dashboard means it came from the fake Binance.
BID, ASK = "4711.11", "4711.13"
PANEL = 'section.qa-pair[data-pair-id="{pair_id}"]'


def create_source(page: Any, base_url: str, fake: BinanceFake) -> None:
    page.goto(base_url + "/venues/sources/")
    page.click("[data-testid=new-source]")
    page.fill("#id_label", "E2E Binance (fake)")
    page.select_option("#id_venue", "binance-usdm")
    page.fill("#id_rest_endpoint", fake.rest_url)
    # Silent for a second, REST polling stands in for the stream (the fake pushes its book only when told to).
    page.fill("#id_stale_after_s", "1")
    page.fill("#id_ws_endpoint", "ftp://wrong.example")
    page.click("[data-testid=source-form] button[type=submit]")
    # A bad endpoint is answered inline and nothing is saved.
    expect(page.locator("[data-testid=form-errors]")).to_be_visible()
    expect(page.locator("text=ws:// or wss://")).to_be_visible()
    page.fill("#id_ws_endpoint", fake.ws_url)
    with page.expect_navigation():
        page.click("[data-testid=source-form] button[type=submit]")
    expect(page.locator("h1")).to_have_text("E2E Binance (fake)")
    expect(page.locator("[data-testid=source-facts]")).to_contain_text(fake.rest_url)


def create_pair(page: Any, base_url: str) -> int:
    page.goto(base_url + "/venues/pairs/new/")
    page.fill("#id_name", "E2E live pair")
    page.select_option("#id_perp_source", label="E2E Binance (fake)")
    page.select_option("#id_cfd_source", label="MT5 XAUUSD.s (sim)")
    page.fill("#id_entry_threshold", "0.80")
    page.fill("#id_exit_threshold", "0.10")
    page.select_option("#id_rate_source", "binance-usdcusdt")  # the fake's USDC/USDT book, through the same override
    with page.expect_navigation():
        page.click("[data-testid=pair-form] button[type=submit]")
    expect(page.locator("h1")).to_have_text("E2E live pair")
    match = re.search(r"/venues/pairs/(\d+)/$", page.url)
    assert match, page.url
    return int(match.group(1))


@pytest.mark.timeout(180)
def test_a_desk_admin_sets_up_a_live_pair_and_its_quotes_are_on_the_dashboard_without_a_restart(
    platform: Any, binance_fake: BinanceFake, new_page: Any
) -> None:
    started_pid = platform.process.pid
    binance_fake.set_book(BID, ASK, push=False)
    admin = new_page()
    log_in(admin, platform.url, "demo-admin")
    create_source(admin, platform.url, binance_fake)

    pair_id = create_pair(admin, platform.url)
    created_at = time.monotonic()

    # The dashboard: the new pair's panel, and within 10 s of its creation the fake Binance's book on its perp card
    # and the simulated CFD's on the other — pushed live, the page never reloaded.
    admin.goto(platform.url + "/")
    panel = PANEL.format(pair_id=pair_id)
    expect(admin.locator(panel)).to_be_visible()

    def left_ms() -> float:
        return max(1.0, (created_at + 10 - time.monotonic()) * 1000)

    expect(admin.locator(f'{panel} [data-testid="perp-bid"]')).to_have_text(BID, timeout=left_ms())
    expect(admin.locator(f'{panel} [data-testid="perp-ask"]')).to_have_text(ASK, timeout=left_ms())
    expect(admin.locator(f'{panel} [data-testid="cfd-bid"]')).to_be_visible(timeout=left_ms())
    # And it is priced: both edges shown, with the rate from the fake's USDC/USDT book.
    expect(admin.locator(f'{panel} [data-testid="edge-sell-perp-usd"]')).to_be_visible(timeout=10_000)
    expect(admin.locator(f'{panel} [data-testid="rate"]')).to_contain_text("Binance USDC/USDT")

    # The pairs page says the engine streams it (from the engine's latest heartbeat, as the page is rendered).
    state = admin.locator('[data-pair="E2E live pair"] [data-testid=pair-state]')
    deadline = time.monotonic() + 10
    while True:
        admin.goto(platform.url + "/venues/pairs/")
        if state.get_attribute("data-state") == "streaming":
            break
        assert time.monotonic() < deadline, f"the pairs page says {state.get_attribute('data-state')!r}"

    # Deleted: it leaves the dashboard and the engine stops streaming it; the source can go once no pair uses it.
    admin.goto(platform.url + f"/venues/pairs/{pair_id}/")
    admin.once("dialog", lambda dialog: dialog.accept())
    with admin.expect_navigation():
        admin.click("text=Delete pair")
    admin.goto(platform.url + "/")
    expect(admin.locator(panel)).to_have_count(0)
    admin.goto(platform.url + "/venues/sources/")
    admin.click("text=E2E Binance (fake)")
    admin.once("dialog", lambda dialog: dialog.accept())
    with admin.expect_navigation():
        admin.click("text=Delete source")
    expect(admin.locator('[data-source="E2E Binance (fake)"]')).to_have_count(0)

    assert platform.process.pid == started_pid and platform.process.poll() is None  # never restarted
