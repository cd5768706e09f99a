"""Alerts, their notification channels, delivery history and per-tenant rules.

An alert is identified within its tenant by a dedup key while it is active (open or acknowledged): raising the
same key again bumps its count and last-seen time instead of adding a row (a partial unique constraint holds
this under concurrency). A resolved alert is history; the same condition later opens a new one.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.crypto import EncryptedJSONField
from accounts.scoping import TenantQuerySet
from quantarb import phrases, reasons

from .choices import AlertStatus, Category, ChannelKind, DeliveryStatus, Severity
from .reasons import RESOLVE_REASONS


class AlertRule(models.Model):
    """One rule of a tenant: a registered rule type (alerts/registry.py) with its validated parameters."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="alert_rules")
    rule_type = models.CharField(_("rule type"), max_length=64)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    severity = models.CharField(_("severity"), max_length=12, choices=Severity.choices, default=Severity.WARNING)
    enabled = models.BooleanField(_("enabled"), default=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("alert rule")
        verbose_name_plural = _("alert rules")
        ordering = ["rule_type"]
        constraints = [models.UniqueConstraint(fields=["tenant", "rule_type"], name="alert_rule_unique_type")]

    def __str__(self) -> str:
        return self.rule_type


class Alert(models.Model):
    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="alerts")
    category = models.CharField(_("category"), max_length=12, choices=Category.choices)
    severity = models.CharField(_("severity"), max_length=12, choices=Severity.choices)
    title = models.CharField(_("title"), max_length=200)
    # The title as written (quantarb/phrases.py): its template and parameters, shown in the reader's language; `title`
    # is its English rendering. Empty for a title given as plain text (the raise_alert command's).
    title_phrase = models.JSONField(_("title phrase"), default=dict, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    rule = models.ForeignKey(
        AlertRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts", verbose_name=_("rule")
    )
    # The object the alert is about, by label and id (e.g. "accounts.venueaccount" / "12"): alerts outlive it.
    source_type = models.CharField(_("source type"), max_length=100, blank=True)
    source_id = models.CharField(_("source id"), max_length=64, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    dedup_key = models.CharField(_("dedup key"), max_length=200)
    count = models.PositiveIntegerField(_("count"), default=1)
    first_seen = models.DateTimeField(_("first seen"))
    last_seen = models.DateTimeField(_("last seen"))
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    # Why the system resolved it: a code and its parameters (alerts/reasons.py), translated when shown, and their
    # English rendering. Empty for an alert a person resolved, or one resolved before the reasons were kept.
    resolved_reason = models.CharField(_("resolved reason"), max_length=300, blank=True)
    resolved_reason_code = models.CharField(_("resolved reason code"), max_length=40, blank=True)
    resolved_reason_params = models.JSONField(_("resolved reason parameters"), default=dict, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-last_seen", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "dedup_key"],
                condition=~Q(status=AlertStatus.RESOLVED),
                name="alert_one_active_per_key",
            )
        ]
        indexes = [models.Index(fields=["tenant", "status", "-last_seen"], name="alert_tenant_status_seen")]

    def __str__(self) -> str:
        return self.title

    @property
    def title_text(self) -> str:
        """The title in the reader's language (the stored English when it was given as plain text)."""
        return phrases.render_stored(self.title_phrase, self.title)

    @property
    def is_active(self) -> bool:
        return self.status != AlertStatus.RESOLVED

    @property
    def resolved_reason_text(self) -> str:
        """Why the system resolved it, in the reader's language."""
        return reasons.render(
            RESOLVE_REASONS, self.resolved_reason_code, self.resolved_reason_params, fallback=self.resolved_reason
        )


class Channel(models.Model):
    """Where a tenant's alerts go. `target` is the non-secret address (email recipients, webhook URL, Telegram
    chat id); `secrets` (webhook signing key, Telegram bot token, an apprise URL) are encrypted and write-only."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="alert_channels")
    name = models.CharField(_("name"), max_length=80)
    kind = models.CharField(_("kind"), max_length=12, choices=ChannelKind.choices)
    target = models.CharField(_("target"), max_length=500, blank=True)
    secrets = EncryptedJSONField(_("secrets"), null=True, blank=True)
    secret_hints = models.JSONField(_("secret hints"), default=dict, blank=True)
    categories = models.JSONField(_("categories"), default=list, blank=True, help_text=_("Empty: every category."))
    min_severity = models.CharField(
        _("minimum severity"), max_length=12, choices=Severity.choices, default=Severity.WARNING
    )
    quiet_start = models.TimeField(_("quiet hours start (UTC)"), null=True, blank=True)
    quiet_end = models.TimeField(_("quiet hours end (UTC)"), null=True, blank=True)
    repeat_after_s = models.PositiveIntegerField(
        _("repeat after (s)"),
        default=3600,
        help_text=_("An alert that keeps firing is sent again on this channel at most this often."),
    )
    max_per_hour = models.PositiveIntegerField(
        _("at most per hour"), default=30, help_text=_("Notifications beyond this are recorded as throttled.")
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("notification channel")
        verbose_name_plural = _("notification channels")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="alert_channel_unique_name")]

    def __str__(self) -> str:
        return self.name


class Delivery(models.Model):
    """One notification of one alert on one channel (or a channel test), with every attempt it took."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+")
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    is_test = models.BooleanField(_("test"), default=False)
    status = models.CharField(
        _("status"), max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    # [{"at": iso, "ok": bool, "response": str, "error": str, "retry_in_s": float | None}, ...]
    attempt_log = models.JSONField(_("attempt log"), default=list, blank=True)
    response = models.TextField(_("response"), blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created"))
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["channel", "-created_at"], name="delivery_channel_time")]

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.alert_id}:{self.status}"
