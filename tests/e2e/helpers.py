"""Steps the browser tests share: logging in as the demo trader and waiting for the live feed."""

from __future__ import annotations

from typing import Any

DEMO_USER = "demo-trader"
DEMO_PASSWORD = "quantarb-demo"


def log_in(page: Any, base_url: str, username: str = DEMO_USER, password: str = DEMO_PASSWORD) -> None:
    page.goto(base_url + "/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation(timeout=15_000):
        page.click("button[type=submit]")
    assert page.url == base_url + "/", f"login landed on {page.url}"


def wait_live(page: Any, timeout_ms: int = 15_000) -> None:
    page.wait_for_selector("#live-status[data-state=live]", state="attached", timeout=timeout_ms)
