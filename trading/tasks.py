from celery import shared_task
from django.conf import settings

from accounts.models import Tenant
from alerts.rules import evaluate_types
from strategies import housekeeping as strategy_housekeeping
from trading import account_sync
from trading.execution.fills import sync_live_fills
from trading.marketdata import store
from trading.portfolio import housekeeping
from trading.portfolio.cashflows import import_venue_cash_flows
from trading.portfolio.equity import equity_check_accounts, equity_record


@shared_task(name="trading.tasks.prune_market_data", ignore_result=True, time_limit=600)
def prune_market_data() -> dict[str, int]:
    """Apply the retention policy to raw quotes, samples and candles."""
    return store.prune_market_data(
        quotes_days=settings.QUANTARB_RETAIN_QUOTES_DAYS, candles_days=settings.QUANTARB_RETAIN_CANDLES_DAYS
    )


@shared_task(name="trading.tasks.poll_feeds", ignore_result=True, time_limit=30, soft_time_limit=25)
def poll_feeds() -> dict[str, object]:
    """Check stream freshness; poll the venues where no engine streams (trading/marketdata/polling.py)."""
    # it imports the market pipeline and so ccxt (~0.6 s, 35 MB): loaded by the first run, not at every worker's start
    from trading.marketdata.polling import poll_feeds as poll

    return poll()


@shared_task(name="trading.tasks.reconcile_pools", ignore_result=True, time_limit=600, soft_time_limit=540)
def reconcile_pools() -> dict[str, int]:
    """Reconcile every trading pool with its venues (trading/portfolio/housekeeping.py)."""
    return strategy_housekeeping.reconcile_pools()


@shared_task(name="trading.tasks.snapshot_positions", ignore_result=True, time_limit=120)
def snapshot_positions() -> int:
    """Record each pool account's position, ours and the venue's, for history."""
    return housekeeping.snapshot_positions()


@shared_task(name="trading.tasks.book_carry", ignore_result=True, time_limit=300)
def book_carry() -> dict[str, int]:
    """Book funding and swap onto open hedges (model for paper, the venue's records for live)."""
    return housekeeping.book_carry()


@shared_task(name="trading.tasks.sync_fills", ignore_result=True, time_limit=120, soft_time_limit=100)
def sync_fills() -> dict[str, int]:
    """Ask the venues for the fills of live orders that miss some (trading/execution/fills.py)."""
    return sync_live_fills()


@shared_task(name="trading.tasks.record_carry_inputs", ignore_result=True, time_limit=300, soft_time_limit=270)
def record_carry_inputs() -> dict[str, int]:
    """Record every funding time's rate and every day's swap terms per venue source
    (trading/marketdata/carry_inputs.py).
    """
    # it imports the market pipeline and so ccxt (~0.6 s, 35 MB): loaded by the first run, not at every worker's start
    from trading.marketdata.carry_inputs import record_carry_inputs as record

    return record()


@shared_task(name="trading.tasks.sync_accounts", ignore_result=True, time_limit=120, soft_time_limit=100)
def sync_accounts() -> dict[str, int]:
    """Every minute: balance, equity and margin snapshots of the venue accounts (trading/account_sync.py)."""
    counts = account_sync.sync_accounts()
    # New snapshots: the margin rules look at them now rather than at the next beat of the alert rules.
    for tenant in Tenant.objects.filter(venue_accounts__isnull=False).distinct():
        evaluate_types(tenant=tenant, rule_types=account_sync.ACCOUNT_RULES)
    return counts


@shared_task(name="trading.tasks.record_equity", ignore_result=True, time_limit=300, soft_time_limit=270)
def record_equity() -> dict[str, int]:
    """Book approved cash flows that came due; write every scope's equity points (trading/portfolio/equity.py)."""
    return equity_record()


@shared_task(name="trading.tasks.check_equity", ignore_result=True, time_limit=600, soft_time_limit=540)
def check_equity() -> dict[str, int]:
    """Compare each live account's equity series with the equity its venue reports; alert beyond the tolerance."""
    return equity_check_accounts()


@shared_task(name="trading.tasks.import_cash_flows", ignore_result=True, time_limit=300, soft_time_limit=270)
def import_cash_flows() -> dict[str, int]:
    """Book the deposits and withdrawals the live venues report (Binance transfers, MT5 balance deals)."""
    return import_venue_cash_flows()
