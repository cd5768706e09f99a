"""Live books equal the venues' own records over ≥ 50 hedges with faults, against the
OUT-OF-PROCESS fakes: the fake Binance (tests/fakes/binance_server.py, real ccxt through the account's endpoint
override) and the MT5 bridge fake (tests/fakes/mt5_bridge.py, the product's rpyc backend).

The strategy runner opens and closes hedges in waves of a few at a time, both directions, through its own order
path (`open_hedge` / `close_hedge`, then `manage` until every order is settled and every legged hedge repaired),
with one fault armed at nearly every open and close:
- answers held longer than our answer timeout (Binance order answer, MT5 `order_send` answer);
- a 429 burst with Retry-After on Binance;
- dropped sockets: the order's HTTP connection cut after Binance accepted it, or before; every WebSocket dropped;
  the MT5 bridge's connection cut under the gateway;
- MT5 IPC timeouts: on the reads before the order, on the order itself (lost on the way in), and an answer lost
  after the order executed;
- partial fills and refusals, which leave a hedge legged for the runner to repair.
Some waves are held across a funding time, one across the next triple-swap rollover (the venues' clocks and
quantarb's move forward together); the USDT/USD rate moves between hedges. Then the booking jobs run, and:

- our fills equal the venues' trades and deals one to one;
- every hedge's spread capture, fees, funding, swap and USDT/USD equal a reference computed from the venues'
  trade, deal and income records and the rate feed (tests/fakes/venue_books.py), never from our order rows;
- 0 duplicate and 0 lost orders at either venue.

(kill -9 of the engine mid-hedge is tests/integration/test_engine_crash.py: a real `runengine` process.)
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import socket
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from quantarb import clock
from strategies.choices import StrategyState
from strategies.domain.decision import Open, Reason, ReasonCode
from strategies.models import Strategy
from strategies.runner import MarketSnapshot, StrategyRunner
from strategies.services import lease_acquire, lease_renew, strategy_update
from tests.fakes.venue_books import (
    assert_fills_match_venues,
    assert_hedges_match_venues,
    assert_orders_match_venues,
    read_venue_books,
)
from tests.helpers.runners import db
from tests.pools import FakeBook
from tests.trading.portfolio.helpers import ShiftedClock, next_triple_rollover_ms
from tests.waiting import wait_for
from trading.account_sync import sync_accounts
from trading.choices import HedgeStatus
from trading.domain.spread import Direction
from trading.execution.fills import sync_live_fills
from trading.execution.venue_factory import execution_venues
from trading.instruments import pair_id_for_pool
from trading.models import Hedge, SourcePair, SpreadSample
from trading.portfolio.housekeeping import book_carry
from trading.venues.errors import VenueError

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("thread_connections_closed"),
    pytest.mark.timeout(600),
]

log = logging.getLogger(__name__)

HEDGES = 52
WAVE = 4  # hedges open at once
EIGHT_HOURS_MS = 8 * 3_600_000
ANSWER_TIMEOUT_S = 0.5
HOLD_S = 1.0  # an answer held this long: past our answer timeout
SETTLE_WITHIN_S = 30.0  # real seconds for a hedge's orders to settle and its legs to be whole or flat

# One fault per open and close, in turn (opens and closes take them at different offsets).
FAULTS = [
    "none",
    "perp_answer_held",
    "cfd_answer_held",
    "perp_429_burst",
    "perp_socket_dropped_after_accept",
    "mt5_ipc_timeout_reads",
    "perp_socket_dropped_before_accept",
    "cfd_answer_lost",
    "websockets_dropped",
    "cfd_request_lost",
    "mt5_bridge_dropped",
    "perp_partial",
    "cfd_refused",
    "perp_refused",
]


class RatedBook(FakeBook):
    """The fakes' book with a USDT/USD rate that moves (FakeBook's is fixed at 1)."""

    usd_per_usdt = Decimal(1)

    def refresh_cfd(self) -> None:
        """The CFD quote, read again past a fault armed for the product's calls (an IPC timeout, a dropped bridge):
        the test's own market reads are not under test."""

        def read() -> bool:
            FakeBook.refresh_cfd(self)
            return True

        wait_for(read, 5, "the CFD quote past an armed fault", tolerate=(VenueError,))

    def snapshot(self, pair_id: int) -> MarketSnapshot:
        return replace(super().snapshot(pair_id), usd_per_usdt=self.usd_per_usdt)


