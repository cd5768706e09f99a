"""Live books equal the venues' own records, against the OUT-OF-PROCESS fakes: the fake
Binance (tests/fakes/binance_server.py, real ccxt through the account's endpoint override) and the MT5 bridge fake
(tests/fakes/mt5_bridge.py, the product's rpyc backend).

A few live hedges in both directions: one whose perp commission Binance takes in BNB, one whose perp leg fills in
two trades, MT5 charging a commission per lot and a fee per deal; held across funding times (one hedge closed before
the booking jobs run) and across MT5 rollovers including the triple-swap day. The venues' clocks and quantarb's
move forward together, hours and days in an instant. Then the booking jobs run once, and:

- our fills equal the venues' trades and deals one to one (ids, quantities, prices, fees);
- every hedge's fees, funding, swap and spread capture equal a reference computed from the venues' trade, deal
  and income records (tests/fakes/venue_books.py), never from our order rows.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from quantarb import clock
from strategies.choices import StrategyState
from strategies.domain.decision import Open, Reason, ReasonCode
from strategies.models import Strategy
from strategies.runner import StrategyRunner
from strategies.services import lease_acquire, lease_renew, strategy_update
from tests.fakes.venue_books import assert_fills_match_venues, assert_hedges_match_venues, read_venue_books
from tests.helpers.runners import db
from tests.pools import FakeBook
from tests.trading.portfolio.helpers import ShiftedClock, next_triple_rollover_ms
from trading.account_sync import sync_accounts
from trading.choices import HedgeStatus
from trading.domain.spread import Direction
from trading.execution.fills import sync_live_fills
from trading.execution.venue_factory import execution_venues
from trading.models import CarryEntry, Fill, Hedge
from trading.portfolio.housekeeping import book_carry

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("thread_connections_closed"),
    pytest.mark.timeout(240),
]

EIGHT_HOURS_MS = 8 * 3_600_000


async def test_our_books_equal_the_venues_trades_deals_and_income(
    live_setup: dict[str, Any], binance_fake: Any, mt5_bridge: Any
) -> None:
    shifted = ShiftedClock()
    previous = clock.set_clock(shifted)
    terminal = mt5_bridge.terminal
    terminal.qa_reset()
    terminal.qa_configure(commission_per_lot=6.0, deal_fee=0.03)
    venues = await db(execution_venues)(live_setup["pool"], 0, None)
    perp_venue = venues[live_setup["binance"].pk]

    async def advance(seconds: float) -> None:
        """Every clock moves together: quantarb's, the fake Binance's (funding settles), the terminal's (rollovers)."""
        # The runner renews its lease at every step: over the jump, as if it had.
        await db(lease_renew)(runner.lease, ttl=runner.lease_ttl + timedelta(seconds=seconds))
        shifted.shift += timedelta(seconds=seconds)
        binance_fake.advance(seconds)
        terminal.qa_advance(seconds)
        await perp_venue.gateway.sync_time()  # as after any clock change: signed requests carry the venue's time

    try:
        strategy = live_setup["strategy"]
        params = replace(live_setup["params"], max_open_hedges=5, max_position_oz=Decimal(10))
        await db(strategy_update)(strategy=strategy, params=params, actor=None)  # room for a few hedges at once
        await db(Strategy.objects.filter(pk=strategy.pk).update)(state=StrategyState.RUNNING)
        book = FakeBook(venues[live_setup["mt5"].pk])
        await asyncio.to_thread(book.refresh_cfd)
        runner = StrategyRunner(
            strategy_id=strategy.pk, runner_id="r", market=book, venues_factory=lambda _p, _i: venues
        )
        runner.lease = await db(lease_acquire)(strategy_id=strategy.pk, runner_id="r", ttl=runner.lease_ttl)
        assert await runner.start()
        row = await db(runner._load)()

        async def open_hedge(direction: Direction, size: int) -> Hedge:
            await asyncio.to_thread(book.refresh_cfd)
            decision = Open(direction, Decimal(size), Reason(ReasonCode.ENTRY_EDGE), Decimal(1))
            opened = await runner.open_hedge(row, params, book.snapshot(0), decision)
            assert opened is not None, runner.last_decision
            hedge: Hedge = await db(Hedge.objects.get)(pk=opened.pk)
            assert hedge.status == HedgeStatus.OPEN, (hedge.status, hedge.status_reason)
            return hedge

        async def close_hedge(hedge: Hedge) -> None:
            await asyncio.to_thread(book.refresh_cfd)
            hedge = await db(Hedge.objects.get)(pk=hedge.pk)
            await runner.close_hedge(hedge, params, book.snapshot(0), reason={"code": "test"})
            hedge = await db(Hedge.objects.get)(pk=hedge.pk)
            assert hedge.status == HedgeStatus.CLOSED, (hedge.status, hedge.status_reason, runner.last_decision)

        binance_fake.bnb_commission(count=1, price="612.34")
        first = await open_hedge(Direction.SELL_PERP, 2)  # its perp commission is taken in BNB
        binance_fake.config(trades_per_fill=2)
        second = await open_hedge(Direction.SELL_PERP, 1)  # its perp leg fills in two trades
        binance_fake.config(trades_per_fill=1)

        # Across the next funding time: the two shorts (−2, −1 oz) receive.
        server_ms = binance_fake.records()["server_ms"]
        await advance((EIGHT_HOURS_MS - server_ms % EIGHT_HOURS_MS) / 1000 + 60)
        await close_hedge(first)  # closed before any booking job runs
        await advance(EIGHT_HOURS_MS / 1000)  # the second alone across the next one
        await close_hedge(second)

        # The other way (long perp: pays at a positive rate), across the next triple-swap rollover and every funding
        # time until then.
        third = await open_hedge(Direction.BUY_PERP, 2)
        server_ms = terminal.qa_server_time()
        await advance((next_triple_rollover_ms(server_ms) - server_ms) / 1000 + 120)
        await close_hedge(third)

        # The booking jobs run only now.
        await db(sync_accounts)()
        await db(sync_live_fills)()
        await db(book_carry)()
        await db(book_carry)()  # a second run books nothing twice
        hedge_ids = [first.pk, second.pk, third.pk]

        books = await asyncio.to_thread(read_venue_books, binance_fake, mt5_bridge)
        await db(assert_fills_match_venues)(
            books, perp_account_id=live_setup["binance"].pk, cfd_account_id=live_setup["mt5"].pk
        )
        compared = await db(assert_hedges_match_venues)(books, hedge_ids)

        # What the scenario was built to cross did happen at the venues, and reached the books.
        records = binance_fake.records()
        assert any(trade["commissionAsset"] == "BNB" for trade in records["trades"])
        assert len(books.hedges[second.pk].perp_trades) == 3  # two trades to open, one to close
        assert books.funding_unattributed == 0 and books.funding_total != 0
        assert compared[first.pk]["funding"][0] > 0  # the closed hedge got its share of the first funding
        assert compared[third.pk]["funding"][0] < 0 < compared[second.pk]["funding"][0]  # long pays, short receives
        assert compared[third.pk]["swap"][0] > 0  # a short CFD earns swap_short
        # 0.02 lot short earns 21.4 points · 0.01 · 100 oz · 0.02 = 0.428 a night: at least the triple day and more.
        assert books.hedges[third.pk].swap >= Decimal("0.428") * 4
        bnb_fill = await db(lambda: Fill.objects.filter(venue_fee_asset="BNB").get())()
        assert bnb_fill.fee_rate == Decimal("612.34") and bnb_fill.fee_rate_source == "binance-usdm:BNBUSDT:1m-open"
        assert bnb_fill.fee == (bnb_fill.venue_fee * bnb_fill.fee_rate).quantize(Decimal("0.00000001"))
        entries = await db(lambda: CarryEntry.objects.filter(kind="funding", hedge__isnull=True).count())()
        assert entries == 0
    finally:
        clock.set_clock(previous)
        await perp_venue.gateway.close()
