"""The Risk pages: the risk centre's overview (the desk's figures from
risk/metrics.py: desk cards, a table per pool — each figure against its limits, risk/pool_limits.py — and per
account, history charts over /api/v1/risk/history/; refreshed live on a `risk.changed` push, risk/live.py), kill
switches (active and history; trip and reset, confirmed) and reconciliation reports (differences as a table; run
now; an admin's sync, confirmed).

Reading needs `trading.read`. Tripping and resetting need `risk.kill_switch`; a global switch only a platform
operator (superuser) trips or resets; a trader trips or resets a strategy's switch only on a pool granted to
them. Running a reconciliation needs `strategy.operate` on the pool; syncing needs `reconciliation.sync`
(admins). A foreign id is a 404.
"""

from __future__ import annotations

from collections.abc import Set
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.grants import may_operate, operable_ids
from accounts.http import AuditContext, require_actor, require_membership
from accounts.models import AccountPool, Membership
from accounts.permissions import Perm, permission_required, role_has
from quantarb.sorting import sort_from
from trading.choices import ReconciliationStatus
from trading.execution.selectors import REPORT_STATUSES, parse_filters, reports_for
from trading.models import ReconciliationReport
from trading.reconciliation.on_demand import (
    ReconciliationNotMismatched,
    ReconciliationUnavailable,
    difference_rows,
    reconciliation_run,
    reconciliation_sync_now,
)

from .choices import KillScope, KillTrigger
from .labels import METRIC_LABELS
from .metrics import DeskRisk, desk_risk
from .models import KillSwitch
from .pool_limits import NO_LIMITS, pool_limits
from .services import kill_switch_reset, kill_switch_trip

PER_PAGE = 25
HISTORY_SORTS = {
    "scope": ("scope", "strategy__name"),
    "trigger": ("trigger",),
    "reason": ("reason",),
    "tripped": ("tripped_at",),
    "reset": ("reset_at",),
    "reset_by": ("reset_by__username",),
    "note": ("reset_note",),
}
REPORT_SORTS = {
    "id": ("id",),
    "pool": ("pool__name",),
    "strategy": ("strategy__name",),
    "trigger": ("trigger",),
    "status": ("status",),
    "started": ("started_at",),
}


if TYPE_CHECKING:  # the strategy a switch covers, in annotations only
    from strategies.models import Strategy


def _strategies() -> Any:
    """The strategies a kill switch may cover (the model its `strategy` field names; risk does not import it)."""
    return apps.get_model("strategies", "Strategy").objects


def switches_for(*, membership: Membership | None) -> QuerySet[KillSwitch]:
    """The switches that concern the member's tenant: its own, its strategies', and the global ones (they halt it
    too). No membership sees none."""
    if membership is None:
        return KillSwitch.objects.none()
    return (
        (KillSwitch.objects.for_member(membership, "view") | KillSwitch.objects.filter(scope=KillScope.GLOBAL))
        .select_related("strategy", "tripped_by", "reset_by")
        .order_by("-tripped_at", "-id")
    )


def may_handle_switch(
    request: HttpRequest, *, scope: str, strategy: Strategy | None, operable_pools: Set[int] | None = None
) -> bool:
    """Whether the requesting member may trip or reset a switch of `scope`. A caller asking it of many switches
    passes `operable_pools` (`operable_ids` of the pools, read once); without it the strategy's pool is asked."""
    membership = require_membership(request)
    if not role_has(membership.role, Perm.KILL_SWITCH):
        return False
    if scope == KillScope.GLOBAL:
        return bool(request.user.is_superuser)
    if scope == KillScope.STRATEGY:
        if strategy is None:
            return False
        if operable_pools is None:
            return may_operate(membership, strategy.pool)
        return strategy.pool_id in operable_pools
    return True


def _trippable_strategies(request: HttpRequest) -> list[Strategy]:
    """The strategies on pools the member operates (one query, whatever their number)."""
    membership = require_membership(request)
    return list(_strategies().for_member(membership, "trade").select_related("pool").order_by("name"))


