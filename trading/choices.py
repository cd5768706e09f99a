"""Django choices of trading's models. Where the domain has the enum (trading/domain/), it is the source of the values:
a choice here adds only its label (tests/trading/test_choices.py checks that every member has one)."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from trading.domain import calendar, clientids, hedges, orders, pnl, spread


class ServerTime(models.TextChoices):
    NY_CLOSE = calendar.ServerTimeRule.NY_CLOSE.value, _("New York close (New York + 7 h)")
    FIXED = calendar.ServerTimeRule.FIXED.value, _("Fixed offset")
    UTC = calendar.ServerTimeRule.UTC.value, _("UTC")


class Direction(models.TextChoices):
    SELL_PERP = spread.Direction.SELL_PERP.value, _("Sell perp / buy CFD")
    BUY_PERP = spread.Direction.BUY_PERP.value, _("Buy perp / sell CFD")


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
    PERP = orders.Leg.PERP.value, _("Perpetual leg")
    CFD = orders.Leg.CFD.value, _("CFD leg")


class OrderSide(models.TextChoices):
    BUY = orders.Side.BUY.value, _("Buy")
    SELL = orders.Side.SELL.value, _("Sell")


class OrderKind(models.TextChoices):
    LIMIT_IOC = "limit_ioc", _("Limit IOC")
    MARKET = "market", _("Market")


class OrderIntent(models.TextChoices):
    OPEN = clientids.Intent.OPEN.value, pgettext_lazy("order intent", "Open")
    CLOSE = clientids.Intent.CLOSE.value, pgettext_lazy("order intent", "Close")
    REPAIR = clientids.Intent.REPAIR.value, _("Repair")


class OrderStatus(models.TextChoices):
    """The order state machine: values and transitions in trading/domain/orders.py."""

    NEW = orders.OrderStatus.NEW.value, _("New")
    SUBMITTING = orders.OrderStatus.SUBMITTING.value, _("Submitting")
    ACCEPTED = orders.OrderStatus.ACCEPTED.value, _("Accepted")
    PARTIALLY_FILLED = orders.OrderStatus.PARTIALLY_FILLED.value, _("Partially filled")
    FILLED = orders.OrderStatus.FILLED.value, _("Filled")
    CANCELLED = orders.OrderStatus.CANCELLED.value, _("Cancelled")
    REJECTED = orders.OrderStatus.REJECTED.value, _("Rejected")
    EXPIRED = orders.OrderStatus.EXPIRED.value, _("Expired")
    UNKNOWN = orders.OrderStatus.UNKNOWN.value, _("Unknown (being looked up)")


OPEN_ORDER_STATUSES = (
    OrderStatus.NEW,
    OrderStatus.SUBMITTING,
    OrderStatus.ACCEPTED,
    OrderStatus.PARTIALLY_FILLED,
    OrderStatus.UNKNOWN,
)


class HedgeStatus(models.TextChoices):
    """The hedge state machine: values and transitions in trading/domain/hedges.py."""

    PLANNED = hedges.HedgeStatus.PLANNED.value, _("Planned")
    OPENING = hedges.HedgeStatus.OPENING.value, _("Opening")
    OPEN = hedges.HedgeStatus.OPEN.value, pgettext_lazy("hedge status", "Open")
    CLOSING = hedges.HedgeStatus.CLOSING.value, _("Closing")
    CLOSED = hedges.HedgeStatus.CLOSED.value, _("Closed")
    LEGGED = hedges.HedgeStatus.LEGGED.value, _("Legged")
    REPAIRING = hedges.HedgeStatus.REPAIRING.value, _("Repairing")
    FAILED = hedges.HedgeStatus.FAILED.value, _("Failed")
    NEEDS_RECONCILE = hedges.HedgeStatus.NEEDS_RECONCILE.value, _("Needs reconciliation")


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
    FUNDING = pnl.CarryKind.FUNDING.value, _("Funding")
    SWAP = pnl.CarryKind.SWAP.value, _("Swap")


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
