"""Venue accounts and pools in Chromium: an admin creates two simulated accounts, tests them and pairs them in
a pool; a viewer sees the pool without any secret or edit control."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from .helpers import log_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("processes")]  # tests/conftest.py


def create_account(page: Any, base: str, label: str, venue: str) -> None:
    page.goto(base + "/venues/accounts/new/")
    page.fill("#id_label", label)
    page.fill("#id_venue", venue)
    page.select_option("#id_owner", label="demo-trader")
    with page.expect_navigation():
        page.click("[data-testid=account-form] button[type=submit]")
    expect(page.locator("h1")).to_have_text(label)
    page.click("[data-testid=test-connection]")
    expect(page.locator("[data-testid=test-result]")).to_contain_text("Connection OK", timeout=10_000)


def test_admin_builds_a_pool_and_a_viewer_reads_it(platform: Any, new_page: Any) -> None:
    admin = new_page()
    log_in(admin, platform.url, "demo-admin")

    # A bad venue is answered inline, nothing saved.
    admin.goto(platform.url + "/venues/accounts/new/")
    admin.fill("#id_label", "E2E wrong")
    admin.fill("#id_venue", "kraken")
    admin.click("[data-testid=account-form] button[type=submit]")
    expect(admin.locator("[data-testid=form-errors]")).to_be_visible()
    expect(admin.locator("text=Unknown venue")).to_be_visible()

    create_account(admin, platform.url, "E2E perp", "simulated-perp")
    create_account(admin, platform.url, "E2E CFD", "simulated-cfd")

    admin.goto(platform.url + "/venues/pools/new/")
    admin.fill("#id_name", "E2E pool")
    admin.select_option("#id_perp_account", label="E2E perp")
    admin.select_option("#id_cfd_account", label="E2E CFD")
    admin.fill("#id_perp_allocation", "25000")
    admin.fill("#id_cfd_allocation", "25000")
    with admin.expect_navigation():
        admin.click("[data-testid=pool-form] button[type=submit]")
    expect(admin.locator("h1")).to_have_text("E2E pool")
    expect(admin.locator("[data-testid=hedge-ratio]")).to_contain_text("100 oz")

    viewer = new_page()
    log_in(viewer, platform.url, "demo-viewer")
    viewer.goto(platform.url + "/venues/pools/")
    row = viewer.locator('[data-pool="E2E pool"]')
    expect(row).to_contain_text("E2E perp")
    expect(viewer.locator("[data-testid=new-pool]")).to_have_count(0)
    row.locator("a").first.click()
    expect(viewer.locator("h1")).to_have_text("E2E pool")
    expect(viewer.locator("[data-testid=pool-form]")).to_have_count(0)
    expect(viewer.locator("text=Delete pool")).to_have_count(0)
    viewer.goto(platform.url + "/venues/accounts/")
    expect(viewer.locator("[data-testid=new-account]")).to_have_count(0)
    viewer.click("text=E2E perp")
    expect(viewer.locator("[data-testid=account-form]")).to_have_count(0)
    expect(viewer.locator("[data-testid=test-connection]")).to_have_count(0)
    expect(viewer.locator("input[type=password]")).to_have_count(0)
