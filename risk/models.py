"""The kill switch: per strategy, per tenant and global. Tripped by hand or automatically; only a manual reset
clears it. While one covering a strategy is tripped, only orders that reduce exposure pass the pre-trade checks."""

from __future__ import annotations

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
