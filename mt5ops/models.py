"""MT5 terminal instances (where an MT5 account runs), their health checks (`mt5ops/health.py`, every 5 s), their
state (`TerminalStatus`: the domain's `TerminalTracker` as stored) and their health log (`TerminalEvent`: every state
change, recovery step and manual action)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.crypto import EncryptedJSONField
from accounts.scoping import TenantQuerySet

from .choices import ActionChoice, Backend, EventKind, FailureChoice, Outcome, TerminalStateChoice


class TerminalInstance(models.Model):
    tenant = models.ForeignKey(
        "accounts.Tenant", on_delete=models.CASCADE, related_name="terminals", verbose_name=_("tenant")
    )
    label = models.CharField(_("label"), max_length=120)
    backend = models.CharField(_("backend"), max_length=16, choices=Backend.choices, default=Backend.SIM)
    host = models.CharField(
        _("host"), max_length=255, blank=True, help_text=_("The bridge's host (rpyc); empty for native and simulated.")
    )
    bridge_port = models.PositiveIntegerField(
        _("bridge port"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(65535)],
        help_text=_("rpyc only, e.g. 18812."),
    )
    terminal_path = models.CharField(
        _("terminal path"),
        max_length=500,
        blank=True,
        help_text=_(r"terminal64.exe of this instance (native or on the bridge host), e.g. C:\MT5\a\terminal64.exe."),
    )
    # The supervisor agent on the terminal's host (deploy/mt5-agent/), which restarts terminal64.exe. Its key is
    # encrypted at rest like venue credentials and write-only; `agent_key_id` (not secret) is what pages show.
    agent_host = models.CharField(
        _("agent host"), max_length=255, blank=True, help_text=_("The supervisor agent's host; empty: no agent.")
    )
    agent_port = models.PositiveIntegerField(
        _("agent port"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    agent_key = EncryptedJSONField(_("agent key"), null=True, blank=True, editable=False)
    agent_key_id = models.CharField(_("agent key id"), max_length=32, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("MT5 terminal")
        verbose_name_plural = _("MT5 terminals")
        ordering = ["label"]
        constraints = [models.UniqueConstraint(fields=["tenant", "label"], name="terminal_unique_label")]

    def __str__(self) -> str:
        return self.label

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.backend == Backend.RPYC:
            if not self.host:
                errors["host"] = str(_("An rpyc terminal needs the bridge's host."))
            if not self.bridge_port:
                errors["bridge_port"] = str(_("An rpyc terminal needs the bridge's port."))
        if self.backend == Backend.NATIVE and not self.terminal_path:
            errors["terminal_path"] = str(_("A native terminal needs the path of its terminal64.exe."))
        if self.agent_host and not self.agent_port:
            errors["agent_port"] = str(_("An agent needs its port."))
        if errors:
            raise ValidationError(errors)

    @property
    def address(self) -> str:
        if self.backend == Backend.RPYC:
            return f"{self.host}:{self.bridge_port}"
        if self.backend == Backend.NATIVE:
            return self.terminal_path
        return str(_("simulated"))


class TerminalHealth(models.Model):
    """One health check of a terminal through the gateway: reachable, connected to the broker's trade server,
    AutoTrading on, the terminal's ping to the trade server, and the error when something failed."""

    terminal = models.ForeignKey(
        TerminalInstance, on_delete=models.CASCADE, related_name="health", verbose_name=_("terminal")
    )
    at = models.DateTimeField(_("time"))
    ok = models.BooleanField(_("healthy"))
    reachable = models.BooleanField(_("reachable"))
    connected = models.BooleanField(_("connected to the trade server"), default=False)
    trade_allowed = models.BooleanField(_("AutoTrading on"), default=False)
    ping_ms = models.DecimalField(_("ping (ms)"), max_digits=12, decimal_places=3, null=True, blank=True)
    build = models.PositiveIntegerField(_("build"), null=True, blank=True)
    error_code = models.IntegerField(_("error code"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    # Readiness to trade: the probe's class and the facts behind it.
    failure = models.CharField(_("failure"), max_length=20, choices=FailureChoice.choices, blank=True)
    reason = models.CharField(_("reason"), max_length=40, blank=True)
    rtt_p50_ms = models.DecimalField(
        _("bridge round trip p50 (ms)"), max_digits=12, decimal_places=3, null=True, blank=True
    )
    rtt_p99_ms = models.DecimalField(
        _("bridge round trip p99 (ms)"), max_digits=12, decimal_places=3, null=True, blank=True
    )
    login = models.BigIntegerField(_("login"), null=True, blank=True)
    tradeapi_disabled = models.BooleanField(_("API disabled in the terminal"), null=True, blank=True)
    account_trade_allowed = models.BooleanField(_("account may trade"), null=True, blank=True)
    account_trade_expert = models.BooleanField(_("account may trade through the API"), null=True, blank=True)
    tick_age_s = models.DecimalField(_("last tick age (s)"), max_digits=12, decimal_places=3, null=True, blank=True)
    session_open = models.BooleanField(_("session open"), default=False)
    duration_ms = models.DecimalField(_("check duration (ms)"), max_digits=12, decimal_places=3, null=True, blank=True)

    class Meta:
        verbose_name = _("terminal health check")
        verbose_name_plural = _("terminal health checks")
        ordering = ["-at"]
        indexes = [models.Index(fields=["terminal", "-at"], name="terminal_health_time")]

    def __str__(self) -> str:
        return f"{self.terminal_id} @ {self.at:%Y-%m-%d %H:%M:%S} {'ok' if self.ok else 'fault'}"


class TerminalStatus(models.Model):
    """A terminal's state as the state machine carries it (mt5ops/domain/state.py `TerminalTracker`), one row per
    terminal, written by each check under a row lock; plus the check lease (one check of a terminal at a time) and
    whether its alert is open."""

    terminal = models.OneToOneField(
        TerminalInstance, on_delete=models.CASCADE, primary_key=True, related_name="status", verbose_name=_("terminal")
    )
    state = models.CharField(
        _("state"), max_length=16, choices=TerminalStateChoice.choices, default=TerminalStateChoice.DEGRADED
    )
    since = models.DateTimeField(_("since"))
    failure = models.CharField(_("failure"), max_length=20, choices=FailureChoice.choices, blank=True)
    reason = models.CharField(_("reason"), max_length=40, blank=True)
    failures = models.PositiveIntegerField(_("failing checks in a row"), default=0)
    successes = models.PositiveIntegerField(_("healthy checks in a row"), default=0)
    healthy_since = models.DateTimeField(_("healthy since"), null=True, blank=True)
    outage_started_at = models.DateTimeField(_("outage started"), null=True, blank=True)
    outage_went_down = models.BooleanField(_("outage went down"), default=False)
    alert_armed = models.BooleanField(_("alert armed"), default=True)
    last_alert_at = models.DateTimeField(_("last alert"), null=True, blank=True)
    alert_open = models.BooleanField(_("alert open"), default=False)
    last_check_at = models.DateTimeField(_("last check"), null=True, blank=True)
    check_lease_until = models.DateTimeField(_("checked until"), null=True, blank=True)
    recovery_lease_until = models.DateTimeField(_("recovering until"), null=True, blank=True)
    next_recovery_at = models.DateTimeField(_("next recovery step"), null=True, blank=True)
    next_recovery = models.CharField(_("next recovery"), max_length=40, blank=True)
    # An operator's reconnect, re-login or restart asked for while an order on the terminal was in flight: taken by
    # the first check after the order has settled (mt5ops.services.terminal_action, health._due).
    queued_action = models.CharField(_("queued action"), max_length=20, choices=ActionChoice.choices, blank=True)
    queued_by = models.ForeignKey(
        "accounts.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("queued by"),
    )
    queued_at = models.DateTimeField(_("queued at"), null=True, blank=True)

    class Meta:
        verbose_name = _("terminal state")
        verbose_name_plural = _("terminal states")

    def __str__(self) -> str:
        return f"{self.terminal_id}: {self.state}"


class TerminalEvent(models.Model):
    """The health log: every state change, every recovery step (automatic or by an operator) and maintenance."""

    terminal = models.ForeignKey(
        TerminalInstance, on_delete=models.CASCADE, related_name="events", verbose_name=_("terminal")
    )
    at = models.DateTimeField(_("time"))
    kind = models.CharField(_("kind"), max_length=10, choices=EventKind.choices)
    before = models.CharField(_("from"), max_length=16, choices=TerminalStateChoice.choices, blank=True)
    after = models.CharField(_("to"), max_length=16, choices=TerminalStateChoice.choices, blank=True)
    failure = models.CharField(_("failure"), max_length=20, choices=FailureChoice.choices, blank=True)
    action = models.CharField(_("action"), max_length=20, choices=ActionChoice.choices, blank=True)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, blank=True)
    automatic = models.BooleanField(_("automatic"), default=True)
    actor = models.ForeignKey(
        "accounts.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    detail = models.CharField(_("detail"), max_length=500, blank=True)
    # On a recovery (a change to healthy): when the outage began (time to recover = at − this).
    outage_started_at = models.DateTimeField(_("outage started"), null=True, blank=True)

    class Meta:
        verbose_name = _("terminal log entry")
        verbose_name_plural = _("terminal log entries")
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["terminal", "-at"], name="terminal_event_time")]

    def __str__(self) -> str:
        return f"{self.terminal_id} @ {self.at:%Y-%m-%d %H:%M:%S} {self.kind} {self.action or self.after}"

    @property
    def recovered_after_s(self) -> float | None:
        if self.outage_started_at is None:
            return None
        return (self.at - self.outage_started_at).total_seconds()
