"""A pool cannot be enabled while one of its accounts fails its connection test: enabling tests
each live account as its Test button does, and a failure is a clear 400 on that account's field — in the API and in
the portal — with nothing saved."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import AccountPool, AuditEvent, VenueAccount
from tests.accounts.helpers import pool_body
from tests.helpers.clients import POOLS, api, patch, post

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(120)]


def _unreachable_binance(canary_accounts: Any) -> VenueAccount:
    account: VenueAccount = canary_accounts["binance"]
    VenueAccount.objects.filter(pk=account.pk).update(
        rest_endpoint="http://127.0.0.1:9", ws_endpoint="ws://127.0.0.1:9"
    )
    return account


def test_enabling_a_pool_whose_account_fails_its_test_is_refused_with_the_reason(
    canary_accounts: Any, alice: Any
) -> None:
    _unreachable_binance(canary_accounts)
    live = canary_accounts["live_pool"]
    assert patch(api(alice), f"{POOLS}{live.pk}/", {"enabled": False}).status_code == 200

    answer = patch(api(alice), f"{POOLS}{live.pk}/", {"enabled": True})

    assert answer.status_code == 400
    body = answer.json()
    assert "Binance live failed its connection test" in " ".join(body["perp_account"])
    assert "unreachable" in " ".join(body["perp_account"])
    live.refresh_from_db()
    assert live.enabled is False  # nothing saved
    account = VenueAccount.objects.get(pk=canary_accounts["binance"].pk)
    assert account.last_test_ok is False  # the test ran, and is recorded on the account (and audited)
    assert AuditEvent.objects.filter(tenant=alice.tenant, action="secret_tested").exists()


def test_a_new_enabled_pool_is_refused_but_a_disabled_one_is_created(canary_accounts: Any, alice: Any) -> None:
    _unreachable_binance(canary_accounts)
    live = canary_accounts["live_pool"]
    AccountPool.objects.filter(pk=live.pk).update(enabled=False)
    binance, mt5 = canary_accounts["binance"], canary_accounts["mt5"]

    refused = post(api(alice), POOLS, pool_body(binance, mt5, name="Live 2"))
    assert refused.status_code == 400 and "perp_account" in refused.json()
    assert not AccountPool.objects.filter(name="Live 2").exists()

    created = post(api(alice), POOLS, pool_body(binance, mt5, name="Live 2", enabled=False))
    assert created.status_code == 201, created.content  # a disabled pool tests nothing


def test_paper_pools_enable_without_a_test(canary_accounts: Any, alice: Any) -> None:
    answer = post(api(alice), POOLS, pool_body(canary_accounts["sim_perp"], canary_accounts["sim_cfd"], name="Sim 2"))
    assert answer.status_code == 201, answer.content


def test_the_portal_form_says_why_the_pool_stays_disabled(canary_accounts: Any, alice: Any) -> None:
    from django.test import Client

    _unreachable_binance(canary_accounts)
    live = canary_accounts["live_pool"]
    AccountPool.objects.filter(pk=live.pk).update(enabled=False)
    client = Client()
    client.force_login(alice.user)
    form = {
        "name": live.name,
        "perp_account": live.perp_account_id,
        "cfd_account": live.cfd_account_id,
        "perp_allocation": "10000",
        "cfd_allocation": "10000",
        "perp_margin_type": "cross",
        "perp_leverage": "5",
        "enabled": "on",
    }
    response = client.post(f"/venues/pools/{live.pk}/", form, headers={"HX-Request": "true"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "failed its connection test" in html and 'data-testid="form-errors"' in html
    live.refresh_from_db()
    assert live.enabled is False
