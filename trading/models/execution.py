"""Execution records: hedges, their orders and fills, carry bookings, funding payments and position snapshots."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.scoping import PoolOwnedQuerySet, TenantQuerySet
from trading.choices import (
    CarryKind,
    Direction,
    FillSource,
    HedgeStatus,
    Leg,
    OrderIntent,
    OrderKind,
    OrderSide,
    OrderStatus,
)
from trading.domain import pnl
from trading.models.columns import LOTS, OUNCES, PRICE, RATE, USD_PER_USDT
from trading.models.market import USD

# The booked PnL split, one field per line of the one money model (trading/domain/pnl.py): `pnl_<line>`.
PNL_FIELDS = tuple(f"pnl_{line}" for line in pnl.LINES)


class Hedge(models.Model):
    """Two legs on one pool that together hold no gold: a perp position and the opposite CFD position.

    `perp_oz` / `cfd_oz` are the signed ounces actually filled (from fills), so `perp_oz + cfd_oz` is the
    unhedged exposure at any moment; the PnL split is filled in as fills, funding and swap are booked.
    """

    # No single-column indexes on tenant and pool: (tenant, status) and (pool, status) below lead with them, and
    # every index is written on the way to the wire (bench/order_legs.py).
    tenant = models.ForeignKey(
        "accounts.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False, verbose_name=_("tenant")
    )
    pool = models.ForeignKey(
        "accounts.AccountPool",
        on_delete=models.PROTECT,
        related_name="hedges",
        db_index=False,
        verbose_name=_("account pool"),
    )
    strategy = models.ForeignKey(
        "strategies.Strategy",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="hedges",
        verbose_name=_("strategy"),
    )
    strategy_version = models.ForeignKey(
        "strategies.StrategyVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="hedges",
        verbose_name=_("strategy version"),
    )
    direction = models.CharField(_("direction"), max_length=12, choices=Direction.choices)
    status = models.CharField(_("status"), max_length=16, choices=HedgeStatus.choices, default=HedgeStatus.PLANNED)
    paper = models.BooleanField(_("paper"), default=True)
    manual = models.BooleanField(_("opened by hand"), default=False)
    size_oz = models.DecimalField(_("size (oz)"), **OUNCES)
    perp_oz = models.DecimalField(_("perp position (oz)"), default=Decimal(0), **OUNCES)
    cfd_oz = models.DecimalField(_("CFD position (oz)"), default=Decimal(0), **OUNCES)
    entry_net_edge = models.DecimalField(_("net edge at entry (USD/oz)"), null=True, blank=True, **PRICE)
    entry_usd_per_usdt = models.DecimalField(_("USDT/USD at entry"), null=True, blank=True, **USD_PER_USDT)
    exit_usd_per_usdt = models.DecimalField(_("USDT/USD at exit"), null=True, blank=True, **USD_PER_USDT)
    open_reason = models.JSONField(_("open reason"), default=dict, blank=True)
    close_reason = models.JSONField(_("close reason"), default=dict, blank=True)
    status_reason = models.CharField(_("status reason"), max_length=300, blank=True)
    planned_at = models.DateTimeField(_("planned"))
    opened_at = models.DateTimeField(_("opened"), null=True, blank=True)
    closing_at = models.DateTimeField(_("closing since"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    legged_at = models.DateTimeField(_("legged since"), null=True, blank=True)
    pnl_spread = models.DecimalField(_("spread capture (USD)"), default=Decimal(0), **USD)
    pnl_fees = models.DecimalField(_("fees (USD)"), default=Decimal(0), **USD)
    pnl_funding = models.DecimalField(_("funding (USD)"), default=Decimal(0), **USD)
    pnl_swap = models.DecimalField(_("swap (USD)"), default=Decimal(0), **USD)
    pnl_fx = models.DecimalField(_("USDT/USD (USD)"), default=Decimal(0), **USD)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = PoolOwnedQuerySet.as_manager()

    class Meta:
        verbose_name = _("hedge")
        verbose_name_plural = _("hedges")
        ordering = ["-planned_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "status"], name="hedge_tenant_status"),
            models.Index(fields=["pool", "status"], name="hedge_pool_status"),
        ]

    def __str__(self) -> str:
        return f"H{self.pk} {self.direction} {self.size_oz} oz"

    @property
    def unhedged_oz(self) -> Decimal:
        return self.perp_oz + self.cfd_oz

    @property
    def booked_pnl(self) -> pnl.PnlSplit:
        """The split booked when the hedge's legs went flat (8 dp; zero while it has never been flat)."""
        return pnl.PnlSplit(*(getattr(self, name) for name in PNL_FIELDS))

    @property
    def pnl_total(self) -> Decimal:
        return self.booked_pnl.total


