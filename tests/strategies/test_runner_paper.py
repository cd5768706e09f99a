"""The runner on a paper pool, on simulated time: opens a hedge when the net edge passes the entry threshold,
closes it when the remaining edge falls to the exit threshold, books the PnL split; a stale quote never prices an
order; a stop with the flatten policy closes what is open; a runner whose lease was taken over writes nothing.

Each test runs twice on PostgreSQL: with hedges written through Django's connection, and through the runner's own
order connection (trading/execution/order_writer.py), which the engine uses there."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from strategies.choices import StrategyState
from strategies.domain.decision import Open, Reason, ReasonCode
from strategies.domain.params import StopPolicy, StrategyParams
from strategies.models import Strategy
from strategies.runner import StrategyRunner
from strategies.services import lease_acquire, strategy_request, strategy_update
from tests.helpers import runners
from tests.helpers.runners import db
from trading.choices import HedgeStatus, OrderStatus
from trading.domain.spread import Direction
from trading.execution.leases import LeaseLost
from trading.models import Hedge, Order, PaperPosition

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("thread_connections_closed"),
]


WRITE_PATH = {"name": "django"}


@pytest.fixture(autouse=True, params=["django", "runner connection"])
def write_path(request: pytest.FixtureRequest, django_db_blocker: Any) -> Iterator[str]:
    if request.param == "runner connection" and connection.vendor != "postgresql":
        pytest.skip("the runner's own order connection is PostgreSQL's (services mode)")
    WRITE_PATH["name"] = request.param
    yield request.param
    WRITE_PATH["name"] = "django"
    if connection.vendor == "postgresql":  # the runners' order connections go with the test
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'quantarb-runner-orders' AND datname = current_database()"
            )


async def started_runner(
    alice: Any, strategy: Any, market: Any, frozen_clock: Any, runner_id: str = "r1"
) -> StrategyRunner:
    """A started runner writing on the path this test runs with (its own order connection, or Django's)."""
    own_writer = WRITE_PATH["name"] == "runner connection"
    return await runners.started_runner(alice, strategy, market, frozen_clock, runner_id, own_writer=own_writer)


def hedges() -> list[Hedge]:
    return list(Hedge.objects.order_by("pk"))


async def test_it_opens_and_closes_a_hedge_and_splits_the_pnl(
    alice: Any, strategy: Any, market: Any, frozen_clock: Any
) -> None:
    runner = await started_runner(alice, strategy, market, frozen_clock)
    assert (await db(Strategy.objects.get)(pk=strategy.pk)).state == StrategyState.RUNNING
    await runner.step()
    assert await db(hedges)() == []  # no edge yet

    market.wide_sell_perp(Decimal("8"))
    await runner.step()
    [hedge] = await db(hedges)()
    assert hedge.status == HedgeStatus.OPEN
    assert (hedge.perp_oz, hedge.cfd_oz) == (Decimal("-1"), Decimal("1"))
    assert hedge.strategy_version_id == strategy.current_version_id
    orders = await db(lambda: list(Order.objects.filter(hedge=hedge)))()
    assert sorted(o.status for o in orders) == [OrderStatus.FILLED, OrderStatus.FILLED]

    frozen_clock.advance(1)
    await runner.step()  # the edge is still there: the hedge that just opened is not closed by the next tick
    assert (await db(Hedge.objects.get)(pk=hedge.pk)).status == HedgeStatus.OPEN, runner.last_decision

    market.converge()
    frozen_clock.advance(5)
    await runner.step()
    hedge = await db(Hedge.objects.get)(pk=hedge.pk)
    assert hedge.status == HedgeStatus.CLOSED
    assert hedge.close_reason["code"] == "exit_edge"
    # Entered ~8 USD/oz rich, closed ~0.2 below: spread capture about 8 USD on 1 oz, less fees.
    assert Decimal("7") < hedge.pnl_spread < Decimal("9")
    assert hedge.pnl_fees < 0
    assert hedge.pnl_total == hedge.pnl_spread + hedge.pnl_fees + hedge.pnl_funding + hedge.pnl_swap + hedge.pnl_fx
    positions = await db(lambda: sorted(PaperPosition.objects.values_list("quantity_oz", flat=True)))()
    assert positions == [Decimal(0), Decimal(0)]


async def test_a_stale_quote_never_prices_an_order(alice: Any, strategy: Any, market: Any, frozen_clock: Any) -> None:
    runner = await started_runner(alice, strategy, market, frozen_clock)
    market.wide_sell_perp(Decimal("8"))
    market.age_ms = 2_001  # the strategy's limit is 2,000 ms
    await runner.step()
    assert await db(Order.objects.count)() == 0
    assert runner.last_decision["code"] == "stale_quote"


async def test_stop_with_flatten_closes_open_hedges(alice: Any, strategy: Any, market: Any, frozen_clock: Any) -> None:
    params = StrategyParams.from_json(strategy.current_version.params).replace(stop_policy=StopPolicy.FLATTEN)
    await db(strategy_update)(strategy=strategy, params=params, actor=alice.user)
    runner = await started_runner(alice, strategy, market, frozen_clock)
    market.wide_sell_perp(Decimal("8"))
    await runner.step()
    await db(strategy_request)(strategy=strategy, action="stop", actor=alice.user)
    while await runner.step():
        frozen_clock.advance(1)
    [hedge] = await db(hedges)()
    assert hedge.status == HedgeStatus.CLOSED
    strategy = await db(Strategy.objects.get)(pk=strategy.pk)
    assert strategy.state == StrategyState.STOPPED and strategy.runner_id == ""


async def test_a_runner_whose_lease_was_taken_over_cannot_write(
    alice: Any, strategy: Any, market: Any, frozen_clock: Any
) -> None:
    stale = await started_runner(alice, strategy, market, frozen_clock, runner_id="engine-a")
    frozen_clock.advance(stale.lease_ttl.total_seconds() + 1)  # engine-a froze past its lease
    taken = await db(lease_acquire)(strategy_id=strategy.pk, runner_id="engine-b", ttl=stale.lease_ttl)
    assert taken is not None
    market.wide_sell_perp(Decimal("8"))
    with pytest.raises(LeaseLost):
        await stale.step()
    # Even going straight to the write path, as a runner racing its own renewal would: the order write is fenced.
    decision = Open(Direction.SELL_PERP, Decimal(1), Reason(ReasonCode.ENTRY_EDGE), Decimal(1))
    strategy_row = await db(stale._load)()
    params = StrategyParams.from_json(strategy.current_version.params)
    with pytest.raises(LeaseLost):
        await stale.open_hedge(strategy_row, params, market.snapshot(0), decision)
    assert await db(Order.objects.count)() == 0
    assert await db(Hedge.objects.count)() == 0
