"""Legging and unknown outcomes against OUT-OF-PROCESS fake venues with injected faults.

The perp leg trades on the fake Binance (tests/fakes/binance_server.py, a separate aiohttp process reached through
the account's endpoint override, real ccxt); the CFD leg on the MT5 bridge fake (tests/fakes/mt5_bridge.py, a
separate rpyc server, the product's rpyc backend). Each generated case arms faults on the opening legs and on the
repairs (rejections, partial fills, answers lost after the venue accepted, requests lost before it did, stalled
answers), opens a hedge through the strategy runner and lets it manage the hedge on simulated time until it settles
or the maximum legging time has passed. Over every case:

- 0 duplicate orders: no client order id reaches either venue twice;
- 0 naked legs left unflagged: the hedge ends balanced, or it is marked legged / needs-reconcile with the
  strategy's kill switch tripped and a critical risk alert raised;
- our records equal the venues' positions (every unknown answer was settled by a lookup, never by a resend).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.models import Alert
from quantarb import clock
from risk.models import KillSwitch
from strategies.choices import StrategyState
from strategies.domain.decision import Open, Reason, ReasonCode
from strategies.domain.params import StrategyParams
from strategies.models import Strategy
from strategies.runner import StrategyRunner
from strategies.services import lease_acquire
from tests.helpers.runners import db
from tests.pools import MAX_LEGGING_S, FakeBook
from trading.choices import HedgeStatus
from trading.domain.spread import Direction
from trading.execution.venue_factory import execution_venues
from trading.models import Fill, Hedge, ManualCommand, Order
from trading.reconciliation.services import our_position_oz

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("thread_connections_closed"),
]

PERP_FAULTS = ["none", "none", "reject", "partial", "drop_after_accept", "drop_before_accept", "timeout"]
CFD_FAULTS = ["none", "none", "reject", "lose_answer", "drop_request", "stall"]
REPAIR_FAULTS = ["none", "none", "reject_once", "reject_always"]


def _clear_records() -> None:
    ManualCommand.objects.all().delete()
    Fill.objects.all().delete()
    Order.objects.all().delete()
    Hedge.objects.all().delete()
    KillSwitch.objects.all().delete()
    Alert.objects.all().delete()


def _arm(binance_fake: Any, terminal: Any, perp: str, cfd: str) -> None:
    if perp == "reject":
        binance_fake.arm("order_reject")
    elif perp == "partial":
        binance_fake.arm("order_partial", ratio="0.5")
    elif perp == "drop_after_accept":
        binance_fake.arm("order_drop_after_accept")
    elif perp == "drop_before_accept":
        binance_fake.arm("order_drop_before_accept")
    elif perp == "timeout":
        binance_fake.arm("order_timeout", seconds=0.6)
    if cfd == "reject":
        terminal.qa_arm("retcode", code=10019)
    elif cfd == "lose_answer":
        terminal.qa_arm("lose_answer")
    elif cfd == "drop_request":
        terminal.qa_arm("drop_request")
    elif cfd == "stall":
        terminal.qa_arm("stall", seconds=0.6)


# Two hundred cases against the venue fakes: the suite's 300 s per test is for one case, not for all of them (each
# case is bounded on its own: 120 s below).
@pytest.mark.timeout(900)
@settings(
    max_examples=int(os.environ.get("QUANTARB_LEGGING_CASES", "200")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    perp_fault=st.sampled_from(PERP_FAULTS),
    cfd_fault=st.sampled_from(CFD_FAULTS),
    repair_fault=st.sampled_from(REPAIR_FAULTS),
    sell_perp=st.booleans(),
)
def test_no_naked_leg_is_left_unflagged_and_no_order_is_duplicated(
    live_setup: dict[str, Any],
    binance_fake: Any,
    mt5_bridge: Any,
    perp_fault: str,
    cfd_fault: str,
    repair_fault: str,
    sell_perp: bool,
) -> None:
    loop = _LOOP.get()
    future = asyncio.run_coroutine_threadsafe(
        _case(live_setup, binance_fake, mt5_bridge, perp_fault, cfd_fault, repair_fault, sell_perp), loop
    )
    future.result(timeout=120)


class _CaseLoop:
    """One event loop in a thread for every generated case, so the venues' connections (ccxt's HTTP session, the
    bridge connection) are made once per test rather than once per case."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.venues: dict[int, Any] = {}

    def get(self) -> asyncio.AbstractEventLoop:
        if self.loop is None:
            self.loop = asyncio.new_event_loop()
            threading.Thread(target=self.loop.run_forever, daemon=True, name="legging-cases").start()
        return self.loop

    def close(self) -> None:
        if self.loop is None:
            return
        for venue in self.venues.values():
            gateway = getattr(venue, "gateway", None)
            if gateway is not None and hasattr(gateway, "exchange"):
                asyncio.run_coroutine_threadsafe(gateway.close(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.loop, self.venues = None, {}


_LOOP = _CaseLoop()


@pytest.fixture(autouse=True)
def _close_case_loop() -> Any:
    yield
    _LOOP.close()


CASES: Counter[str] = Counter()


async def _case(
    setup: dict[str, Any],
    binance_fake: Any,
    mt5_bridge: Any,
    perp_fault: str,
    cfd_fault: str,
    repair_fault: str,
    sell_perp: bool,
) -> None:
    pinned = clock.FrozenClock(datetime.now(UTC))
    previous = clock.set_clock(pinned)
    terminal = mt5_bridge.terminal
    try:
        binance_fake.control("reset", {})
        terminal.qa_reset()
        await db(_clear_records)()
        strategy: Strategy = setup["strategy"]
        await db(Strategy.objects.filter(pk=strategy.pk).update)(
            state=StrategyState.RUNNING, runner_id="", lease_until=None
        )
        pool = setup["pool"]
        if not _LOOP.venues:
            _LOOP.venues = await db(execution_venues)(pool, 0, None)
        venues = _LOOP.venues
        venues[setup["mt5"].pk].connected = False  # the terminal was reset: log in again
        book = FakeBook(venues[setup["mt5"].pk])
        await asyncio.to_thread(book.refresh_cfd)

        async def sleep(seconds: float) -> None:
            pinned.advance(seconds)

        runner = StrategyRunner(
            strategy_id=strategy.pk,
            runner_id=f"case-{CASES.total()}",
            market=book,
            venues_factory=lambda _pool, _pair: venues,
            sleep=sleep,
        )
        runner.lease = await db(lease_acquire)(
            strategy_id=strategy.pk, runner_id=runner.runner_id, ttl=runner.lease_ttl
        )
        assert runner.lease is not None
        assert await runner.start(), "the venues were reset: reconciliation must match"
        assert runner.executor is not None
        runner.executor.answer_timeout_s = 0.3
        runner.executor.send_deadline_s = 2.0
        runner.executor.lookup_give_up_s = 5.0

        _arm(binance_fake, terminal, perp_fault, cfd_fault)
        direction = Direction.SELL_PERP if sell_perp else Direction.BUY_PERP
        decision = Open(direction, Decimal(2), Reason(ReasonCode.ENTRY_EDGE), Decimal(1))
        row = await db(runner._load)()
        params: StrategyParams = setup["params"]
        hedge = await runner.open_hedge(row, params, book.snapshot(0), decision)
        assert hedge is not None, runner.last_decision
        if repair_fault == "reject_once":
            binance_fake.arm("order_reject")
            terminal.qa_arm("retcode", code=10019)
        elif repair_fault == "reject_always":
            binance_fake.arm("order_reject", count=10_000)
            terminal.qa_arm("retcode", count=-1, code=10019)

        for _ in range(MAX_LEGGING_S * 2 + 6):
            hedge = await db(Hedge.objects.get)(pk=hedge.pk)
            if hedge.status in (HedgeStatus.OPEN, HedgeStatus.CLOSED, HedgeStatus.FAILED):
                break
            await runner.manage(row, params, book.snapshot(0))
            await sleep(1.0)
        hedge = await db(Hedge.objects.get)(pk=hedge.pk)
        CASES[hedge.status] += 1

        # 0 duplicate orders at either venue.
        binance_ids = Counter(order["clientOrderId"] for order in binance_fake.state()["orders"])
        assert max(binance_ids.values(), default=0) <= 1, binance_ids
        mt5_state = dict(terminal.qa_state())
        mt5_ids = Counter(dict(order)["comment"] for order in mt5_state["orders"])
        assert max(mt5_ids.values(), default=0) <= 1, mt5_ids

        # 0 naked legs left unflagged.
        if hedge.perp_oz + hedge.cfd_oz != 0:
            assert hedge.status in (HedgeStatus.LEGGED, HedgeStatus.NEEDS_RECONCILE, HedgeStatus.REPAIRING), (
                hedge.status
            )
            assert await db(KillSwitch.objects.filter(strategy=strategy, reset_at__isnull=True).exists)()
            assert await db(Alert.objects.filter(category="risk", severity="critical").exists)()

        # Our records are the venues' truth.
        perp_venue = await venues[setup["binance"].pk].position_oz()
        cfd_venue = await venues[setup["mt5"].pk].position_oz()
        assert perp_venue == await db(our_position_oz)(setup["binance"])
        assert cfd_venue == await db(our_position_oz)(setup["mt5"])
        assert (hedge.perp_oz, hedge.cfd_oz) == (perp_venue, cfd_venue)
    finally:
        clock.set_clock(previous)
