"""Paper accounts move with their trades, end to end: a paper hedge the runner opens through the
normal order path moves both paper accounts' equity and used margin, the accounts page and the API show it, and an
adverse move valued by the sync job lowers the paper perp account's margin level (which the risk limits watch)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from accounts.models import AccountSnapshot
from quantarb import clock
from strategies.domain.params import StrategyParams
from strategies.services import strategy_update
from tests.helpers.runners import db, started_runner
from trading.account_sync import sync_accounts
from trading.choices import HedgeStatus
from trading.models import Hedge, SpreadSample

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("thread_connections_closed"),
]
D = Decimal


def latest(account_id: int) -> AccountSnapshot:
    return AccountSnapshot.objects.filter(account_id=account_id).order_by("-at", "-pk")[0]


async def test_a_paper_hedge_moves_the_paper_accounts_and_their_margin_level(
    alice: Any, strategy: Any, paper_pool: Any, sim_pair: Any, market: Any, frozen_clock: Any
) -> None:
    params = StrategyParams.from_json(strategy.current_version.params).replace(
        size_oz=D(50), max_position_oz=D(50), max_unhedged_oz=D(1)
    )
    await db(strategy_update)(strategy=strategy, params=params, actor=alice.user)
    await db(sync_accounts)()
    before = {pk: await db(latest)(pk) for pk in (paper_pool.perp_account_id, paper_pool.cfd_account_id)}
    assert all(s.equity == D(100_000) and s.used_margin == 0 and s.margin_level is None for s in before.values())

    runner = await started_runner(alice, strategy, market, frozen_clock)
    market.wide_sell_perp(D(8))
    await runner.step()
    [hedge] = await db(lambda: list(Hedge.objects.all()))()
    assert hedge.status == HedgeStatus.OPEN and (hedge.perp_oz, hedge.cfd_oz) == (D(-50), D(50))

    perp = await db(latest)(paper_pool.perp_account_id)
    cfd = await db(latest)(paper_pool.cfd_account_id)
    # The short perp leg: ~50 × 4,608 USDT at the pool's 5× (a default bracket of 20× caps nothing here).
    assert D(45_000) < perp.used_margin < D(47_000) and perp.margin_level is not None
    assert perp.equity < D(100_000)  # the taker fee and the spread at the mid
    assert perp.positions[0]["quantity"] == "-50.000"
    # The long CFD leg: 0.5 lot × 100 oz × ~4,600 ÷ 100 by the simulated symbol's CFD-leverage mode.
    assert D(2_290) < cfd.used_margin < D(2_310) and cfd.margin_level is not None
    assert cfd.positions[0]["quantity"] == "50.000"
    assert D(200) < perp.margin_level < D(230)  # ~215 % on the perp account

    # Gold rallies 700 USD/oz: the short perp leg loses 35,000 USDT. The sync job values the paper accounts at the
    # newest spread sample, as the engine's store writes them.
    frozen_clock.advance(60)
    await db(SpreadSample.objects.create)(
        pair=sim_pair,
        ts=clock.now() - timedelta(seconds=1),
        perp_bid=market.perp_bid + 700,
        perp_ask=market.perp_ask + 700,
        cfd_bid=market.cfd_bid + 700,
        cfd_ask=market.cfd_ask + 700,
        usd_per_usdt=D(1),
        edge_sell_perp=D(0),
        edge_buy_perp=D(0),
        net_sell_perp=D(0),
        net_buy_perp=D(0),
        basis=D(0),
    )
    await db(sync_accounts)()
    perp = await db(latest)(paper_pool.perp_account_id)
    cfd = await db(latest)(paper_pool.cfd_account_id)
    assert perp.equity < D(66_000) and perp.margin_level is not None and perp.margin_level < D(150)
    assert cfd.equity > D(134_000)  # the hedge is neutral in gold, not per account
    # The margin level the risk limits watch (the `margin_low` alert rule became a limit: risk/limits.py).
