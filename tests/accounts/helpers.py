"""Helpers of the accounts tests: credentials of a valid shape, a Binance account's portal form, and a pool's API
body."""

from __future__ import annotations

from typing import Any

from accounts.venue_forms import VenueAccountForm

# Credentials of the shape Binance issues (64 characters each), for the portal's and the API's account writes.
GOOD_KEY = "A" * 64
GOOD_SECRET = "b" * 64


def form_for(alice: Any, **data: str) -> VenueAccountForm:
    base = {"label": "B", "venue": "binance-usdm", "mode": "live", "owner": alice.user.pk,
            "api_key": "A" * 64, "api_secret": "b" * 64}  # fmt: skip
    return VenueAccountForm(data={**base, **data}, tenant=alice.tenant)


def pool_body(perp: Any, cfd: Any, **extra: Any) -> dict[str, Any]:
    return {
        "name": "P",
        "perp_account": perp.pk,
        "cfd_account": cfd.pk,
        "perp_allocation": "1000",
        "cfd_allocation": "1000",
        **extra,
    }
