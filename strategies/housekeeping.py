"""The strategies' scheduled reconciliation (quantarb/schedule.py, `trading.tasks.reconcile_pools`): every enabled
pool with hedges or a strategy, against its venues (the paper ledger for paper accounts); a mismatch on a pool whose
strategy is active trips that strategy's kill switch (with an alert). Pools with a hedge in flight are left to the
next round (an order on its way is not a difference). A pool whose reconciliation fails (its venues unavailable, or
an error) gets a failed report and, through the `reconciliation_failed` rule, an alert."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync

from accounts.models import AccountPool
from alerts.rules import evaluate_types
from quantarb import clock
from risk.choices import KillScope, KillTrigger
from risk.services import kill_switch_trip
from trading.choices import ReconciliationStatus, ReconciliationTrigger
from trading.execution.venue_factory import close_venues
from trading.models import Hedge, ReconciliationReport
from trading.portfolio.housekeeping import IN_FLIGHT, enabled_pools, pool_venues
from trading.reconciliation.services import reconcile_pool

from .choices import ACTIVE_STATES
from .models import Strategy

log = logging.getLogger(__name__)


async def _reconciled(pool: AccountPool, venues: dict[int, Any]) -> Any:
    """One scheduled reconciliation, the venues closed on the same event loop whatever happens."""
    try:
        return await reconcile_pool(pool=pool, venues=venues, trigger=ReconciliationTrigger.SCHEDULE)
    finally:
        await close_venues(venues)


def _reconciliation_failed(pool: AccountPool, exc: BaseException) -> None:
    """Record a scheduled reconciliation that could not run or broke off as *failed*, with the error: the report
    an operator reads, and what the `reconciliation_failed` alert rule sees."""
    now = clock.now()
    error = f"{type(exc).__name__}: {exc}"[:500]
    unfinished = ReconciliationReport.objects.filter(
        pool=pool, trigger=ReconciliationTrigger.SCHEDULE, finished_at__isnull=True
    )
    if not unfinished.update(status=ReconciliationStatus.FAILED, error=error, finished_at=now):
        ReconciliationReport.objects.create(
            tenant_id=pool.tenant_id,
            pool=pool,
            trigger=ReconciliationTrigger.SCHEDULE,
            status=ReconciliationStatus.FAILED,
            error=error,
            started_at=now,
            finished_at=now,
        )


def reconcile_pools() -> dict[str, int]:
    """Reconcile each enabled pool that trades; trip the kill switch of an active strategy on a mismatch. A pool
    whose reconciliation fails (its venues unavailable, or an error) gets a failed report and, through the
    `reconciliation_failed` rule, an alert — evaluated at the end of the round, not a round later."""
    counts = {"matched": 0, "mismatch": 0, "failed": 0, "skipped": 0}
    tenants: dict[int, Any] = {}
    for pool in enabled_pools():
        if Hedge.objects.filter(pool=pool, status__in=[s.value for s in IN_FLIGHT]).exists():
            counts["skipped"] += 1
            continue
        if not Hedge.objects.filter(pool=pool).exists() and not Strategy.objects.filter(pool=pool).exists():
            counts["skipped"] += 1
            continue
        tenants[pool.tenant_id] = pool.tenant
        try:
            report = async_to_sync(_reconciled)(pool, pool_venues(pool))
        except Exception as exc:
            log.exception("scheduled reconciliation of pool %s failed", pool.pk)
            _reconciliation_failed(pool, exc)
            counts["failed"] += 1
            continue
        counts[
            {ReconciliationStatus.MATCHED: "matched", ReconciliationStatus.MISMATCH: "mismatch"}.get(
                ReconciliationStatus(report.status), "failed"
            )
        ] += 1
        if report.status == ReconciliationStatus.MISMATCH:
            for strategy in Strategy.objects.filter(pool=pool, state__in=[s.value for s in ACTIVE_STATES]):
                kill_switch_trip(
                    scope=KillScope.STRATEGY,
                    trigger=KillTrigger.RECONCILIATION_MISMATCH,
                    code="reconciliation_mismatch",
                    params={"report": report.pk, "differences": len(report.differences)},
                    strategy=strategy,
                )
    for tenant in tenants.values():
        evaluate_types(tenant=tenant, rule_types=("reconciliation_failed",))
    return counts
