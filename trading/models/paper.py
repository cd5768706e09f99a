"""The paper venue's own ledger: its orders and positions per paper account."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from trading.choices import (
    OrderKind,
    OrderSide,
    OrderStatus,
)
from trading.models.columns import OUNCES, PRICE, RATE


class PaperOrder(models.Model):
    """The paper venue's own book: what the simulated venue received and did, kept apart from our `Order`
    records so that reconciliation reads it as *the venue*."""

    account = models.ForeignKey(
        "accounts.VenueAccount", on_delete=models.CASCADE, related_name="paper_orders", verbose_name=_("account")
    )
    client_order_id = models.CharField(_("client order id"), max_length=36)
    venue_order_id = models.CharField(_("venue order id"), max_length=64)
    side = models.CharField(_("side"), max_length=4, choices=OrderSide.choices)
    kind = models.CharField(_("type"), max_length=10, choices=OrderKind.choices)
    quantity = models.DecimalField(_("quantity (oz)"), **OUNCES)
    limit_price = models.DecimalField(_("limit price"), null=True, blank=True, **PRICE)
    status = models.CharField(_("status"), max_length=18, choices=OrderStatus.choices)
    filled = models.DecimalField(_("filled (oz)"), default=Decimal(0), **OUNCES)
    avg_price = models.DecimalField(_("average price"), null=True, blank=True, **PRICE)
    fee = models.DecimalField(_("fees"), default=Decimal(0), **RATE)
    fills = models.JSONField(_("fills"), default=list, blank=True)
    at = models.DateTimeField(_("time"))

    class Meta:
        verbose_name = _("paper venue order")
        verbose_name_plural = _("paper venue orders")
        ordering = ["-at", "-id"]
        constraints = [models.UniqueConstraint(fields=["account", "client_order_id"], name="paper_order_unique_cid")]

    def __str__(self) -> str:
        return self.client_order_id


class PaperPosition(models.Model):
    """The paper venue's position of one account (signed ounces) and the PnL its closed ounces realised (in the
    instrument's quote currency), moved only by paper fills (or a test that injects a difference, as a venue-side
    change would). With the fees of `PaperOrder` and the account's carry it makes the paper account's balance
    (trading/execution/paper.py `paper_account_state`)."""

    account = models.OneToOneField(
        "accounts.VenueAccount", on_delete=models.CASCADE, related_name="paper_position", verbose_name=_("account")
    )
    quantity_oz = models.DecimalField(_("position (oz)"), default=Decimal(0), **OUNCES)
    avg_price = models.DecimalField(_("average price"), null=True, blank=True, **PRICE)
    realised_pnl = models.DecimalField(_("realised PnL"), default=Decimal(0), **PRICE)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("paper venue position")
        verbose_name_plural = _("paper venue positions")

    def __str__(self) -> str:
        return f"{self.account_id}: {self.quantity_oz} oz"
