"""accounts reaches trading only through the link the composition root installs (accounts/venue_link.py): the Test
button and the API reach trading's account test, the pool pages its instruments' specs; a process without the link
tests nothing and says so, and shows no hedge ratio."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse

from accounts.models import AccountPool, AuditEvent, VenueAccount
from accounts.venue_link import install_venue_link
from tests.helpers.clients import POOLS, api, client_for, patch
from trading.account_sync import TradingVenueLink

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(120)]


@pytest.fixture
def unwired() -> Iterator[None]:
    previous = install_venue_link(None)
    yield
    install_venue_link(previous)


def test_the_composition_root_installed_trading_s_account_test(canary_accounts: Any, alice: Any) -> None:
    previous = install_venue_link(None)
    install_venue_link(previous)
    assert isinstance(previous, TradingVenueLink)
    account = canary_accounts["sim_perp"]
    answer = api(alice).post(f"/api/v1/accounts/{account.pk}/test/")
    assert answer.status_code == 200 and answer.json()["ok"] is True
    assert VenueAccount.objects.get(pk=account.pk).last_test_ok is True


def test_without_the_link_nothing_is_tested_nor_recorded(canary_accounts: Any, alice: Any, unwired: None) -> None:
    account = canary_accounts["sim_perp"]
    answer = api(alice).post(f"/api/v1/accounts/{account.pk}/test/")
    assert answer.status_code == 200
    assert answer.json()["ok"] is False and "nothing was tested" in answer.json()["message"]
    assert VenueAccount.objects.get(pk=account.pk).last_test_at is None
    assert not AuditEvent.objects.filter(tenant=alice.tenant, action="secret_tested").exists()


def test_without_the_link_no_live_pool_is_enabled(canary_accounts: Any, alice: Any, unwired: None) -> None:
    live = canary_accounts["live_pool"]
    AccountPool.objects.filter(pk=live.pk).update(enabled=False)
    answer = patch(api(alice), f"{POOLS}{live.pk}/", {"enabled": True})
    assert answer.status_code == 400 and "nothing was tested" in " ".join(answer.json()["perp_account"])
    live.refresh_from_db()
    assert live.enabled is False


def test_the_hedge_ratio_comes_from_trading_s_instruments_through_the_link(canary_accounts: Any, alice: Any) -> None:
    pool = canary_accounts["live_pool"]
    ratio = api(alice).get(f"{POOLS}{pool.pk}/").json()["hedge_ratio"]
    assert ratio == {
        "perp_symbol": "XAUUSDT",
        "cfd_symbol": "XAUUSD.s",
        "ounces_per_lot": "100.000",
        "ounces_per_contract": "1.000",
        "contracts_per_lot": "100",
    }
    page = client_for(alice).get(reverse("pool", args=[pool.pk])).content.decode()
    assert 'data-testid="hedge-ratio"' in page and "XAUUSD.s" in page


def test_without_the_link_a_pool_shows_no_hedge_ratio(canary_accounts: Any, alice: Any, unwired: None) -> None:
    pool = canary_accounts["live_pool"]
    assert api(alice).get(f"{POOLS}{pool.pk}/").json()["hedge_ratio"] is None
    page = client_for(alice).get(reverse("pool", args=[pool.pk])).content.decode()
    assert 'data-testid="hedge-ratio"' not in page and "read from the venue at sizing time" in page