class RateFeed:
    """The USDT/USD rate by venue time, as the test sets it (the rate source of the reference): each change is
    stamped with the fake Binance's server time and stored as the pair's spread sample, as the engine stores them."""

    def __init__(self) -> None:
        self.times: list[int] = []
        self.rates: list[Decimal] = []

    def set(self, at_ms: int, rate: Decimal) -> None:
        self.times.append(at_ms)
        self.rates.append(rate)

    def at(self, ms: int) -> Decimal:
        index = bisect.bisect_right(self.times, ms) - 1
        assert index >= 0, f"no rate before {ms}"
        return self.rates[index]


def _store_sample(pair_id: int, at: datetime, book: RatedBook) -> None:
    cfd = book.cfd
    assert cfd is not None
    SpreadSample.objects.create(
        pair_id=pair_id,
        ts=at,
        perp_bid=book.perp_bid,
        perp_ask=book.perp_ask,
        cfd_bid=cfd.bid,
        cfd_ask=cfd.ask,
        usd_per_usdt=book.usd_per_usdt,
        edge_sell_perp=book.perp_bid - cfd.ask,
        edge_buy_perp=cfd.bid - book.perp_ask,
        net_sell_perp=book.perp_bid - cfd.ask,
        net_buy_perp=cfd.bid - book.perp_ask,
        basis=(book.perp_bid + book.perp_ask - cfd.bid - cfd.ask) / 2,
    )


def _unsettled(hedge_id: int) -> list[tuple[str, str, str]]:
    """The hedge's orders the venue has not settled yet (client id, leg, status)."""
    from trading.models import Order

    return list(
        Order.objects.filter(hedge_id=hedge_id, status__in=("new", "submitting", "unknown", "accepted")).values_list(
            "client_order_id", "leg", "status"
        )
    )


def _orders_of(hedge_id: int) -> list[tuple[str, str, str, str, str, str]]:
    from trading.models import Order

    return [
        (o.client_order_id, o.leg, o.intent, o.status, str(o.filled), o.error[:80])
        for o in Order.objects.filter(hedge_id=hedge_id).order_by("pk")
    ]


def _outcomes() -> Counter[str]:
    """How our orders went: answered, refused by the venue's code, or unknown and settled by a lookup (which found
    the order at the venue, or found it never arrived)."""
    from trading.models import Order

    outcomes: Counter[str] = Counter()
    for status, error in Order.objects.values_list("status", "error"):
        if status == "rejected" and error.startswith("ambiguous"):
            outcomes["unknown, never arrived"] += 1
        elif status == "rejected":
            outcomes["refused"] += 1
        elif error:
            outcomes["unknown, found by lookup"] += 1
        else:
            outcomes["answered"] += 1
    return outcomes


def _drop_bridge_socket(cfd_venue: Any) -> bool:
    """Cut the MT5 bridge connection under the gateway (what a network fault or a bridge restart does)."""
    conn = getattr(cfd_venue.gateway.transport, "_conn", None)
    if conn is None or conn.closed:
        return False
    with contextlib.suppress(OSError):
        conn._channel.stream.sock.shutdown(socket.SHUT_RDWR)
    return True


