"""Fixtures of the portfolio tests: a second admin of alice's desk and alice's two paper accounts in a pool."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.factories import AccountPoolFactory
from trading.models import PairAccess, SpreadSample

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)


@pytest.fixture
def alex(alice: Any) -> Any:
    """A second admin of alice's desk."""
    from tests.helpers.personas import persona

    return persona("alex", "alpha", "admin")


@pytest.fixture
def books(alice: Any) -> dict[str, Any]:
    """Alice's paper perp (USDT) and CFD (USD) accounts in a pool, and a USDT/USD rate of 0.999 on her pair."""
    from quantarb.management.commands.seed_demo import Command

    pool = AccountPoolFactory.create(
        tenant=alice.tenant,
        owner=alice.user,
        name="Pool",
        perp_account__label="Perp",
        cfd_account__label="CFD",
        perp_allocation=1,
        cfd_allocation=1,
    )
    perp, cfd = pool.perp_account, pool.cfd_account
    pair = Command._simulated_pair()
    PairAccess.objects.create(tenant=alice.tenant, pair=pair)
    price = Decimal("4000")
    SpreadSample.objects.create(
        pair=pair, ts=NOW - timedelta(days=30), perp_bid=price, perp_ask=price, cfd_bid=price, cfd_ask=price,
        usd_per_usdt=Decimal("0.999"), edge_sell_perp=0, edge_buy_perp=0, net_sell_perp=0, net_buy_perp=0, basis=0,
    )  # fmt: skip
    return {"perp": perp, "cfd": cfd, "pool": pool}
