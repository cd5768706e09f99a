"""risk/metrics.py with a live Binance account's own terms, as the sync stores them in its snapshot
(`margin_terms.venue_brackets`, `total_maintenance_margin`, the position's `adl`): our figures use the account's
brackets (source "venue"), the venue's own figures stand beside with the differences, and the page and the API
show them — also when the last read of the brackets failed. Hand-computed like tests/risk/test_metrics.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts.models import VenueAccount
from risk.metrics import desk_risk
from tests.helpers.clients import api
from tests.risk import factories as f

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # the frozen clock's Wednesday noon
READ_AT = NOW - timedelta(minutes=25)

# The account's own brackets as the sync keeps them (Binance's entry shape, exact decimals as strings): 2 % up to
# 50,000 USDT, then 5 % with cum 50,000 × (5 % − 2 %) = 1,500. The default table says 1 % up to 100,000.
VENUE_BRACKETS = {
    "read_at": READ_AT.isoformat(),
    "notional_coef": None,
    "brackets": [
        {"bracket": 1, "initialLeverage": 25, "notionalFloor": "0", "notionalCap": "50000",
         "maintMarginRatio": "0.02", "cum": "0"},
        {"bracket": 2, "initialLeverage": 10, "notionalFloor": "50000", "notionalCap": "500000",
         "maintMarginRatio": "0.05", "cum": "1500"},
    ],
}  # fmt: skip

LP_VENUE = Decimal(106500) / Decimal(42)  # 2,535.714285…
LP_DEFAULT = Decimal(106500) / Decimal(41)  # 2,597.560975…


def close(value: Decimal | None, expected: Decimal, places: int = 9) -> bool:
    assert value is not None
    return abs(value - expected) < Decimal(10) ** -places


def live_pool(alice: Any, pair: Any, terms: dict[str, Any], *, adl: int | None = 2) -> Any:
    """Short 40 oz at 2,500 (notional 100,000), wallet 5,000 USDT, cross; live, priced by the pair at 2,500."""
    pool = f.pool(alice.tenant, alice.user, "P1")
    VenueAccount.objects.filter(pk=pool.perp_account_id).update(mode="live")
    f.sample(pair, NOW - timedelta(seconds=5), perp="2500", cfd="2499")
    snapshot = f.snapshot(
        pool.perp_account, NOW - timedelta(seconds=30), currency="USDT", balance="5000", equity="5000",
        quantity="-40", entry="2500", terms={"source": "venue", **terms},
    )  # fmt: skip
    snapshot.positions[0].update(liquidation_price="2535.00", maint_margin="3490", adl=adl)
    snapshot.save()
    return pool


def test_the_accounts_own_brackets_give_a_different_liquidation_price(alice: Any, alpha_pair: Any) -> None:
    """With the account's brackets the notional 100,000 lies in bracket 2: maintenance 100,000 × 5 % − 1,500 =
    3,500, ratio 3,500 ÷ 5,000 = 70 %. At the liquidation price P (short): 5,000 + (2,500 − P) × 40 = 40P × 5 % −
    1,500 → P = 106,500 ÷ 42 = 2,535.714… (notional 101,428: still bracket 2). The default table: 106,500 ÷ 41.
    The venue's own: totalMaintMargin 3,490 (preferred to the USDT asset's 3,400), liquidation 2,535.00, ADL 2."""
    pool = live_pool(
        alice, alpha_pair,
        {"venue_brackets": VENUE_BRACKETS, "total_maintenance_margin": "3490", "maintenance_margin": "3400"},
    )  # fmt: skip
    perp = desk_risk(alice.tenant.pk, now=NOW).pools[0].perp
    assert perp.brackets_source == "venue" and perp.brackets_read_at == READ_AT and perp.brackets_error == ""
    assert perp.maintenance_margin == Decimal("3500.00")
    assert close(perp.margin_ratio_pct, Decimal(70))
    assert close(perp.liquidation_price, LP_VENUE)
    assert perp.liquidation_bracket == 2
    assert perp.venue is not None
    assert perp.venue.maintenance_margin == Decimal(3490) and perp.venue.maintenance_margin_diff == Decimal(10)
    assert perp.venue.liquidation_price == Decimal("2535.00")
    assert close(perp.venue.liquidation_price_diff, LP_VENUE - Decimal("2535.00"))
    assert perp.venue.margin_balance_diff == Decimal(0)
    assert perp.venue.adl_quantile == 2

    # Without the account's brackets (or with a stored table that is not valid) the defaults measure it, and
    # say so.
    for terms in ({}, {"venue_brackets": {**VENUE_BRACKETS, "brackets": VENUE_BRACKETS["brackets"][1:]}}):
        snapshot = pool.perp_account.snapshots.get()
        snapshot.margin_terms = {"source": "venue", "total_maintenance_margin": "3490", **terms}
        snapshot.save()
        perp = desk_risk(alice.tenant.pk, now=NOW).pools[0].perp
        assert perp.brackets_source == "default" and perp.brackets_read_at is None
        assert close(perp.liquidation_price, LP_DEFAULT)
        assert perp.maintenance_margin == Decimal("1000.00")
        assert perp.venue is not None and perp.venue.maintenance_margin_diff == Decimal(1000 - 3490)


def test_the_page_and_the_api_show_the_venue_brackets_and_a_failed_read(alice: Any, alpha_pair: Any) -> None:
    error = "Binance's leverage brackets for XAUUSDT are not usable: The leverage bracket entry has no brackets."
    pool = live_pool(
        alice, alpha_pair,
        {"venue_brackets": VENUE_BRACKETS, "total_maintenance_margin": "3490", "venue_brackets_error": error},
    )  # fmt: skip
    answer = api(alice).get(reverse("api-risk-pool", args=[pool.pk]))
    assert answer.status_code == 200, answer.content
    perp = answer.json()["perp"]
    assert perp["brackets_source"] == "venue" and perp["brackets_error"] == error
    assert perp["brackets_read_at"] == "2026-11-18T11:35:00Z"
    assert perp["liquidation_bracket"] == 2
    assert perp["venue"]["adl_quantile"] == 2
    assert perp["venue"]["maintenance_margin"] == "3490.00000000"
    assert perp["venue"]["maintenance_margin_diff"] == "10.00000000"

    client = Client()
    client.force_login(alice.user)
    page = client.get(reverse("risk"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "the account's own brackets (read 2026-11-18 11:35 UTC)" in html
    assert "bracket 2 at liquidation" in html
    assert 'data-testid="brackets-error"' in html and "not usable" in html
    assert "ADL 2" in html and "2535.71" in html  # ours, beside the venue's 2535.00
    assert "(Δ 0.71)" in html and "(Δ 10.00)" in html  # liquidation price and maintenance margin, ours − venue's
    with translation.override("en"):  # the requests below activate zh-Hans: the thread's language is restored after
        client.post("/accounts/language/", {"language": "zh-hans"})
        html = client.get(reverse("risk")).content.decode()
    assert "账户自身的分档（读取于 2026-11-18 11:35 UTC）" in html
    assert "强平时位于第 2 档" in html and "上次读取交易场所分档失败" in html
