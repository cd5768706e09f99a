"""A compliance officer in the Django admin, in Chromium: their tenant's audit trail only, read-only, exported."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from typing import Any

import pytest

from tests.helpers.platform import ROOT

from .helpers import DEMO_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("processes")]  # tests/conftest.py


@pytest.fixture(scope="module")
def second_desk(platform: Any) -> str:
    """A second tenant on the same platform, with its own audit events (its users were created and seeded)."""
    subprocess.run(
        [sys.executable, "manage.py", "seed_demo", "--tenant-slug", "other"],
        cwd=ROOT,
        env=platform.env,
        check=True,
        capture_output=True,
    )
    return "other"


def test_compliance_reads_only_their_tenant_s_audit_cannot_change_it_and_exports_csv(
    platform: Any, second_desk: str, new_page: Any
) -> None:
    page = new_page()
    # The admin sends strangers to the portal's one login page, which brings them back.
    page.goto(platform.url + "/admin/")
    assert "/accounts/login/" in page.url
    page.fill("input[name=username]", "demo-compliance")
    page.fill("input[name=password]", DEMO_PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url.rstrip("/").endswith("/admin"), page.url

    page.click("text=Audit events")
    page.wait_for_selector("#result_list")
    actors = page.locator("#result_list td.field-actor_username").all_inner_texts()
    assert actors, "the demo desk's seeding and this login wrote events"
    assert not any(actor.startswith("other-") for actor in actors)
    assert page.locator("text=other-admin").count() == 0
    # The filters offer this desk's actors only.
    filter_panel = page.locator("#changelist-filter").inner_text()
    assert "demo-compliance" in filter_panel and "other-" not in filter_panel

    # Read-only: the event opens with no save button and no delete link, and the delete page is refused.
    page.locator("#result_list th.field-created_at a").first.click()
    page.wait_for_selector("#content-main")
    assert page.locator("input[name=_save]").count() == 0
    assert page.locator("a.deletelink").count() == 0
    delete = page.goto(page.url.rstrip("/").rsplit("/", 1)[0] + "/delete/")
    assert delete is not None and delete.status == 403

    # Export what the list shows.
    page.goto(platform.url + "/admin/accounts/auditevent/?action__exact=user_created")
    with page.expect_download() as download_info:
        page.click("text=Export CSV")
    download = download_info.value
    assert download.suggested_filename.startswith("auditevent-") and download.suggested_filename.endswith(".csv")
    text = open(download.path(), encoding="utf-8-sig").read()  # noqa: SIM115
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], rows[1:]
    assert body and "hash" in header
    action_at = header.index("action")
    actor_at = header.index("actor")
    assert {row[action_at] for row in body} == {"User created"}  # the action's label, never its internal code
    assert not any("other-" in ",".join(row) for row in body)
    assert {row[actor_at] for row in body} == {"(system)"}
