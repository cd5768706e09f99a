from __future__ import annotations

# The project's app (not `shared_task`): web processes enqueue deliveries too, with the settings' broker and
# eager mode, and nothing else imports the Celery app there.
from quantarb.celery import app
from quantarb.jobs import bounded_countdown

from .delivery import attempt, deliveries_due
from .rules import evaluate_all


@app.task(
    name="alerts.tasks.deliver", bind=True, ignore_result=True, max_retries=None, time_limit=60, soft_time_limit=50
)
def deliver(self, delivery_id: int) -> None:  # type: ignore[no-untyped-def]
    """Send one delivery; on failure, retry with exponential backoff until it ends failed (alerts.delivery).

    A wait longer than the broker may hold a message (quantarb/jobs.py) is not queued: the delivery stays
    *retrying* with its `next_attempt_at`, and `sweep_deliveries` re-queues it when it falls due."""
    retry_in = attempt(delivery_id)
    if retry_in is None:
        return
    countdown = bounded_countdown(retry_in)
    # Run eagerly (embedded mode, tests), a retry would run again at once, ignoring its countdown: the sweeper
    # sends it when it falls due instead.
    if countdown is not None and not self.request.is_eager:
        raise self.retry(countdown=countdown)


@app.task(name="alerts.tasks.sweep_deliveries", ignore_result=True, time_limit=60, soft_time_limit=50)
def sweep_deliveries() -> int:
    """Re-queue deliveries whose task was lost (a worker killed mid-delivery) or whose retry is due."""
    due = deliveries_due()
    for delivery_id in due:
        deliver.delay(delivery_id)
    return len(due)


@app.task(name="alerts.tasks.evaluate_rules", ignore_result=True, time_limit=60, soft_time_limit=50)
def evaluate_rules() -> None:
    """Evaluate every tenant's enabled alert rules: raise what holds, resolve what cleared."""
    evaluate_all()
