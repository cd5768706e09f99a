"""Venue accounts pointed at the fake venues of tests/fakes."""

from __future__ import annotations

from typing import Any

from accounts.models import VenueAccount
from tests import canary
from tests.fakes.fixtures import BinanceFake


def point_at_fake(canary_accounts: dict[str, Any], fake: BinanceFake) -> VenueAccount:
    """Alpha's live Binance account (canary key and secret) at the fake, which knows that key; the MT5 account is
    disabled so the sync reads only what this file is about."""
    fake.config(api_keys={canary.CANARY_API_KEY: canary.CANARY_API_SECRET})
    account: VenueAccount = canary_accounts["binance"]
    VenueAccount.objects.filter(pk=account.pk).update(rest_endpoint=fake.rest_url, ws_endpoint=fake.ws_url)
    VenueAccount.objects.filter(pk=canary_accounts["mt5"].pk).update(status="disabled")
    account.refresh_from_db()
    return account
