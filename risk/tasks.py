"""Risk's beat jobs (quantarb/schedule.py): the limits evaluated and acted on, and the risk history recorded."""

from __future__ import annotations

from celery import shared_task

from . import limits
from .history import risk_record


@shared_task(name="risk.tasks.evaluate_limits", ignore_result=True, time_limit=60, soft_time_limit=50)
def evaluate_limits() -> int:
    """Evaluate every desk's enabled risk limits and act on the changes (risk/limits.py); the running strategies'
    runners also evaluate theirs on every engine step. Returns how many limits were evaluated."""
    return len(limits.evaluate_limits().states)


@shared_task(name="risk.tasks.record_risk", ignore_result=True, time_limit=120, soft_time_limit=100)
def record_risk() -> dict[str, int]:
    """Every desk's risk figures into the risk history; roll up and prune the old ones (risk/history.py)."""
    return risk_record()
