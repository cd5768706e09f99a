"""A position the venue holds and our books do not (or the reverse) is found by the activity watchers within
seconds — not by the scheduled reconciliation —, adopted as an adjustment at a price, repaired by the strategy's
runner like any legged hedge, and its PnL booked. Against the out-of-process fakes; the paper
case through reconciliation's sync."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from accounts.models import VenueAccount
from alerts.models import Alert
from strategies.choices import StrategyState
from strategies.models import Strategy
from strategies.runner import StrategyRunner
from strategies.services import lease_acquire, strategy_request
from tests.helpers.runners import db
from tests.pools import FakeBook
from tests.waiting import until
from trading.choices import HedgeStatus
from trading.domain.orders import ADJUSTMENT_PREFIX
from trading.execution.services import legged_alert_key
from trading.execution.venue_factory import execution_venues
from trading.models import Hedge, Order, PaperPosition, ReconciliationReport
from trading.reconciliation.services import our_position_oz, reconcile_pool, reconciliation_sync
from trading.reconciliation.venue_events import Mt5ActivityWatcher, UserStreamWatcher
from trading.venues.mt5.gateway import OrderRequest as Mt5OrderRequest

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("thread_connections_closed"),
    pytest.mark.timeout(120),
]


def spread_by_hand(hedge: Hedge) -> Decimal:
    """Spread capture of a flat hedge at usd_per_usdt 1 from its order rows: −Σ signed ounces × price (the
    adjustment at its booked price, every other order at its fills' average)."""
    total = Decimal(0)
    for order in Order.objects.filter(hedge=hedge):
        signed = order.filled if order.side == "buy" else -order.filled
        price = order.avg_price if order.avg_price is not None else order.venue_avg_price
        assert price is not None, order.client_order_id
        total -= signed * price
    return total


async def _runner(setup: dict[str, Any], venues: dict[int, Any], book: Any) -> StrategyRunner:
    strategy = setup["strategy"]
    runner = StrategyRunner(strategy_id=strategy.pk, runner_id="r", market=book, venues_factory=lambda _p, _i: venues)
    runner.lease = await db(lease_acquire)(strategy_id=strategy.pk, runner_id="r", ttl=runner.lease_ttl)
    assert runner.lease is not None and await runner.start(), "reconciled: the adjustment is in our books"
    return runner


async def _repair(runner: StrategyRunner, setup: dict[str, Any], book: Any, hedge: Hedge) -> Hedge:
    row = await db(runner._load)()
    for _ in range(5):
        await runner.manage(row, setup["params"], book.snapshot(0))
        hedge = await db(Hedge.objects.get)(pk=hedge.pk)
        if hedge.status == HedgeStatus.CLOSED:
            break
    return hedge


async def test_the_mt5_watcher_finds_a_position_our_books_lack_within_seconds_and_it_is_unwound_with_its_pnl(
    live_setup: dict[str, Any], binance_fake: Any, mt5_bridge: Any
) -> None:
    venues = await db(execution_venues)(live_setup["pool"], 0, None)
    mt5 = live_setup["mt5"]
    try:
        await db(Strategy.objects.filter(pk=live_setup["strategy"].pk).update)(state=StrategyState.RUNNING)
        cfd_venue = venues[mt5.pk]
        # A trade under our magic (no foreign deal to see) that our books never recorded: 0.01 lot = 1 oz long.
        await asyncio.to_thread(
            lambda: cfd_venue._ready().place_order(Mt5OrderRequest("qa1-zzPO9", "buy", Decimal("0.01"), deviation=50))
        )
        account = await db(VenueAccount.objects.select_related("terminal", "tenant").get)(pk=mt5.pk)
        watcher = Mt5ActivityWatcher(account, every_s=0.1, position_grace_s=0.3)
        running = asyncio.create_task(watcher.run())
        try:
            await until(
                lambda: watcher.positions is not None and watcher.positions.adopted != 0,
                10,
                "the watcher finds the position",
            )
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)

        hedge = await db(Hedge.objects.get)(pool=live_setup["pool"])
        assert (hedge.status, hedge.perp_oz, hedge.cfd_oz) == (HedgeStatus.LEGGED, Decimal(0), Decimal(1))
        assert hedge.strategy_id == live_setup["strategy"].pk  # the pool's runner repairs it
        adjustment = await db(Order.objects.get)(hedge=hedge, client_order_id__startswith=ADJUSTMENT_PREFIX)
        assert adjustment.venue_avg_price is not None  # booked at the CFD's mid: its PnL can be booked
        assert await db(Alert.objects.filter(dedup_key__startswith=f"position_difference:{mt5.pk}:").exists)()
        assert await db(Alert.objects.filter(dedup_key=legged_alert_key(hedge.pk)).exists)()
        assert await db(our_position_oz)(mt5) == await cfd_venue.position_oz() == Decimal(1)

        book = FakeBook(cfd_venue)
        await asyncio.to_thread(book.refresh_cfd)
        runner = await _runner(live_setup, venues, book)
        hedge = await _repair(runner, live_setup, book, hedge)

        assert (hedge.status, hedge.perp_oz, hedge.cfd_oz) == (HedgeStatus.CLOSED, Decimal(0), Decimal(0))
        assert await cfd_venue.position_oz() == 0 == await db(our_position_oz)(mt5)
        assert hedge.exit_usd_per_usdt is not None  # the split was booked
        assert hedge.pnl_spread == await db(spread_by_hand)(hedge)
    finally:
        await venues[live_setup["binance"].pk].gateway.close()