class Order(models.Model):
    """One order on one venue, persisted (status `new`) before anything is sent.

    `client_order_id` is deterministic per (tenant, hedge, leg, intent, attempt) and is what the venue knows
    the order by (Binance `newClientOrderId`, MT5 `comment`); an ambiguous answer leaves the order `unknown`
    until it is looked up by that id. `epoch` is the strategy lease epoch the order was written under.
    """

    # No single-column indexes on tenant and account: (tenant, status), (tenant, created) and the unique (account,
    # client id) lead with them, and every index is written on the way to the wire (bench/order_legs.py).
    tenant = models.ForeignKey(
        "accounts.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False, verbose_name=_("tenant")
    )
    hedge = models.ForeignKey(
        Hedge, on_delete=models.PROTECT, null=True, blank=True, related_name="orders", verbose_name=_("hedge")
    )
    account = models.ForeignKey(
        "accounts.VenueAccount",
        on_delete=models.PROTECT,
        related_name="orders",
        db_index=False,
        verbose_name=_("account"),
    )
    strategy = models.ForeignKey(
        "strategies.Strategy",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
        verbose_name=_("strategy"),
    )
    epoch = models.PositiveBigIntegerField(_("lease epoch"), null=True, blank=True)
    leg = models.CharField(_("leg"), max_length=4, choices=Leg.choices)
    intent = models.CharField(_("intent"), max_length=8, choices=OrderIntent.choices)
    attempt = models.PositiveIntegerField(_("attempt"), default=1)
    client_order_id = models.CharField(_("client order id"), max_length=36)
    venue_order_id = models.CharField(_("venue order id"), max_length=64, blank=True)
    side = models.CharField(_("side"), max_length=4, choices=OrderSide.choices)
    kind = models.CharField(_("type"), max_length=10, choices=OrderKind.choices)
    quantity = models.DecimalField(_("quantity (oz)"), **OUNCES)
    lots = models.DecimalField(_("lots"), null=True, blank=True, **LOTS)
    limit_price = models.DecimalField(_("limit price"), null=True, blank=True, **PRICE)
    deviation = models.PositiveIntegerField(_("deviation (points)"), null=True, blank=True)
    reducing = models.BooleanField(_("reduces exposure"), default=False)
    status = models.CharField(_("status"), max_length=18, choices=OrderStatus.choices, default=OrderStatus.NEW)
    filled = models.DecimalField(_("filled (oz)"), default=Decimal(0), **OUNCES)
    avg_price = models.DecimalField(_("average price"), null=True, blank=True, **PRICE)
    # The venue's own cumulative figures (order answers, lookups); `filled` is the larger of these and the fills.
    venue_filled = models.DecimalField(_("filled at the venue (oz)"), default=Decimal(0), **OUNCES)
    venue_avg_price = models.DecimalField(_("venue average price"), null=True, blank=True, **PRICE)
    fee = models.DecimalField(_("fees"), default=Decimal(0), **RATE)
    fee_currency = models.CharField(_("fee currency"), max_length=8, blank=True)
    paper = models.BooleanField(_("paper"), default=True)
    quote_ts = models.DateTimeField(_("priced from quote at"), null=True, blank=True)
    usd_per_usdt = models.DecimalField(_("USDT/USD when priced"), null=True, blank=True, **USD_PER_USDT)
    error = models.CharField(_("error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created"))
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "client_order_id"], name="order_unique_client_id"),
            models.CheckConstraint(condition=models.Q(filled__lte=models.F("quantity")), name="order_filled_le_qty"),
        ]
        indexes = [
            models.Index(fields=["tenant", "status"], name="order_tenant_status"),
            models.Index(fields=["tenant", "-created_at"], name="order_tenant_created"),
        ]

    def __str__(self) -> str:
        return self.client_order_id

    @property
    def signed_filled(self) -> Decimal:
        return self.filled if self.side == OrderSide.BUY else -self.filled