def _live_context(request: HttpRequest) -> dict[str, Any]:
    """What the risk centre refreshes live (templates/risk/_live.html): the desk's figures, its pools against their
    limits, the active kill switches."""
    membership = require_membership(request)
    active = list(switches_for(membership=membership).filter(reset_at__isnull=True))
    can_trip = role_has(membership.role, Perm.KILL_SWITCH)
    # The pools the member operates, read once for every strategy's switch rather than once per switch.
    asks_pools = can_trip and any(switch.scope == KillScope.STRATEGY for switch in active)
    operable_pools = operable_ids(membership, AccountPool.objects.all()) if asks_pools else set()
    for switch in active:
        switch.may_reset = can_trip and may_handle_switch(  # type: ignore[attr-defined]
            request, scope=switch.scope, strategy=switch.strategy, operable_pools=operable_pools
        )
    desk = desk_risk(membership.tenant.pk)
    marks = pool_limits(desk)
    return {
        "desk": desk,
        "pool_rows": [(pool, marks.get(pool.pool_id, NO_LIMITS)) for pool in desk.pools],
        "active": active,
        "can_trip": can_trip,
    }


@require_GET
@permission_required(Perm.TRADING_READ)
def risk_page(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    switches = switches_for(membership=membership)
    sort = sort_from(request.GET, HISTORY_SORTS)
    history = Paginator(sort.apply(switches.filter(reset_at__isnull=False)), PER_PAGE).get_page(request.GET.get("page"))
    context = _live_context(request)
    can_trip = context["can_trip"]
    desk = context["desk"]
    context |= {
        "history_config": _history_config(desk),
        "page": history,
        "scopes": [
            (value, label)
            for value, label in KillScope.choices
            if value != KillScope.GLOBAL or request.user.is_superuser
        ],
        "strategies": _trippable_strategies(request) if can_trip else [],
        "recent_reports": reports_for(membership=membership)[:5],
        "sort": sort,
        "query": sort.extend(""),
    }
    return render(request, "risk/risk.html", context)


@require_GET
@permission_required(Perm.TRADING_READ)
def risk_figures(request: HttpRequest) -> HttpResponse:
    """The risk centre's live part (the figures, the pools against their limits, the active kill switches) as a
    fragment: the page re-fetches it on a `risk.changed` push, or every 30 s while its socket is down."""
    return render(request, "risk/_live.html", _live_context(request))


def _history_config(desk: DeskRisk) -> dict[str, Any]:
    """What the history chart (static/js/risk.js) needs: the API, the figures and scopes to choose from, words."""
    scopes = [{"value": "desk", "label": str(_("The desk"))}]
    scopes += [{"value": f"pool:{pool.pool_id}", "label": pool.name} for pool in desk.pools]
    scopes += [{"value": f"strategy:{s.strategy_id}", "label": s.name} for s in desk.strategies]
    return {
        "url": reverse("api-risk-history"),
        "metrics": [{"value": str(metric), "label": str(label)} for metric, label in METRIC_LABELS.items()],
        "scopes": scopes,
        "labels": {
            "loading": str(_("Loading…")),
            "empty": str(_("No history of this figure yet: the risk history is written every minute.")),
            "failed": str(_("The history could not be loaded.")),
        },
    }


@permission_required(Perm.KILL_SWITCH)
@require_POST
def switch_trip(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    scope = request.POST.get("scope", "")
    reason = request.POST.get("reason", "").strip()
    strategy = None
    if scope not in KillScope.values:
        messages.error(request, _("Choose what to halt: the desk or one strategy."))
        return HttpResponseRedirect(reverse("risk"))
    if scope == KillScope.STRATEGY:
        raw = request.POST.get("strategy", "")
        strategy = (
            _strategies().for_member(membership).filter(pk=int(raw)).select_related("pool").first()
            if raw.isdigit()
            else None
        )
        if strategy is None:
            messages.error(request, _("Choose the strategy to halt."))
            return HttpResponseRedirect(reverse("risk"))
    if not may_handle_switch(request, scope=scope, strategy=strategy):
        raise PermissionDenied
    if not reason:
        messages.error(request, _("Say why you halt trading: the reason goes into the alert and the audit trail."))
        return HttpResponseRedirect(reverse("risk"))
    try:
        switch = kill_switch_trip(
            scope=scope,
            trigger=KillTrigger.MANUAL,
            reason=reason,
            tenant=membership.tenant,
            strategy=strategy,
            actor=require_actor(request),
            context=AuditContext.from_request(request),
        )
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return HttpResponseRedirect(reverse("risk"))
    messages.warning(request, _("Kill switch tripped: %(what)s.") % {"what": switch_words(switch)})
    return HttpResponseRedirect(reverse("risk"))


def switch_words(switch: KillSwitch) -> str:
    if switch.scope == KillScope.STRATEGY and switch.strategy is not None:
        return _("strategy %(name)s sends only reducing orders") % {"name": switch.strategy.name}
    if switch.scope == KillScope.TENANT:
        return _("every strategy of the desk sends only reducing orders")
    return _("every strategy of every desk sends only reducing orders")


@require_POST
@permission_required(Perm.KILL_SWITCH)
def switch_reset(request: HttpRequest, switch_id: int) -> HttpResponse:
    switch = switches_for(membership=require_membership(request)).filter(pk=switch_id).first()
    if switch is None:
        raise Http404
    if not may_handle_switch(request, scope=switch.scope, strategy=switch.strategy):
        raise PermissionDenied
    note = request.POST.get("note", "").strip()
    if not note:
        messages.error(request, _("Add a note saying why trading may resume."))
        return HttpResponseRedirect(reverse("risk"))
    try:
        kill_switch_reset(
            switch=switch, actor=require_actor(request), note=note, context=AuditContext.from_request(request)
        )
    except ValidationError as error:
        for message in error.messages:
            messages.info(request, message)
    else:
        messages.success(request, _("Kill switch reset; trading may resume."))
    return HttpResponseRedirect(reverse("risk"))


# --- reconciliation ---------------------------------------------------------------------------------------------
@require_GET
@permission_required(Perm.TRADING_READ)
def report_list(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    filters, errors = parse_filters(request.GET, REPORT_STATUSES)
    sort = sort_from(request.GET, REPORT_SORTS)
    reports = sort.apply(reports_for(membership=membership, filters=filters))
    page = Paginator(reports, PER_PAGE).get_page(request.GET.get("page"))
    pools = AccountPool.objects.for_member(membership).order_by("name")
    runnable = []
    if role_has(membership.role, Perm.STRATEGY_OPERATE):
        operable_pools = operable_ids(membership, AccountPool.objects.all())  # one query for the whole list
        runnable = [pool for pool in pools if pool.pk in operable_pools]
    context = {
        "page": page,
        "filters": filters,
        "filter_errors": errors,
        "sort": sort,
        "query": sort.extend(filters.query),
        "pools": pools,
        "runnable_pools": runnable,
        "statuses": ReconciliationStatus.choices,
    }
    return render(request, "risk/reports.html", context, status=400 if errors else 200)


def _report_or_404(request: HttpRequest, report_id: int) -> ReconciliationReport:
    report = reports_for(membership=require_membership(request)).filter(pk=report_id).first()
    if report is None:
        raise Http404
    return report


@require_GET
@permission_required(Perm.TRADING_READ)
def report_detail(request: HttpRequest, report_id: int) -> HttpResponse:
    report = _report_or_404(request, report_id)
    membership = require_membership(request)
    context = {
        "report": report,
        "rows": difference_rows(report),
        "can_sync": role_has(membership.role, Perm.RECONCILIATION_SYNC)
        and report.status == ReconciliationStatus.MISMATCH,
    }
    return render(request, "risk/report_detail.html", context)


@permission_required(Perm.STRATEGY_OPERATE)
@require_POST
def report_run(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    raw = request.POST.get("pool", "")
    pool = AccountPool.objects.for_member(membership).filter(pk=int(raw)).first() if raw.isdigit() else None
    if pool is None:
        messages.error(request, _("Choose a pool to reconcile."))
        return HttpResponseRedirect(reverse("reconciliation"))
    if not may_operate(membership, pool):
        raise PermissionDenied
    try:
        report = reconciliation_run(pool=pool)
    except ReconciliationUnavailable as error:
        messages.error(
            request,
            _(
                "%(pool)s cannot be reconciled from here: %(why)s The engine reconciles it on every start and on "
                "schedule."
            )
            % {"pool": pool.name, "why": str(error)},
        )
        return HttpResponseRedirect(reverse("reconciliation"))
    messages.info(
        request,
        _("Reconciliation of %(pool)s: %(status)s.") % {"pool": pool.name, "status": report.get_status_display()},
    )
    return HttpResponseRedirect(reverse("reconciliation_report", args=[report.pk]))


@require_POST
@permission_required(Perm.RECONCILIATION_SYNC)
def report_sync(request: HttpRequest, report_id: int) -> HttpResponse:
    report = _report_or_404(request, report_id)
    try:
        reconciliation_sync_now(report=report, actor=require_actor(request), context=AuditContext.from_request(request))
    except ReconciliationNotMismatched:
        messages.error(request, _("Only a report with differences can be synced."))
    except ReconciliationUnavailable as error:
        messages.error(request, _("This pool's venues cannot be reached from here: %(why)s") % {"why": str(error)})
    else:
        messages.success(request, _("Synced: our records adopted the venue's state."))
    return HttpResponseRedirect(reverse("reconciliation_report", args=[report.pk]))
