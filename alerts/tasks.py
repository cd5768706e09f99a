from __future__ import annotations

# The project's app (not `shared_task`): web processes enqueue deliveries too, with the settings' broker and
# eager mode, and nothing else imports the Celery app there.
from quantarb.celery import app


@app.task(
    name="alerts.tasks.deliver", bind=True, ignore_result=True, max_retries=None, time_limit=60, soft_time_limit=50
)
def deliver(self, delivery_id: int) -> None:  # type: ignore[no-untyped-def]
    """Send one delivery; on failure, retry with exponential backoff until it ends failed (alerts.delivery)."""
    from .delivery import attempt

    retry_in = attempt(delivery_id)
    if retry_in is not None:
        raise self.retry(countdown=retry_in)


@app.task(name="alerts.tasks.evaluate_rules", ignore_result=True, time_limit=60, soft_time_limit=50)
def evaluate_rules() -> None:
    """Evaluate every tenant's enabled alert rules: raise what holds, resolve what cleared."""
    from .rules import evaluate_all

    evaluate_all()
