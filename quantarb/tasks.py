from celery import shared_task

from quantarb import clock


@shared_task(name="quantarb.tasks.scheduler_heartbeat", ignore_result=True, time_limit=30)
def scheduler_heartbeat() -> None:
    """Prove the scheduler and a worker ran a job: the health strip reads this heartbeat's age."""
    from trading.models import Heartbeat

    Heartbeat.objects.update_or_create(component="scheduler", defaults={"beat_at": clock.now(), "detail": {}})
