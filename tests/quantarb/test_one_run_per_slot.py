"""Two beats, one run per slot: two Celery beat schedulers, started a few seconds apart, tick
for five minutes of simulated time; every job runs once per slot of its interval, and never twice."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from celery.beat import Scheduler

from quantarb import job_slots
from quantarb import scheduler as embedded
from quantarb.celery import app
from quantarb.job_slots import SLOT_HEADER, job_named, message_slot, slot_claim, slot_of, stamp_slot
from quantarb.models import JobSlot
from quantarb.schedule import SCHEDULE

pytestmark = pytest.mark.django_db

# Slot boundaries of every job fall on whole minutes: 12:00:00 starts a slot of each.
START = datetime(2026, 11, 18, 12, 0, 0, tzinfo=UTC)
RUN_FOR_S = 300


@pytest.fixture
def job_runs(monkeypatch: pytest.MonkeyPatch, frozen_clock: Any) -> list[tuple[str, datetime]]:
    """The jobs run, as (task name, time); their bodies are not what this test is about."""
    runs: list[tuple[str, datetime]] = []
    app.loader.import_default_modules()
    app.finalize()

    def record(task: Any) -> Any:
        def apply_async(*args: Any, **kwargs: Any) -> None:
            runs.append((task.name, frozen_clock.now()))

        return apply_async

    for job in SCHEDULE:
        task = app.tasks[job.task]
        monkeypatch.setattr(task, "apply_async", record(task))
    monkeypatch.setattr(app, "now", frozen_clock.now)
    return runs


def beat() -> Scheduler:
    app.finalize()
    return Scheduler(app=app, lazy=False)


def run_due(scheduler: Scheduler) -> None:
    """What celery beat's own loop does before it sleeps: `tick()` sends one due entry and answers 0 while more are
    due, so it is called again until it names a wait (bounded: a schedule never has this many due at once)."""
    for _ in range(len(SCHEDULE) + 1):
        if scheduler.tick() != 0:
            return


def test_two_beats_run_every_job_once_per_slot(
    job_runs: list[tuple[str, datetime]], frozen_clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[tuple[str, datetime]] = []  # every dispatch either beat sent, with its slot
    real_claim = job_slots.slot_claim

    def claim(*, job: Any, slot: datetime, claimer: str) -> bool:
        sent.append((job.name, slot))
        return real_claim(job=job, slot=slot, claimer=claimer)

    monkeypatch.setattr(job_slots, "slot_claim", claim)
    frozen_clock.set(START)
    first = beat()
    frozen_clock.advance(2.5)
    second = beat()  # its own phase: it sends every job at other instants than the first
    for _ in range(RUN_FOR_S * 2):
        run_due(first)
        run_due(second)
        frozen_clock.advance(0.5)

    for job in SCHEDULE:
        runs = Counter(slot_of(job, at) for name, at in job_runs if name == job.task)
        sent_slots = Counter(slot for name, slot in sent if name == job.name)
        # Once per slot: every slot either beat sent runs, and none runs twice…
        assert set(runs) == set(sent_slots), job.name
        assert max(runs.values(), default=1) == 1, f"{job.name} ran twice in a slot: {runs.most_common(1)}"
        # …although both beats sent most of them.
        if job.every_s <= 60:
            assert sum(sent_slots.values()) > 1.5 * len(sent_slots), job.name
            assert len(runs) >= RUN_FOR_S / job.every_s - 1, job.name
    assert JobSlot.objects.filter(job="poll-feeds").count() == len([1 for name, _ in job_runs if "poll_feeds" in name])


def test_a_single_beat_still_runs_each_slot(job_runs: list[tuple[str, datetime]], frozen_clock: Any) -> None:
    frozen_clock.set(START)
    only = beat()
    for _ in range(120):
        run_due(only)
        frozen_clock.advance(0.5)
    # Beat sends first one interval after it starts, then about every 5 s.
    assert sum(1 for name, _ in job_runs if name == "quantarb.tasks.scheduler_heartbeat") >= 10


def test_the_slot_is_stamped_when_beat_sends_not_when_a_worker_runs(frozen_clock: Any) -> None:
    job = job_named("reconcile-pools")
    frozen_clock.set(START + timedelta(seconds=299))
    headers: dict[str, Any] = {}
    stamp_slot(sender="quantarb.tasks.run_scheduled", headers=headers, body=((job.name,), {}, {}))
    assert headers[SLOT_HEADER] == START.isoformat()

    frozen_clock.advance(5)  # the message waited in the queue into the next slot

    class Request:
        quantarb_slot = headers[SLOT_HEADER]

    assert message_slot(Request(), job) == START


def test_a_redelivered_message_may_run_its_slot_again_but_no_other_copy(frozen_clock: Any) -> None:
    job = job_named("position-snapshots")
    slot = slot_of(job, frozen_clock.now())
    assert slot_claim(job=job, slot=slot, claimer="message-a")
    assert slot_claim(job=job, slot=slot, claimer="message-a")  # its worker died: at least once
    assert not slot_claim(job=job, slot=slot, claimer="message-b")  # the second beat's copy


def test_two_embedded_schedulers_run_a_job_once_per_slot(
    job_runs: list[tuple[str, datetime]], frozen_clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = job_named("position-snapshots")
    ran: list[str] = []
    monkeypatch.setattr(app.tasks[job.task], "apply", lambda *a, **k: ran.append("run"))
    assert embedded.run_job(job)
    monkeypatch.setattr(embedded, "_CLAIMER", "embedded-other-process")
    assert not embedded.run_job(job)
    assert ran == ["run"]
