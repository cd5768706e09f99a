"""Capital between venues in Chromium: a transfer requested by one admin and approved by another,
then recorded as done with the venue's reference (booked in the cash-flow ledger), in English and in Chinese, at
1366×768; the requester is offered no approval of their own; every step asks before it acts (data-confirm)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.helpers.platform import ROOT

from .helpers import DEMO_PASSWORD, log_in

pytestmark = pytest.mark.browser

SECOND_ADMIN = "demo-admin-two"
CREATE_SECOND_ADMIN = f"""
from accounts.models import Tenant, User
from accounts.services import membership_set, user_create
tenant = Tenant.objects.get(slug="demo")
user = User.objects.filter(username="{SECOND_ADMIN}").first() or user_create(
    username="{SECOND_ADMIN}", password="{DEMO_PASSWORD}", tenant=tenant, actor=None
)
membership_set(user=user, tenant=tenant, role="admin", actor=None)
"""
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def second_admin(platform: Any) -> str:
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", CREATE_SECOND_ADMIN],
        cwd=ROOT, env=platform.env, check=True, capture_output=True,
    )  # fmt: skip
    return SECOND_ADMIN


def switch_language(page: Any, base_url: str, language: str) -> None:
    token = page.locator("input[name=csrfmiddlewaretoken]").first.get_attribute("value")
    response = page.context.request.post(
        base_url + "/accounts/language/", form={"csrfmiddlewaretoken": token or "", "language": language, "next": "/"}
    )
    assert response.ok, f"language {language!r}: HTTP {response.status}"


WORDS = {
    "en": {
        "title": "Transfers", "tab": "Compliance", "requested": "Awaiting approval",
        "approved": "Approved, awaiting the venue", "done": "Done", "own": "Another admin approves",
        "flash": "requested: a second admin approves it.",
    },
    "zh-hans": {
        "title": "划转", "tab": "合规", "requested": "待批准", "approved": "已批准，等待交易所执行", "done": "已完成",
        "own": "由另一位管理员批准", "flash": "由另一位管理员批准。",
    },
}  # fmt: skip


def _answer(dialog: Any, questions: list[str]) -> None:
    questions.append(dialog.message)
    dialog.accept()


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_transfer_requested_by_one_admin_and_approved_by_another(
    platform: Any, second_admin: str, new_page: Any, language: str
) -> None:
    url, words = platform.url, WORDS[language]
    requester, approver = new_page(), new_page()
    questions: list[str] = []
    for page in (requester, approver):
        page.on("dialog", lambda dialog: _answer(dialog, questions))
    log_in(requester, url, "demo-admin", DEMO_PASSWORD)
    log_in(approver, url, second_admin, DEMO_PASSWORD)
    for page in (requester, approver):
        switch_language(page, url, language)

    # The requester: the advice, then the request form (a bad amount first: the field says why).
    requester.goto(url + "/risk/transfers/")
    expect(requester.locator("h1")).to_have_text(words["title"])
    expect(requester.locator("[data-testid=risk-tabs]")).to_contain_text(words["tab"])
    expect(requester.locator("[data-testid=transfer-advice]")).to_be_visible()
    requester.locator("[data-testid=transfer-form] summary").click()
    requester.select_option("#id_from_account", label="Sim CFD")
    requester.select_option("#id_to_account", label="Sim perp")
    requester.fill("#id_amount", "-5")
    requester.locator("[data-testid=transfer-request]").click()
    expect(requester.locator("[data-testid=transfer-form] .invalid-feedback").first).to_be_visible()
    amount = "1250.75" if language == "en" else "980.25"
    requester.fill("#id_amount", amount)
    requester.locator("[data-testid=transfer-request]").click()
    expect(requester.get_by_text(words["flash"])).to_be_visible()
    row = requester.locator("[data-testid=transfers] tbody tr").first
    transfer_id = row.get_attribute("data-transfer")
    expect(row).to_contain_text(words["requested"])
    expect(row).to_contain_text(words["own"])
    expect(row.locator(f"[data-testid=approve-{transfer_id}]")).to_have_count(0)

    # The second admin approves (asked first), then records it done with the venue's reference.
    approver.goto(url + "/risk/transfers/")
    mine = approver.locator(f"tr[data-transfer='{transfer_id}']")
    mine.locator(f"[data-testid=approve-{transfer_id}]").click()
    expect(approver.locator(f"[data-testid=transfer-status-{transfer_id}]")).to_have_text(words["approved"])
    approver.fill(f"[data-testid=venue-ref-{transfer_id}]", f"MT5-DEAL-{language}-{transfer_id}")
    approver.locator(f"[data-testid=complete-{transfer_id}]").click()
    expect(approver.locator(f"[data-testid=transfer-status-{transfer_id}]")).to_have_text(words["done"])
    expect(approver.locator(f"tr[data-transfer='{transfer_id}']")).to_contain_text(f"MT5-DEAL-{language}-{transfer_id}")
    assert len(questions) == 2 and all(f"#{transfer_id}" in question for question in questions), questions

    # The requester sees it done; the ledger booked both sides.
    requester.reload()
    expect(requester.locator(f"[data-testid=transfer-status-{transfer_id}]")).to_have_text(words["done"])
    requester.goto(url + "/portfolio/cash-flows/")
    expect(requester.locator("[data-testid=cash-flows]")).to_contain_text(f"MT5-DEAL-{language}-{transfer_id}")
    requester.goto(url + "/risk/transfers/")
    ARTIFACTS.mkdir(exist_ok=True)
    requester.screenshot(path=str(ARTIFACTS / f"transfers-{language}.png"), full_page=False)
    requester.goto(url + "/risk/compliance/")
    expect(requester.locator("[data-testid=compliance-empty], [data-testid=compliance-rules]")).to_be_visible()
    requester.screenshot(path=str(ARTIFACTS / f"compliance-{language}.png"), full_page=False)


def test_an_admin_adds_a_compliance_rule_and_everyone_reads_it(platform: Any, new_page: Any) -> None:
    """The rule is edited in the tenant-scoped admin (a bad weekday list shows its field error), then listed on the
    Compliance tab: editable for the admin, read-only for the trader."""
    url = platform.url
    admin = new_page()
    log_in(admin, url, "demo-admin", DEMO_PASSWORD)
    switch_language(admin, url, "en")  # the other test may have left demo-admin's choice on Chinese
    admin.goto(url + "/risk/compliance/")
    admin.locator("[data-testid=compliance-edit]").click()
    admin.fill("#id_name", "New York hours")
    admin.select_option("#id_kind", "trading_window")
    admin.fill("#id_days", "0,1,9")
    admin.fill("#id_start_time", "08:00")
    admin.fill("#id_end_time", "17:00")
    admin.fill("#id_timezone", "America/New_York")
    admin.locator("input[name=_save]").click()
    expect(admin.locator(".errorlist").first).to_contain_text("List weekdays as numbers from 0 (Monday) to 6 (Sunday)")
    admin.fill("#id_days", "0,1,2,3,4")
    admin.locator("input[name=_save]").click()
    expect(admin.locator(".messagelist, .success").first).to_be_visible()
    admin.goto(url + "/risk/compliance/")
    rules = admin.locator("[data-testid=compliance-rules]")
    expect(rules).to_contain_text("New York hours")
    expect(rules).to_contain_text("Mon,Tue,Wed,Thu,Fri 08:00–17:00 America/New_York")
    admin.screenshot(path=str(ARTIFACTS / "compliance-rules-en.png"), full_page=False)
    trader = new_page()
    log_in(trader, url, "demo-trader", DEMO_PASSWORD)
    switch_language(trader, url, "en")
    trader.goto(url + "/risk/compliance/")
    expect(trader.locator("[data-testid=compliance-rules]")).to_contain_text("New York hours")
    expect(trader.locator("[data-testid=compliance-edit]")).to_have_count(0)
