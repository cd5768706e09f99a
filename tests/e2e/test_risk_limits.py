"""The limits editor in Chromium: a limit edited with a bad value shows the field error, in
English and in Chinese, and nothing is saved; the limits page shows the breach awaiting confirmation. On the layout
desk (tests/e2e/layout_desk.py), as its admin, at 1366×768."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from .helpers import DEMO_PASSWORD, log_in

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parent.parent.parent / "var" / "e2e-artifacts"

WORDS = {
    "en": {
        "order": "The warning level must come before the breach level: below it for an upper limit.",
        "range": "Enter a level between 0 and 10000000 (Unhedged exposure (oz)).",
        "pending": "Actions awaiting confirmation",
    },
    "zh-hans": {
        "order": "预警级别必须先于突破级别：对于上限，应低于突破级别。",
        "range": "请输入 0 到 10000000 之间的级别（未对冲敞口（盎司））。",
        "pending": "等待确认的操作",
    },
}


def switch_language(page: Any, lang: str) -> None:
    page.select_option("#language-switch", lang)
    expect(page.locator("html")).to_have_attribute("lang", lang)


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_a_limit_edited_with_a_bad_value_shows_the_field_error(
    platform: Any, layout_desk: dict[str, Any], new_page: Any, lang: str
) -> None:
    page = new_page()
    log_in(page, platform.url, layout_desk["username"], DEMO_PASSWORD)
    try:
        if lang != "en":
            switch_language(page, lang)
        words = WORDS[lang]
        page.goto(platform.url + "/risk/limits/")
        expect(page.locator("[data-testid=risk-tabs] [aria-current=page]")).to_be_visible()
        expect(page.locator("[data-testid=pending-confirmations]")).to_contain_text(words["pending"])
        page.locator("[data-testid=limits] a[data-testid^=limit-edit-]").first.click()
        form = page.locator("[data-testid=limit-form]")
        expect(form).to_be_visible()

        # The warning level past the breach level of an upper limit.
        page.fill("#id_warning_level", "5")
        page.click("[data-testid=limit-save]")
        error = page.locator("#id_warning_level ~ .invalid-feedback")
        expect(error).to_have_text(words["order"])
        expect(page.locator("#id_warning_level")).to_have_class(re.compile(r"(^|\s)is-invalid(\s|$)"))

        # A level outside the metric's sane range.
        page.fill("#id_warning_level", "1")
        page.fill("#id_breach_level", "20000000")
        page.click("[data-testid=limit-save]")
        expect(page.locator("#id_breach_level ~ .invalid-feedback")).to_have_text(words["range"])
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"risk-limit-field-error-{lang}.png"), full_page=True)

        # Nothing was saved: the limit keeps its levels.
        page.goto(platform.url + "/risk/limits/")
        row = page.locator("[data-testid=limits] tbody tr").first
        expect(row).to_contain_text("999,999,850.000")  # the measured value, to the metric's decimals
        expect(row.locator("td.qa-num").nth(1)).to_have_text("2")
        page.screenshot(path=str(SHOTS / f"risk-limits-page-{lang}.png"), full_page=True)
    finally:
        if lang != "en":
            switch_language(page, "en")
