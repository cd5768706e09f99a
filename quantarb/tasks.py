from celery import shared_task

from quantarb import clock


# A soft limit of its own: the global CELERY_TASK_SOFT_TIME_LIMIT (100 s) above this hard limit makes Celery
# refuse to send the task at all ("soft_time_limit must be less than or equal to time_limit").
@shared_task(name="quantarb.tasks.scheduler_heartbeat", ignore_result=True, time_limit=30, soft_time_limit=25)
def scheduler_heartbeat() -> None:
    """Prove the scheduler and a worker ran a job: the health strip reads this heartbeat's age."""
    from trading.models import Heartbeat

    Heartbeat.objects.update_or_create(component="scheduler", defaults={"beat_at": clock.now(), "detail": {}})
