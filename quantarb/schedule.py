"""The one beat schedule: which task runs how often. Celery beat and the embedded scheduler both read it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Job:
    name: str
    task: str  # dotted name of a Celery task
    every_s: float


SCHEDULE: tuple[Job, ...] = (
    Job("scheduler-heartbeat", "quantarb.tasks.scheduler_heartbeat", 5.0),
    Job("poll-feeds", "trading.tasks.poll_feeds", 5.0),
    Job("prune-market-data", "trading.tasks.prune_market_data", 3600.0),
    Job("verify-audit-chains", "accounts.tasks.verify_audit_chains", 86400.0),
    Job("audit-checkpoint", "accounts.tasks.write_audit_checkpoint", 900.0),
    Job("sync-accounts", "trading.tasks.sync_accounts", 60.0),
    Job("evaluate-alert-rules", "alerts.tasks.evaluate_rules", 10.0),
    Job("sweep-deliveries", "alerts.tasks.sweep_deliveries", 60.0),
    Job("mt5-health", "mt5ops.tasks.check_terminals", 5.0),
    Job("reconcile-pools", "trading.tasks.reconcile_pools", 300.0),
    Job("position-snapshots", "trading.tasks.snapshot_positions", 300.0),
    Job("book-carry", "trading.tasks.book_carry", 60.0),
    Job("sync-fills", "trading.tasks.sync_fills", 30.0),
    Job("record-carry-inputs", "trading.tasks.record_carry_inputs", 3600.0),
    Job("record-equity", "trading.tasks.record_equity", 60.0),
    Job("check-equity", "trading.tasks.check_equity", 86400.0),
    Job("import-cash-flows", "trading.tasks.import_cash_flows", 300.0),
    Job("evaluate-risk-limits", "risk.tasks.evaluate_limits", 15.0),
    Job("record-risk", "risk.tasks.record_risk", 60.0),
)


def celery_beat_schedule() -> dict[str, dict[str, object]]:
    """Every entry goes through `quantarb.tasks.run_scheduled`, which claims the job's slot before sending it:
    a second beat process doubles nothing (quantarb/job_slots.py)."""
    return {
        job.name: {"task": "quantarb.tasks.run_scheduled", "args": (job.name,), "schedule": job.every_s}
        for job in SCHEDULE
    }
