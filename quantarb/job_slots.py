"""One run per slot: however many `celery beat` processes (or embedded schedulers) run, each
scheduled job runs once per slot of its interval.

A slot is the interval the job's send time falls in, counted from the epoch: a job every 300 s has the slots
00:00–00:05, 00:05–00:10, … Each beat sends every job at least once per slot (it sends every `every_s`), so
each slot is claimed at least once; the claim is a row with a unique (job, slot), taken before the job runs,
so a second beat's copy finds it taken and does nothing. Beat stamps the slot on the message when it sends it
(`before_task_publish`), so a message that waited in the queue still counts for the slot it was sent in.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction

from quantarb import clock
from quantarb.models import JobSlot
from quantarb.schedule import SCHEDULE, Job

log = logging.getLogger(__name__)

SLOT_HEADER = "quantarb_slot"
DISPATCH_TASK = "quantarb.tasks.run_scheduled"
# Claims older than this are history nobody reads: each claim prunes its job's older ones.
KEEP_CLAIMS = timedelta(days=1)


def job_named(name: str) -> Job:
    for job in SCHEDULE:
        if job.name == name:
            return job
    raise KeyError(name)


def slot_of(job: Job, at: datetime) -> datetime:
    """The start of the slot of `job` that `at` falls in."""
    seconds = at.timestamp()
    return datetime.fromtimestamp(seconds - seconds % job.every_s, tz=UTC)


def slot_claim(*, job: Job, slot: datetime, claimer: str) -> bool:
    """Take the (job, slot) run for `claimer`; True when it is theirs to run (now, or again after a crash of the
    same message), False when another copy has it."""
    try:
        with transaction.atomic():
            JobSlot.objects.create(job=job.name, slot=slot, claimed_at=clock.now(), claimed_by=claimer)
    except IntegrityError:
        return JobSlot.objects.filter(job=job.name, slot=slot, claimed_by=claimer).exists()
    JobSlot.objects.filter(job=job.name, slot__lt=slot - KEEP_CLAIMS).delete()
    return True


def stamp_slot(sender: Any = None, headers: dict[str, Any] | None = None, body: Any = None, **_: Any) -> None:
    """`before_task_publish` receiver (connected in quantarb/celery.py): beat's dispatch messages carry their
    slot, computed when they are sent."""
    if sender != DISPATCH_TASK or headers is None or body is None:
        return
    args = body[0] if isinstance(body, (list, tuple)) and body else ()
    if not args:
        return
    try:
        job = job_named(str(args[0]))
    except KeyError:
        return
    headers.setdefault(SLOT_HEADER, slot_of(job, clock.now()).isoformat())


def message_slot(request: Any, job: Job) -> datetime:
    """The slot a dispatch message was stamped with, else (sent without beat, run eagerly) the current one."""
    stamped = getattr(request, SLOT_HEADER, None) or (getattr(request, "headers", None) or {}).get(SLOT_HEADER)
    if isinstance(stamped, str):
        try:
            return datetime.fromisoformat(stamped)
        except ValueError:
            log.warning("ignoring a malformed slot header %r", stamped[:40])
    return slot_of(job, clock.now())
