"""The embedded mode's beat: runs the schedule's tasks in-process, in worker threads, without a broker."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid

from asgiref.sync import sync_to_async
from django.utils.module_loading import import_string

from quantarb import clock
from quantarb.job_slots import slot_claim, slot_of
from quantarb.schedule import SCHEDULE, Job

log = logging.getLogger(__name__)


# This process's name for its claims (quantarb/job_slots.py): two platform processes share no claim.
_CLAIMER = f"embedded-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def run_job(job: Job) -> bool:
    """Run `job` for the current slot unless another scheduler already did; True when it ran here."""
    if not slot_claim(job=job, slot=slot_of(job, clock.now()), claimer=_CLAIMER):
        return False
    task = import_string(job.task)
    task.apply(throw=True)  # eager: the same task body Celery workers run, in this thread
    return True


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
