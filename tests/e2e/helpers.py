"""Steps the browser tests share: logging in as the demo trader, waiting for the live feed, choosing the language
and finding what the Chinese page left in Latin script."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.helpers.platform import ROOT

ARTIFACTS = ROOT / "test-artifacts"  # screenshots of failed browser tests (gitignored)
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


def choose_language(page: Any, code: str) -> None:
    """The top bar's language select submits its form on change; the page comes back in that language."""
    with page.expect_navigation(timeout=15_000):
        page.select_option("select[name=language]", code)
    expect(page.locator("html")).to_have_attribute("lang", code, timeout=5_000)


# Words that may stay in Latin script on the Chinese page: data (venue labels, pair and tenant names, the user),
# symbols and currency codes, the language's own name in the switcher, the chart library's name.
DATA_WORDS = {"Perp", "MT", "sim", "simulated", "Demo", "desk", "demo", "trader"}
SYMBOLS_AND_NAMES = {"quantarb", "XAUUSDT", "XAUUSD", "USD", "USDT", "UTC", "English"}
LIBRARY_NAME = {"TradingView", "Lightweight", "Charts"}
LATIN_ALLOWED = DATA_WORDS | SYMBOLS_AND_NAMES | LIBRARY_NAME


def untranslated_words(page: Any) -> set[str]:
    """Latin words in the visible UI chrome that are not data, symbols or names."""
    text = page.locator("body").inner_text()
    return {word for word in re.findall(r"[A-Za-z][A-Za-z]+", text) if word not in LATIN_ALLOWED}
