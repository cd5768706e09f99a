"""Every page with a table, on a 1366×768 laptop, in English and in Simplified Chinese: the page never scrolls
sideways, each table's last header cell is on screen (not cut off inside its scroll box), long labels are cut
with their full text on hover, and no figure is written with an exponent. Screenshots of each page go to
`test-artifacts/tables/` for a person to look at.

The rows come from a desk of their own (`layout_desk.py`: long names, a 1e9 oz legged hedge, a closed one with a
−46 bn USD booked PnL, zeros stored as 0E-8, fees charged in BNB, a stale margin snapshot), so no other browser test
sees them."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.helpers import ARTIFACTS

from .helpers import DEMO_PASSWORD, log_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("processes")]  # tests/conftest.py

SHOTS = ARTIFACTS / "tables"
EXPONENT = re.compile(r"\d[eE][+-]\d")

# Measured in the page: horizontal overflow of the document, and each visible table's last header cell against
# its scroll box and the viewport.
MEASURE = """() => {
  const doc = document.scrollingElement;
  const tables = [...document.querySelectorAll('main table')].filter(t => t.offsetParent !== null && t.tHead);
  return {
    scrollWidth: doc.scrollWidth,
    clientWidth: doc.clientWidth,
    tables: tables.map(t => {
      const cells = t.tHead.rows[t.tHead.rows.length - 1].cells;
      const last = cells[cells.length - 1].getBoundingClientRect();
      const box = t.closest('.table-responsive') || t.parentElement;
      const boxRect = box.getBoundingClientRect();
      return {
        id: t.dataset.testid || t.id || '',
        lastRight: last.right, lastWidth: last.width,
        boxRight: boxRect.right, boxScroll: box.scrollWidth, boxClient: box.clientWidth,
        viewport: window.innerWidth,
      };
    }),
    truncated: [...document.querySelectorAll('main .qa-truncate')].filter(
      e => e.scrollWidth > e.clientWidth + 1 && !(e.title || (e.querySelector('[title]') || {}).title)
    ).map(e => e.textContent.trim().slice(0, 60)),
    text: document.querySelector('main').innerText,
  };
}"""


def pages(ids: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        ("dashboard", "/"),
        ("strategies", "/strategies/"),
        ("strategy", f"/strategies/{ids['strategy']}/"),
        ("strategy-versions", f"/strategies/{ids['strategy']}/versions/"),
        ("hedges", "/trading/hedges/"),
        ("orders", "/trading/orders/"),
        ("fills", "/trading/fills/"),
        ("positions", "/trading/positions/"),
        ("hedge", f"/trading/hedges/{ids['hedge']}/"),
        ("hedge-closed", f"/trading/hedges/{ids['closed_hedge']}/"),
        ("pool-desk", f"/trading/pools/{ids['pool']}/"),
        ("venue-accounts", "/venues/accounts/"),
        ("venue-account", f"/venues/accounts/{ids['perp_account']}/"),
        ("terminals", "/venues/terminals/"),
        ("pools", "/venues/pools/"),
        ("risk", "/risk/"),
        ("reconciliation", "/risk/reconciliation/"),
        ("reconciliation-report", f"/risk/reconciliation/{ids['report']}/"),
        ("alerts", "/alerts/"),
        ("alert", f"/alerts/{ids['alert']}/"),
        ("alert-channels", "/alerts/channels/"),
        ("alert-rules", "/alerts/rules/"),
        ("alert-deliveries", "/alerts/deliveries/"),
        ("members", "/members/"),
        ("cash-flows", "/portfolio/cash-flows/"),
        ("reports", "/reports/"),
    ]


def set_language(page: Any, base_url: str, language: str) -> None:
    token = page.locator("input[name=csrfmiddlewaretoken]").first.get_attribute("value")
    response = page.context.request.post(
        base_url + "/accounts/language/", form={"csrfmiddlewaretoken": token or "", "language": language, "next": "/"}
    )
    assert response.ok, f"language {language!r}: HTTP {response.status}"


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_every_table_fits_a_laptop_screen(platform: Any, layout_desk: dict[str, Any], page: Any, language: str) -> None:
    log_in(page, platform.url, layout_desk["username"], DEMO_PASSWORD)
    set_language(page, platform.url, language)
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    tables_seen = 0
    for name, path in pages(layout_desk):
        response = page.goto(platform.url + path)
        assert response is not None and response.ok, f"{path}: HTTP {response.status if response else '-'}"
        page.wait_for_selector("main .qa-content", state="attached")
        page.wait_for_load_state("load")
        expected_lang = "zh-hans" if language == "zh-hans" else "en"
        assert (page.get_attribute("html", "lang") or "").lower() == expected_lang, path
        page.screenshot(path=str(SHOTS / f"{name}-{language}.png"), full_page=True)
        measured = page.evaluate(MEASURE)
        if measured["scrollWidth"] > measured["clientWidth"]:
            problems.append(
                f"{path}: the page scrolls sideways ({measured['scrollWidth']} > {measured['clientWidth']})"
            )
        for table in measured["tables"]:
            tables_seen += 1
            if table["lastRight"] > table["viewport"] + 0.5 or table["lastRight"] > table["boxRight"] + 0.5:
                problems.append(f"{path}: table {table['id']!r} last header cell off screen ({table['lastRight']:.0f})")
            if table["boxScroll"] > table["boxClient"] + 1:
                problems.append(
                    f"{path}: table {table['id']!r} scrolls sideways ({table['boxScroll']} > {table['boxClient']})"
                )
        for text in measured["truncated"]:
            problems.append(f"{path}: {text!r} is cut without its full text on hover")
        if EXPONENT.search(measured["text"]):
            problems.append(f"{path}: a figure with an exponent: {EXPONENT.search(measured['text'])}")
    assert tables_seen >= 20, tables_seen
    assert not problems, "\n".join(problems)


def test_the_legged_hedge_reads_in_cents_steps_and_words(platform: Any, layout_desk: dict[str, Any], page: Any) -> None:
    """The figures operators saw as `1E+9`, `-46034150000.0000000000000` and `4605.7`, and the code `sell_perp`."""
    log_in(page, platform.url, layout_desk["username"], DEMO_PASSWORD)
    set_language(page, platform.url, "en")
    page.goto(platform.url + f"/trading/hedges/{layout_desk['hedge']}/")
    text = page.locator("main").inner_text()
    assert "1,000,000,000.000" in text  # ounces to the perp's 0.001 step
    assert "4605.70" in text and "4605.7\t" not in text  # the price to the 0.01 tick
    assert "10,000,000.00 lots" in text  # MT5 ounces beside their lots
    assert "Sell perp / buy CFD" in text and "sell_perp" not in text
    # the fee charged in BNB: as charged, at its rate to the rate's own digits, and where the rate came from
    assert "charged 0.00150432 BNB at 612.34 (binance-usdm:BNBUSDT:1m-open)" in text
    # a settled hedge shows its booked split: money to the cent
    page.goto(platform.url + f"/trading/hedges/{layout_desk['closed_hedge']}/")
    text = page.locator("main").inner_text()
    assert "-46,034,150,000.00" in text and "1,000,000,000.000" in text
    # one navigation entry lit, and it is the right one
    lit = page.locator("nav.qa-nav .qa-nav-link.active")
    assert lit.count() == 1 and "Hedges" in lit.inner_text()
    page.goto(platform.url + f"/venues/pools/{layout_desk['pool']}/")
    lit = page.locator("nav.qa-nav .qa-nav-link.active")
    assert lit.count() == 1 and lit.inner_text().strip() == "Pools"


def test_a_click_on_a_header_sorts_the_table(platform: Any, layout_desk: dict[str, Any], page: Any) -> None:
    log_in(page, platform.url, layout_desk["username"], DEMO_PASSWORD)
    set_language(page, platform.url, "en")
    # server-side: the hedges table by size, then the other way
    page.goto(platform.url + "/trading/hedges/")
    page.click("th[data-sort-key=size] a")
    page.wait_for_url(re.compile(r".*sort=size$"))
    sizes = page.locator("[data-testid=hedges] tbody tr td:nth-child(5)").all_inner_texts()
    assert sizes == sorted(sizes, key=lambda s: float(s.replace(",", "")))
    page.click("th[data-sort-key=size] a")
    page.wait_for_url(re.compile(r".*sort=-size$"))
    assert page.get_attribute("th[data-sort-key=size]", "aria-sort") == "descending"
    # in the browser (tablesort): the hedge's orders by quantity
    page.goto(platform.url + f"/trading/hedges/{layout_desk['hedge']}/")
    header = page.locator("[data-testid=hedge-orders] thead th", has_text="Quantity")
    header.click()
    assert header.get_attribute("aria-sort") in ("ascending", "descending")


def test_the_health_strip_never_covers_the_content(platform: Any, layout_desk: dict[str, Any], page: Any) -> None:
    """The strip is always in the window and the content never runs under it, wherever the content is scrolled."""
    log_in(page, platform.url, layout_desk["username"], DEMO_PASSWORD)
    page.goto(platform.url + "/")
    page.wait_for_selector("[data-testid=health]", state="attached", timeout=15_000)
    measure = """() => {
      const strip = document.querySelector('#health').getBoundingClientRect();
      const content = document.querySelector('main .qa-content');
      const box = content.getBoundingClientRect();
      const last = [...content.querySelectorAll('.card')].pop().getBoundingClientRect();
      return {stripTop: strip.top, stripBottom: strip.bottom, contentBottom: box.bottom, lastBottom: last.bottom,
              innerHeight: innerHeight, docScroll: document.scrollingElement.scrollHeight};
    }"""
    for where in ("top", "bottom"):
        if where == "bottom":
            page.evaluate(
                "() => { const c = document.querySelector('main .qa-content'); c.scrollTop = c.scrollHeight; }"
            )
            page.wait_for_function(
                "() => { const c = document.querySelector('main .qa-content');"
                " return c.scrollTop + c.clientHeight >= c.scrollHeight - 1; }"
            )
        m = page.evaluate(measure)
        assert m["stripBottom"] <= m["innerHeight"] + 0.5, (where, m)  # always in view
        assert m["contentBottom"] <= m["stripTop"] + 0.5, (where, m)  # the content's box ends above it
        assert m["docScroll"] <= m["innerHeight"] + 1, (where, m)  # the window itself does not scroll
    assert m["lastBottom"] <= m["stripTop"] + 0.5, m  # scrolled down, the last card is fully visible
