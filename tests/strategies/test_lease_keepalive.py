"""The runner's lease survives a slow answer — renewed from the live process while an order call is in flight —
without slowing the takeover of a dead runner. On simulated time: the venue's answer takes 30
simulated seconds (three lease TTLs) while each simulated second passes in a few real milliseconds."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from strategies.domain.decision import Open, Reason, ReasonCode
from strategies.models import Strategy
from strategies.runner import StrategyRunner
from strategies.services import lease_acquire, lease_renew, strategy_request
from tests.helpers.runners import db
from tests.waiting import until_async
from trading.choices import HedgeStatus
from trading.domain.spread import Direction
from trading.execution.leases import LeaseLost
from trading.execution.venue_factory import execution_venues
from trading.models import Hedge

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("thread_connections_closed"),
    pytest.mark.timeout(60),
]

TTL = timedelta(seconds=10)
ANSWER_AFTER_S = 30


class SlowVenue:
    """A venue whose answer comes `ANSWER_AFTER_S` simulated seconds after the send (the paper venue's answer)."""

    def __init__(self, inner: Any, frozen_clock: Any) -> None:
        self.inner = inner
        self.clock = frozen_clock
        self.started = asyncio.Event()

    async def place(self, request: Any) -> Any:
        self.started.set()
        for _ in range(ANSWER_AFTER_S):
            self.clock.advance(1)
            await asyncio.sleep(0.03)  # the venue is slow on purpose: real time passes with the frozen clock's
        return await self.inner.place(request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def runner_with_slow_perp(alice: Any, strategy: Any, market: Any, frozen_clock: Any) -> StrategyRunner:
    async def sleep(seconds: float) -> None:
        frozen_clock.advance(seconds)

    await db(strategy_request)(strategy=strategy, action="start", actor=alice.user)
    runner = StrategyRunner(
        strategy_id=strategy.pk,
        runner_id="r1",
        market=market,
        venues_factory=lambda pool, pair_id: execution_venues(pool, pair_id, market),
        sleep=sleep,
        lease_ttl=TTL,
    )
    runner.lease = await db(lease_acquire)(strategy_id=strategy.pk, runner_id="r1", ttl=TTL)
    assert runner.lease is not None and await runner.start()
    assert runner.executor is not None
    perp_id = strategy.pool.perp_account_id
    venues = dict(runner.executor.venues)
    venues[perp_id] = SlowVenue(venues[perp_id], frozen_clock)
    runner.executor.venues = venues
    runner.executor.answer_timeout_s = 60.0  # real seconds: the slow answer arrives within it
    runner.executor.keep_alive_every_s = 0.02  # real seconds (a TTL of 10 simulated seconds is ~0.3 s here)
    return runner


async def open_hedge(runner: StrategyRunner, market: Any) -> Hedge | None:
    row = await db(runner._load)()
    from strategies.services import current_params

    decision = Open(Direction.SELL_PERP, Decimal(1), Reason(ReasonCode.ENTRY_EDGE), Decimal(1))
    return await runner.open_hedge(row, current_params(row), market.snapshot(0), decision)


async def test_the_lease_is_renewed_while_an_answer_takes_longer_than_its_ttl(
    alice: Any, strategy: Any, market: Any, frozen_clock: Any
) -> None:
    runner = await runner_with_slow_perp(alice, strategy, market, frozen_clock)
    opened_at = frozen_clock.now()

    hedge = await open_hedge(runner, market)

    assert hedge is not None
    assert (frozen_clock.now() - opened_at).total_seconds() >= ANSWER_AFTER_S  # three TTLs went by in flight
    hedge = await db(Hedge.objects.get)(pk=hedge.pk)
    assert hedge.status == HedgeStatus.OPEN
    row = await db(Strategy.objects.get)(pk=strategy.pk)
    assert row.runner_id == "r1" and row.lease_until >= frozen_clock.now()  # still ours
    await db(lease_renew)(runner.lease, ttl=TTL)  # and the next step renews it as usual
    assert runner.executor is not None and runner.executor._keeper is None  # nothing renews once idle


async def test_a_runner_that_dies_mid_call_stops_renewing_and_is_taken_over_one_ttl_later(
    alice: Any, strategy: Any, market: Any, frozen_clock: Any
) -> None:
    runner = await runner_with_slow_perp(alice, strategy, market, frozen_clock)
    assert runner.executor is not None
    slow: Any = runner.executor.venues[strategy.pool.perp_account_id]

    leased_until = (await db(Strategy.objects.get)(pk=strategy.pk)).lease_until
    call = asyncio.create_task(open_hedge(runner, market))
    await slow.started.wait()

    async def renewed() -> bool:
        return bool((await db(Strategy.objects.get)(pk=strategy.pk)).lease_until > leased_until)

    await until_async(renewed, 10, "the lease renewed during the call", every_s=0.01)
    call.cancel()  # the process is gone: its tasks with it
    await asyncio.gather(call, return_exceptions=True)
    assert runner.executor._keeper is None  # the keeper went with the call

    died_at = frozen_clock.now()
    row = await db(Strategy.objects.get)(pk=strategy.pk)
    assert row.lease_until <= died_at + TTL  # no renewal reaches past one TTL after the last one

    # Before the TTL has run out the lease is still the dead runner's; one TTL later another runner takes over.
    assert await db(lease_acquire)(strategy_id=strategy.pk, runner_id="r2", ttl=TTL) is None
    frozen_clock.advance(TTL.total_seconds() + 0.001)
    taken = await db(lease_acquire)(strategy_id=strategy.pk, runner_id="r2", ttl=TTL)
    assert taken is not None and runner.lease is not None and taken.epoch > runner.lease.epoch
    with pytest.raises(LeaseLost):
        await db(lease_renew)(runner.lease, ttl=TTL)
