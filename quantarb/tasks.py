from celery import shared_task
from django.conf import settings
from django.utils.module_loading import import_string

from quantarb import clock, job_slots
from quantarb.long_jobs import long_job_run
from trading.models import Heartbeat


# A soft limit of its own: the global CELERY_TASK_SOFT_TIME_LIMIT (100 s) above this hard limit makes Celery
# refuse to send the task at all ("soft_time_limit must be less than or equal to time_limit").
@shared_task(name="quantarb.tasks.scheduler_heartbeat", ignore_result=True, time_limit=30, soft_time_limit=25)
def scheduler_heartbeat() -> None:
    """Prove the scheduler and a worker ran a job: the health strip reads this heartbeat's age."""
    Heartbeat.objects.update_or_create(component="scheduler", defaults={"beat_at": clock.now(), "detail": {}})


@shared_task(name="quantarb.tasks.run_scheduled", bind=True, ignore_result=True, time_limit=30, soft_time_limit=25)
def run_scheduled(self, job_name: str) -> bool:  # type: ignore[no-untyped-def]
    """Beat's one entry point: claim the job's slot, then send the job itself (with its own queue and limits).
    A copy from a second beat finds the slot claimed and sends nothing. True when this copy sent the job."""
    job = job_slots.job_named(job_name)
    claimer = str(self.request.id or f"eager-{job_name}")
    if not job_slots.slot_claim(job=job, slot=job_slots.message_slot(self.request, job), claimer=claimer):
        return False
    import_string(job.task).apply_async()
    return True


@shared_task(
    name="quantarb.tasks.run_long_job",
    ignore_result=True,
    # The long lane's own limits (quantarb/long_jobs.py); the global 120 s would kill an export or a backtest.
    time_limit=settings.QUANTARB_LONG_JOB_TIME_LIMIT_S,
    soft_time_limit=settings.QUANTARB_LONG_JOB_TIME_LIMIT_S - 60,
)
def run_long_job(job_id: int) -> None:
    """Run one long job (an export, a report) on the `long` queue, recording its progress."""
    long_job_run(job_id)
