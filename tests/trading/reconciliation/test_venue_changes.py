"""A position the venue changed on its own (ARCHITECTURE.md "Order safety"): detected within seconds (MT5 deals
polled by the engine's watcher; Binance liquidations from the user stream), recorded and alerted, adopted on the
pool as a legged hedge, and unwound by the runner — against the out-of-process fakes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from alerts.models import Alert
from quantarb import clock
from strategies.choices import StrategyState
from strategies.domain.decision import Open, Reason, ReasonCode
from strategies.models import Strategy
from strategies.runner import StrategyRunner
from strategies.services import lease_acquire
from tests.helpers.runners import db
from tests.pools import FakeBook
from trading.choices import HedgeStatus
from trading.domain.spread import Direction
from trading.execution.venue_factory import execution_venues
from trading.models import Hedge, VenueEvent
from trading.reconciliation.services import our_position_oz
from trading.reconciliation.venue_events import Mt5ActivityWatcher

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("thread_connections_closed"),
]


async def test_a_stop_out_is_seen_within_seconds_and_the_naked_perp_is_unwound(
    live_setup: dict[str, Any],
    binance_fake: Any,
    mt5_bridge: Any,
) -> None:
    pinned = clock.FrozenClock(datetime.now(UTC))
    previous = clock.set_clock(pinned)
    terminal = mt5_bridge.terminal
    terminal.qa_reset()
    venues = await db(execution_venues)(live_setup["pool"], 0, None)
    try:
        strategy = live_setup["strategy"]
        await db(Strategy.objects.filter(pk=strategy.pk).update)(state=StrategyState.RUNNING)
        book = FakeBook(venues[live_setup["mt5"].pk])
        await asyncio.to_thread(book.refresh_cfd)

        async def sleep(seconds: float) -> None:
            pinned.advance(seconds)

        runner = StrategyRunner(
            strategy_id=strategy.pk, runner_id="r", market=book, venues_factory=lambda _p, _i: venues, sleep=sleep
        )
        runner.lease = await db(lease_acquire)(strategy_id=strategy.pk, runner_id="r", ttl=runner.lease_ttl)
        assert await runner.start()
        row = await db(runner._load)()
        decision = Open(Direction.SELL_PERP, Decimal(2), Reason(ReasonCode.ENTRY_EDGE), Decimal(1))
        hedge = await runner.open_hedge(row, live_setup["params"], book.snapshot(0), decision)
        assert hedge is not None and (await db(Hedge.objects.get)(pk=hedge.pk)).status == HedgeStatus.OPEN

        # The broker stops the account out: the CFD leg is gone, the perp short is naked.
        terminal.qa_stop_out()
        watcher = Mt5ActivityWatcher(
            await db(lambda: type(live_setup["mt5"]).objects.select_related("terminal").get(pk=live_setup["mt5"].pk))()
        )
        started = asyncio.get_running_loop().time()
        events = await asyncio.to_thread(watcher._poll, pinned.now().replace(year=2000))
        assert [event.kind for event in events] == ["stop_out"]
        assert asyncio.get_running_loop().time() - started < 5  # one poll of a few-second loop
        assert await db(Alert.objects.filter(severity="critical", dedup_key__startswith="venue_event:").exists)()
        hedge = await db(Hedge.objects.get)(pk=hedge.pk)
        assert hedge.status == HedgeStatus.LEGGED and (hedge.perp_oz, hedge.cfd_oz) == (Decimal(-2), Decimal(0))

        # The runner unwinds the perp (a venue-side change is never re-opened) and the hedge closes flat.
        await runner.manage(row, live_setup["params"], book.snapshot(0))
        hedge = await db(Hedge.objects.get)(pk=hedge.pk)
        assert hedge.status == HedgeStatus.CLOSED and (hedge.perp_oz, hedge.cfd_oz) == (0, 0)
        assert await venues[live_setup["binance"].pk].position_oz() == 0
        assert await db(our_position_oz)(live_setup["mt5"]) == await venues[live_setup["mt5"].pk].position_oz()
        again = await asyncio.to_thread(watcher._poll, pinned.now().replace(year=2000))
        assert again == [] and await db(VenueEvent.objects.count)() == 1  # a deal is recorded once
    finally:
        clock.set_clock(previous)
        await venues[live_setup["binance"].pk].gateway.close()


async def test_live_swap_is_booked_from_the_terminal_positions(
    live_setup: dict[str, Any], binance_fake: Any, mt5_bridge: Any
) -> None:
    from trading.models import CarryEntry
    from trading.portfolio.housekeeping import book_carry

    terminal = mt5_bridge.terminal
    terminal.qa_reset()
    venues = await db(execution_venues)(live_setup["pool"], 0, None)
    try:
        strategy = live_setup["strategy"]
        await db(Strategy.objects.filter(pk=strategy.pk).update)(state=StrategyState.RUNNING)
        book = FakeBook(venues[live_setup["mt5"].pk])
        await asyncio.to_thread(book.refresh_cfd)
        runner = StrategyRunner(
            strategy_id=strategy.pk, runner_id="r", market=book, venues_factory=lambda _p, _i: venues
        )
        runner.lease = await db(lease_acquire)(strategy_id=strategy.pk, runner_id="r", ttl=runner.lease_ttl)
        assert await runner.start()
        row = await db(runner._load)()
        decision = Open(Direction.SELL_PERP, Decimal(2), Reason(ReasonCode.ENTRY_EDGE), Decimal(1))
        hedge = await runner.open_hedge(row, live_setup["params"], book.snapshot(0), decision)
        assert hedge is not None
        terminal.qa_rollover(1)  # long 0.02 lot: swap_long -55.2 points × 0.01 × 100 oz × 0.02 = -1.104 USD
        await db(book_carry)()
        await db(book_carry)()  # nothing new at the terminal: nothing booked twice
        terminal.qa_rollover(3)
        await db(book_carry)()
        amounts = await db(
            lambda: sorted(CarryEntry.objects.filter(hedge=hedge, kind="swap").values_list("amount", flat=True))
        )()
        assert amounts == [Decimal("-3.32"), Decimal("-1.10")]
        assert sum(amounts) == Decimal("-4.42")  # the terminal's own total (rounded to cents as MT5 reports it)
    finally:
        await venues[live_setup["binance"].pk].gateway.close()


async def test_swap_moved_onto_the_closing_deal_is_booked_after_the_close(
    live_setup: dict[str, Any], binance_fake: Any, mt5_bridge: Any
) -> None:
    from trading.models import CarryEntry
    from trading.portfolio.housekeeping import book_carry

    terminal = mt5_bridge.terminal
    terminal.qa_reset()
    venues = await db(execution_venues)(live_setup["pool"], 0, None)
    try:
        strategy = live_setup["strategy"]
        await db(Strategy.objects.filter(pk=strategy.pk).update)(state=StrategyState.RUNNING)
        book = FakeBook(venues[live_setup["mt5"].pk])
        await asyncio.to_thread(book.refresh_cfd)
        runner = StrategyRunner(
            strategy_id=strategy.pk, runner_id="r", market=book, venues_factory=lambda _p, _i: venues
        )
        runner.lease = await db(lease_acquire)(strategy_id=strategy.pk, runner_id="r", ttl=runner.lease_ttl)
        assert await runner.start()
        row = await db(runner._load)()
        decision = Open(Direction.SELL_PERP, Decimal(2), Reason(ReasonCode.ENTRY_EDGE), Decimal(1))
        hedge = await runner.open_hedge(row, live_setup["params"], book.snapshot(0), decision)
        assert hedge is not None
        terminal.qa_rollover(1)  # -1.104 USD a night on the long 0.02 lot
        await db(book_carry)()  # -1.10 booked from the open position
        terminal.qa_rollover(2)  # two more nights, then the hedge closes before the next booking
        await asyncio.to_thread(book.refresh_cfd)
        hedge = await db(Hedge.objects.get)(pk=hedge.pk)
        await runner.close_hedge(hedge, live_setup["params"], book.snapshot(0), reason={"code": "test"})
        hedge = await db(Hedge.objects.get)(pk=hedge.pk)
        assert hedge.status == HedgeStatus.CLOSED, runner.last_decision
        before = hedge.pnl_swap
        await db(book_carry)()  # the position is gone: its swap is on the closing deal
        await db(book_carry)()  # and booked once
        amounts = await db(
            lambda: sorted(CarryEntry.objects.filter(hedge=hedge, kind="swap").values_list("amount", flat=True))
        )()
        assert amounts == [Decimal("-2.21"), Decimal("-1.10")]
        hedge = await db(Hedge.objects.get)(pk=hedge.pk)
        assert before == Decimal("-1.10") and hedge.pnl_swap == Decimal("-3.31")  # the split booked again
        assert hedge.pnl_total == hedge.pnl_spread + hedge.pnl_fees + hedge.pnl_funding + hedge.pnl_swap + hedge.pnl_fx
    finally:
        await venues[live_setup["binance"].pk].gateway.close()
