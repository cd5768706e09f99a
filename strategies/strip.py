"""The dashboard's trading strip: the tenant's strategies that hold their pool (starting,
running, paused, stopping) or failed, with their state and PnL; the open and legged hedges; the kill switches that
are tripped; the worst margin level of the tenant's accounts; and the hedges' open and close times for the basis
chart's markers. Everything is read through the existing selectors and services (risk's read-only).

Live: a change to a strategy, a hedge or a kill switch sends one `trading.changed` control message per member of
the tenant after the transaction commits (once per tenant per transaction), over the dashboard's socket
(/ws/spreads/, trading/marketdata/consumers.py); the page re-fetches the strip (static/js/live.js).

The strip lives here, in the top layer, because it reads strategies, risk and trading together; the dashboard
(trading.marketdata) only holds its slot and fetches it by URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.models import AccountSnapshot, Membership, Tenant, VenueAccount
from accounts.permissions import Perm, permission_required
from quantarb import clock, live
from quantarb.events import user_group
from risk.choices import KillScope
from risk.services import active_switches
from trading.choices import LIVE_HEDGE_STATUSES, HedgeStatus
from trading.instruments import pair_id_for_pool
from trading.models import Hedge

from .choices import ACTIVE_STATES, StrategyState
from .models import Strategy
from .selectors import strategy_status

STRIP_STATES = (*ACTIVE_STATES, StrategyState.ERROR)
MARKER_WINDOW = timedelta(minutes=30)  # the basis chart's window (trading/marketdata/views.py `dashboard`)
MARKERS_PER_PAIR = 100


@dataclass(frozen=True)
class StripStrategy:
    strategy: Strategy
    pnl: Decimal
    pnl_known: bool  # every live hedge could be marked
    open_hedges: int
    halted: bool


@dataclass(frozen=True)
class WorstMargin:
    """The lowest margin level (equity / used margin, %) among the tenant's accounts' latest snapshots."""

    account: VenueAccount
    level: Decimal
    at: datetime


@dataclass(frozen=True)
class TradingStrip:
    strategies: list[StripStrategy]
    open_hedges: int
    legged: list[Hedge]
    switches: list[Any]
    worst_margin: WorstMargin | None
    markers: dict[str, list[dict[str, Any]]]


def strip_strategies(tenant: Tenant) -> list[StripStrategy]:
    rows = []
    for strategy in Strategy.objects.filter(tenant=tenant, state__in=STRIP_STATES).order_by("name", "pk"):
        status = strategy_status(strategy)
        rows.append(
            StripStrategy(
                strategy=strategy,
                pnl=status.total.total,
                pnl_known=status.unrealised_known,
                open_hedges=len(status.open_hedges),
                halted=bool(status.switches),
            )
        )
    return rows


def tenant_switches(tenant: Tenant) -> list[Any]:
    """The tripped kill switches that halt any of the tenant's trading: the global one, the tenant's, its
    strategies' (risk's `active_switches`, read-only)."""
    covering = Q(scope=KillScope.GLOBAL) | Q(scope=KillScope.TENANT, tenant=tenant)
    covering |= Q(scope=KillScope.STRATEGY, strategy__tenant=tenant)
    return list(active_switches().filter(covering).select_related("strategy").order_by("-tripped_at", "-pk"))


def worst_margin_level(tenant: Tenant) -> WorstMargin | None:
    """The worst risk figure the stored data gives: the lowest margin level among the latest snapshot of each of
    the tenant's accounts (an account with no margin in use has none and is left out)."""
    worst: WorstMargin | None = None
    for account in VenueAccount.objects.filter(tenant=tenant).defer("credentials").order_by("pk"):
        snapshot = AccountSnapshot.objects.filter(account=account).order_by("-at", "-pk").first()
        if snapshot is None or snapshot.margin_level is None:
            continue
        if worst is None or snapshot.margin_level < worst.level:
            worst = WorstMargin(account=account, level=snapshot.margin_level, at=snapshot.at)
    return worst


