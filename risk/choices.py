from django.db import models
from django.utils.translation import gettext_lazy as _


class KillScope(models.TextChoices):
    GLOBAL = "global", _("Global (every tenant)")
    TENANT = "tenant", _("Tenant")
    STRATEGY = "strategy", _("Strategy")


class KillTrigger(models.TextChoices):
    MANUAL = "manual", _("Manual")
    LOSS_LIMIT = "loss_limit", _("Loss limit")
    DRAWDOWN_LIMIT = "drawdown_limit", _("Drawdown limit")
    LEGGING_TIMEOUT = "legging_timeout", _("Legging timeout")
    RECONCILIATION_MISMATCH = "reconciliation_mismatch", _("Reconciliation mismatch")
    VENUE_CHANGE = "venue_change", _("Position changed at the venue")


class ComplianceKind(models.TextChoices):
    TRADING_WINDOW = "trading_window", _("Trading window")
    MAX_ORDERS = "max_orders", _("Maximum orders per day per account")
    RESTRICTED = "restricted", _("Restricted instrument")
    PATTERN_DAY_TRADER = "pattern_day_trader", _("Pattern day trader")


class TransferStatus(models.TextChoices):
    REQUESTED = "requested", _("Awaiting approval")
    APPROVED = "approved", _("Approved, awaiting the venue")
    DONE = "done", _("Done")
    REJECTED = "rejected", _("Rejected")
    CANCELLED = "cancelled", _("Cancelled")


class LimitMetric(models.TextChoices):
    """The metrics a limit watches (risk/domain/limits.py `Metric`), each labelled with its unit."""

    UNHEDGED_OZ = "unhedged_oz", _("Unhedged exposure (oz)")
    UNHEDGED_USD = "unhedged_usd", _("Unhedged exposure (USD)")
    LIQUIDATION_DISTANCE_PCT = "liquidation_distance_pct", _("Liquidation distance (%)")
    MT5_MARGIN_LEVEL_PCT = "mt5_margin_level_pct", _("MT5 margin level (%)")
    MT5_LEVEL_ABOVE_STOP_OUT = "mt5_level_above_stop_out", _("MT5 margin level above stop-out (points of %)")
    DRAWDOWN_PCT = "drawdown_pct", _("Drawdown from peak (%)")
    DAILY_LOSS_USD = "daily_loss_usd", _("Daily loss (USD)")
    LOSS_STREAK = "loss_streak", _("Loss streak (trades)")
    USDT_EXPOSURE_USD = "usdt_exposure_usd", _("USDT/USD exposure (USD)")
    GROSS_NOTIONAL_USD = "gross_notional_usd", _("Gross notional (USD)")
    WEEKEND_GAP_LIQUIDATION_DISTANCE_PCT = (
        "weekend_gap_liquidation_distance_pct",
        _("Weekend gap: liquidation distance (%)"),
    )
    WEEKEND_GAP_MT5_MARGIN_LEVEL_PCT = "weekend_gap_mt5_margin_level_pct", _("Weekend gap: MT5 margin level (%)")
    USDT_RATE_AGE_S = "usdt_rate_age_s", _("USDT/USD rate age (s; missing counts as a day)")
    USDT_DEPEG_BPS = "usdt_depeg_bps", _("USDT away from 1 USD (bps)")


class LimitDirection(models.TextChoices):
    MAX = "max", _("At most (the metric must stay below)")
    MIN = "min", _("At least (the metric must stay above)")


class LimitAction(models.TextChoices):
    ALERT = "alert", _("Alert")
    BLOCK_ENTRIES = "block_entries", _("Block new entries (reduce-only)")
    PAUSE = "pause", _("Pause the strategy")
    FLATTEN = "flatten", _("Flatten")


class LimitScopeKind(models.TextChoices):
    DESK = "desk", _("Desk")
    POOL = "pool", _("Pool")
    STRATEGY = "strategy", _("Strategy")
    ACCOUNT = "account", _("Account")


class LimitLevelChoice(models.TextChoices):
    OK = "ok", _("OK")
    WARNING = "warning", _("Warning")
    BREACH = "breach", _("Breach")


class ActionStatus(models.TextChoices):
    """What became of a breach's action: none needed (an alert), done, waiting for a person's confirmation, or
    confirmed and being carried out (a flatten the strategy's runner performs at its next step)."""

    NONE = "none", _("Alert only")
    PENDING = "pending", _("Awaiting confirmation")
    CONFIRMED = "confirmed", _("Confirmed, being carried out")
    DONE = "done", _("Done")
    LIFTED = "lifted", _("Lifted (the breach ended)")
    UNAVAILABLE = "unavailable", _("Not possible here")
