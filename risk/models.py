"""The kill switch: per strategy, per tenant and global. Tripped by hand or automatically; only a manual reset
clears it. While one covering a strategy is tripped, only orders that reduce exposure pass the pre-trade checks.

A desk's compliance rules (`ComplianceRule`, issue #19 item 4), run by the pre-trade gate beside its limits, and
the transfers of capital between its venue accounts (`Transfer`, item 3): requested, approved by a second admin,
done with the venue's reference (or rejected, or cancelled), booked in the cash-flow ledger when done."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Tenant, User, VenueAccount

from .choices import ComplianceKind, KillScope, KillTrigger, TransferStatus
from .domain.compliance import TradingWindow, parse_days


class KillSwitch(models.Model):
    scope = models.CharField(_("scope"), max_length=10, choices=KillScope.choices)
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, null=True, blank=True, related_name="kill_switches", verbose_name=_("tenant")
    )
    strategy = models.ForeignKey(
        "strategies.Strategy",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="kill_switches",
        verbose_name=_("strategy"),
    )
    trigger = models.CharField(_("trigger"), max_length=24, choices=KillTrigger.choices)
    reason = models.CharField(_("reason"), max_length=500)
    tripped_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("tripped by")
    )
    tripped_at = models.DateTimeField(_("tripped"))
    reset_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("reset by")
    )
    reset_at = models.DateTimeField(_("reset"), null=True, blank=True)
    reset_note = models.CharField(_("reset note"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("kill switch")
        verbose_name_plural = _("kill switches")
        ordering = ["-tripped_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(scope=KillScope.GLOBAL, tenant__isnull=True, strategy__isnull=True)
                    | models.Q(scope=KillScope.TENANT, tenant__isnull=False, strategy__isnull=True)
                    | models.Q(scope=KillScope.STRATEGY, tenant__isnull=False, strategy__isnull=False)
                ),
                name="kill_switch_scope_targets",
            ),
        ]
        indexes = [models.Index(fields=["reset_at", "scope"], name="kill_switch_active")]

    def __str__(self) -> str:
        return f"{self.scope} {self.trigger} @ {self.tripped_at:%Y-%m-%d %H:%M:%S}"

    @property
    def active(self) -> bool:
        return self.reset_at is None


class ComplianceRule(models.Model):
    """One compliance rule of a desk. Which fields matter depends on `kind`:

    - trading window: `days` (0 = Monday … 6 = Sunday), `start_time`, `end_time` in `timezone` (an end before the
      start spans midnight); with several enabled windows an opening order inside any one passes;
    - maximum orders per day per account: `max_orders` (the day is local midnight to midnight in `timezone`);
    - restricted instrument: `instrument`, the venue's symbol;
    - pattern day trader: `pdt_day_trades` within `pdt_window_days` business days, `pdt_equity_floor`; it applies
      to the `accounts` flagged here as US equity margin accounts, never to a gold pool's.
    """

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="compliance_rules", verbose_name=_("tenant")
    )
    name = models.CharField(_("name"), max_length=80)
    kind = models.CharField(_("kind"), max_length=20, choices=ComplianceKind.choices)
    enabled = models.BooleanField(_("enabled"), default=True)
    days = models.CharField(
        _("weekdays"),
        max_length=20,
        blank=True,
        default="0,1,2,3,4",
        help_text=_("0 = Monday … 6 = Sunday, e.g. 0,1,2,3,4."),
    )
    start_time = models.TimeField(_("opens at"), null=True, blank=True)
    end_time = models.TimeField(_("closes at"), null=True, blank=True)
    timezone = models.CharField(_("time zone"), max_length=64, default="UTC", help_text=_("e.g. America/New_York."))
    max_orders = models.PositiveIntegerField(
        _("maximum orders per day"), null=True, blank=True, validators=[MinValueValidator(1)]
    )
    instrument = models.CharField(_("instrument symbol"), max_length=40, blank=True)
    pdt_day_trades = models.PositiveSmallIntegerField(
        _("day trades"), default=4, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    pdt_window_days = models.PositiveSmallIntegerField(
        _("window (business days)"), default=5, validators=[MinValueValidator(1), MaxValueValidator(60)]
    )
    pdt_equity_floor = models.DecimalField(
        _("equity floor"), max_digits=20, decimal_places=2, default=Decimal(25000), validators=[MinValueValidator(0)]
    )
    accounts = models.ManyToManyField(
        VenueAccount,
        blank=True,
        related_name="+",
        verbose_name=_("US equity margin accounts"),
        help_text=_("Pattern day trader only: the accounts flagged as US equity margin accounts."),
    )
    note = models.CharField(_("note"), max_length=300, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("compliance rule")
        verbose_name_plural = _("compliance rules")
        ordering = ["kind", "name", "id"]

    def __str__(self) -> str:
        return self.name

    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    def window(self) -> TradingWindow:
        assert self.start_time is not None and self.end_time is not None
        return TradingWindow(parse_days(self.days), self.start_time, self.end_time, self.zone(), self.name)

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            errors["timezone"] = _("Enter a time zone such as America/New_York or UTC.")
        if self.kind == ComplianceKind.TRADING_WINDOW:
            try:
                parse_days(self.days)
            except ValueError:
                errors["days"] = _("List weekdays as numbers from 0 (Monday) to 6 (Sunday), e.g. 0,1,2,3,4.")
            if self.start_time is None:
                errors["start_time"] = _("A trading window needs the time it opens.")
            if self.end_time is None:
                errors["end_time"] = _("A trading window needs the time it closes.")
            if self.start_time is not None and self.start_time == self.end_time:
                errors["end_time"] = _("A trading window closes at another time than it opens.")
        elif self.kind == ComplianceKind.MAX_ORDERS and not self.max_orders:
            errors["max_orders"] = _("Enter the maximum number of orders per day.")
        elif self.kind == ComplianceKind.RESTRICTED and not self.instrument.strip():
            errors["instrument"] = _("Enter the restricted instrument's symbol.")
        if errors:
            raise ValidationError(errors)

    def describe(self) -> str:
        """What the rule says, in a line (the compliance page)."""
        if self.kind == ComplianceKind.TRADING_WINDOW and self.start_time and self.end_time:
            try:
                return self.window().describe()
            except ValueError:
                return ""
        if self.kind == ComplianceKind.MAX_ORDERS:
            return str(
                _("%(count)s orders per account per day (%(zone)s)") % {"count": self.max_orders, "zone": self.timezone}
            )
        if self.kind == ComplianceKind.RESTRICTED:
            return self.instrument
        if self.kind == ComplianceKind.PATTERN_DAY_TRADER:
            return str(
                _("%(count)s day trades in %(days)s business days below %(floor)s of equity")
                % {"count": self.pdt_day_trades, "days": self.pdt_window_days, "floor": self.pdt_equity_floor}
            )
        return ""


class Transfer(models.Model):
    """Capital moved between two of a desk's venue accounts. `amount` leaves `from_account` in its currency;
    `received` is what arrived on `to_account` in its currency (None: the same value at the rate of the moment).
    Never sent by the platform: admins move the money at the venues and record it here."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant"))
    from_account = models.ForeignKey(
        VenueAccount, on_delete=models.PROTECT, related_name="+", verbose_name=_("from account")
    )
    to_account = models.ForeignKey(
        VenueAccount, on_delete=models.PROTECT, related_name="+", verbose_name=_("to account")
    )
    amount = models.DecimalField(
        _("amount"), max_digits=20, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    currency = models.CharField(_("currency"), max_length=8)
    received = models.DecimalField(_("amount received"), max_digits=20, decimal_places=2, null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=TransferStatus.choices, default=TransferStatus.REQUESTED
    )
    note = models.CharField(_("note"), max_length=300, blank=True)
    advice = models.JSONField(_("advice at request"), default=dict, blank=True)
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by"))
    requested_at = models.DateTimeField(_("requested"))
    approved_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("approved by")
    )
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    done_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("completed by")
    )
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    venue_ref = models.CharField(_("venue reference"), max_length=80, blank=True)
    closed_by = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("rejected or cancelled by"),
    )
    closed_at = models.DateTimeField(_("rejected or cancelled"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    cash_flow = models.ForeignKey(
        "trading.CashFlow", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("cash flow (outgoing side)"),
    )  # fmt: skip

    class Meta:
        verbose_name = _("transfer")
        verbose_name_plural = _("transfers")
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="transfer_amount_positive"),
            models.CheckConstraint(
                condition=~models.Q(from_account=models.F("to_account")), name="transfer_between_two_accounts"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "status"], name="transfer_tenant_status")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.amount} {self.currency}"
