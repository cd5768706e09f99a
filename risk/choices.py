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
