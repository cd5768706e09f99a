"""The kill switch, the limits that act (their state and breach log), compliance rules and transfers.

The kill switch: per strategy, per tenant and global. Tripped by hand or automatically; only a manual reset
clears it. While one covering a strategy is tripped, only orders that reduce exposure pass the pre-trade checks.

A desk's compliance rules (`ComplianceRule`), run by the pre-trade gate beside its limits, and
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
from accounts.scoping import PoolOwnedQuerySet, TenantQuerySet
from quantarb import phrases, reasons
from trading.domain.margin import MarginError, brackets_from_wire

from .choices import (
    ActionStatus,
    ComplianceKind,
    KillScope,
    KillTrigger,
    LimitAction,
    LimitDirection,
    LimitLevelChoice,
    LimitMetric,
    LimitScopeKind,
    TransferStatus,
)
from .domain.compliance import TradingWindow, parse_days
from .domain.limits import NATURAL_DIRECTION, Metric
from .reasons import BREACH_NOTES, SWITCH_REASONS


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
    # An automatic trip's reason is a code and its parameters (risk/reasons.py), translated when shown; `reason`
    # keeps its English rendering. A person's reason has no code and is kept as typed.
    reason_code = models.CharField(_("reason code"), max_length=40, blank=True)
    reason_params = models.JSONField(_("reason parameters"), default=dict, blank=True)
    tripped_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("tripped by")
    )
    tripped_at = models.DateTimeField(_("tripped"))
    reset_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("reset by")
    )
    reset_at = models.DateTimeField(_("reset"), null=True, blank=True)
    reset_note = models.CharField(_("reset note"), max_length=300, blank=True)

    objects = TenantQuerySet.as_manager()

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

    @property
    def reason_text(self) -> str:
        """The reason in the reader's language: an automatic trip's code translated, a person's words as typed."""
        return reasons.render(SWITCH_REASONS, self.reason_code, self.reason_params, fallback=self.reason)

    @property
    def reason_phrase(self) -> phrases.Phrase | str:
        """The reason as a phrase, for words written now and read later (an alert's title)."""
        return phrases.coded(SWITCH_REASONS, self.reason_code, self.reason_params, self.reason)


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

    objects = TenantQuerySet.as_manager()

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

    objects = TenantQuerySet.as_manager()

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


# --- limits that act ---------------------------------------------------------------------------
LEVEL: dict[str, Any] = {"max_digits": 24, "decimal_places": 6}
# A limit's pool, strategy or account that is not one of the desk's (the editor, the API and `RiskLimit.clean`).
SCOPE_CHOICE = _("Choose one of this desk's.")

# The sane range of each metric's levels, in its own unit (the editor refuses anything outside).
PCT = (Decimal(0), Decimal(100))
LEVEL_RANGES: dict[str, tuple[Decimal, Decimal]] = {
    LimitMetric.UNHEDGED_OZ: (Decimal(0), Decimal(10_000_000)),
    LimitMetric.UNHEDGED_USD: (Decimal(0), Decimal(10) ** 12),
    LimitMetric.LIQUIDATION_DISTANCE_PCT: PCT,
    LimitMetric.MT5_MARGIN_LEVEL_PCT: (Decimal(0), Decimal(100_000)),
    LimitMetric.MT5_LEVEL_ABOVE_STOP_OUT: (Decimal(0), Decimal(100_000)),
    LimitMetric.DRAWDOWN_PCT: PCT,
    LimitMetric.DAILY_LOSS_USD: (Decimal(0), Decimal(10) ** 12),
    LimitMetric.LOSS_STREAK: (Decimal(1), Decimal(1_000)),
    LimitMetric.USDT_EXPOSURE_USD: (Decimal(0), Decimal(10) ** 12),
    LimitMetric.GROSS_NOTIONAL_USD: (Decimal(0), Decimal(10) ** 12),
    LimitMetric.WEEKEND_GAP_LIQUIDATION_DISTANCE_PCT: PCT,
    LimitMetric.WEEKEND_GAP_MT5_MARGIN_LEVEL_PCT: (Decimal(0), Decimal(100_000)),
    # Up to a day (risk/domain/limits.py RATE_AGE_CAP_S: a missing rate counts as that old, so it breaches).
    LimitMetric.USDT_RATE_AGE_S: (Decimal(1), Decimal(86_400)),
    LimitMetric.USDT_DEPEG_BPS: (Decimal(0), Decimal(10_000)),
}
WHOLE_METRICS = frozenset({LimitMetric.LOSS_STREAK})


