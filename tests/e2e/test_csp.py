"""Every page under the Content-Security-Policy, in Chromium: no violation, no console error.

The pages come from the URL conf, not from a list kept by hand: every portal route that answers GET with HTML is
opened, the routes without parameters directly, each detail route at an instance found in a link, `hx-get` or form
of a page already opened. Two desks are swept: the demo desk as its admin (demo-admin), and the layout desk as its
admin (layout_desk.py: hedges, orders, fills, a manual command, a reconciliation report, alerts and a channel, which
the demo desk has none of). Then the Django admin (its index, each changelist it offers and a change form of each),
the background export's progress page, and the API docs (Swagger UI, whose start-up script is a URL of its own).
The inline handlers that moved to static/js/forms.js are used too: the filter and language pickers submit on
change, and a delete form's question, answered Cancel, sends nothing.

Violations are caught in the page (`securitypolicyviolation`, listened to before any of the page's own scripts),
errors on the console and uncaught exceptions in Python. A route that answers GET with neither HTML nor 405 (a CSV
export, the schema, the probes) is not a page; one that no desk offers an instance of fails the test, which then
names it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from .helpers import DEMO_PASSWORD, log_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("processes")]  # tests/conftest.py

# Registered before the page's own scripts run (an init script is not subject to the page's policy).
WATCH = """
window.__qaCsp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__qaCsp.push({directive: e.effectiveDirective, blocked: e.blockedURI, source: e.sourceFile,
                       line: e.lineNumber, sample: e.sample, page: location.href});
}, true);
"""
LINKS = """() => [...document.querySelectorAll('[href], [src], [action], [hx-get], [data-hx-get]')].map(
  (e) => e.getAttribute('href') || e.getAttribute('hx-get') || e.getAttribute('data-hx-get')
      || e.getAttribute('action') || e.getAttribute('src'))"""
NOT_PORTAL = ("admin/", "api/v1/")  # the admin is swept on its own below; the JSON API has no pages


def portal_routes() -> dict[str, str]:
    """Route name → pattern, for every portal route of the URL conf."""
    from django.urls import URLResolver, get_resolver

    routes: dict[str, str] = {}

    def walk(patterns: list[Any], prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                if route not in NOT_PORTAL:
                    walk(pattern.url_patterns, route)
            else:
                assert pattern.name, f"/{route} has no name"
                routes[pattern.name] = route

    walk(get_resolver().url_patterns, "")
    return routes


def route_name(url: str, base: str) -> str | None:
    """The portal route a same-origin URL goes to, or None."""
    from django.urls import Resolver404, resolve

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or f"{parts.scheme}://{parts.netloc}" != base:
        return None
    try:
        match = resolve(parts.path)
    except Resolver404:
        return None
    if match.namespace or match.route.startswith(NOT_PORTAL):
        return None
    return match.url_name


def placeholder(route: str) -> str:
    return "/" + re.sub(r"<str:\w+>", "x", re.sub(r"<int:\w+>", "0", route))


# Routes that are pages only with a one-time secret: without it they answer 404 by design (the join link's key).
NEEDS_A_SECRET = {"/accounts/join/": "needs its one-time key (404 without it)"}


@dataclass
class Sweep:
    """What the pages of one browser context did, and what the routes turned out to be."""

    page: Any
    base: str
    problems: list[str] = field(default_factory=list)
    opened: dict[str, str] = field(default_factory=dict)  # route name → the path opened
    not_pages: dict[str, str] = field(default_factory=dict)  # route name → why it is not a page

    def __post_init__(self) -> None:
        context = self.page.context
        context.add_init_script(WATCH)
        self.page.on("console", self.console)
        self.page.on("pageerror", lambda e: self.problems.append(f"uncaught exception on {self.page.url}: {e}"))

    def console(self, message: Any) -> None:
        if message.type == "error":
            self.problems.append(f"console error on {self.page.url}: {message.text} ({message.location.get('url')})")

    def settle(self) -> None:
        """Wait until the page's own requests are over, then collect the violations it saw."""
        self.page.wait_for_load_state("networkidle", timeout=20_000)
        for v in self.page.evaluate("() => window.__qaCsp.splice(0)"):
            self.problems.append(
                f"CSP violation on {v['page']}: {v['directive']} blocked {v['blocked'] or '(inline)'}"
                f" at {v['source']}:{v['line']} {v['sample']!r}"
            )

    def open(self, path: str) -> None:
        response = self.page.goto(self.base + path)
        assert response is not None, path
        if not response.ok:
            self.problems.append(f"{path}: HTTP {response.status}")
        self.settle()

    def classify(self, name: str, path: str) -> bool:
        """Whether the route is a page (HTML on GET); otherwise it is noted as not one."""
        probe = self.page.request.get(self.base + path, max_redirects=0)
        kind = probe.headers.get("content-type", "")
        if probe.status == 405:
            self.not_pages[name] = "POST only"
        elif not kind.startswith("text/html"):
            self.not_pages[name] = kind.split(";")[0] or f"HTTP {probe.status}"
        elif path in NEEDS_A_SECRET:
            self.not_pages[name] = NEEDS_A_SECRET[path]
        elif probe.status not in (200, 302):
            self.problems.append(f"{path} ({name}): HTTP {probe.status}")
            self.not_pages[name] = f"HTTP {probe.status}"
        elif probe.status == 200 and "<html" not in probe.text().lower():
            # A partial that htmx swaps into its page (whose scripts and policy apply there).
            self.not_pages[name] = "fragment"
        else:
            return True
        return False

    def crawl(self, routes: dict[str, str], known: dict[str, str] | None = None) -> None:
        """Open every route without parameters and the `known` instances, then each route found in a link at its
        first instance."""
        queue = [(name, "/" + route) for name, route in routes.items() if "<" not in route]
        queue += list((known or {}).items())
        while queue:
            name, path = queue.pop(0)
            if name in self.opened or name in self.not_pages or not self.classify(name, path):
                continue
            self.open(path)
            self.opened[name] = path
            for link in self.page.evaluate(LINKS):
                url = urljoin(self.page.url, link)
                found = route_name(url, self.base)
                if found and found not in self.opened and found not in self.not_pages:
                    queue.append((found, urlsplit(url).path))


