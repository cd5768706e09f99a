"""Reconciliation against the paper venue's ledger: a difference injected into the ledger is
found, a strategy refuses to start on it, and an admin's sync adopts the venue's state (audited)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from accounts.models import AuditEvent
from risk.models import KillSwitch
from strategies.choices import StrategyState
from strategies.models import Strategy
from strategies.runner import StrategyRunner
from strategies.services import lease_acquire, strategy_request
from tests.helpers.runners import db
from trading.choices import HedgeStatus, ReconciliationStatus
from trading.execution.venue_factory import execution_venues
from trading.models import Hedge, PaperPosition, ReconciliationReport
from trading.reconciliation.services import our_position_oz, reconcile_pool, reconciliation_sync

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("thread_connections_closed"),
]


async def test_a_difference_injected_into_the_paper_ledger_is_found_and_blocks_the_start(
    alice: Any, strategy: Any, paper_pool: Any, market: Any, frozen_clock: Any
) -> None:
    venues = await db(execution_venues)(paper_pool, 0, market)
    report = await reconcile_pool(pool=paper_pool, venues=venues, trigger="manual")
    assert report.status == ReconciliationStatus.MATCHED and report.differences == []

    # The venue moved the perp account's position on its own (a manual trade, a liquidation): 3 oz short.
    await db(PaperPosition.objects.create)(account=paper_pool.perp_account, quantity_oz=Decimal("-3"))
    report = await reconcile_pool(pool=paper_pool, venues=venues, trigger="manual")
    assert report.status == ReconciliationStatus.MISMATCH
    assert report.differences == [
        {"kind": "position", "account_id": paper_pool.perp_account_id, "ours": "0.000", "venue": "-3.000"}
    ]

    await db(strategy_request)(strategy=strategy, action="start", actor=alice.user)
    runner = StrategyRunner(
        strategy_id=strategy.pk,
        runner_id="r",
        market=market,
        venues_factory=lambda pool, pair_id: execution_venues(pool, pair_id, market),
    )
    runner.lease = await db(lease_acquire)(strategy_id=strategy.pk, runner_id="r", ttl=runner.lease_ttl)
    assert not await runner.start()
    row = await db(Strategy.objects.get)(pk=strategy.pk)
    assert row.state == StrategyState.ERROR and row.state_reason_code == "reconciliation_refused"
    assert row.state_reason_params["status"] == "mismatch" and row.state_reason_params["differences"] == 1
    assert row.state_reason.startswith("Reconciliation #")  # the English rendering kept beside the code
    switch = await db(KillSwitch.objects.get)(strategy=strategy, trigger="reconciliation_mismatch")
    assert switch.reason_code == "reconciliation_refused" and switch.reason == row.state_reason

    # An admin adopts the venue's state: our records now hold the 3 oz, as a legged hedge to repair.
    start_report = await db(lambda: ReconciliationReport.objects.filter(trigger="start").latest("started_at"))()
    synced = await reconciliation_sync(report=start_report, venues=venues, actor=alice.user)
    assert synced.status == ReconciliationStatus.SYNCED and synced.synced_by_id == alice.user.pk
    assert await db(our_position_oz)(paper_pool.perp_account) == Decimal("-3")
    hedge = await db(Hedge.objects.get)(pool=paper_pool)
    assert hedge.status == HedgeStatus.LEGGED and hedge.perp_oz == Decimal("-3")
    assert await db(AuditEvent.objects.filter(action="reconciliation_sync").exists)()
    again = await reconcile_pool(pool=paper_pool, venues=venues, trigger="manual")
    assert [d["kind"] for d in again.differences] == []
