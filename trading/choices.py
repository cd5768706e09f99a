from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ServerTime(models.TextChoices):
    NY_CLOSE = "ny_close", _("New York close (New York + 7 h)")
    FIXED = "fixed", _("Fixed offset")
    UTC = "utc", _("UTC")


class Direction(models.TextChoices):
    SELL_PERP = "sell_perp", _("Sell perp / buy CFD")
    BUY_PERP = "buy_perp", _("Buy perp / sell CFD")


class RateSource(models.TextChoices):
    SIMULATED = "simulated", _("Simulated USDT/USD")
    FIXED = "fixed", _("Fixed (assumption)")
    BINANCE_USDC = "binance-usdcusdt", _("Binance USDC/USDT book (1 USDC taken as 1 USD)")


class CandleInterval(models.TextChoices):
    M1 = "1m", _("1 minute")
    M5 = "5m", _("5 minutes")
    H1 = "1h", _("1 hour")


CANDLE_SECONDS = {CandleInterval.M1: 60, CandleInterval.M5: 300, CandleInterval.H1: 3600}


class Leg(models.TextChoices):
    PERP = "perp", _("Perpetual leg")
    CFD = "cfd", _("CFD leg")


class OrderSide(models.TextChoices):
    BUY = "buy", _("Buy")
    SELL = "sell", _("Sell")


class OrderKind(models.TextChoices):
    LIMIT_IOC = "limit_ioc", _("Limit IOC")
    MARKET = "market", _("Market")


class OrderIntent(models.TextChoices):
    OPEN = "open", pgettext_lazy("order intent", "Open")
    CLOSE = "close", pgettext_lazy("order intent", "Close")
    REPAIR = "repair", _("Repair")


class OrderStatus(models.TextChoices):
    """The order state machine (trading/domain/orders.py has the same values and the transitions)."""

    NEW = "new", _("New")
    SUBMITTING = "submitting", _("Submitting")
    ACCEPTED = "accepted", _("Accepted")
    PARTIALLY_FILLED = "partially_filled", _("Partially filled")
    FILLED = "filled", _("Filled")
    CANCELLED = "cancelled", _("Cancelled")
    REJECTED = "rejected", _("Rejected")
    EXPIRED = "expired", _("Expired")
    UNKNOWN = "unknown", _("Unknown (being looked up)")


OPEN_ORDER_STATUSES = (
    OrderStatus.NEW,
    OrderStatus.SUBMITTING,
    OrderStatus.ACCEPTED,
    OrderStatus.PARTIALLY_FILLED,
    OrderStatus.UNKNOWN,
)


class HedgeStatus(models.TextChoices):
    """The hedge state machine (trading/domain/hedges.py has the same values and the transitions)."""

    PLANNED = "planned", _("Planned")
    OPENING = "opening", _("Opening")
    OPEN = "open", pgettext_lazy("hedge status", "Open")
    CLOSING = "closing", _("Closing")
    CLOSED = "closed", _("Closed")
    LEGGED = "legged", _("Legged")
    REPAIRING = "repairing", _("Repairing")
    FAILED = "failed", _("Failed")
    NEEDS_RECONCILE = "needs_reconcile", _("Needs reconciliation")


LIVE_HEDGE_STATUSES = (
    HedgeStatus.PLANNED,
    HedgeStatus.OPENING,
    HedgeStatus.OPEN,
    HedgeStatus.CLOSING,
    HedgeStatus.LEGGED,
    HedgeStatus.REPAIRING,
    HedgeStatus.NEEDS_RECONCILE,
)


class FillSource(models.TextChoices):
    ANSWER = "answer", _("Order answer")
    STREAM = "stream", _("Venue stream")
    POLL = "poll", _("Venue poll")
    LOOKUP = "lookup", _("Lookup by client id")
    PAPER = "paper", _("Paper venue")
    RECONCILIATION = "reconciliation", _("Reconciliation sync")


class CarryKind(models.TextChoices):
    FUNDING = "funding", _("Funding")
    SWAP = "swap", _("Swap")


class ReconciliationStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    MATCHED = "matched", _("Matched")
    MISMATCH = "mismatch", _("Mismatch")
    FAILED = "failed", _("Failed")
    SYNCED = "synced", _("Synced")


class ReconciliationTrigger(models.TextChoices):
    START = "start", _("Runner start")
    SCHEDULE = "schedule", _("Schedule")
    MANUAL = "manual", _("Manual")


class ManualKind(models.TextChoices):
    OPEN_HEDGE = "open_hedge", _("Open a hedge")
    CLOSE_HEDGE = "close_hedge", _("Close a hedge")
    FLATTEN_POOL = "flatten_pool", _("Flatten the pool")
    REPAIR_COMPLETE = "repair_complete", _("Repair: complete the missing leg")
    REPAIR_UNWIND = "repair_unwind", _("Repair: unwind the done leg")
    CANCEL_ORDERS = "cancel_orders", _("Cancel open orders")


class CommandStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class VenueEventKind(models.TextChoices):
    LIQUIDATION = "liquidation", _("Liquidation")
    ADL = "adl", _("Auto-deleverage")
    MANUAL_TRADE = "manual_trade", _("Trade outside quantarb")
    STOP_OUT = "stop_out", _("Stop-out")
