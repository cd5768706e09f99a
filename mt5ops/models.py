"""MT5 terminal instances (where an MT5 account runs) and their health log (`mt5ops/health.py`, every 30 s).
Restarts and manual intervention come with the MT5 operations issue."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from .choices import Backend


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
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

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

    class Meta:
        verbose_name = _("terminal health check")
        verbose_name_plural = _("terminal health checks")
        ordering = ["-at"]
        indexes = [models.Index(fields=["terminal", "-at"], name="terminal_health_time")]

    def __str__(self) -> str:
        return f"{self.terminal_id} @ {self.at:%Y-%m-%d %H:%M:%S} {'ok' if self.ok else 'fault'}"
