"""The kill switch: per strategy, per tenant and global. Tripped by hand or automatically; only a manual reset
clears it. While one covering a strategy is tripped, only orders that reduce exposure pass the pre-trade checks."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Tenant, User

from .choices import KillScope, KillTrigger


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


# --- the risk centre (issue #19): history of the figures, the operator's weekend move and margin changes ----------
PERCENT_OR_MONEY: dict[str, int] = {"max_digits": 24, "decimal_places": 8}


class RiskResolution(models.TextChoices):
    MINUTE = "1m", _("1 minute")
    HOUR = "1h", _("1 hour")


class RiskSnapshot(models.Model):
    """One figure of `risk.metrics` (a `risk.domain.limits.Metric`) for one scope at one tick: every minute, rolled
    up to one row an hour (the hour's last value, its lowest and highest) once older than
    `QUANTARB_RISK_HISTORY_MINUTE_DAYS`. `scope_id` is the pool's, strategy's or account's id, the tenant's for
    the desk. `value` is empty when there was nothing to measure (no position: no liquidation distance)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant"))
    scope = models.CharField(_("scope"), max_length=8)
    scope_id = models.PositiveBigIntegerField(_("scope id"))
    metric = models.CharField(_("metric"), max_length=48)
    resolution = models.CharField(_("resolution"), max_length=2, choices=RiskResolution.choices)
    at = models.DateTimeField(_("time"))
    value = models.DecimalField(_("value"), null=True, blank=True, **PERCENT_OR_MONEY)
    low = models.DecimalField(_("lowest"), null=True, blank=True, **PERCENT_OR_MONEY)
    high = models.DecimalField(_("highest"), null=True, blank=True, **PERCENT_OR_MONEY)

    class Meta:
        verbose_name = _("risk snapshot")
        verbose_name_plural = _("risk snapshots")
        ordering = ["tenant", "metric", "scope", "scope_id", "at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "metric", "scope", "scope_id", "resolution", "at"], name="risk_snapshot_unique_slot"
            )
        ]
        indexes = [models.Index(fields=["resolution", "at"], name="risk_snapshot_resolution_at")]

    def __str__(self) -> str:
        return f"{self.metric} {self.scope}:{self.scope_id} {self.at:%Y-%m-%d %H:%M} {self.value}"


class GapMoveOverride(models.Model):
    """An operator's p95/p99 gold move over a CFD gap (fractions: 0.02 = 2 %), used instead of the move measured on
    recorded quotes and labelled as an override wherever it is shown."""

    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, related_name="gap_move_override", verbose_name=_("tenant")
    )
    p95 = models.DecimalField(
        _("95th percentile move"), max_digits=8, decimal_places=6, help_text=_("A fraction of the price: 0.02 = 2 %.")
    )
    p99 = models.DecimalField(
        _("99th percentile move"), max_digits=8, decimal_places=6, help_text=_("A fraction of the price: 0.03 = 3 %.")
    )
    note = models.CharField(_("why"), max_length=300, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("weekend move override")
        verbose_name_plural = _("weekend move overrides")

    def __str__(self) -> str:
        return f"{self.p95} / {self.p99}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.p95 is None or self.p99 is None:
            return
        if not Decimal(0) <= self.p95 <= self.p99 < Decimal(1):
            raise ValidationError(_("The moves need 0 ≤ p95 ≤ p99 < 1 (fractions of the price)."))


class ScheduledMarginChange(models.Model):
    """A margin change a venue announced (before a weekend or a holiday), applied to the gap projection from
    `effective_at`: new Binance leverage brackets (the venue's JSON rows) and/or new MT5 margin rates."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="scheduled_margin_changes", verbose_name=_("tenant")
    )
    effective_at = models.DateTimeField(_("effective from"), help_text=_("UTC."))
    perp_brackets = models.JSONField(
        _("Binance leverage brackets"),
        null=True,
        blank=True,
        help_text=_(
            "Empty: unchanged. Otherwise the rows of GET /fapi/v1/leverageBracket: "
            '[{"bracket": 1, "initialLeverage": 50, "notionalFloor": 0, "notionalCap": 50000, '
            '"maintMarginRatio": 0.01, "cum": 0}, …]'
        ),
    )
    cfd_margin_rate_buy = models.DecimalField(
        _("MT5 margin rate (buy)"), max_digits=12, decimal_places=6, null=True, blank=True
    )
    cfd_margin_rate_sell = models.DecimalField(
        _("MT5 margin rate (sell)"), max_digits=12, decimal_places=6, null=True, blank=True
    )
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("entered"), auto_now_add=True)

    class Meta:
        verbose_name = _("scheduled margin change")
        verbose_name_plural = _("scheduled margin changes")
        ordering = ["-effective_at"]

    def __str__(self) -> str:
        return f"{self.effective_at:%Y-%m-%d %H:%M} {self.note}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from trading.domain.margin import MarginError, brackets_from_wire

        if self.perp_brackets in (None, "", []):
            self.perp_brackets = None
        else:
            try:
                brackets_from_wire({"brackets": self.perp_brackets})
            except (MarginError, TypeError, AttributeError) as error:
                raise ValidationError({"perp_brackets": str(error)}) from error
        for name in ("cfd_margin_rate_buy", "cfd_margin_rate_sell"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValidationError({name: _("A margin rate cannot be negative.")})
        if self.perp_brackets is None and self.cfd_margin_rate_buy is None and self.cfd_margin_rate_sell is None:
            raise ValidationError(_("Enter new brackets, a new MT5 margin rate, or both."))
