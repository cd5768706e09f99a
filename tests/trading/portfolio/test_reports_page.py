"""The Reports page as the server renders it: the filters (the desk, its pools and strategies, a
period), the script's configuration (the analytics API's addresses and the same filter), no inline script; the
matrix's roles; another desk's scope in the query is ignored."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.urls import reverse

from accounts.models import AccountPool, VenueAccount
from tests.helpers.clients import tenant_client

pytestmark = pytest.mark.django_db


def config_of(html: str) -> dict[str, Any]:
    found = re.search(r'<script id="report-config" type="application/json">(.*?)</script>', html, re.S)
    assert found
    return dict(json.loads(found.group(1)))


def test_the_page_configures_its_script_for_the_chosen_filter(alice: Any, charlie: Any, frozen_clock: Any) -> None:
    perp = VenueAccount.objects.create(tenant=alice.tenant, owner=alice.user, venue="simulated-perp", label="P")
    cfd = VenueAccount.objects.create(tenant=alice.tenant, owner=alice.user, venue="simulated-cfd", label="C")
    pool = AccountPool.objects.create(
        tenant=alice.tenant, name="Gold pool", perp_account=perp, cfd_account=cfd, perp_allocation=1, cfd_allocation=1
    )
    client = tenant_client(alice)

    html = client.get(reverse("reports"), {"target": f"pool:{pool.pk}", "period": "7"}).content.decode()

    config = config_of(html)
    assert config["params"] == {
        "scope": "pool", "id": str(pool.pk), "since": "2026-11-11T11:56:00+00:00", "until": "2026-11-18T11:56:00+00:00",
    }  # fmt: skip
    assert config["urls"]["metrics"] == reverse("api-analytics-metrics")
    assert "Gold pool" in html and 'data-testid="nav-reports"' in html
    # Scripts only from files: a Content-Security-Policy without 'unsafe-inline' lets the page work.
    inline = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", html)
    assert inline == []
    # A target that is not the desk's (another desk's pool) falls back to the desk.
    foreign = client.get(reverse("reports"), {"target": "pool:999999", "period": "x"}).content.decode()
    assert config_of(foreign)["params"]["scope"] == "desk" and "id" not in config_of(foreign)["params"]


def test_the_roles_follow_the_matrix(alice: Any, bob: Any, ana: Any, cora: Any) -> None:
    for persona, status in ((alice, 200), (bob, 200), (ana, 200), (cora, 403)):
        assert tenant_client(persona).get(reverse("reports")).status_code == status
