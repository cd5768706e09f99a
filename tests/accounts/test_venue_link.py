"""accounts tests its venue accounts only through the link the composition root installs (accounts/venue_link.py):
the Test button and the API reach trading's account test; a process without the link tests nothing and says so."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from accounts.models import AccountPool, AuditEvent, VenueAccount
from accounts.venue_link import install_venue_link
from trading.account_sync import TradingVenueLink

from .test_venue_accounts import POOLS, api, patch

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