class RiskLimit(models.Model):
    """One limit of a desk: a metric of a scope (the desk, a pool, a strategy or an account) with a warning and a
    breach level, a direction, the action a breach calls for (alert, block new entries, pause, flatten; `confirm`:
    a person confirms it first) and a hysteresis band. The pure `Limit` (risk/domain/limits.py) is built from it;
    risk/limits.py evaluates and acts."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="risk_limits", verbose_name=_("tenant"))
    name = models.CharField(_("name"), max_length=120, blank=True)
    scope_kind = models.CharField(_("scope"), max_length=10, choices=LimitScopeKind.choices)
    pool = models.ForeignKey(
        "accounts.AccountPool",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="risk_limits",
        verbose_name=_("pool"),
    )
    strategy = models.ForeignKey(
        "strategies.Strategy",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="risk_limits",
        verbose_name=_("strategy"),
    )
    account = models.ForeignKey(
        "accounts.VenueAccount",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="risk_limits",
        verbose_name=_("account"),
    )
    metric = models.CharField(_("metric"), max_length=40, choices=LimitMetric.choices)
    warning_level = models.DecimalField(_("warning level"), null=True, blank=True, **LEVEL)
    breach_level = models.DecimalField(_("breach level"), null=True, blank=True, **LEVEL)
    direction = models.CharField(_("direction"), max_length=3, choices=LimitDirection.choices, blank=True)
    action = models.CharField(_("action"), max_length=16, choices=LimitAction.choices, default=LimitAction.ALERT)
    confirm = models.BooleanField(
        _("a person confirms the action"),
        default=False,
        help_text=_("The action waits on the limits page until an admin confirms it."),
    )
    hysteresis = models.DecimalField(
        _("hysteresis"),
        default=Decimal(0),
        help_text=_("How far, in the metric's unit, the metric must come back past a level to leave it."),
        **LEVEL,
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = PoolOwnedQuerySet.as_manager()

    class Meta:
        verbose_name = _("risk limit")
        verbose_name_plural = _("risk limits")
        ordering = ["scope_kind", "metric", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(scope_kind="desk", pool__isnull=True, strategy__isnull=True, account__isnull=True)
                    | models.Q(scope_kind="pool", pool__isnull=False, strategy__isnull=True, account__isnull=True)
                    | models.Q(scope_kind="strategy", pool__isnull=True, strategy__isnull=False, account__isnull=True)
                    | models.Q(scope_kind="account", pool__isnull=True, strategy__isnull=True, account__isnull=False)
                ),
                name="risk_limit_scope_target",
            ),
            models.CheckConstraint(
                condition=models.Q(warning_level__isnull=False) | models.Q(breach_level__isnull=False),
                name="risk_limit_has_a_level",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "enabled"], name="risk_limit_tenant_enabled")]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return self.name or self.label_phrase.render()

    @property
    def scope_label(self) -> str:
        return self.scope_phrase.render()

    @property
    def label_phrase(self) -> phrases.Phrase:
        """The label as a phrase, for words written now and read later (an alert's title): the metric's and the
        scope kind's labels translated when read, the names as given."""
        if self.name:
            return phrases.phrase("%(name)s", name=self.name)
        metric = LimitMetric(self.metric).label if self.metric in LimitMetric.values else self.metric
        return phrases.phrase("%(metric)s · %(scope)s", metric=metric, scope=self.scope_phrase)

    @property
    def scope_phrase(self) -> phrases.Phrase:
        target = {"pool": self.pool, "strategy": self.strategy, "account": self.account}.get(self.scope_kind)
        known = self.scope_kind in LimitScopeKind.values
        kind = phrases.words(LimitScopeKind(self.scope_kind).label if known else self.scope_kind)
        if target is None:
            return kind
        name = getattr(target, "label", None) or getattr(target, "name", "")
        return phrases.phrase("%(kind)s %(name)s", kind=kind, name=name)

    @property
    def current_level(self) -> str:
        """Where the limit stood at its last evaluation (ok before the first)."""
        try:
            return str(self.state.level)
        except RiskLimitState.DoesNotExist:
            return LimitLevelChoice.OK.value

    def scope_ref(self) -> int:
        """The id the scope's metrics are keyed by: the tenant's for the desk, else the pool's, strategy's or
        account's."""
        ref = {
            "desk": self.tenant_id,
            "pool": self.pool_id,
            "strategy": self.strategy_id,
            "account": self.account_id,
        }[self.scope_kind]
        assert ref is not None, "a limit's scope names its object (risk_limit_scope_target)"
        return int(ref)

    def effective_direction(self) -> str:

        return self.direction or NATURAL_DIRECTION[Metric(self.metric)].value

    def clean(self) -> None:
        errors: dict[str, list[Any]] = {}
        if self.metric not in LimitMetric.values:
            raise ValidationError({"metric": [_("Choose a metric.")]})
        low, high = LEVEL_RANGES[self.metric]
        for field in ("warning_level", "breach_level"):
            value = getattr(self, field)
            if value is None:
                continue
            if not value.is_finite() or not low <= value <= high:
                errors[field] = [
                    _("Enter a level between %(low)s and %(high)s (%(metric)s).")
                    % {"low": low, "high": high, "metric": self.get_metric_display()}
                ]
            elif self.metric in WHOLE_METRICS and value != value.to_integral_value():
                errors[field] = [_("Enter a whole number.")]
        if self.warning_level is None and self.breach_level is None:
            errors.setdefault("breach_level", []).append(_("Set a warning level, a breach level or both."))
        direction = self.effective_direction() if self.metric else "max"
        if (
            self.warning_level is not None
            and self.breach_level is not None
            and "warning_level" not in errors
            and "breach_level" not in errors
        ):
            wrong_way = (
                self.warning_level > self.breach_level if direction == "max" else self.warning_level < self.breach_level
            )
            if wrong_way:
                errors["warning_level"] = [
                    _("The warning level must come before the breach level: below it for an upper limit.")
                    if direction == "max"
                    else _("The warning level must come before the breach level: above it for a lower limit.")
                ]
        if self.hysteresis is not None and (
            self.hysteresis < 0 or not self.hysteresis.is_finite() or self.hysteresis > high - low
        ):
            errors["hysteresis"] = [
                _("Enter a band between 0 and %(high)s (%(metric)s).")
                % {"high": high - low, "metric": self.get_metric_display()}
            ]
        if self.confirm and self.action == LimitAction.ALERT:
            errors["confirm"] = [_("Only an action that changes trading can wait for a person's confirmation.")]
        if self.action in (LimitAction.PAUSE, LimitAction.FLATTEN) and self.scope_kind == LimitScopeKind.ACCOUNT:
            errors["action"] = [_("An account limit can alert or block new entries; pause and flatten act on pools.")]
        targets = {"pool": self.pool, "strategy": self.strategy, "account": self.account}
        wanted = self.scope_kind if self.scope_kind in targets else None
        for kind, target in targets.items():
            if kind == wanted:
                if target is None:
                    errors[kind] = [
                        _("Choose the %(scope)s this limit watches.")
                        % {"scope": str(LimitScopeKind(kind).label).lower()}
                    ]
                elif target.tenant_id != self.tenant_id:
                    errors[kind] = [SCOPE_CHOICE]
            elif target is not None:
                setattr(self, f"{kind}_id", None)
                setattr(self, kind, None)
        if errors:
            raise ValidationError(errors)


class RiskLimitState(models.Model):
    """Where a limit stood at its last evaluation (its previous level for the next one, with hysteresis)."""

    limit = models.OneToOneField(RiskLimit, on_delete=models.CASCADE, related_name="state", verbose_name=_("limit"))
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant"))
    level = models.CharField(_("level"), max_length=8, choices=LimitLevelChoice.choices, default=LimitLevelChoice.OK)
    value = models.DecimalField(_("value"), null=True, blank=True, max_digits=30, decimal_places=8)
    changed_at = models.DateTimeField(_("level since"), null=True, blank=True)
    evaluated_at = models.DateTimeField(_("evaluated"), null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("risk limit state")
        verbose_name_plural = _("risk limit states")

    def __str__(self) -> str:
        return f"{self.limit_id}: {self.level}"


class Breach(models.Model):
    """A limit's breach: from the evaluation that reached the breach level to the one that left it (with
    hysteresis), with the worst value seen and the action taken — done at once, or waiting for a person
    (`confirm`), confirmed by whom and when."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="breaches", verbose_name=_("tenant"))
    limit = models.ForeignKey(
        RiskLimit, on_delete=models.SET_NULL, null=True, blank=True, related_name="breaches", verbose_name=_("limit")
    )
    limit_label = models.CharField(_("limit"), max_length=200)
    metric = models.CharField(_("metric"), max_length=40, choices=LimitMetric.choices)
    scope_kind = models.CharField(_("scope"), max_length=10, choices=LimitScopeKind.choices)
    scope_ref = models.PositiveBigIntegerField(_("scope id"))
    scope_label = models.CharField(_("scope"), max_length=200)
    threshold = models.DecimalField(_("breach level"), **LEVEL)
    started_at = models.DateTimeField(_("start"))
    start_value = models.DecimalField(_("value at start"), max_digits=30, decimal_places=8)
    peak_value = models.DecimalField(_("peak"), max_digits=30, decimal_places=8)
    peak_at = models.DateTimeField(_("peak at"))
    ended_at = models.DateTimeField(_("end"), null=True, blank=True)
    action = models.CharField(_("action"), max_length=16, choices=LimitAction.choices)
    action_status = models.CharField(_("action status"), max_length=12, choices=ActionStatus.choices)
    action_note = models.CharField(_("action note"), max_length=300, blank=True)
    # The note as parts, each a code and its parameters (risk/reasons.py BREACH_NOTES), translated when shown;
    # `action_note` keeps its English rendering. A breach written before the codes has no parts: its note is
    # shown as stored.
    action_note_parts = models.JSONField(_("action note parts"), default=list, blank=True)
    action_done_at = models.DateTimeField(_("action done"), null=True, blank=True)
    confirmed_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("confirmed by")
    )
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("limit breach")
        verbose_name_plural = _("limit breaches")
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["limit"], condition=models.Q(ended_at__isnull=True), name="breach_one_open_per_limit"
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "-started_at"], name="breach_tenant_started"),
            models.Index(fields=["tenant", "ended_at", "action"], name="breach_tenant_open_action"),
        ]

    def __str__(self) -> str:
        return f"{self.limit_label} @ {self.started_at:%Y-%m-%d %H:%M:%S}"

    @property
    def open(self) -> bool:
        return self.ended_at is None

    @property
    def action_note_text(self) -> str:
        """The action's note in the reader's language (a note stored before the codes: as stored)."""
        return reasons.render_parts(BREACH_NOTES, self.action_note_parts, fallback=self.action_note)


# --- the risk centre: history of the figures, the operator's weekend move and margin changes ----------
PERCENT_OR_MONEY: dict[str, Any] = {"max_digits": 24, "decimal_places": 8}


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

    objects = TenantQuerySet.as_manager()

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

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("weekend move override")
        verbose_name_plural = _("weekend move overrides")

    def __str__(self) -> str:
        return f"{self.p95} / {self.p99}"

    def clean(self) -> None:

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

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("scheduled margin change")
        verbose_name_plural = _("scheduled margin changes")
        ordering = ["-effective_at"]

    def __str__(self) -> str:
        return f"{self.effective_at:%Y-%m-%d %H:%M} {self.note}"

    def clean(self) -> None:

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
