"""Rules every unattended job follows, in one place.

At least once: tasks are acknowledged after they ran (`task_acks_late`) and a task whose worker died is put back
on the queue (`task_reject_on_worker_lost`), so every task body must be idempotent — a second run after a crash
finds the work done, or finishes it, and records it once.

No long waits in the broker: Redis hands an unacknowledged message (a task waiting on its countdown or ETA is one)
to another worker after its visibility timeout. A countdown longer than that timeout would run twice — or, as the
alert deliveries did, come back only after an hour. So a countdown is at most `MAX_COUNTDOWN_S`, well below the
visibility timeout; a longer wait is left to a sweeper that re-queues work when it falls due
(`alerts.tasks.sweep_deliveries`). tests/quantarb/test_jobs.py refuses any countdown or ETA in the code that
does not go through `bounded_countdown`.
"""

from __future__ import annotations

# https://docs.celeryq.dev/en/stable/getting-started/backends-and-brokers/redis.html#visibility-timeout
VISIBILITY_TIMEOUT_S = 3600
MAX_COUNTDOWN_S = 600.0


def bounded_countdown(seconds: float) -> float | None:
    """`seconds` when a task may wait that long in the broker, None when the wait is too long for it (the caller
    leaves the work to its sweeper)."""
    if seconds <= MAX_COUNTDOWN_S:
        return max(0.0, float(seconds))
    return None
