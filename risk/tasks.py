from celery import shared_task


@shared_task(name="risk.tasks.record_risk", ignore_result=True, time_limit=120, soft_time_limit=100)
def record_risk() -> dict[str, int]:
    """Every desk's risk figures into the risk history; roll up and prune the old ones (risk/history.py)."""
    from .history import risk_record

    return risk_record()
