"""Fixtures of the object graphs the strategy, risk and portfolio tests share on top of tests/pools.py's (a pytest
plugin registered in tests/conftest.py, so every test tree sees them): the personas' desk, and a strategy's
history of hedges, flows and marks."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from guardian.shortcuts import assign_perm

from strategies.domain.params import StrategyParams
from tests.factories import StrategyFactory
from tests.helpers.books import NOW, OPENED, hedge_of, store_marks
from tests.helpers.desk import bravo_objects, make_hedge, pool_of
from tests.trading.domain.pnl_cases import A_SELL_PERP_CLOSED, C_SELL_PERP_OPEN
from trading.domain import pnl
from trading.models import PairAccess
from trading.portfolio.cashflows import Entry, cash_flow_enter


@pytest.fixture
def desk(alice: Any, tom: Any, bob: Any, charlie: Any, strategy: Any, paper_pool: Any) -> dict[str, Any]:
    """Alpha's paper pool granted to tom, with a strategy, an open hedge and its filled orders; a second alpha
    pool not granted to tom; bravo's own strategy and hedge."""
    assign_perm("accounts.operate_accountpool", tom.user, paper_pool)
    other_pool = pool_of(alice, "Other")
    other = StrategyFactory.create(pool=other_pool, name="Other", params=StrategyParams(), actor=alice.user)
    hedge = make_hedge(strategy)
    bravo = bravo_objects(charlie)
    return {"strategy": strategy, "other": other, "pool": paper_pool, "other_pool": other_pool, "hedge": hedge, **bravo}


def _marks(shift: str) -> pnl.Marks:
    """C's marks moved by `shift` USD on every price (and the rate a little), so each hour marks differently."""
    base = C_SELL_PERP_OPEN.marks
    assert base is not None
    step = Decimal(shift)
    return pnl.Marks(base.usd_per_usdt + step / 10_000, base.perp_bid + step, base.perp_ask + step,
                     base.cfd_bid + step, base.cfd_ask + step)  # fmt: skip


@pytest.fixture
def history(alice: Any, strategy: Any, frozen_clock: Any) -> dict[str, Any]:
    """A deposit before the hedges, A (closes now) and C (still open now) opened 9 h ago, a withdrawal in between,
    and a spread sample every hour at marks that move."""
    pool = strategy.pool
    hourly = {OPENED - timedelta(hours=1) + timedelta(hours=h): _marks(str(h)) for h in range(12)}
    for at, mark in hourly.items():
        store_marks(_pair(alice), mark, at)
    cash_flow_enter(
        tenant=alice.tenant, actor=alice.user,
        entry=Entry(account=pool.cfd_account, kind="deposit", amount=Decimal(9000), at=OPENED - timedelta(minutes=30)),
    )  # fmt: skip
    hedges = [hedge_of(strategy, A_SELL_PERP_CLOSED), hedge_of(strategy, C_SELL_PERP_OPEN)]
    cash_flow_enter(
        tenant=alice.tenant, actor=alice.user,
        entry=Entry(account=pool.perp_account, kind="withdrawal", amount=Decimal("500"), at=NOW - timedelta(hours=3)),
    )  # fmt: skip
    return {"pool": pool, "strategy": strategy, "hedges": hedges, "marks": hourly}


def _pair(alice: Any) -> Any:
    return PairAccess.objects.get(tenant=alice.tenant).pair
