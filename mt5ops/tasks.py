from celery import shared_task


@shared_task(name="mt5ops.tasks.check_terminals", ignore_result=True, time_limit=120, soft_time_limit=100)
def check_terminals() -> dict[str, int]:
    """Every 30 s: record each MT5 terminal's health through the gateway (mt5ops/health.py)."""
    from .health import check_terminals as check

    return check()
