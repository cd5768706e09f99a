"""The long lane: exports, reports and (next) backtests run apart from the short jobs.

Services mode: `quantarb.tasks.run_long_job` is routed to the `long` queue, which only the `worker-long` process
(compose.yaml) consumes, with its own time limits (`QUANTARB_LONG_JOB_TIME_LIMIT_S`) instead of the global 120 s.
Embedded mode (tasks run eagerly): a long job runs in a small thread pool of the platform process, never inside
the request that asked for it. Either way the job writes its progress to its `LongJob` row, which its page polls.

A job is a function `run(job, progress) -> str` (the result file's path) named in `LONG_JOB_KINDS`; it calls
`progress(done, total, message)` as it goes. Running a job again (a redelivery after a crash) starts it over.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils.module_loading import import_string

from quantarb import clock
from quantarb.models import LongJob, LongJobStatus

log = logging.getLogger(__name__)

LONG_QUEUE = "long"
# The Celery task that runs a job in services mode, sent by name: it is the composition root's (quantarb/tasks.py),
# which this module, below it, does not import.
RUN_TASK = "quantarb.tasks.run_long_job"
# kind → dotted path of its function; the function's own module owns the work and its permissions.
LONG_JOB_KINDS: dict[str, str] = {
    "audit_export": "accounts.exports.audit_export",
}
# Progress is written at most this often (one row update per step would slow a big export).
PROGRESS_EVERY_S = 0.5

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
# Embedded jobs still running, by id: `embedded_wait` lets a caller (a test, a shutdown) wait for one to end.
_running: dict[int, Future[None]] = {}

Progress = Callable[[int, int, str], None]


def _embedded_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=int(settings.QUANTARB_LONG_JOB_THREADS), thread_name_prefix="quantarb-long-job"
            )
        return _pool


@transaction.atomic
def long_job_submit(*, kind: str, tenant: Any, requested_by: Any, params: dict[str, Any] | None = None) -> Any:
    """Record a long job and start it after the transaction commits (in the long lane, never in this request)."""
    if kind not in LONG_JOB_KINDS:
        raise ValueError(f"unknown long job kind {kind!r}")
    job = LongJob.objects.create(
        kind=kind, tenant=tenant, requested_by=requested_by, params=params or {}, created_at=clock.now()
    )
    job_id = job.pk
    transaction.on_commit(lambda: _dispatch(job_id))
    return job


def _dispatch(job_id: int) -> None:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        future = _embedded_pool().submit(_run_in_thread, job_id)
        _running[job_id] = future
        future.add_done_callback(lambda _: _running.pop(job_id, None))
        return
    current_app.send_task(RUN_TASK, args=[job_id], queue=LONG_QUEUE)


def embedded_wait(job_id: int, timeout_s: float) -> None:
    """Block until the embedded job `job_id` has ended (at once when it is not running in this process)."""
    future = _running.get(job_id)
    if future is not None:
        wait([future], timeout=timeout_s)


def _run_in_thread(job_id: int) -> None:
    close_old_connections()
    try:
        long_job_run(job_id)
    except Exception:
        log.exception("long job %s failed", job_id)
    finally:
        close_old_connections()


def long_job_run(job_id: int) -> None:
    """Run one long job to the end, recording progress, its result file or its error. Safe to call again."""
    job = LongJob.objects.get(pk=job_id)
    if job.status in (LongJobStatus.DONE, LongJobStatus.FAILED):
        return
    LongJob.objects.filter(pk=job_id).update(
        status=LongJobStatus.RUNNING, started_at=clock.now(), done=0, total=0, error=""
    )
    last_write = [float("-inf")]

    def progress(done: int, total: int, message: str = "") -> None:
        now = clock.monotonic()
        if now - last_write[0] < PROGRESS_EVERY_S and done < total:
            return
        last_write[0] = now
        LongJob.objects.filter(pk=job_id).update(done=done, total=total, message=message[:200])

    run = import_string(LONG_JOB_KINDS[job.kind])
    try:
        result_path = run(job, progress)
    except Exception as error:
        LongJob.objects.filter(pk=job_id).update(
            status=LongJobStatus.FAILED, error=f"{type(error).__name__}: {error}"[:2000], finished_at=clock.now()
        )
        raise
    LongJob.objects.filter(pk=job_id).update(
        status=LongJobStatus.DONE, result_path=str(result_path), finished_at=clock.now()
    )