class Fill(models.Model):
    """One execution of an order, however it was learned (answer, stream, poll, lookup, paper). `fill_id` is the
    venue's own id (a Binance trade id, an MT5 deal ticket): recorded once per account, so the same fill heard from
    two sources (the order answer and the user-data stream, a poll) changes nothing the second time.

    `fee` is booked in the leg's currency (perp USDT, CFD USD; negative: a rebate). When the venue charged another
    asset (BNB; USDT on a USD leg), `venue_fee`/`venue_fee_asset` are what it charged and `fee_rate` (booked currency
    per unit of that asset), `fee_rate_source` and `fee_rate_at` say how it was converted. `realized_pnl` and `swap`
    are the venue's own figures for the fill (Binance `realizedPnl`; an MT5 deal's `profit` and `swap`, in the
    account currency), kept for reconciliation."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant"))
    account = models.ForeignKey(
        "accounts.VenueAccount", on_delete=models.PROTECT, related_name="fills", verbose_name=_("account")
    )
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="fills", verbose_name=_("order"))
    fill_id = models.CharField(_("fill id"), max_length=64)
    quantity = models.DecimalField(_("quantity (oz)"), **OUNCES)
    price = models.DecimalField(_("price"), **PRICE)
    fee = models.DecimalField(_("fee"), default=Decimal(0), **RATE)
    fee_currency = models.CharField(_("fee currency"), max_length=8, blank=True)
    maker = models.BooleanField(_("maker"), null=True, blank=True)
    venue_fee = models.DecimalField(_("fee as charged"), null=True, blank=True, **RATE)
    venue_fee_asset = models.CharField(_("fee asset as charged"), max_length=12, blank=True)
    fee_rate = models.DecimalField(_("fee conversion rate"), null=True, blank=True, **PRICE)
    fee_rate_source = models.CharField(_("fee rate source"), max_length=80, blank=True)
    fee_rate_at = models.DateTimeField(_("fee rate time"), null=True, blank=True)
    realized_pnl = models.DecimalField(_("realised PnL at the venue"), null=True, blank=True, **PRICE)
    swap = models.DecimalField(_("swap at the venue"), null=True, blank=True, **PRICE)
    source = models.CharField(_("source"), max_length=16, choices=FillSource.choices)
    paper = models.BooleanField(_("paper"), default=True)
    at = models.DateTimeField(_("time"))

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("fill")
        verbose_name_plural = _("fills")
        ordering = ["-at", "-id"]
        constraints = [models.UniqueConstraint(fields=["account", "fill_id"], name="fill_unique_venue_id")]
        indexes = [models.Index(fields=["tenant", "-at"], name="fill_tenant_time")]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.fill_id}"


class CarryEntry(models.Model):
    """Funding (perp) or swap (CFD) booked to a hedge: from the venue's own records for live accounts (Binance
    FUNDING_FEE income, MT5 position/deal swap), from the model for paper hedges."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant"))
    account = models.ForeignKey(
        "accounts.VenueAccount", on_delete=models.PROTECT, related_name="carry", verbose_name=_("account")
    )
    hedge = models.ForeignKey(
        Hedge, on_delete=models.PROTECT, null=True, blank=True, related_name="carry", verbose_name=_("hedge")
    )
    kind = models.CharField(_("kind"), max_length=8, choices=CarryKind.choices)
    amount = models.DecimalField(_("amount"), **RATE)
    currency = models.CharField(_("currency"), max_length=8)
    amount_usd = models.DecimalField(_("amount (USD)"), **USD)
    # The USDT/USD rate of the booking's moment: a USDT amount is worth `amount · usd_per_usdt` then, and its move
    # to the hedge's valuation rate is the split's USDT/USD line (trading/domain/pnl.py).
    usd_per_usdt = models.DecimalField(_("USDT/USD when booked"), null=True, blank=True, **USD_PER_USDT)
    venue_ref = models.CharField(_("venue reference"), max_length=80)
    paper = models.BooleanField(_("paper"), default=True)
    at = models.DateTimeField(_("time"))

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("carry entry")
        verbose_name_plural = _("carry entries")
        ordering = ["-at", "-id"]
        constraints = [models.UniqueConstraint(fields=["account", "kind", "venue_ref"], name="carry_unique_ref")]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency}"


class PositionSnapshot(models.Model):
    """The net position of one account (and of its pool's hedge) at one time, for history (a beat job)."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant"))
    account = models.ForeignKey(
        "accounts.VenueAccount", on_delete=models.CASCADE, related_name="positions", verbose_name=_("account")
    )
    pool = models.ForeignKey(
        "accounts.AccountPool",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="positions",
        verbose_name=_("account pool"),
    )
    at = models.DateTimeField(_("time"))
    ours_oz = models.DecimalField(_("our position (oz)"), **OUNCES)
    venue_oz = models.DecimalField(_("venue position (oz)"), null=True, blank=True, **OUNCES)
    avg_price = models.DecimalField(_("average price"), null=True, blank=True, **PRICE)
    mark_price = models.DecimalField(_("mark price"), null=True, blank=True, **PRICE)
    unrealised = models.DecimalField(_("unrealised PnL"), null=True, blank=True, **USD)
    currency = models.CharField(_("currency"), max_length=8, blank=True)

    objects = PoolOwnedQuerySet.as_manager()

    class Meta:
        verbose_name = _("position snapshot")
        verbose_name_plural = _("position snapshots")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["account", "-at"], name="position_account_time")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.ours_oz} oz @ {self.at:%Y-%m-%d %H:%M}"


class FundingPayment(models.Model):
    """Funding actually paid (< 0) or received (> 0) on a perp account, as the venue booked it (Binance `income`,
    `FUNDING_FEE`). One row per venue transaction: a sync that reads the same rows again adds nothing."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant"))
    account = models.ForeignKey(
        "accounts.VenueAccount", on_delete=models.CASCADE, related_name="funding_payments", verbose_name=_("account")
    )
    venue_id = models.CharField(_("venue transaction id"), max_length=64)
    symbol = models.CharField(_("symbol"), max_length=40)
    asset = models.CharField(_("asset"), max_length=12)
    amount = models.DecimalField(_("amount"), **PRICE)
    at = models.DateTimeField(_("time"))

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("funding payment")
        verbose_name_plural = _("funding payments")
        ordering = ["-at"]
        constraints = [models.UniqueConstraint(fields=["account", "venue_id"], name="funding_unique_venue_id")]
        indexes = [models.Index(fields=["account", "-at"], name="funding_account_time")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.at:%Y-%m-%d %H:%M} {self.amount} {self.asset}"
