"""Alerts in Chromium: an alert raised in the backend (another process, the platform's database) appears in the
open portal's badge and list without a reload; acknowledging it records the user, and the audit trail shows it."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.helpers.platform import ROOT

from .helpers import log_in, wait_live

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("processes")]  # tests/conftest.py


def raise_in_backend(platform: Any, title: str, key: str) -> None:
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "raise_alert",
            "--tenant=demo",
            f"--title={title}",
            f"--key={key}",
            "--category=account",
            "--severity=critical",
        ],
        cwd=ROOT,
        env=platform.env,
        check=True,
        capture_output=True,
    )


def test_a_backend_alert_appears_live_and_its_acknowledgement_is_audited(platform: Any, new_page: Any) -> None:
    dashboard = new_page()
    log_in(dashboard, platform.url)  # demo-trader
    wait_live(dashboard)
    alerts = dashboard.context.new_page()
    alerts.goto(platform.url + "/alerts/?severity=critical")
    expect(alerts.locator("[data-testid=alerts-empty]")).to_be_visible()
    expect(dashboard.locator("#alert-badge [data-testid=alert-badge]")).to_have_attribute("data-count", "0")

    raise_in_backend(platform, "E2E margin level 110 % on perp one", "e2e-margin")

    # No reload: the dashboard's socket says alerts changed, the list page polls.
    expect(dashboard.locator("#alert-badge [data-testid=alert-badge]")).to_have_attribute(
        "data-count", "1", timeout=10_000
    )
    row = alerts.locator("[data-testid=alerts] tr", has_text="E2E margin level 110 %")
    expect(row).to_be_visible(timeout=10_000)
    row.locator("[data-testid=ack]").click()
    expect(row.locator("[data-testid=acknowledged-by]")).to_have_text("by demo-trader")
    expect(dashboard.locator("#alert-badge [data-testid=alert-badge]")).to_have_attribute(
        "data-count", "0", timeout=10_000
    )

    admin = new_page()
    log_in(admin, platform.url, "demo-admin")
    admin.goto(platform.url + "/admin/accounts/auditevent/?action__exact=alert_acknowledged")
    entry = admin.locator("#result_list tbody tr").first
    expect(entry).to_contain_text("demo-trader")
    expect(entry).to_contain_text("Alert acknowledged")
