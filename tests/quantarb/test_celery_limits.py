"""Celery refuses to send a task whose soft time limit exceeds its hard one (`apply_async` raises ValueError),
so beat would never deliver it — a failure only the services mode shows (the embedded scheduler calls
`apply()`, which does not check). The global CELERY_TASK_SOFT_TIME_LIMIT applies to every task that sets no
soft limit of its own."""

from __future__ import annotations

import pytest
from django.utils.module_loading import import_string

from quantarb.celery import app
from quantarb.schedule import SCHEDULE, Job


@pytest.mark.parametrize("job", SCHEDULE, ids=lambda job: job.name)
def test_every_scheduled_task_can_be_sent_by_beat(job: Job) -> None:
    import_string(job.task)  # registers the task with the app, as the worker's autodiscovery does
    task = app.tasks[job.task]
    soft, hard = task.soft_time_limit, task.time_limit
    assert not (soft and hard and soft > hard), f"{job.task}: soft_time_limit {soft} > time_limit {hard}"
