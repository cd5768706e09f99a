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


def set_theme(page: Any, base_url: str, theme: str) -> None:
    """Save the theme on the user, as the top bar's theme button does (a POST with the page's CSRF token)."""
    token = page.locator("input[name=csrfmiddlewaretoken]").first.get_attribute("value")
    response = page.context.request.post(
        base_url + "/accounts/theme/", form={"csrfmiddlewaretoken": token or "", "theme": theme, "next": "/"}
    )
    assert response.ok, f"theme {theme!r}: HTTP {response.status}"
