"""Answers lost after execution, legs refused at open, reads that time out: against the OUT-OF-PROCESS fakes
(tests/fakes/binance_server.py for the perp, the MT5 bridge fake for the CFD), through the strategy runner and the
manual desk, on simulated time.

- An MT5 send whose answer (or a read right after it) is lost after execution is filled in our books, once, by the
  time the decision that sent it returns — never recorded as rejected.
- A hedge legged at open is completed: the missing leg is *opened* (not reduce-only) within the legging time; a
  completion refused always gives way to unwinding the leg that filled; refused everywhere, the kill switch trips.
  Every legged hedge raises its legged alert, and a legged hedge is never reported done.
- A read before an order that times out (MT5 IPC timeout) is asked again; a send that was never made leaves no
  order row (a hung terminal, a Binance back-off the repair loop honours).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from alerts.models import Alert
from quantarb import clock
from risk.models import KillSwitch
from strategies.choices import StrategyState
from strategies.domain.decision import Open, Reason, ReasonCode
from strategies.manual_desk import ManualDesk, _claim
from strategies.models import Strategy
from strategies.runner import StrategyRunner
from strategies.services import lease_acquire
from tests.helpers.runners import db
from tests.pools import MAX_LEGGING_S, FakeBook
from trading.choices import CommandStatus, HedgeStatus, OrderStatus
from trading.domain.spread import Direction
from trading.execution.fills import sync_live_fills
from trading.execution.services import legged_alert_key
from trading.execution.venue_factory import execution_venues
from trading.manual.services import manual_request
from trading.models import Fill, Hedge, Order, SourcePair
from trading.reconciliation.services import our_position_oz
from trading.venues.backoff import BACKOFFS
from trading.venues.errors import VenueError, VenueErrorKind

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("thread_connections_closed"),
    pytest.mark.timeout(180),
]


class Live:
    """A started runner on the live pool of the fakes, on a pinned clock its `sleep` advances."""

    def __init__(self, setup: dict[str, Any], binance_fake: Any, mt5_bridge: Any) -> None:
        self.setup = setup
        self.binance_fake = binance_fake
        self.terminal = mt5_bridge.terminal
        self.pinned = clock.FrozenClock(datetime.now(UTC))
        self.previous = clock.set_clock(self.pinned)
        self.venues: dict[int, Any] = {}
        self.runner: StrategyRunner | None = None
        self.book: FakeBook | None = None

    async def sleep(self, seconds: float) -> None:
        self.pinned.advance(seconds)

    async def start(self) -> StrategyRunner:
        strategy = self.setup["strategy"]
        await db(Strategy.objects.filter(pk=strategy.pk).update)(state=StrategyState.RUNNING)
        self.venues = await db(execution_venues)(self.setup["pool"], 0, None)
        self.book = FakeBook(self.venues[self.setup["mt5"].pk])
        await asyncio.to_thread(self.book.refresh_cfd)
        runner = StrategyRunner(
            strategy_id=strategy.pk,
            runner_id="r",
            market=self.book,
            venues_factory=lambda _pool, _pair: self.venues,
            sleep=self.sleep,
        )
        runner.lease = await db(lease_acquire)(strategy_id=strategy.pk, runner_id="r", ttl=runner.lease_ttl)
        assert runner.lease is not None and await runner.start()
        assert runner.executor is not None
        runner.executor.answer_timeout_s = 5.0
        runner.executor.send_deadline_s = 2.0
        runner.executor.lookup_give_up_s = 20.0
        self.runner = runner
        return runner

    async def open(self, direction: Direction = Direction.SELL_PERP) -> Hedge:
        assert self.runner is not None and self.book is not None
        row = await db(self.runner._load)()
        decision = Open(direction, Decimal(2), Reason(ReasonCode.ENTRY_EDGE), Decimal(1))
        hedge = await self.runner.open_hedge(row, self.setup["params"], self.book.snapshot(0), decision)
        assert hedge is not None, self.runner.last_decision
        return hedge

    async def manage_until_settled(self, hedge: Hedge) -> Hedge:
        """Steps of the runner's management, one simulated second apart, until the hedge settles or well past the
        legging time."""
        assert self.runner is not None and self.book is not None
        row = await db(self.runner._load)()
        for _ in range(MAX_LEGGING_S * 2 + 4):
            hedge = await db(Hedge.objects.get)(pk=hedge.pk)
            if hedge.status in (HedgeStatus.OPEN, HedgeStatus.CLOSED, HedgeStatus.FAILED):
                break
            await self.runner.manage(row, self.setup["params"], self.book.snapshot(0))
            await self.sleep(1.0)
        settled: Hedge = await db(Hedge.objects.get)(pk=hedge.pk)
        return settled

    async def books_equal_venues(self) -> tuple[Decimal, Decimal]:
        perp = await self.venues[self.setup["binance"].pk].position_oz()
        cfd = await self.venues[self.setup["mt5"].pk].position_oz()
        assert perp == await db(our_position_oz)(self.setup["binance"])
        assert cfd == await db(our_position_oz)(self.setup["mt5"])
        return perp, cfd

    def sent_once(self) -> None:
        """No client order id reached either venue twice."""
        binance_ids = Counter(order["clientOrderId"] for order in self.binance_fake.state()["orders"])
        assert max(binance_ids.values(), default=0) <= 1, binance_ids
        mt5_ids = Counter(dict(order)["comment"] for order in dict(self.terminal.qa_state())["orders"])
        assert max(mt5_ids.values(), default=0) <= 1, mt5_ids

    async def close(self) -> None:
        clock.set_clock(self.previous)
        BACKOFFS.clear()
        if self.venues:
            await self.venues[self.setup["binance"].pk].gateway.close()


@pytest.fixture
async def live(live_setup: dict[str, Any], binance_fake: Any, mt5_bridge: Any) -> Any:
    rig = Live(live_setup, binance_fake, mt5_bridge)
    yield rig
    await rig.close()


def orders_of(hedge: Hedge, leg: str | None = None) -> list[Order]:
    rows = Order.objects.filter(hedge=hedge).order_by("pk")
    return list(rows.filter(leg=leg) if leg else rows)


def legged_alert(hedge: Hedge) -> Alert | None:
    return Alert.objects.filter(dedup_key=legged_alert_key(hedge.pk)).order_by("-pk").first()


# --- an executed order is never recorded as rejected -----------------------------------------------------------
async def test_an_mt5_order_whose_follow_up_read_times_out_is_filled_once_before_the_next_decision(live: Live) -> None:
    await live.start()
    # order_send executes and answers; the terminal then hangs for the next read (the deal the gateway reads to
    # name the position): the order executed and must be booked as such.
    live.terminal.qa_arm("hang_after_send", calls=1)

    hedge = await live.open()

    # By the time the decision that sent it returns, the CFD leg is filled in our books, once.
    cfd = (await db(orders_of)(hedge, "cfd"))[0]
    assert (cfd.status, cfd.filled) == (OrderStatus.FILLED, Decimal(2)), cfd.error
    hedge = await db(Hedge.objects.get)(pk=hedge.pk)
    assert (hedge.status, hedge.perp_oz, hedge.cfd_oz) == (HedgeStatus.OPEN, Decimal(-2), Decimal(2))
    assert await live.books_equal_venues() == (Decimal(-2), Decimal(2))
    assert len(dict(live.terminal.qa_state())["sent"]) == 1
    live.sent_once()


async def test_an_mt5_answer_lost_after_execution_with_lookups_timing_out_is_settled_by_lookup(live: Live) -> None:
    await live.start()
    live.terminal.qa_arm("lose_answer")  # executed, then the call answers None with -10005
    live.terminal.qa_arm("hang_after_send", calls=4)  # and the lookups' first reads time out too

    hedge = await live.open()

    cfd = (await db(orders_of)(hedge, "cfd"))[0]
    assert (cfd.status, cfd.filled) == (OrderStatus.FILLED, Decimal(2))
    hedge = await db(Hedge.objects.get)(pk=hedge.pk)
    assert hedge.status == HedgeStatus.OPEN
    assert await live.books_equal_venues() == (Decimal(-2), Decimal(2))
    live.sent_once()


async def test_a_slow_trades_read_never_keeps_a_binance_order_from_settling(live: Live) -> None:
    await live.start()
    assert live.runner is not None and live.runner.executor is not None
    live.runner.executor.answer_timeout_s = 1.0
    # The perp's answer is lost after Binance took the order, and every trades read is slower than the executor's
    # whole answer budget: the lookup still settles the order (its trades are read later, once).
    live.binance_fake.arm("order_drop_after_accept")
    live.binance_fake.arm("trades_slow", count=10_000, seconds=3)

    hedge = await live.open()

    perp = (await db(orders_of)(hedge, "perp"))[0]
    assert (perp.status, perp.filled) == (OrderStatus.FILLED, Decimal(2)), perp.error
    hedge = await db(Hedge.objects.get)(pk=hedge.pk)
    assert (hedge.status, hedge.perp_oz, hedge.cfd_oz) == (HedgeStatus.OPEN, Decimal(-2), Decimal(2))
    assert await db(Fill.objects.filter(order=perp).count)() == 0
    assert await live.books_equal_venues() == (Decimal(-2), Decimal(2))
    live.sent_once()

    # The fill sync books the trades the answers went without, once per trade id.
    live.binance_fake.arm("trades_slow", count=0)
    await db(sync_live_fills)()
    await db(sync_live_fills)()
    trade_ids = [str(trade["id"]) for trade in live.binance_fake.records()["trades"]]
    booked = await db(lambda: list(Fill.objects.filter(order=perp).values_list("fill_id", flat=True)))()
    assert sorted(booked) == sorted(trade_ids) and trade_ids


class _LookupsFail:
    """The perp venue of the rig, except that it cannot be asked about an order (every lookup is unanswered)."""

    def __init__(self, venue: Any) -> None:
        self.venue = venue

    def __getattr__(self, name: str) -> Any:
        return getattr(self.venue, name)

    async def lookup(self, client_order_id: str) -> Any:
        raise VenueError(VenueErrorKind.AMBIGUOUS, f"no answer about {client_order_id}")


async def test_a_hedge_left_exposed_by_an_unknown_order_is_flagged_and_never_repaired_blind(live: Live) -> None:
    await live.start()
    assert live.runner is not None and live.runner.executor is not None
    live.runner.executor.answer_timeout_s = 1.0
    live.runner.executor.lookup_give_up_s = 2.0
    perp_id = live.setup["binance"].pk
    live.venues[perp_id] = _LookupsFail(live.venues[perp_id])
    live.binance_fake.arm("order_timeout", seconds=2)  # Binance fills the perp; its answer comes too late

    hedge = await live.open()
    hedge = await live.manage_until_settled(hedge)

    # Past the legging time the CFD leg is naked by our records and the perp order still unknown: flagged
    # needs-reconcile with its legged alert, the kill switch tripped, and no repair sent while the order is unknown.
    assert (hedge.status, hedge.perp_oz, hedge.cfd_oz) == (HedgeStatus.NEEDS_RECONCILE, Decimal(0), Decimal(2))
    assert "unknown" in hedge.status_reason
    assert await db(KillSwitch.objects.filter(strategy=live.setup["strategy"], reset_at__isnull=True).exists)()
    alert = await db(legged_alert)(hedge)
    assert alert is not None and alert.status == "open" and alert.severity == "critical"
    assert [order.intent for order in await db(orders_of)(hedge)] == ["open", "open"]
    live.sent_once()

    # Once the venue answers again, the order is settled by its lookup and the legs are the venues' positions; the
    # hedge stays flagged for reconciliation.
    live.venues[perp_id] = live.venues[perp_id].venue
    row = await db(live.runner._load)()
    await live.runner.manage(row, live.setup["params"], live.book.snapshot(0) if live.book else None)
    hedge = await db(Hedge.objects.get)(pk=hedge.pk)
    assert (hedge.status, hedge.perp_oz, hedge.cfd_oz) == (HedgeStatus.NEEDS_RECONCILE, Decimal(-2), Decimal(2))
    assert await live.books_equal_venues() == (Decimal(-2), Decimal(2))
    live.sent_once()


# --- retry what is safe, no row for a send never made ------------------------------------------------------------
async def test_an_ipc_timeout_on_a_read_before_the_send_is_asked_again(live: Live) -> None:
    await live.start()
    live.terminal.qa_arm("ipc_timeout", count=2)  # the next two calls (the symbol's reads) time out

    hedge = await live.open()

    hedge = await db(Hedge.objects.get)(pk=hedge.pk)
    assert (hedge.status, hedge.perp_oz, hedge.cfd_oz) == (HedgeStatus.OPEN, Decimal(-2), Decimal(2))
    assert len(dict(live.terminal.qa_state())["sent"]) == 1


async def test_a_send_the_hung_terminal_never_received_leaves_no_order_row(live: Live) -> None:
    await live.start()
    live.terminal.qa_arm("ipc_timeout", count=8)  # longer than the reads' retry budget

    hedge = await live.open()

    assert dict(live.terminal.qa_state())["sent"] == ()  # nothing reached the terminal
    assert await db(lambda: [o.leg for o in orders_of(hedge)])() == ["perp"]  # no row claims a CFD send
    hedge = await db(Hedge.objects.get)(pk=hedge.pk)
    assert (hedge.status, hedge.perp_oz, hedge.cfd_oz) == (HedgeStatus.LEGGED, Decimal(-2), Decimal(0))
    assert await db(legged_alert)(hedge) is not None


async def test_the_repair_loop_honours_a_back_off_and_writes_no_order_while_it_runs(live: Live) -> None:
    runner = await live.start()
    live.binance_fake.arm("order_reject")  # the perp leg is refused at open: the CFD leg alone fills
    hedge = await live.open()
    hedge = await db(Hedge.objects.get)(pk=hedge.pk)
    assert (hedge.status, hedge.perp_oz, hedge.cfd_oz) == (HedgeStatus.LEGGED, Decimal(0), Decimal(2))
    rows = await db(Order.objects.count)()

    # Binance asked the account to wait (a 429 another gateway of the account received): the same back-off holds
    # for the runner's gateway, and the repair writes nothing until it ends.
    perp_venue = live.venues[live.setup["binance"].pk]
    BACKOFFS.hold(perp_venue.gateway.backoff_key, 60, now=perp_venue.gateway.monotonic())
    row = await db(runner._load)()
    assert live.book is not None
    await runner.manage(row, live.setup["params"], live.book.snapshot(0))
    assert await db(Order.objects.count)() == rows
    assert runner.last_decision["code"] == "backing_off"

    BACKOFFS.clear()
    hedge = await live.manage_until_settled(hedge)
    assert (hedge.status, hedge.perp_oz, hedge.cfd_oz) == (HedgeStatus.OPEN, Decimal(-2), Decimal(2))


async def test_no_hedge_is_opened_while_a_venue_of_it_asks_to_back_off(live: Live) -> None:
    runner = await live.start()
    perp_venue = live.venues[live.setup["binance"].pk]
    BACKOFFS.hold(perp_venue.gateway.backoff_key, 60, now=perp_venue.gateway.monotonic())
    row = await db(runner._load)()
    decision = Open(Direction.SELL_PERP, Decimal(2), Reason(ReasonCode.ENTRY_EDGE), Decimal(1))
    assert live.book is not None

    # Opening would send the CFD leg alone: a legged hedge of our own making. Nothing is written or sent.
    assert await runner.open_hedge(row, live.setup["params"], live.book.snapshot(0), decision) is None
    assert runner.last_decision["code"] == "backing_off"
    assert await db(Hedge.objects.count)() == 0 and await db(Order.objects.count)() == 0
    assert dict(live.terminal.qa_state())["sent"] == ()


# --- a hedge legged at open is completed -------------------------------------------------------------------------
async def test_a_cfd_leg_refused_once_at_open_is_completed_within_the_legging_time(live: Live) -> None:
    await live.start()
    live.terminal.qa_arm("retcode", code=10019)  # no money: a definite refusal, nothing executed
    legged_at = clock.now()

    hedge = await live.open()
    hedge = await db(Hedge.objects.get)(pk=hedge.pk)
    assert (hedge.status, hedge.perp_oz, hedge.cfd_oz) == (HedgeStatus.LEGGED, Decimal(-2), Decimal(0))
    assert (await db(orders_of)(hedge, "cfd"))[0].status == OrderStatus.REJECTED

    hedge = await live.manage_until_settled(hedge)

    assert (hedge.status, hedge.perp_oz, hedge.cfd_oz) == (HedgeStatus.OPEN, Decimal(-2), Decimal(2))
    assert (clock.now() - legged_at).total_seconds() < MAX_LEGGING_S
    completion = (await db(orders_of)(hedge, "cfd"))[-1]
    assert (completion.intent, completion.side, completion.reducing) == ("repair", "buy", False)
    assert await live.books_equal_venues() == (Decimal(-2), Decimal(2))
    alert = await db(legged_alert)(hedge)
    assert alert is not None and alert.severity == "critical" and alert.status == "resolved"  # raised, then whole
    assert not await db(KillSwitch.objects.exists)()
    live.sent_once()


async def test_a_perp_leg_refused_once_at_open_is_completed_on_the_perp(live: Live) -> None:
    await live.start()
    live.binance_fake.arm("order_reject")

    hedge = await live.open(Direction.BUY_PERP)
    hedge = await live.manage_until_settled(hedge)

    assert (hedge.status, hedge.perp_oz, hedge.cfd_oz) == (HedgeStatus.OPEN, Decimal(2), Decimal(-2))
    completion = (await db(orders_of)(hedge, "perp"))[-1]
    assert (completion.intent, completion.side, completion.reducing) == ("repair", "buy", False)
    assert await live.books_equal_venues() == (Decimal(2), Decimal(-2))
    assert await db(legged_alert)(hedge) is not None


async def test_a_completion_refused_always_gives_way_to_unwinding_the_filled_leg(live: Live) -> None:
    await live.start()
    live.terminal.qa_arm("retcode", count=-1, code=10019)

    hedge = await live.open()
    hedge = await live.manage_until_settled(hedge)

    # Flat, not open: never reported whole while a leg is missing.
    assert (hedge.status, hedge.perp_oz, hedge.cfd_oz) == (HedgeStatus.CLOSED, Decimal(0), Decimal(0))
    unwind = (await db(orders_of)(hedge, "perp"))[-1]
    assert (unwind.intent, unwind.side, unwind.reducing, unwind.status) == ("repair", "buy", True, "filled")
    assert await live.books_equal_venues() == (Decimal(0), Decimal(0))
    assert await db(legged_alert)(hedge) is not None
    assert not await db(KillSwitch.objects.exists)()


async def test_refused_everywhere_the_kill_switch_trips_and_the_hedge_stays_flagged(live: Live) -> None:
    await live.start()
    live.terminal.qa_arm("retcode", count=-1, code=10019)
    hedge = await live.open()
    live.binance_fake.arm("order_reject", count=10_000)

    hedge = await live.manage_until_settled(hedge)

    assert (hedge.status, hedge.perp_oz, hedge.cfd_oz) == (HedgeStatus.LEGGED, Decimal(-2), Decimal(0))
    assert await db(KillSwitch.objects.filter(strategy=live.setup["strategy"], reset_at__isnull=True).exists)()
    assert await db(Alert.objects.filter(category="risk", severity="critical").exists)()  # the kill switch's
    alert = await db(legged_alert)(hedge)
    assert alert is not None and alert.status == "open"
    assert await live.books_equal_venues() == (Decimal(-2), Decimal(0))


# --- the manual desk ---------------------------------------------------------------------------------------------
async def _legged_by_refusal(live: Live) -> Hedge:
    live.terminal.qa_arm("retcode", code=10019)
    hedge = await live.open()
    legged: Hedge = await db(Hedge.objects.get)(pk=hedge.pk)
    assert legged.status == HedgeStatus.LEGGED
    return legged


def _desk(live: Live) -> ManualDesk:
    # The test's venues stay open across commands (it reads the venues' books through them afterwards).
    return ManualDesk(
        market=live.book, venues_factory=lambda _pool, _pair: live.venues, sleep=live.sleep, owns_venues=False
    )


async def _run(desk: ManualDesk) -> Any:
    command = await db(_claim)()
    assert command is not None
    return await desk.execute(command)


async def test_complete_the_missing_leg_by_hand_opens_it_and_is_done_once_the_hedge_is_whole(
    live: Live, alice: Any
) -> None:
    await live.start()
    hedge = await _legged_by_refusal(live)
    live.terminal.qa_arm("retcode", code=10019)  # refused once more: the desk tries again within the legging time
    await db(manual_request)(pool=live.setup["pool"], kind="repair_complete", actor=alice.user, hedge=hedge)

    done = await _run(_desk(live))

    assert done.status == CommandStatus.DONE, done.result
    hedge = await db(Hedge.objects.get)(pk=hedge.pk)
    assert (hedge.status, hedge.perp_oz, hedge.cfd_oz) == (HedgeStatus.OPEN, Decimal(-2), Decimal(2))
    completion = (await db(orders_of)(hedge, "cfd"))[-1]
    assert (completion.side, completion.reducing, completion.status) == ("buy", False, "filled")
    assert await live.books_equal_venues() == (Decimal(-2), Decimal(2))


async def test_a_repair_by_hand_that_leaves_the_hedge_legged_is_failed_with_the_reason(live: Live, alice: Any) -> None:
    await live.start()
    hedge = await _legged_by_refusal(live)
    live.terminal.qa_arm("retcode", count=-1, code=10019)
    await db(manual_request)(pool=live.setup["pool"], kind="repair_complete", actor=alice.user, hedge=hedge)

    failed = await _run(_desk(live))

    assert failed.status == CommandStatus.FAILED
    assert "10019" in failed.result and f"#{hedge.pk}" in failed.result
    hedge = await db(Hedge.objects.get)(pk=hedge.pk)
    assert (hedge.status, hedge.perp_oz, hedge.cfd_oz) == (HedgeStatus.LEGGED, Decimal(-2), Decimal(0))


async def test_a_hedge_opened_by_hand_whose_cfd_leg_is_refused_once_is_completed_before_it_is_done(
    live: Live, alice: Any, settings: Any
) -> None:
    # The fakes' CFD market is always open (the runner's book says so): the web's gate must see the same session
    # whatever day the test runs on.
    settings.QUANTARB_DEMO_CALENDAR = True
    await live.start()
    assert live.book is not None
    await db(live.book.store)(await db(SourcePair.objects.get)(name="Fake pair"))  # what the web's gate prices
    live.terminal.qa_arm("retcode", code=10019)
    await db(manual_request)(
        pool=live.setup["pool"], kind="open_hedge", actor=alice.user, params={"direction": "sell_perp", "size_oz": "2"}
    )

    done = await _run(_desk(live))

    assert done.status == CommandStatus.DONE, done.result
    hedge = await db(Hedge.objects.get)(manual=True)
    assert (hedge.status, hedge.perp_oz, hedge.cfd_oz) == (HedgeStatus.OPEN, Decimal(-2), Decimal(2))
    assert await db(legged_alert)(hedge) is not None
