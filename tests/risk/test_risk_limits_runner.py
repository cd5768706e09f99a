"""A limit breach acts within one engine step, on simulated time, on a paper pool: the runner
evaluates the limits covering its strategy at every step — block entries refuses an opening order through the
pre-trade gate (a reducing one passes), pause pauses, flatten closes the hedges through the one order gate — each
audited and alerted. The metrics are set by the test (risk/metrics.py computes them in the platform)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from accounts.models import AuditEvent
from alerts.models import Alert
from risk import limits as risk_limits
from risk.domain.limits import Metric, Scope, ScopeKind
from risk.limits import limit_save
from risk.models import Breach, RiskLimit
from strategies.choices import StrategyState
from strategies.models import Strategy
from strategies.runner import StrategyRunner
from strategies.services import lease_acquire, strategy_request
from tests.helpers.runners import db
from trading.choices import HedgeStatus
from trading.execution.venue_factory import execution_venues
from trading.models import Hedge

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("thread_connections_closed"),
]


class Metrics:
    """The risk metrics the evaluation reads, set by the test."""

    def __init__(self) -> None:
        self.values: dict[int, dict[Any, Decimal | None]] = {}

    def set(self, pool: Any, metric: Metric, value: str) -> None:
        self.values[pool.tenant_id] = {(metric, Scope(ScopeKind.POOL, pool.pk)): Decimal(value)}

    def __call__(self, tenant_ids: Any, now: Any) -> dict[int, dict[Any, Decimal | None]]:
        return self.values


@pytest.fixture
def metrics(monkeypatch: pytest.MonkeyPatch) -> Metrics:
    source = Metrics()
    monkeypatch.setattr(risk_limits, "metric_values", source)
    return source


async def started_runner(alice: Any, strategy: Any, market: Any, frozen_clock: Any) -> StrategyRunner:
    async def sleep(seconds: float) -> None:
        frozen_clock.advance(seconds)

    await db(strategy_request)(strategy=strategy, action="start", actor=alice.user)
    runner = StrategyRunner(
        strategy_id=strategy.pk,
        runner_id="r1",
        market=market,
        venues_factory=lambda pool, pair_id: execution_venues(pool, pair_id, market),
        sleep=sleep,
    )
    runner.lease = await db(lease_acquire)(strategy_id=strategy.pk, runner_id="r1", ttl=runner.lease_ttl)
    assert await runner.start()
    return runner


def unhedged_limit(pool: Any, action: str) -> RiskLimit:
    return limit_save(
        row=RiskLimit(
            tenant=pool.tenant,
            name=f"Unhedged ({action})",
            scope_kind="pool",
            pool=pool,
            metric="unhedged_oz",
            warning_level=Decimal(1),
            breach_level=Decimal(2),
            action=action,
        ),
        actor=None,
    )


def hedges() -> list[Hedge]:
    return list(Hedge.objects.order_by("pk"))


def breach_events() -> list[str]:
    return [event.summary["event"] for event in AuditEvent.objects.filter(action="risk_limit_breach").order_by("pk")]


def open_alert_rules(tenant: Any) -> list[str]:
    return list(
        Alert.objects.filter(tenant=tenant).exclude(status="resolved").values_list("rule__rule_type", flat=True)
    )


async def test_block_entries_refuses_an_opening_order_through_the_gate_within_one_step(
    alice: Any, strategy: Any, paper_pool: Any, market: Any, frozen_clock: Any, metrics: Metrics
) -> None:
    await db(unhedged_limit)(paper_pool, "block_entries")
    metrics.set(paper_pool, Metric.UNHEDGED_OZ, "0")
    runner = await started_runner(alice, strategy, market, frozen_clock)
    metrics.set(paper_pool, Metric.UNHEDGED_OZ, "2.5")
    market.wide_sell_perp(Decimal("8"))
    await runner.step()
    assert await db(hedges)() == []
    assert runner.last_decision["code"] == "risk"
    [refusal] = runner.last_decision["params"]["violations"]
    assert refusal["code"] == "risk_limit"
    assert (
        "Limit Unhedged (block_entries) is breached: only orders that reduce a position pass." in (refusal["message"])
    )
    assert await db(breach_events)() == ["started", "action"]
    assert await db(open_alert_rules)(alice.tenant) == ["risk_limit_breach"]

    frozen_clock.advance(1)
    metrics.set(paper_pool, Metric.UNHEDGED_OZ, "0")  # back below: the breach ends and the block lifts
    await runner.step()
    [hedge] = await db(hedges)()
    assert hedge.status == HedgeStatus.OPEN
    assert (await db(Breach.objects.get)()).ended_at is not None


async def test_a_reducing_order_passes_the_block(
    alice: Any, strategy: Any, paper_pool: Any, market: Any, frozen_clock: Any, metrics: Metrics
) -> None:
    await db(unhedged_limit)(paper_pool, "block_entries")
    metrics.set(paper_pool, Metric.UNHEDGED_OZ, "0")
    runner = await started_runner(alice, strategy, market, frozen_clock)
    market.wide_sell_perp(Decimal("8"))
    await runner.step()
    [hedge] = await db(hedges)()
    metrics.set(paper_pool, Metric.UNHEDGED_OZ, "3")
    market.converge()
    frozen_clock.advance(5)
    await runner.step()
    assert (await db(Hedge.objects.get)(pk=hedge.pk)).status == HedgeStatus.CLOSED
    assert (await db(Breach.objects.get)()).ended_at is None  # the close went through while the breach lasts


async def test_pause_pauses_within_one_step(
    alice: Any, strategy: Any, paper_pool: Any, market: Any, frozen_clock: Any, metrics: Metrics
) -> None:
    await db(unhedged_limit)(paper_pool, "pause")
    metrics.set(paper_pool, Metric.UNHEDGED_OZ, "0")
    runner = await started_runner(alice, strategy, market, frozen_clock)
    metrics.set(paper_pool, Metric.UNHEDGED_OZ, "2")  # at the breach level itself
    market.wide_sell_perp(Decimal("8"))
    assert await runner.step()
    paused = await db(Strategy.objects.get)(pk=strategy.pk)
    assert paused.state == StrategyState.PAUSED and "Unhedged (pause)" in paused.state_reason
    assert await db(hedges)() == []  # paused before it decided anything
    assert await db(breach_events)() == ["started", "action"]
    assert await db(open_alert_rules)(alice.tenant) == ["risk_limit_breach"]


async def test_a_warning_alerts_and_the_runner_keeps_trading(
    alice: Any, strategy: Any, paper_pool: Any, market: Any, frozen_clock: Any, metrics: Metrics
) -> None:
    await db(unhedged_limit)(paper_pool, "pause")
    metrics.set(paper_pool, Metric.UNHEDGED_OZ, "1.5")
    runner = await started_runner(alice, strategy, market, frozen_clock)
    market.wide_sell_perp(Decimal("8"))
    await runner.step()
    assert (await db(Strategy.objects.get)(pk=strategy.pk)).state == StrategyState.RUNNING
    [hedge] = await db(hedges)()
    assert hedge.status == HedgeStatus.OPEN
    assert await db(open_alert_rules)(alice.tenant) == ["risk_limit_warning"]
    assert await db(breach_events)() == []


async def test_flatten_closes_the_hedges_through_the_order_gate_within_one_step(
    alice: Any, strategy: Any, paper_pool: Any, market: Any, frozen_clock: Any, metrics: Metrics
) -> None:
    await db(unhedged_limit)(paper_pool, "flatten")
    metrics.set(paper_pool, Metric.UNHEDGED_OZ, "0")
    runner = await started_runner(alice, strategy, market, frozen_clock)
    market.wide_sell_perp(Decimal("8"))
    await runner.step()
    [hedge] = await db(hedges)()
    assert hedge.status == HedgeStatus.OPEN

    frozen_clock.advance(1)
    metrics.set(paper_pool, Metric.UNHEDGED_OZ, "4")  # the edge is still there: only the limit closes it
    await runner.step()
    hedge = await db(Hedge.objects.get)(pk=hedge.pk)
    assert hedge.status == HedgeStatus.CLOSED and hedge.close_reason == {"code": "risk_flatten"}
    assert (await db(Strategy.objects.get)(pk=strategy.pk)).state == StrategyState.PAUSED
    breach = await db(Breach.objects.get)()
    assert breach.action_status == "done" and breach.action_done_at is not None
    assert await db(breach_events)() == ["started", "action", "flattened"]
    assert await db(open_alert_rules)(alice.tenant) == ["risk_limit_breach"]

    frozen_clock.advance(1)
    await runner.step()
    assert len(await db(hedges)()) == 1  # paused, flat, blocked: nothing reopens


async def test_a_stale_usdt_rate_blocks_entries_within_one_step_on_the_metrics_the_platform_computes(
    alice: Any, strategy: Any, paper_pool: Any, market: Any, frozen_clock: Any, sim_pair: Any
) -> None:
    """No metrics set by the test: the runner's step evaluates the desk's USDT/USD rate limit (what the `rate_stale`
    rule became) on risk/metrics.py's figures, from the stored observations of the pair's rate source."""
    from quantarb import clock
    from trading.models import RateTick

    def observe() -> None:
        RateTick.objects.create(source=sim_pair.rate_source, ts=clock.now(), usd_per_usdt=Decimal("0.9998"))

    await db(limit_save)(
        row=RiskLimit(tenant=alice.tenant, name="USDT/USD rate", scope_kind="desk", metric="usdt_rate_age_s",
                      breach_level=Decimal(5), action="block_entries"),
        actor=None,
    )  # fmt: skip
    await db(observe)()
    runner = await started_runner(alice, strategy, market, frozen_clock)
    frozen_clock.advance(8)  # the rate source stops answering: its last rate is 8 s old (within the runner's lease)
    market.wide_sell_perp(Decimal("8"))
    await runner.step()
    assert await db(hedges)() == []
    [refusal] = runner.last_decision["params"]["violations"]
    assert "Limit USDT/USD rate is breached: only orders that reduce a position pass." in refusal["message"]
    assert await db(open_alert_rules)(alice.tenant) == ["risk_limit_breach"]

    await db(observe)()  # it answers again: the breach ends at the next step and the entry goes through
    frozen_clock.advance(1)
    await runner.step()
    [hedge] = await db(hedges)()
    assert hedge.status == HedgeStatus.OPEN
