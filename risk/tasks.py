from __future__ import annotations

from quantarb.celery import app


@app.task(name="risk.tasks.evaluate_limits", ignore_result=True, time_limit=60, soft_time_limit=50)
def evaluate_limits() -> int:
    """Evaluate every desk's enabled risk limits and act on the changes (risk/limits.py); the running strategies'
    runners also evaluate theirs on every engine step. Returns how many limits were evaluated."""
    from .limits import evaluate_limits as evaluate

    return len(evaluate().states)
