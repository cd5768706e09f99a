"""The embedded mode's beat: runs the schedule's tasks in-process, in worker threads, without a broker."""

from __future__ import annotations

import asyncio
import logging
import time

from asgiref.sync import sync_to_async
from django.utils.module_loading import import_string

from quantarb.schedule import SCHEDULE, Job

log = logging.getLogger(__name__)


def run_job(job: Job) -> None:
    task = import_string(job.task)
    task.apply(throw=True)  # eager: the same task body Celery workers run, in this thread


async def run_schedule() -> None:
    """Run every job at its interval until cancelled; a failing job is logged and retried next time."""
    due = dict.fromkeys((job.name for job in SCHEDULE), 0.0)
    while True:
        now = time.monotonic()
        for job in SCHEDULE:
            if now >= due[job.name]:
                due[job.name] = now + job.every_s
                try:
                    await sync_to_async(run_job, thread_sensitive=False)(job)
                except Exception:
                    log.exception("scheduled job %s failed", job.name)
        await asyncio.sleep(0.5)
