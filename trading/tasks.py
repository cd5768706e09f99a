from celery import shared_task
from django.conf import settings


@shared_task(name="trading.tasks.prune_market_data", ignore_result=True, time_limit=600)
def prune_market_data() -> dict[str, int]:
    """Apply the retention policy to raw quotes, samples and candles."""
    from .store import prune_market_data as prune

    return prune(quotes_days=settings.QUANTARB_RETAIN_QUOTES_DAYS, candles_days=settings.QUANTARB_RETAIN_CANDLES_DAYS)


@shared_task(name="trading.tasks.poll_feeds", ignore_result=True, time_limit=30, soft_time_limit=25)
def poll_feeds() -> dict[str, object]:
    """Check stream freshness; poll the venues where no engine streams (trading/polling.py)."""
    from .polling import poll_feeds as poll

    return poll()
