"""Strategy runners started the way the engine starts them, on the scripted market and paper venues of tests/pools.py,
in tests that run the runner's coroutines against the database."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async

from strategies.runner import StrategyRunner
from strategies.services import lease_acquire, strategy_request
from trading.execution.order_writer import OrderWriter
from trading.execution.venue_factory import execution_venues


def db(function: Any) -> Any:
    """`function` run from a coroutine on the thread that holds the test's database connection."""
    return sync_to_async(function, thread_sensitive=True)


async def started_runner(
    alice: Any, strategy: Any, market: Any, frozen_clock: Any, runner_id: str = "r1", *, own_writer: bool = False
) -> StrategyRunner:
    """`strategy` started by alice and its runner holding the lease and started; its sleeps move the frozen clock.
    With `own_writer`, the runner writes hedges and orders on its own PostgreSQL connection (as in production)."""

    async def sleep(seconds: float) -> None:
        frozen_clock.advance(seconds)

    await db(strategy_request)(strategy=strategy, action="start", actor=alice.user)
    runner = StrategyRunner(
        strategy_id=strategy.pk,
        runner_id=runner_id,
        market=market,
        venues_factory=lambda pool, pair_id: execution_venues(pool, pair_id, market),
        sleep=sleep,
    )
    runner.lease = await db(lease_acquire)(strategy_id=strategy.pk, runner_id=runner_id, ttl=runner.lease_ttl)
    assert runner.lease is not None
    if own_writer:
        runner.writer = await OrderWriter.connect()
        assert runner.writer is not None
    assert await runner.start()
    return runner