async def test_the_binance_watcher_finds_a_position_our_books_lack_within_seconds_and_it_is_unwound_with_its_pnl(
    live_setup: dict[str, Any], binance_fake: Any, mt5_bridge: Any
) -> None:
    venues = await db(execution_venues)(live_setup["pool"], 0, None)
    binance = live_setup["binance"]
    try:
        await db(Strategy.objects.filter(pk=live_setup["strategy"].pk).update)(state=StrategyState.RUNNING)
        # The account holds 1 oz short that no stream event told us about.
        binance_fake.config(position_amt="-1.000", entry_price="4600.00", mark_price="4600.50")
        watcher = UserStreamWatcher(
            await db(VenueAccount.objects.select_related("tenant").get)(pk=binance.pk),
            position_every_s=0.1,
            position_grace_s=0.3,
        )
        running = asyncio.create_task(watcher.run())
        try:
            await until(
                lambda: watcher.positions is not None and watcher.positions.adopted != 0,
                10,
                "the watcher finds the position",
            )
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)

        hedge = await db(Hedge.objects.get)(pool=live_setup["pool"])
        assert (hedge.status, hedge.perp_oz, hedge.cfd_oz) == (HedgeStatus.LEGGED, Decimal(-1), Decimal(0))
        adjustment = await db(Order.objects.get)(hedge=hedge, client_order_id__startswith=ADJUSTMENT_PREFIX)
        assert adjustment.venue_avg_price == Decimal("4600.50")  # the venue's mark

        book = FakeBook(venues[live_setup["mt5"].pk])
        await asyncio.to_thread(book.refresh_cfd)
        runner = await _runner(live_setup, venues, book)
        hedge = await _repair(runner, live_setup, book, hedge)

        assert (hedge.status, hedge.perp_oz, hedge.cfd_oz) == (HedgeStatus.CLOSED, Decimal(0), Decimal(0))
        assert await venues[binance.pk].position_oz() == 0 == await db(our_position_oz)(binance)
        assert hedge.exit_usd_per_usdt is not None
        assert hedge.pnl_spread == await db(spread_by_hand)(hedge)
    finally:
        await venues[binance.pk].gateway.close()


async def test_a_position_adopted_by_reconciliation_is_priced_repaired_and_its_pnl_booked(
    alice: Any, strategy: Any, paper_pool: Any, market: Any, frozen_clock: Any
) -> None:
    venues = await db(execution_venues)(paper_pool, 0, market)
    await db(strategy_request)(strategy=strategy, action="start", actor=alice.user)
    # The venue moved the perp account's position on its own, at a price nobody told us: 3 oz short.
    await db(PaperPosition.objects.create)(account=paper_pool.perp_account, quantity_oz=Decimal("-3"))
    await reconcile_pool(pool=paper_pool, venues=venues, trigger="manual")
    report = await db(lambda: ReconciliationReport.objects.latest("started_at"))()
    await reconciliation_sync(report=report, venues=venues, actor=alice.user)

    hedge = await db(Hedge.objects.get)(pool=paper_pool)
    assert hedge.status == HedgeStatus.LEGGED and hedge.strategy_id == strategy.pk
    adjustment = await db(Order.objects.get)(hedge=hedge)
    assert adjustment.venue_avg_price == (market.perp_bid + market.perp_ask) / 2  # at the mark

    async def sleep(seconds: float) -> None:
        frozen_clock.advance(seconds)

    runner = StrategyRunner(
        strategy_id=strategy.pk,
        runner_id="r",
        market=market,
        venues_factory=lambda pool, pair_id: execution_venues(pool, pair_id, market),
        sleep=sleep,
    )
    runner.lease = await db(lease_acquire)(strategy_id=strategy.pk, runner_id="r", ttl=runner.lease_ttl)
    assert await runner.start()
    row = await db(runner._load)()
    from strategies.services import current_params

    await runner.manage(row, current_params(row), market.snapshot(0))

    hedge = await db(Hedge.objects.get)(pk=hedge.pk)
    assert (hedge.status, hedge.perp_oz, hedge.cfd_oz) == (HedgeStatus.CLOSED, Decimal(0), Decimal(0))
    assert hedge.exit_usd_per_usdt is not None
    assert hedge.pnl_spread == await db(spread_by_hand)(hedge)
    assert hedge.pnl_fees < 0  # the unwind's paper fee
