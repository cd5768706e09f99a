from celery import shared_task

from . import health


@shared_task(name="mt5ops.tasks.check_terminals", ignore_result=True, time_limit=60, soft_time_limit=50)
def check_terminals() -> dict[str, int]:
    """Every 5 s: check each MT5 terminal's readiness to trade, take due recovery steps (mt5ops/health.py)."""
    return health.check_terminals()