def watched(new_page: Any, base: str) -> Sweep:
    return Sweep(new_page(), base)


def sweep_admin(sweep: Sweep) -> int:
    """The admin's index, each changelist it offers and the change form of each one's first row."""
    sweep.open("/admin/")
    changelists = sweep.page.eval_on_selector_all(
        "#content-main table a[href]:not(.addlink):not(.changelink)", "els => els.map(e => e.getAttribute('href'))"
    )
    assert changelists, "the admin index offers no changelist"
    forms = 0
    for changelist in dict.fromkeys(changelists):
        sweep.open(changelist)
        first = sweep.page.locator("#result_list tbody tr a[href]").first
        if first.count():
            sweep.open(urlsplit(urljoin(sweep.page.url, first.get_attribute("href"))).path)
            expect(sweep.page.locator("#content-main form, #content-main fieldset").first).to_be_attached()
            forms += 1
    return forms


def submitted(sweep: Sweep, url: re.Pattern[str]) -> None:
    """Wait for the navigation a form's submission makes; without one, say what the page refused."""
    try:
        sweep.page.wait_for_url(url, timeout=15_000)
    except PlaywrightTimeoutError:
        sweep.settle()
        raise AssertionError(f"the form did not submit ({sweep.page.url}): {sweep.problems}") from None


