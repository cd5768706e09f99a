"""Portfolio records: the cash-flow ledger of each venue account and the equity series marked to market.

A cash flow is money that entered or left an account from outside the strategy — a deposit, a withdrawal, one
side of a transfer between two of the desk's accounts. Returns exclude them (trading/domain/performance.py), so
they are booked once each: an admin's entry (a second admin approves it above the desk's threshold), or a row
the venue reports (Binance income `TRANSFER`, an MT5 balance deal), unique per account by its venue reference.

An equity point is the book's value at one tick of a fixed clock for one scope (an account, a pool, a strategy
or the desk): booked flows plus the money model's split of every hedge in the scope at that instant
(trading/portfolio/equity.py says exactly how).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.scoping import TenantQuerySet
from trading.domain import pnl
from trading.models.columns import RATE, USD_PER_USDT
from trading.models.market import USD


class CashFlowKind(models.TextChoices):
    DEPOSIT = "deposit", _("Deposit")
    WITHDRAWAL = "withdrawal", _("Withdrawal")
    TRANSFER_IN = "transfer_in", _("Transfer in")
    TRANSFER_OUT = "transfer_out", _("Transfer out")


# Kinds that add money to the account (positive amounts); the others take it out.
INFLOW_KINDS = (CashFlowKind.DEPOSIT, CashFlowKind.TRANSFER_IN)


class CashFlowStatus(models.TextChoices):
    REQUESTED = "requested", _("Awaiting approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    BOOKED = "booked", _("Booked")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class CashFlowSource(models.TextChoices):
    MANUAL = "manual", _("Entered by an admin")
    VENUE = "venue", _("Reported by the venue")


class CashFlow(models.Model):
    """One external flow of one venue account. `amount` is signed (positive in, negative out) in `currency`, the
    account's own (USDT for a Binance account, the MT5 account's currency); `amount_usd` is its value in USD at
    `usd_per_usdt` of its moment. Only booked flows count in equity and returns; an approved flow dated in the
    future is booked when its time comes. A transfer is two rows, out of one account and into the other, linked by
    `transfer_peer`."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant"))
    account = models.ForeignKey(
        "accounts.VenueAccount", on_delete=models.PROTECT, related_name="cash_flows", verbose_name=_("account")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=CashFlowKind.choices)
    status = models.CharField(
        _("status"), max_length=12, choices=CashFlowStatus.choices, default=CashFlowStatus.REQUESTED
    )
    source = models.CharField(_("source"), max_length=8, choices=CashFlowSource.choices, default=CashFlowSource.MANUAL)
    amount = models.DecimalField(_("amount"), **RATE)
    currency = models.CharField(_("currency"), max_length=8)
    usd_per_usdt = models.DecimalField(_("USDT/USD"), **USD_PER_USDT)
    amount_usd = models.DecimalField(_("amount (USD)"), **USD)
    at = models.DateTimeField(_("time"), help_text=_("When the money moved (UTC)."))
    note = models.CharField(_("note"), max_length=300, blank=True)
    venue_ref = models.CharField(
        _("venue reference"),
        max_length=80,
        blank=True,
        help_text=_("The venue's own id of the movement (Binance tranId, MT5 deal ticket): booked once."),
    )
    transfer_peer = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("other side")
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("entered by"),
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("approved or rejected by"),
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    reject_reason = models.CharField(_("reason for rejection"), max_length=300, blank=True)
    booked_at = models.DateTimeField(_("booked"), null=True, blank=True)
    created_at = models.DateTimeField(_("entered"))

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("cash flow")
        verbose_name_plural = _("cash flows")
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "venue_ref"], condition=~models.Q(venue_ref=""), name="cash_flow_unique_venue_ref"
            ),
            models.CheckConstraint(condition=~models.Q(amount=0), name="cash_flow_amount_not_zero"),
        ]
        indexes = [
            models.Index(fields=["tenant", "-at"], name="cash_flow_tenant_time"),
            models.Index(fields=["account", "status", "at"], name="cash_flow_account_status"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} {self.currency}"

    @property
    def is_transfer(self) -> bool:
        return self.kind in (CashFlowKind.TRANSFER_IN, CashFlowKind.TRANSFER_OUT)


class EquityScope(models.TextChoices):
    DESK = "desk", _("Desk")
    POOL = "pool", _("Pool")
    STRATEGY = "strategy", _("Strategy")
    ACCOUNT = "account", _("Account")


class EquityResolution(models.TextChoices):
    MINUTE = "1m", _("1 minute")
    HOUR = "1h", _("1 hour")


class EquityPoint(models.Model):
    """The equity of one scope at one tick of a fixed UTC clock, in USD at 8 dp: `flows` (booked external flows so
    far) plus the money model's lines of every hedge of the scope at that instant (closed ones as booked, open ones
    marked to market at the pair's marks of that instant). `equity` = `flows` + Σ lines, exactly. `scope_id` is the
    pool's, strategy's or account's id, 0 for the desk."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant"))
    scope = models.CharField(_("scope"), max_length=8, choices=EquityScope.choices)
    scope_id = models.PositiveBigIntegerField(_("scope id"))
    resolution = models.CharField(_("resolution"), max_length=2, choices=EquityResolution.choices)
    at = models.DateTimeField(_("time"))
    equity = models.DecimalField(_("equity (USD)"), **USD)
    flows = models.DecimalField(_("net external flows (USD)"), default=Decimal(0), **USD)
    pnl_spread = models.DecimalField(_("spread capture (USD)"), default=Decimal(0), **USD)
    pnl_fees = models.DecimalField(_("fees (USD)"), default=Decimal(0), **USD)
    pnl_funding = models.DecimalField(_("funding (USD)"), default=Decimal(0), **USD)
    pnl_swap = models.DecimalField(_("swap (USD)"), default=Decimal(0), **USD)
    pnl_fx = models.DecimalField(_("USDT/USD (USD)"), default=Decimal(0), **USD)
    open_hedges = models.PositiveIntegerField(_("open hedges"), default=0)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("equity point")
        verbose_name_plural = _("equity points")
        ordering = ["scope", "scope_id", "resolution", "at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "scope", "scope_id", "resolution", "at"], name="equity_point_unique_slot"
            )
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.scope_id} {self.resolution} {self.at:%Y-%m-%d %H:%M} {self.equity}"

    @property
    def split(self) -> pnl.PnlSplit:
        return pnl.PnlSplit(self.pnl_spread, self.pnl_fees, self.pnl_funding, self.pnl_swap, self.pnl_fx)
