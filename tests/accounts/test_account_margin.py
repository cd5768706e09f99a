"""The accounts page, an account's page and `/api/v1/accounts/{id}/` show the latest equity, used margin, margin
level and their age, for paper and live accounts alike, with how the margin was found; other tenants get 404."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from accounts.models import AccountSnapshot, VenueAccount
from quantarb import clock
from tests.helpers.clients import ACCOUNTS, api, client_for
from trading.execution.paper_ledger import PaperMark, paper_account_snapshot
from trading.models import PaperPosition

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def accounts(alice: Any, frozen_clock: Any) -> dict[str, VenueAccount]:
    paper = VenueAccount.objects.create(
        tenant=alice.tenant, owner=alice.user, venue="simulated-perp", label="Paper perp", mode="paper"
    )
    PaperPosition.objects.create(account=paper, quantity_oz=D(-10), avg_price=D("4600"))
    paper_account_snapshot(account=paper, at=clock.now(), mark=PaperMark(D("4610.00"), D("4610.20")))
    live = VenueAccount.objects.create(
        tenant=alice.tenant, owner=alice.user, venue="bybit-mt5", label="MT5 live", mode="live"
    )
    AccountSnapshot.objects.create(
        account=live,
        tenant=alice.tenant,
        at=clock.now() - timedelta(minutes=10),  # the terminal has not answered since
        currency="USD",
        balance=D("10000"),
        equity=D("10250.5"),
        used_margin=D("4605.1"),
        margin_level=D("222.5878"),
        margin_terms={"source": "terminal", "leverage": 100, "buy_per_lot": "4605.10000000", "sell_per_lot": "4604.9"},
    )
    return {"paper": paper, "live": live}


def test_the_api_shows_the_latest_snapshot_of_paper_and_live_accounts(
    accounts: dict[str, VenueAccount], alice: Any, frozen_clock: Any
) -> None:
    client = api(alice)
    frozen_clock.advance(30)
    paper = client.get(f"{ACCOUNTS}{accounts['paper'].pk}/").json()["latest_snapshot"]
    # 100,000 USDT; short 10 oz from 4,600 valued at the mid 4,610.10: −101; 46,101 ÷ the default 20×
    assert paper["currency"] == "USDT" and paper["balance"] == "100000.00"
    assert (paper["equity"], paper["unrealised_pnl"]) == ("99899.00", "-101.00")
    assert (paper["used_margin"], paper["free_margin"]) == ("2305.05", "97593.95")
    assert paper["margin_level"] == "4333.92"  # 99,899 ÷ 2,305.05 × 100
    assert paper["age_s"] == 30.0 and paper["margin_terms"]["brackets"] == "default"
    assert paper["margin_basis"] == "Paper: Binance leverage brackets (defaults, assumed) at 20×"
    assert paper["positions"][0]["quantity"] == "-10.000"
    live = client.get(f"{ACCOUNTS}{accounts['live'].pk}/").json()["latest_snapshot"]
    assert (live["equity"], live["used_margin"], live["margin_level"]) == ("10250.50", "4605.10", "222.59")
    assert live["margin_basis"] == "As reported by the MT5 terminal; one lot needs 4605.10 USD to buy, 4604.90 to sell"
    listed = {row["label"]: row for row in client.get(ACCOUNTS).json()["results"]}
    assert listed["Paper perp"]["latest_snapshot"]["equity"] == "99899.00"


def test_an_account_never_snapshotted_has_none(alice: Any) -> None:
    account = VenueAccount.objects.create(
        tenant=alice.tenant, owner=alice.user, venue="simulated-cfd", label="New", mode="paper"
    )
    assert api(alice).get(f"{ACCOUNTS}{account.pk}/").json()["latest_snapshot"] is None


def test_the_pages_show_equity_margin_level_and_age(accounts: dict[str, VenueAccount], bob: Any) -> None:
    client = client_for(bob)  # a viewer of the tenant reads them
    page = client.get(reverse("venue_accounts")).content.decode()
    paper_row = page[page.index('data-account="Paper perp"') :]
    paper_row = paper_row[: paper_row.index("</tr>")]
    # each figure to the cent with its currency under it (the tables' layout for a 1366 px laptop)
    assert '99,899.00<span class="qa-sub">USDT</span>' in paper_row
    assert '2,305.05<span class="qa-sub">USDT</span>' in paper_row and "4,333.9 %" in paper_row
    assert "stale" not in paper_row
    live_row = page[page.index('data-account="MT5 live"') :]
    live_row = live_row[: live_row.index("</tr>")]
    assert '10,250.50<span class="qa-sub">USD</span>' in live_row and "222.6 %" in live_row
    assert "stale" in live_row  # ten minutes old: amber, and says so in words
    detail = client.get(reverse("venue_account", args=[accounts["paper"].pk])).content.decode()
    block = detail[detail.index('data-testid="latest-snapshot"') :]
    assert "99,899.00" in block and "2,305.05" in block and "4,333.9 %" in block and "-101.00" in block
    assert "defaults, assumed" in block


def test_another_tenant_sees_none_of_it(accounts: dict[str, VenueAccount], charlie: Any) -> None:
    assert api(charlie).get(f"{ACCOUNTS}{accounts['paper'].pk}/").status_code == 404
    assert client_for(charlie).get(reverse("venue_account", args=[accounts["paper"].pk])).status_code == 404
    assert "Paper perp" not in client_for(charlie).get(reverse("venue_accounts")).content.decode()
