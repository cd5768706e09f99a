"""A live Binance account's own risk terms against the fake Binance (reached through the account's endpoint override):
the sync reads the account's XAUUSDT leverage brackets (`GET /fapi/v1/leverageBracket?symbol=XAUUSDT`) when its
snapshot has none and hourly after, carries them forward between, keeps them when a read fails (and says why),
and records the position's ADL quantile and maintenance margin and the account's `totalMaintMargin`; the risk
figures then measure the account with its own brackets and set the venue's own figures beside ours."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from accounts.models import AccountPool, AccountSnapshot, VenueAccount
from risk.metrics import perp_account_risk, perp_brackets
from tests.fakes.fixtures import BinanceFake
from tests.helpers.venues import point_at_fake
from trading.account_sync import sync_accounts

pytestmark = [pytest.mark.timeout(120), pytest.mark.django_db]

BRACKETS = "GET /fapi/v1/leverageBracket"

# The account's own table, unlike the default one (1 % to 100,000): 2 % up to 50,000 at 25×, then 5 % (cum
# 50,000 × (5 % − 2 %) = 1,500) at 10×.
OWN_BRACKETS = [
    {"bracket": 1, "initialLeverage": 25, "notionalCap": 50000, "notionalFloor": 0, "maintMarginRatio": 0.02,
     "cum": 0.0},
    {"bracket": 2, "initialLeverage": 10, "notionalCap": 500000, "notionalFloor": 50000, "maintMarginRatio": 0.05,
     "cum": 1500.0},
]  # fmt: skip


def latest(account: VenueAccount) -> AccountSnapshot:
    snapshot = AccountSnapshot.objects.filter(account=account).order_by("-at", "-pk").first()
    assert snapshot is not None
    return snapshot


def bracket_reads(fake: BinanceFake, since: float = 0) -> int:
    return int(fake.state(since=since)["requests"].get(BRACKETS, 0))


@pytest.fixture
def account(canary_accounts: dict[str, Any], binance_fake: BinanceFake) -> VenueAccount:
    """Short 2 oz at 4,600, mark 4,610, wallet 10,000 USDT, cross, 20×, with the account's own brackets."""
    account = point_at_fake(canary_accounts, binance_fake)
    AccountPool.objects.filter(pk=canary_accounts["live_pool"].pk).update(perp_leverage=20)
    binance_fake.config(
        position_amt="-2.000", entry_price="4600.00", mark_price="4610.00", liquidation_price="9411.00",
        brackets=OWN_BRACKETS, notional_coef="0.5", adl_quantile=3,
    )  # fmt: skip
    return account


def test_the_sync_reads_the_accounts_brackets_adl_and_maintenance_margin(
    account: VenueAccount, binance_fake: BinanceFake, frozen_clock: Any
) -> None:
    assert sync_accounts()["synced"] == 3
    snapshot = latest(account)
    terms = snapshot.margin_terms
    own = terms["venue_brackets"]
    assert own["read_at"] == frozen_clock.now().isoformat() and own["notional_coef"] == "0.5"
    assert own["brackets"] == [
        {"bracket": 1, "initialLeverage": 25, "notionalFloor": "0", "notionalCap": "50000",
         "maintMarginRatio": "0.02", "cum": "0.0"},
        {"bracket": 2, "initialLeverage": 10, "notionalFloor": "50000", "notionalCap": "500000",
         "maintMarginRatio": "0.05", "cum": "1500.0"},
    ]  # fmt: skip
    assert "venue_brackets_error" not in terms
    # The venue's maintenance margin by its brackets: 2 × 4,610 = 9,220 in bracket 1 → 9,220 × 2 % = 184.40.
    assert Decimal(terms["total_maintenance_margin"]) == Decimal("184.40")
    position = snapshot.positions[0]
    assert position["adl"] == 3 and Decimal(position["maint_margin"]) == Decimal("184.40")
    assert bracket_reads(binance_fake) == 1

    # Ours with the account's brackets beside the venue's. Short 2 oz: 10,000 + (4,600 − P) × 2 = 2P × 2 % →
    # LP = 19,200 ÷ 2.04 = 9,411.7647… (the default 1 % would say 19,200 ÷ 2.02 = 9,504.95…). Maintenance
    # 184.40 = the venue's; margin balance 10,000 − 20 = 9,980 = the venue's.
    perp = perp_account_risk(
        account, snapshot, book_oz=Decimal(0), mark_price=Decimal("4610"), usd_per_usdt=Decimal(1),
        margin_type="cross",
    )  # fmt: skip
    assert perp.brackets_source == "venue" and perp.brackets_read_at == frozen_clock.now()
    assert perp.liquidation_price is not None
    assert abs(perp.liquidation_price - Decimal(19200) / Decimal("2.04")) < Decimal("1e-9")
    assert perp.liquidation_bracket == 1
    assert perp.venue is not None
    assert perp.venue.maintenance_margin == Decimal("184.40") and perp.venue.maintenance_margin_diff == 0
    assert perp.venue.margin_balance_diff == 0
    assert perp.venue.liquidation_price == Decimal("9411.00")
    assert perp.venue.liquidation_price_diff is not None
    assert abs(perp.venue.liquidation_price_diff - (Decimal(19200) / Decimal("2.04") - Decimal(9411))) < Decimal("1e-9")
    assert perp.venue.adl_quantile == 3