def hedge_markers(tenant: Tenant, since: datetime) -> dict[str, list[dict[str, Any]]]:
    """Per source pair id (as a string, for JSON): the tenant's hedges opened or closed since `since`, as
    {t (s since the epoch), kind "open" | "close", hedge id}, oldest first."""
    hedges = (
        Hedge.objects.filter(tenant=tenant)
        .filter(Q(opened_at__gte=since) | Q(closed_at__gte=since))
        .select_related("pool__perp_account", "pool__cfd_account")
        .order_by("pk")
    )
    pair_of_pool: dict[int, int | None] = {}
    markers: dict[str, list[dict[str, Any]]] = {}
    for hedge in hedges:
        if hedge.pool_id not in pair_of_pool:
            pair_of_pool[hedge.pool_id] = pair_id_for_pool(hedge.pool)
        pair_id = pair_of_pool[hedge.pool_id]
        if pair_id is None:
            continue
        rows = markers.setdefault(str(pair_id), [])
        for kind, at in (("open", hedge.opened_at), ("close", hedge.closed_at)):
            if at is not None and at >= since:
                rows.append({"t": int(at.timestamp()), "kind": kind, "hedge": hedge.pk})
    return {
        key: sorted(rows, key=lambda row: (row["t"], row["hedge"]))[-MARKERS_PER_PAIR:] for key, rows in markers.items()
    }


def trading_strip(tenant: Tenant) -> TradingStrip:
    live = Hedge.objects.filter(tenant=tenant, status__in=[status.value for status in LIVE_HEDGE_STATUSES])
    legged = list(
        live.filter(status__in=(HedgeStatus.LEGGED, HedgeStatus.REPAIRING, HedgeStatus.NEEDS_RECONCILE))
        .select_related("pool")
        .order_by("-planned_at", "-pk")[:10]
    )
    return TradingStrip(
        strategies=strip_strategies(tenant),
        open_hedges=live.filter(status=HedgeStatus.OPEN).count(),
        legged=legged,
        switches=tenant_switches(tenant),
        worst_margin=worst_margin_level(tenant),
        markers=hedge_markers(tenant, clock.now() - MARKER_WINDOW),
    )


@require_GET
@permission_required(Perm.TRADING_READ)
def trading_strip_view(request: HttpRequest) -> HttpResponse:
    """The strip as a partial (the dashboard fetches it on load, on `trading.changed` and every 30 s)."""
    tenant = request.tenant  # type: ignore[attr-defined]
    return render(request, "strategies/partials/_trading_strip.html", {"strip": trading_strip(tenant)})


# --- live -------------------------------------------------------------------------------------------------------
class _StripPush:
    """The after-commit push of one tenant's strip (one per tenant per transaction: a hedge's open writes it
    several times)."""

    def __init__(self, tenant_id: int) -> None:
        self.tenant_id = tenant_id

    def __call__(self) -> None:
        for user_id in Membership.objects.filter(tenant_id=self.tenant_id).values_list("user_id", flat=True):
            message = {"type": "trading.changed", "user_id": user_id, "tenant_id": self.tenant_id}
            live.send_on_commit(user_group(user_id), message)


def push_strip(tenant_id: int | None) -> None:
    """After the current transaction commits, tell the tenant's members that their trading strip changed (at once
    outside a transaction)."""
    if tenant_id is None:
        return
    connection = transaction.get_connection()
    # Already scheduled in this transaction? (A rolled-back transaction drops its callbacks, this one's too.)
    for entry in connection.run_on_commit:
        if isinstance(entry[1], _StripPush) and entry[1].tenant_id == tenant_id:
            return
    transaction.on_commit(_StripPush(tenant_id))


def _strategy_saved(sender: Any, instance: Strategy, **kwargs: Any) -> None:
    push_strip(instance.tenant_id)


def _hedge_saved(sender: Any, instance: Hedge, **kwargs: Any) -> None:
    push_strip(instance.tenant_id)


def _switch_saved(sender: Any, instance: Any, **kwargs: Any) -> None:
    if instance.tenant_id is not None:
        push_strip(instance.tenant_id)
    elif instance.strategy_id is not None:
        push_strip(Strategy.objects.filter(pk=instance.strategy_id).values_list("tenant_id", flat=True).first())
    else:  # the global switch: every desk's strip
        for tenant_id in Tenant.objects.values_list("pk", flat=True):
            push_strip(tenant_id)


def connect_signals() -> None:
    """Called from StrategiesConfig.ready()."""
    post_save.connect(_strategy_saved, sender=Strategy, dispatch_uid="strip-strategy")
    post_delete.connect(_strategy_saved, sender=Strategy, dispatch_uid="strip-strategy-deleted")
    post_save.connect(_hedge_saved, sender=Hedge, dispatch_uid="strip-hedge")
    post_save.connect(_switch_saved, sender="risk.KillSwitch", dispatch_uid="strip-kill-switch")
