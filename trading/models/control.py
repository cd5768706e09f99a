"""Control records: reconciliation reports, operators' manual commands and venue-side events."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.scoping import PoolOwnedQuerySet, TenantQuerySet
from trading.choices import (
    CommandStatus,
    ManualKind,
    ReconciliationStatus,
    ReconciliationTrigger,
    VenueEventKind,
)
from trading.models.columns import OUNCES, PRICE
from trading.models.execution import Hedge


class ReconciliationReport(models.Model):
    """Orders and positions per venue against ours, and the net hedge of the pool: the differences found."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant"))
    pool = models.ForeignKey(
        "accounts.AccountPool", on_delete=models.CASCADE, related_name="reconciliations", verbose_name=_("account pool")
    )
    strategy = models.ForeignKey(
        "strategies.Strategy",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reconciliations",
        verbose_name=_("strategy"),
    )
    trigger = models.CharField(_("trigger"), max_length=10, choices=ReconciliationTrigger.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=ReconciliationStatus.choices, default=ReconciliationStatus.RUNNING
    )
    differences = models.JSONField(_("differences"), default=list, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    synced_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("synced by")
    )
    synced_at = models.DateTimeField(_("synced"), null=True, blank=True)

    objects = PoolOwnedQuerySet.as_manager()

    class Meta:
        verbose_name = _("reconciliation report")
        verbose_name_plural = _("reconciliation reports")
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["pool", "-started_at"], name="recon_pool_started")]

    def __str__(self) -> str:
        return f"R{self.pk} {self.status}"


class ManualCommand(models.Model):
    """An operator's order to the engine that holds the pool's venues and quotes: open or close a hedge by hand,
    flatten a pool, repair a legged hedge, cancel open orders. Queued by the web (audited), carried out by the
    engine, with its outcome recorded here for the page that follows it."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant"))
    pool = models.ForeignKey(
        "accounts.AccountPool", on_delete=models.CASCADE, related_name="commands", verbose_name=_("account pool")
    )
    hedge = models.ForeignKey(
        Hedge, on_delete=models.CASCADE, null=True, blank=True, related_name="commands", verbose_name=_("hedge")
    )
    kind = models.CharField(_("action"), max_length=20, choices=ManualKind.choices)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=CommandStatus.choices, default=CommandStatus.QUEUED)
    result = models.CharField(_("result"), max_length=500, blank=True)
    requested_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    requested_at = models.DateTimeField(_("requested"))
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    objects = PoolOwnedQuerySet.as_manager()

    class Meta:
        verbose_name = _("manual command")
        verbose_name_plural = _("manual commands")
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["status", "requested_at"], name="command_queue")]

    def __str__(self) -> str:
        return f"{self.kind} ({self.status})"


class VenueEvent(models.Model):
    """A change the venue made to an account's position without us: a liquidation, an auto-deleverage, or a trade
    placed outside quantarb (a client order id that is not ours). Recorded from the user-data stream; each raises
    an alert. `raw` is the venue's event as received (it holds no credentials)."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant"))
    account = models.ForeignKey(
        "accounts.VenueAccount", on_delete=models.CASCADE, related_name="venue_events", verbose_name=_("account")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=VenueEventKind.choices)
    symbol = models.CharField(_("symbol"), max_length=40)
    side = models.CharField(_("side"), max_length=4)
    quantity = models.DecimalField(_("quantity"), **OUNCES)
    price = models.DecimalField(_("price"), **PRICE, null=True, blank=True)
    client_order_id = models.CharField(_("client order id"), max_length=64, blank=True)
    venue_order_id = models.CharField(_("venue order id"), max_length=64)
    venue_trade_id = models.CharField(_("venue trade id"), max_length=64, blank=True)
    raw = models.JSONField(_("venue event"), default=dict)
    at = models.DateTimeField(_("time"))
    recorded_at = models.DateTimeField(_("recorded"))

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("venue event")
        verbose_name_plural = _("venue events")
        ordering = ["-at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "venue_order_id", "venue_trade_id"], name="venue_event_unique_fill"
            )
        ]
        indexes = [models.Index(fields=["tenant", "-at"], name="venue_event_tenant_time")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.kind} {self.side} {self.quantity} @ {self.price}"


# --- carry inputs, recorded from now on: backtests and the risk view need their history, and no
# venue serves past swap terms -------------------------------------------------------------------------------------
