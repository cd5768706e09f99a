"""The beat schedule, run in-process by the embedded scheduler and handed to Celery beat in the services mode."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.utils.module_loading import import_string

from quantarb import clock, scheduler
from quantarb.schedule import SCHEDULE, Job, celery_beat_schedule
from tests.trading.market import CALM, MarketTape
from tests.waiting import until_async
from trading.models import Heartbeat, QuoteTick


@pytest.mark.django_db
def test_every_scheduled_job_runs_in_process(alpha_pair: Any, frozen_clock: Any) -> None:
    tape = MarketTape(alpha_pair)
    tape.tick(clock.now() - timedelta(days=30), *CALM)
    tape.store.flush()

    for job in SCHEDULE:
        scheduler.run_job(job)

    assert Heartbeat.objects.get(component="scheduler").beat_at == frozen_clock.now()
    # The retention job ran: the month-old quote is gone (poll_feeds may have stored fresh ones).
    assert not QuoteTick.objects.filter(ts__lt=clock.now() - timedelta(days=1)).exists()
    assert Heartbeat.objects.filter(component="poll_feeds").exists()


@pytest.mark.django_db
def test_the_scheduler_heartbeat_turns_its_health_light_on(alice: Any, frozen_clock: Any) -> None:
    from quantarb.health import health_lights

    [heartbeat] = [job for job in SCHEDULE if job.task == "quantarb.tasks.scheduler_heartbeat"]
    scheduler.run_job(heartbeat)
    frozen_clock.advance(4)

    [light] = [x for x in health_lights(pairs=[], stale_after_s=5, channel_ms=1.0) if x.key == "scheduler"]

    assert (light.state, light.age_s) == ("ok", 4.0)


def test_celery_beat_gets_every_job_of_the_schedule() -> None:
    beat = celery_beat_schedule()

    # Every entry claims its slot first (quantarb/job_slots.py), then sends the job's own task.
    assert beat == {
        job.name: {"task": "quantarb.tasks.run_scheduled", "args": (job.name,), "schedule": job.every_s}
        for job in SCHEDULE
    }
    assert len(beat) == len(SCHEDULE)
    for job in SCHEDULE:
        # Each entry names a real task registered under that name: a typo would never run.
        assert import_string(job.task).name == job.task
        assert job.every_s > 0


def test_the_celery_app_installs_the_schedule() -> None:
    from quantarb.celery import app

    app.finalize()
    # What a worker does as it starts: import every app's tasks module (autodiscovery). Without it, which tasks the
    # app knows depends on what this test process happened to import before (the order tests ran in).
    app.loader.import_default_modules()

    assert app.conf.beat_schedule == celery_beat_schedule()
    assert {job.task for job in SCHEDULE} <= set(app.tasks)


def _heartbeat_seen() -> bool:
    """Whether the loop's heartbeat landed. SQLite's shared in-memory test database refuses a read while the
    loop's thread writes that table ("table is locked"): that is a "not yet", and the test asks again."""
    from django.db import OperationalError

    try:
        return Heartbeat.objects.filter(component="scheduler").exists()
    except OperationalError:
        return False


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("thread_connections_closed")
async def test_the_embedded_loop_runs_the_jobs_and_survives_a_failing_one(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = Job("broken", "quantarb.tasks.no_such_task", 5.0)
    monkeypatch.setattr(scheduler, "SCHEDULE", (broken, *SCHEDULE))
    running = asyncio.create_task(scheduler.run_schedule())
    try:
        await until_async(sync_to_async(_heartbeat_seen), 5, "the scheduler's heartbeat", every_s=0.1)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)

    # The broken job came first and was logged; the loop went on to the heartbeat.
    assert await sync_to_async(Heartbeat.objects.filter(component="scheduler").exists)()
