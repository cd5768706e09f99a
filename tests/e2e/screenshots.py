"""Screenshots of the dashboard for a human to look at: two sizes × two themes × two languages.

    .venv/bin/python tests/e2e/screenshots.py [--url http://127.0.0.1:8123] [--out test-artifacts/screens]
    .venv/bin/python tests/e2e/screenshots.py --pages trading   # strategies list, a strategy, hedges, risk

Logs in as the demo trader of a running platform (`manage.py runplatform`), lets the live feed run a few
seconds, and writes `dashboard-<lang>-<theme>-<w>x<h>.png`. It restores the user's language and theme after.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SIZES = [(1366, 768), (1920, 1080)]


def post_choice(page: Page, url: str, path: str, name: str, value: str) -> None:
    """Submit one of the top bar's forms (language, theme) with the page's cookies and CSRF token."""
    token = page.locator("input[name=csrfmiddlewaretoken]").first.get_attribute("value") or ""
    response = page.context.request.post(url + path, form={"csrfmiddlewaretoken": token, name: value, "next": "/"})
    assert response.ok, f"{path} answered {response.status}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8123")
    parser.add_argument("--out", default="test-artifacts/screens")
    parser.add_argument("--user", default="demo-trader")
    parser.add_argument("--password", default="quantarb-demo")
    parser.add_argument("--settle", type=float, default=6.0, help="seconds of live feed before each shot")
    parser.add_argument("--full-page", action="store_true")
    parser.add_argument("--pages", choices=["dashboard", "trading"], default="dashboard")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": SIZES[0][0], "height": SIZES[0][1]})
        page = context.new_page()
        page.goto(args.url + "/accounts/login/")
        page.fill("#id_username", args.user)
        page.fill("#id_password", args.password)
        page.click("button[type=submit]")
        page.wait_for_url(args.url + "/")
        original_lang = page.get_attribute("html", "lang") or "en"
        original_theme = page.get_attribute("html", "data-bs-theme") or "dark"
        try:
            for lang in ("en", "zh-hans"):
                post_choice(page, args.url, "/accounts/language/", "language", lang)
                for theme in ("dark", "light"):
                    post_choice(page, args.url, "/accounts/theme/", "theme", theme)
                    if args.pages == "trading":
                        shoot_trading(page, args.url, out, lang, theme)
                        continue
                    for width, height in SIZES:
                        page.set_viewport_size({"width": width, "height": height})
                        page.goto(args.url + "/")
                        page.wait_for_function(
                            "() => document.querySelector('#live-status')?.dataset.state === 'live'", timeout=15000
                        )
                        page.wait_for_timeout(args.settle * 1000)
                        name = out / f"dashboard-{lang}-{theme}-{width}x{height}.png"
                        page.screenshot(path=str(name), full_page=args.full_page)
                        print(name)
        finally:
            post_choice(page, args.url, "/accounts/language/", "language", original_lang)
            post_choice(page, args.url, "/accounts/theme/", "theme", original_theme)
            browser.close()


def shoot_trading(page: Page, url: str, out: Path, lang: str, theme: str) -> None:
    """The strategies list, the first strategy's detail (live panel), the hedges table and the risk page."""
    page.set_viewport_size({"width": SIZES[0][0], "height": SIZES[0][1]})
    page.goto(url + "/strategies/")
    shots: list[tuple[str, str | None]] = [("strategies", None)]
    link = page.locator("[data-testid=strategies] a").first
    if link.count():
        shots.append(("strategy", link.get_attribute("href")))
    shots += [("hedges", "/trading/hedges/"), ("orders", "/trading/orders/"), ("risk", "/risk/")]
    for name, path in shots:
        if path is not None:
            page.goto(url + path)
        page.wait_for_timeout(1500)
        target = out / f"{name}-{lang}-{theme}.png"
        page.screenshot(path=str(target), full_page=True)
        print(target)


if __name__ == "__main__":
    main()