async def test_fifty_live_hedges_with_faults_book_what_the_venues_booked(
    live_setup: dict[str, Any], binance_fake: Any, mt5_bridge: Any
) -> None:
    started = time.monotonic()
    shifted = ShiftedClock()
    previous = clock.set_clock(shifted)
    terminal = mt5_bridge.terminal
    terminal.qa_reset()
    terminal.qa_configure(commission_per_lot=6.0, deal_fee=0.03)
    venues = await db(execution_venues)(live_setup["pool"], 0, None)
    perp_account, cfd_account = live_setup["binance"], live_setup["mt5"]
    perp_venue, cfd_venue = venues[perp_account.pk], venues[cfd_account.pk]
    pair_id = await db(pair_id_for_pool)(live_setup["pool"])
    await db(SourcePair.objects.filter(pk=pair_id).update)(rate_source="fixed")  # the test is the rate source
    feed = RateFeed()
    injected: Counter[str] = Counter()
    crossed: Counter[str] = Counter()

    async def venue_ms() -> int:
        return int((await asyncio.to_thread(binance_fake.records))["server_ms"])

    async def advance(seconds: float) -> None:
        """Every clock moves together: quantarb's, the fake Binance's (funding settles), the terminal's (rollovers).
        The engine's spread samples of the skipped hours are stored at each funding time crossed (the rate did
        not move meanwhile), as the engine would have stored them."""
        now_ms = await venue_ms()
        first = now_ms - now_ms % EIGHT_HOURS_MS + EIGHT_HOURS_MS
        for funding_ms in range(first, now_ms + int(seconds * 1000) + 1, EIGHT_HOURS_MS):
            at = datetime.fromtimestamp((funding_ms - 30_000) / 1000, UTC)
            await db(_store_sample)(pair_id, at, book)
            crossed["funding times"] += 1
        await db(lease_renew)(runner.lease, ttl=runner.lease_ttl + timedelta(seconds=seconds))
        shifted.shift += timedelta(seconds=seconds)
        binance_fake.advance(seconds)
        terminal.qa_advance(seconds)
        await perp_venue.gateway.sync_time()  # as after any clock change: signed requests carry the venue's time

    async def set_rate(rate: Decimal) -> None:
        book.usd_per_usdt = rate
        feed.set(await venue_ms(), rate)
        await db(_store_sample)(pair_id, clock.now(), book)

    def arm(fault: str) -> None:
        injected[fault] += 1
        if fault == "perp_answer_held":
            binance_fake.arm("order_timeout", seconds=HOLD_S)
        elif fault == "cfd_answer_held":
            terminal.qa_arm("stall", seconds=HOLD_S)
        elif fault == "perp_429_burst":
            binance_fake.arm("rate_limit", count=3, retry_after=1)
        elif fault == "perp_socket_dropped_after_accept":
            binance_fake.arm("order_drop_after_accept")
        elif fault == "perp_socket_dropped_before_accept":
            binance_fake.arm("order_drop_before_accept")
        elif fault == "mt5_ipc_timeout_reads":
            terminal.qa_arm("ipc_timeout", count=2)
        elif fault == "cfd_answer_lost":
            terminal.qa_arm("lose_answer")
        elif fault == "cfd_request_lost":
            terminal.qa_arm("drop_request")
        elif fault == "websockets_dropped":
            binance_fake.control("drop", {"abnormal": True})
        elif fault == "mt5_bridge_dropped":
            if not _drop_bridge_socket(cfd_venue):
                injected[fault] -= 1
        elif fault == "perp_partial":
            binance_fake.arm("order_partial", ratio="0.5")
        elif fault == "cfd_refused":
            terminal.qa_arm("retcode", code=10019)
        elif fault == "perp_refused":
            binance_fake.arm("order_reject")

    def disarm() -> None:
        """Whatever an order did not consume is not left for the next one."""
        binance_fake.arm("order_timeout", count=0)
        binance_fake.arm("rate_limit", count=0)
        for fault in ("order_drop_after_accept", "order_drop_before_accept", "order_partial", "order_reject"):
            binance_fake.arm(fault, count=0)

    async def renew() -> None:
        """What the runner's step does first (the test calls the runner's order path itself)."""
        await db(lease_renew)(runner.lease, ttl=runner.lease_ttl)

    async def settle(hedge_id: int) -> Hedge:
        """Let the runner manage until the hedge's orders are settled and its legs whole or flat."""
        deadline = time.monotonic() + SETTLE_WITHIN_S
        while True:
            await renew()
            hedge: Hedge = await db(Hedge.objects.get)(pk=hedge_id)
            unsettled = await db(_unsettled)(hedge_id)
            if hedge.status in (HedgeStatus.OPEN, HedgeStatus.CLOSED) and not unsettled:
                return hedge
            assert hedge.status not in (HedgeStatus.FAILED, HedgeStatus.NEEDS_RECONCILE), (
                hedge.pk,
                hedge.status,
                hedge.status_reason,
                runner.last_decision,
            )
            assert time.monotonic() < deadline, (
                hedge.pk,
                hedge.status,
                hedge.status_reason,
                runner.last_decision,
                await db(_orders_of)(hedge_id),
            )
            await asyncio.to_thread(book.refresh_cfd)
            await runner.manage(row, params, book.snapshot(0))
            await asyncio.sleep(0.05)  # the engine's management cadence: each pass is a tick of the loop under test

    async def open_hedge(direction: Direction, size: int, fault: str) -> Hedge:
        decision = Open(direction, Decimal(size), Reason(ReasonCode.ENTRY_EDGE), Decimal(1))
        deadline = time.monotonic() + SETTLE_WITHIN_S
        armed = False
        while True:
            await renew()
            await asyncio.to_thread(book.refresh_cfd)
            if not armed:
                arm(fault)
                armed = True
            opened = await runner.open_hedge(row, params, book.snapshot(0), decision)
            if opened is not None:
                break
            # Held back (a venue's back-off): the decision is taken again once it is over.
            assert time.monotonic() < deadline, runner.last_decision
            await asyncio.sleep(0.2)  # the decision's cadence while the venue's back-off runs out
        disarm()
        return await settle(opened.pk)

    async def close_hedge(hedge: Hedge, fault: str) -> Hedge:
        deadline = time.monotonic() + SETTLE_WITHIN_S
        armed = False
        while True:
            hedge = await db(Hedge.objects.get)(pk=hedge.pk)
            if hedge.status != HedgeStatus.OPEN:
                break
            await renew()
            await asyncio.to_thread(book.refresh_cfd)
            if not armed:
                arm(fault)
                armed = True
            await runner.close_hedge(hedge, params, book.snapshot(0), reason={"code": "test"})
            if (await db(Hedge.objects.get)(pk=hedge.pk)).status != HedgeStatus.OPEN:
                break
            assert time.monotonic() < deadline, runner.last_decision
            await asyncio.sleep(0.2)  # the decision's cadence while the venue's back-off runs out
        disarm()
        return await settle(hedge.pk)

    try:
        strategy = live_setup["strategy"]
        params = replace(live_setup["params"], max_open_hedges=WAVE + 1, max_position_oz=Decimal(20))
        await db(strategy_update)(strategy=strategy, params=params, actor=None)
        await db(Strategy.objects.filter(pk=strategy.pk).update)(state=StrategyState.RUNNING)
        book = RatedBook(cfd_venue)
        await asyncio.to_thread(book.refresh_cfd)
        runner = StrategyRunner(
            strategy_id=strategy.pk, runner_id="r", market=book, venues_factory=lambda _p, _i: venues
        )
        runner.lease = await db(lease_acquire)(strategy_id=strategy.pk, runner_id="r", ttl=runner.lease_ttl)
        assert await runner.start()
        assert runner.executor is not None
        runner.executor.answer_timeout_s = ANSWER_TIMEOUT_S
        runner.executor.send_deadline_s = 2.0
        runner.executor.lookup_interval_s = 0.1
        runner.executor.lookup_give_up_s = 20.0
        row = await db(runner._load)()
        await set_rate(Decimal(1))

        hedge_ids: list[int] = []
        held: Counter[str] = Counter()
        binance_fake.bnb_commission(count=3, price="612.34")  # the first trades pay their commission in BNB
        wave = 0
        while len(hedge_ids) < HEDGES:
            opened: list[Hedge] = []
            for _slot in range(WAVE):
                index = len(hedge_ids)
                # The rate moves between hedges: ±0.12 % around 1, six decimals.
                await set_rate(Decimal(1) + Decimal((index * 5) % 13 - 6) * Decimal("0.0002"))
                # One direction per wave: a pool's hedges open at once go the same way (the decision never opens
                # against its own open hedges, and in one-way mode closing one would not reduce the position).
                direction = Direction.SELL_PERP if wave % 2 == 0 else Direction.BUY_PERP
                if index % 7 == 3:
                    binance_fake.config(trades_per_fill=2)  # a perp leg filled in two trades
                hedge = await open_hedge(direction, 1 + index % 2, FAULTS[index % len(FAULTS)])
                binance_fake.config(trades_per_fill=1)
                hedge_ids.append(hedge.pk)
                if hedge.status == HedgeStatus.OPEN:
                    opened.append(hedge)
            if wave % 3 == 1:
                # Held across the next funding time.
                server_ms = await venue_ms()
                await advance((EIGHT_HOURS_MS - server_ms % EIGHT_HOURS_MS) / 1000 + 60)
                held["funding"] += len(opened)
            elif wave == 6:
                # Held across the next triple-swap rollover (and every funding time until then).
                server_ms = terminal.qa_server_time()
                await advance((next_triple_rollover_ms(server_ms) - server_ms) / 1000 + 120)
                held["triple swap"] += len(opened)
            for slot, hedge in enumerate(opened):
                await set_rate(Decimal(1) + Decimal((hedge.pk * 3 + slot) % 11 - 5) * Decimal("0.0002"))
                await close_hedge(hedge, FAULTS[(hedge_ids.index(hedge.pk) + 5) % len(FAULTS)])
            wave += 1

        # The booking jobs run only now: fills the answers missed, funding of every funding time, swap.
        await db(sync_accounts)()
        await db(sync_live_fills)()
        await db(book_carry)()
        await db(book_carry)()  # a second run books nothing twice

        hedges = await db(lambda: list(Hedge.objects.filter(pk__in=hedge_ids)))()
        statuses = Counter(str(h.status) for h in hedges)
        assert statuses == Counter({"closed": len(hedge_ids)}), statuses
        books = await asyncio.to_thread(read_venue_books, binance_fake, mt5_bridge)
        await db(assert_fills_match_venues)(books, perp_account_id=perp_account.pk, cfd_account_id=cfd_account.pk)
        compared = await db(assert_hedges_match_venues)(books, hedge_ids, rate_at=feed.at)
        orders = await db(assert_orders_match_venues)(
            binance_fake, mt5_bridge, perp_account_id=perp_account.pk, cfd_account_id=cfd_account.pk
        )

        # What the run was built to cross did happen, and reached the books.
        outcomes = await db(_outcomes)()
        # How a held or lost answer splits between "found by lookup" and "never arrived" depends on timing (a
        # held answer can still beat the deadline on a quiet machine): each path must be well exercised.
        unknown = outcomes["unknown, found by lookup"] + outcomes["unknown, never arrived"]
        assert outcomes["unknown, found by lookup"] >= 5 and outcomes["unknown, never arrived"] >= 5, outcomes
        assert unknown >= 20 and outcomes["refused"] >= 14, outcomes
        assert len(hedge_ids) >= 50
        assert held["funding"] >= 8 and held["triple swap"] >= 1, held
        assert books.funding_unattributed == 0 and books.funding_total != 0
        assert sum(1 for lines in compared.values() if lines["funding"][0] != 0) >= 8
        assert sum(1 for lines in compared.values() if lines["swap"][0] != 0) >= 1
        assert sum(1 for lines in compared.values() if lines["fx"][0] != 0) >= 40
        assert all(count > 0 for count in injected.values()) and len(injected) == len(FAULTS), injected
        records = binance_fake.records()
        assert any(trade["commissionAsset"] == "BNB" for trade in records["trades"])
        print(  # the run's figures (pytest -s shows them)
            f"\n{len(hedge_ids)} hedges; venue orders {orders}; ours {dict(outcomes)}; faults {dict(injected)}; "
            f"held {dict(held)}; crossed {dict(crossed)}; {time.monotonic() - started:.1f} s"
        )
        log.info(
            "%s hedges, orders at the venues %s (%s), faults %s, held %s, crossed %s, %.1f s",
            len(hedge_ids),
            orders,
            dict(outcomes),
            dict(injected),
            dict(held),
            dict(crossed),
            time.monotonic() - started,
        )
    finally:
        clock.set_clock(previous)
        await perp_venue.gateway.close()