def test_brackets_are_read_hourly_and_carried_forward_between(
    account: VenueAccount, binance_fake: BinanceFake, frozen_clock: Any
) -> None:
    sync_accounts()
    first_read = frozen_clock.now().isoformat()
    frozen_clock.advance(59 * 60)
    binance_fake.config(adl_quantile=4)
    sync_accounts()
    snapshot = latest(account)
    assert bracket_reads(binance_fake) == 1  # not due: the brackets of the last read are carried forward
    assert snapshot.margin_terms["venue_brackets"]["read_at"] == first_read
    assert snapshot.positions[0]["adl"] == 4  # the ADL quantile is read with every sync

    frozen_clock.advance(60)
    sync_accounts()
    assert bracket_reads(binance_fake) == 2
    assert latest(account).margin_terms["venue_brackets"]["read_at"] == frozen_clock.now().isoformat()


def test_a_failed_or_malformed_brackets_answer_keeps_the_last_ones_and_says_so(
    account: VenueAccount, binance_fake: BinanceFake, frozen_clock: Any
) -> None:
    # No brackets yet and the read fails: the sync still succeeds; the figures use the defaults and say why.
    binance_fake.arm(
        "endpoint_error", path="/fapi/v1/leverageBracket", code=-1121, msg="Invalid symbol.", status=400, count=1
    )
    assert sync_accounts()["synced"] == 3
    account.refresh_from_db()
    assert account.status == "active" and account.last_error == ""
    snapshot = latest(account)
    assert "venue_brackets" not in snapshot.margin_terms
    assert "Invalid symbol" in snapshot.margin_terms["venue_brackets_error"]
    chosen = perp_brackets(snapshot)
    assert chosen.source == "default" and "Invalid symbol" in chosen.error

    # The next sync reads them (none kept: due whatever the age).
    frozen_clock.advance(60)
    sync_accounts()
    read_at = frozen_clock.now()
    assert perp_brackets(latest(account)).source == "venue"

    # An hour on, the venue answers a table with a gap (bracket 2 starts above bracket 1's cap): refused, the
    # last brackets stand, and the snapshot says why.
    frozen_clock.advance(3600)
    broken = [dict(OWN_BRACKETS[0]), dict(OWN_BRACKETS[1], notionalFloor=60000)]
    binance_fake.config(leverage_bracket_answer={"symbol": "XAUUSDT", "brackets": broken})
    assert sync_accounts()["synced"] == 3
    snapshot = latest(account)
    assert snapshot.margin_terms["venue_brackets"]["read_at"] == read_at.isoformat()
    assert "not usable" in snapshot.margin_terms["venue_brackets_error"]
    chosen = perp_brackets(snapshot)
    assert chosen.source == "venue" and chosen.read_at == read_at and "not usable" in chosen.error
    assert chosen.brackets[0].maint_margin_ratio == Decimal("0.02")

    # An answer without brackets: the same.
    frozen_clock.advance(60)
    binance_fake.config(leverage_bracket_answer={"symbol": "XAUUSDT", "brackets": []})
    sync_accounts()
    snapshot = latest(account)
    assert snapshot.margin_terms["venue_brackets"]["read_at"] == read_at.isoformat()
    assert "no brackets" in snapshot.margin_terms["venue_brackets_error"]

    # Fixed on the venue: read again, the error is gone.
    frozen_clock.advance(60)
    binance_fake.config(leverage_bracket_answer=None)
    sync_accounts()
    terms = latest(account).margin_terms
    assert terms["venue_brackets"]["read_at"] == frozen_clock.now().isoformat()
    assert "venue_brackets_error" not in terms