def use_the_moved_handlers(sweep: Sweep) -> None:
    """The pickers submit on change and a delete form asks first (static/js/forms.js, no inline handler)."""
    page = sweep.page
    sweep.open("/strategies/")
    page.select_option("#f-state", "stopped")
    submitted(sweep, re.compile(r".*/strategies/\?state=stopped$"))
    sweep.settle()

    page.select_option("#language-switch", "zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    sweep.settle()
    page.select_option("#language-switch", "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    sweep.settle()

    sweep.open("/venues/pools/")
    page.click("text=Demo pool")
    page.wait_for_url(re.compile(r".*/venues/pools/\d+/$"))
    pool_url = page.url
    asked: list[str] = []

    def cancel(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", cancel)
    page.click("button:has-text('Delete pool')")
    expect(page.locator("h1")).to_contain_text("Demo pool")
    assert asked == ["Delete the pool Demo pool? Its accounts stay."], asked
    assert page.url == pool_url
    sweep.open(urlsplit(pool_url).path)  # still there: Cancel sent nothing


@pytest.mark.timeout(900)  # about 130 page loads and their probes
def test_every_page_passes_the_content_security_policy(
    platform: Any, layout_desk: dict[str, Any], new_page: Any
) -> None:
    routes = portal_routes()
    base = platform.url
    started = time.monotonic()

    # The watch itself: an inline handler is refused, and the refusal is seen.
    demo = watched(new_page, base)
    demo.open("/accounts/login/")
    ran = demo.page.evaluate(
        "() => { const b = document.createElement('button'); b.setAttribute('onclick', 'window.__ran = 1');"
        " document.body.append(b); b.click(); b.remove(); return window.__ran === 1; }"
    )
    assert ran is False, "an inline handler ran: no Content-Security-Policy"
    demo.settle()
    assert any("script-src" in problem and "inline" in problem for problem in demo.problems), demo.problems
    demo.problems.clear()
    header = demo.page.request.get(base + "/accounts/login/").headers["content-security-policy"]
    assert "'unsafe-inline'" not in header.split("script-src", 1)[1].split(";")[0], header

    # The demo desk, as its admin.
    log_in(demo.page, base, "demo-admin", DEMO_PASSWORD)
    demo.settle()
    demo.crawl(routes)
    use_the_moved_handlers(demo)
    change_forms = sweep_admin(demo)
    assert change_forms >= 1

    # The background export of the audit trail, from its changelist: its progress page until the file is ready.
    demo.open("/admin/accounts/auditevent/")
    demo.page.click("text=Export the whole trail (in the background)")
    demo.page.wait_for_url(re.compile(r".*/jobs/\d+/$"))
    expect(demo.page.locator("a[href$='/download/']").first).to_be_visible(timeout=60_000)
    demo.settle()
    demo.crawl({}, known={"long_job": urlsplit(demo.page.url).path})

    # The API docs: Swagger UI started (its script is its own URL) and lists the operations.
    demo.open("/api/docs/")
    expect(demo.page.locator(".swagger-ui .info .title")).to_contain_text("quantarb API", timeout=20_000)
    expect(demo.page.locator(".swagger-ui .opblock").first).to_be_visible()
    demo.settle()

    # The layout desk, as its admin: the rows the demo desk has none of.
    layout = watched(new_page, base)
    log_in(layout.page, base, layout_desk["username"], DEMO_PASSWORD)
    layout.settle()
    # A manual command's status is polled only while it runs: no page links the layout desk's (failed) one.
    layout.crawl(routes, known={"command": f"/trading/commands/{layout_desk['command']}/"})

    # Every portal route was opened on one desk or the other, or is not a page (checked at a placeholder when no
    # page linked to it: a POST-only route refuses GET before it looks for its object).
    opened = {**layout.opened, **demo.opened}
    not_pages = {**layout.not_pages, **demo.not_pages}
    for name, route in routes.items():
        if name not in opened and name not in not_pages:
            demo.classify(name, placeholder(route))
            not_pages.update(demo.not_pages)
    missing = sorted(set(routes) - set(opened) - set(not_pages))
    assert not missing, f"no desk offers an instance of: {missing}"
    assert len(opened) >= 40, sorted(opened)

    print(
        f"{len(demo.opened)} pages of the demo desk, {len(layout.opened)} of the layout desk, {change_forms} admin"
        f" change forms; not pages: {sorted(not_pages.items())}; {time.monotonic() - started:.0f} s"
    )
    problems = demo.problems + layout.problems
    assert not problems, "\n".join(problems)
