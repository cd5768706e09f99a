"""A strategy in Chromium: the demo trader creates a paper strategy on the demo pool, starts it and sees the
status panel change without a reload (the engine inside `runplatform` claims it: starting → running; the change is
pushed as `strategy.changed` on the page's socket), then stops it, confirming what the stop does, and sees it
stopped."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from .helpers import log_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("processes")]  # tests/conftest.py


def test_a_trader_creates_starts_and_stops_a_paper_strategy(platform: Any, page: Any) -> None:
    pushed: list[str] = []  # frames the strategy page's socket receives

    def watch(socket: Any) -> None:
        if "/ws/strategies/" in socket.url:
            socket.on("framereceived", lambda payload: pushed.append(str(payload)))

    page.on("websocket", watch)
    log_in(page, platform.url)  # demo-trader, granted the demo pool
    page.click("[data-testid=nav-strategies]")
    page.click("[data-testid=new-strategy]")
    page.fill("#id_name", "E2E basis")
    page.select_option("#id_pool", label="Demo pool")
    # An inconsistent exit threshold is refused inline, naming the field.
    page.fill("#id_exit_threshold", "5")
    page.click("[data-testid=save-strategy]")
    expect(page.locator("[data-testid=form-errors]")).to_be_visible()
    expect(page.locator("text=Exit threshold (remaining edge) (5) must be below")).to_be_visible()
    page.fill("#id_exit_threshold", "0.50")
    page.click("[data-testid=save-strategy]")
    page.wait_for_url(re.compile(r".*/strategies/\d+/$"), timeout=15_000)
    state = page.locator("[data-testid=strategy-state]")
    expect(state).to_have_text("Stopped")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=15_000)

    page.click("[data-testid=action-start]")
    expect(page.locator("#confirm-start [data-testid=confirm-text]")).to_contain_text("reconciles the pool first")
    page.click("[data-testid=confirm-start]")
    expect(state).to_have_text("Running", timeout=30_000)
    # The change was pushed over the socket (the panel's few-second poll is only the fallback).
    for _ in range(100):  # up to 10 s
        if any('"strategy.changed"' in frame for frame in pushed):
            break
        page.wait_for_timeout(100)
    assert any('"strategy.changed"' in frame for frame in pushed), pushed

    page.click("[data-testid=action-stop]")
    expect(page.locator("#confirm-stop [data-testid=confirm-text]")).to_contain_text("stop policy: leave")
    page.click("[data-testid=confirm-stop]")
    expect(state).to_have_text("Stopped", timeout=30_000)
