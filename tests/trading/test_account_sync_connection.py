"""Testing a live Binance account's connection (trading/account_sync.py `account_test`) against the fake Binance,
reached through the account's endpoint override; and the override itself in the form and the API."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import ChangeLogEntry, VenueAccount
from tests import canary
from tests.accounts.helpers import form_for
from tests.fakes.fixtures import BinanceFake
from tests.helpers.clients import ACCOUNTS, api, patch, post
from trading.account_sync import account_test

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(120)]


@pytest.fixture
def binance_account(canary_accounts: dict[str, Any], binance_fake: BinanceFake) -> VenueAccount:
    """Alpha's live Binance account (canary key and secret) pointed at the fake, which knows that key."""
    binance_fake.config(api_keys={canary.CANARY_API_KEY: canary.CANARY_API_SECRET})
    account: VenueAccount = canary_accounts["binance"]
    account.rest_endpoint, account.ws_endpoint = binance_fake.rest_url, binance_fake.ws_url
    account.save()
    return account


def test_a_good_key_passes_and_says_what_it_found(binance_account: VenueAccount, alice: Any) -> None:
    result = account_test(account=binance_account, actor=alice.user)
    assert result.ok, result.message
    assert "XAUUSDT" in result.message and "tick 0.01" in result.message and "taker 0.05 %" in result.message
    binance_account.refresh_from_db()
    assert binance_account.last_test_ok is True


def test_a_wrong_key_is_a_clear_message(binance_account: VenueAccount, binance_fake: BinanceFake, alice: Any) -> None:
    binance_fake.config(api_keys={canary.CANARY_API_KEY: "another-secret"})
    result = account_test(account=binance_account, actor=alice.user)
    assert not result.ok
    assert "refused the API key (code -1022)" in result.message and "whitelisted" in result.message


def test_an_unsigned_tradfi_agreement_is_a_clear_message(
    binance_account: VenueAccount, binance_fake: BinanceFake, alice: Any
) -> None:
    binance_fake.arm("tradfi_unsigned")
    result = account_test(account=binance_account, actor=alice.user)
    assert not result.ok and "TradFi-Perps agreement" in result.message and "-4411" in result.message
    assert binance_fake.state()["orders"] == []  # the check validates a test order; it never places one


def test_hedge_mode_is_reported(binance_account: VenueAccount, binance_fake: BinanceFake, alice: Any) -> None:
    binance_fake.config(dual_side=True)
    result = account_test(account=binance_account, actor=alice.user)
    assert not result.ok and "one-way" in result.message


def test_an_unreachable_endpoint_is_a_clear_message(canary_accounts: dict[str, Any], alice: Any) -> None:
    account: VenueAccount = canary_accounts["binance"]
    account.rest_endpoint, account.ws_endpoint = "http://127.0.0.1:9", "ws://127.0.0.1:9"
    account.save()
    result = account_test(account=account, actor=alice.user)
    assert not result.ok and "unreachable at http://127.0.0.1:9" in result.message


# --- the override in the form and the API ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"rest_endpoint": "ftp://proxy.example", "ws_endpoint": "wss://proxy.example"}, "rest_endpoint"),
        ({"rest_endpoint": "https://proxy.example", "ws_endpoint": "https://proxy.example"}, "ws_endpoint"),
        ({"rest_endpoint": "https://proxy.example"}, "ws_endpoint"),
        ({"ws_endpoint": "wss://proxy.example"}, "rest_endpoint"),
        ({"venue": "simulated-perp", "mode": "paper", "api_key": "", "api_secret": "",
          "rest_endpoint": "https://proxy.example", "ws_endpoint": "wss://proxy.example"}, "rest_endpoint"),
    ],
)  # fmt: skip
def test_the_form_validates_the_override(alice: Any, data: dict[str, str], field: str) -> None:
    form = form_for(alice, **data)
    assert not form.is_valid() and field in form.errors


def test_admins_set_the_override_over_the_api_and_it_is_change_logged(alice: Any, bob: Any) -> None:
    body = {"label": "B", "venue": "binance-usdm", "mode": "live",
            "credentials": {"api_key": "A" * 64, "api_secret": "b" * 64},
            "rest_endpoint": "https://proxy.example:8443", "ws_endpoint": "wss://proxy.example:8443"}  # fmt: skip
    created = post(api(alice), ACCOUNTS, body)
    assert created.status_code == 201, created.json()
    shown = created.json()
    assert (shown["rest_endpoint"], shown["ws_endpoint"]) == ("https://proxy.example:8443", "wss://proxy.example:8443")
    assert "credentials" not in shown and "b" * 64 not in str(shown)  # write-only: masked hints only
    url = f"{ACCOUNTS}{shown['id']}/"
    assert patch(api(bob), url, {"rest_endpoint": "https://evil.example"}).status_code == 403  # viewers cannot
    bad = patch(api(alice), url, {"ws_endpoint": "http://proxy.example"})
    assert bad.status_code == 400 and "ws_endpoint" in bad.json()
    cleared = patch(api(alice), url, {"rest_endpoint": "", "ws_endpoint": ""})
    assert cleared.status_code == 200 and cleared.json()["rest_endpoint"] == ""
    account = VenueAccount.objects.get(pk=shown["id"])
    assert account.credentials == {"api_key": "A" * 64, "api_secret": "b" * 64}  # kept across the PATCH
    changes = ChangeLogEntry.objects.filter(object_pk=str(account.pk))
    assert any("rest_endpoint" in (entry.changes or {}) for entry in changes)


def test_a_refusal_names_the_endpoint_and_binance_s_own_message(
    binance_account: VenueAccount, binance_fake: BinanceFake, alice: Any
) -> None:
    # Not only "code -5000": which request Binance refused, and what it said about it.
    binance_fake.arm(
        "endpoint_error",
        path="/fapi/v1/commissionRate",
        method="GET",
        code=-5000,
        msg="This endpoint is not available for TradFi perpetuals.",
    )
    result = account_test(account=binance_account, actor=alice.user)
    assert not result.ok
    assert "GET /fapi/v1/commissionRate" in result.message and "-5000" in result.message, result.message
    assert "not available for TradFi perpetuals" in result.message and binance_fake.rest_url in result.message
    assert canary.CANARY_API_KEY not in result.message and "signature" not in result.message
    binance_account.refresh_from_db()
    assert binance_account.last_test_message == result.message


def test_a_refused_key_names_the_endpoint_too(
    binance_account: VenueAccount, binance_fake: BinanceFake, alice: Any
) -> None:
    binance_fake.config(api_keys={canary.CANARY_API_KEY: "another-secret"})
    result = account_test(account=binance_account, actor=alice.user)
    assert "/fapi/" in result.message and "Signature for this request is not valid" in result.message, result.message
