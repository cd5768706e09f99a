"""Two-factor sign-in in a real Chromium against the running platform: an admin of a desk that requires it enrols
(QR code and secret), is signed in by the first code, and on the next sign-in passes the code step.

The secret is read from the enrolment page, as a person would type it into their app; codes are computed with
django-otp's own TOTP. Screenshots of both steps go to `test-artifacts/` for a human to look at.
"""

from __future__ import annotations

import base64
import subprocess
import sys
import time
from typing import Any

import pytest
from django_otp.oath import TOTP
from playwright.sync_api import expect

from tests.e2e.helpers import ARTIFACTS
from tests.helpers.platform import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("processes")]  # tests/conftest.py

USERNAME = "secure-admin"
PASSWORD = "secure desk password 1"
CREATE_ADMIN = f"""
from accounts.models import Membership, Tenant, User
tenant, _ = Tenant.objects.get_or_create(
    slug="secure", defaults={{"name": "Secure desk", "require_admin_two_factor": True}}
)
user = User.objects.filter(username="{USERNAME}").first()
user = user or User.objects.create_user("{USERNAME}", password="{PASSWORD}")
Membership.objects.get_or_create(user=user, tenant=tenant, defaults={{"role": "admin"}})
"""


def code_from_secret(secret: str, steps_ahead: int = 0) -> str:
    key = base64.b32decode(secret.replace(" ", "") + "=" * (-len(secret.replace(" ", "")) % 8))
    totp = TOTP(key, step=30, t0=0, digits=6)
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"


def submit_password(page: Any, base_url: str) -> None:
    page.goto(base_url + "/accounts/login/")
    page.fill("input[name=username]", USERNAME)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation(timeout=15_000):
        page.click("button[type=submit]")


def submit_code(page: Any, code: str) -> None:
    page.fill("input[name=code]", code)
    with page.expect_navigation(timeout=15_000):
        page.click("button[type=submit]")


def test_an_admin_enrols_then_signs_in_with_a_code(platform: Any, page: Any) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", CREATE_ADMIN],
        cwd=ROOT,
        env=platform.env,
        check=True,
        capture_output=True,
    )
    ARTIFACTS.mkdir(exist_ok=True)

    # Password step: no session yet, enrolment instead (no device).
    submit_password(page, platform.url)
    expect(page).to_have_url(platform.url + "/accounts/two-factor/enrol/")
    expect(page.locator("[data-testid=qr] svg")).to_be_visible()
    expect(page.locator("#live-status")).to_have_count(0)  # not signed in: no top bar, no socket
    qr = page.locator("[data-testid=qr] svg").bounding_box()
    assert qr is not None and qr["width"] >= 150 and qr["height"] >= 150
    secret = page.locator("[data-testid=secret]").inner_text().strip()
    assert len(secret.replace(" ", "")) == 32
    page.screenshot(path=str(ARTIFACTS / "two-factor-enrol.png"), full_page=True)

    submit_code(page, code_from_secret(secret))
    expect(page).to_have_url(platform.url + "/")
    expect(page.locator("[data-testid=tenant]")).to_have_text("Secure desk")
    expect(page.locator("main .alert-success")).to_contain_text("Two-factor sign-in is set up")

    with page.expect_navigation(timeout=15_000):
        page.get_by_role("button", name="Log out").click()

    # Next sign-in: the code step. The enrolment spent this time step's code, so use the next one (in tolerance).
    submit_password(page, platform.url)
    expect(page).to_have_url(platform.url + "/accounts/two-factor/")
    expect(page.locator("[data-testid=two-factor-verify]")).to_contain_text(USERNAME)
    assert page.goto(platform.url + "/").url.startswith(platform.url + "/accounts/login/")  # nothing else opens
    page.go_back()
    expect(page).to_have_url(platform.url + "/accounts/two-factor/")
    page.screenshot(path=str(ARTIFACTS / "two-factor-verify.png"), full_page=True)

    submit_code(page, code_from_secret(secret, steps_ahead=1))
    expect(page).to_have_url(platform.url + "/")
    expect(page.locator("[data-testid=tenant]")).to_have_text("Secure desk")
