"""Portal pages for strategies: the list, the detail with its live status panel and
lifecycle buttons, the configuration form (every change a new version) and the version history.

Everyone who reads trading data sees them; admins, and traders on the pools granted to them, create,
configure, start, stop, pause, resume and restart. The status panel refreshes when the strategy's socket
(`/ws/strategies/<id>/`) says `strategy.changed`, and every few seconds regardless (HTMX poll fallback).
A foreign id is a 404; an id of the tenant that the trader may not operate is a 403.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.http import AuditContext, is_htmx, require_actor, require_membership
from accounts.permissions import Perm, permission_required, role_has
from quantarb import clock
from quantarb.sorting import sort_from
from trading.choices import LIVE_HEDGE_STATUSES, RateSource
from trading.portfolio.pnl import hedges_pnl

from .choices import LifecycleAction, StrategyState
from .domain.params import StrategyParams
from .forms import ENUM_CHOICES, GROUPS, StrategyForm, initial_from
from .messages import FIELD_LABELS
from .models import Strategy
from .selectors import (
    may_operate_strategy,
    operable_pools,
    strategies_for,
    strategy_for,
    strategy_status,
    version_history,
)
from .services import (
    TransitionRefused,
    allowed_actions,
    current_params,
    strategy_create,
    strategy_request,
    strategy_update,
)

PER_PAGE = 25


def _strategy_or_404(request: HttpRequest, strategy_id: int) -> Strategy:
    strategy = strategy_for(membership=require_membership(request), strategy_id=strategy_id)
    if strategy is None:
        raise Http404
    return strategy


def _operable_or_403(request: HttpRequest, strategy_id: int) -> Strategy:
    strategy = _strategy_or_404(request, strategy_id)
    if not may_operate_strategy(require_membership(request), strategy):
        raise PermissionDenied
    return strategy


def _saved(request: HttpRequest, url: str) -> HttpResponse:
    if is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


def lifecycle_texts(strategy: Strategy) -> dict[str, str]:
    """What each lifecycle action will do, for its confirmation dialog (stop and restart depend on the stop
    policy and on the hedges open now)."""
    params = current_params(strategy)
    live = strategy.hedges.filter(status__in=[s.value for s in LIVE_HEDGE_STATUSES]).count()
    if params.stop_policy == "flatten":
        stop = _(
            "Stop %(name)s: the runner closes both legs of its %(count)s open hedges at market, then stops and "
            "releases the pool."
        ) % {"name": strategy.name, "count": live}
    else:
        stop = _(
            "Stop %(name)s: the runner stops opening and closing hedges and releases the pool; its %(count)s open "
            "hedges stay open at the venues (stop policy: leave)."
        ) % {"name": strategy.name, "count": live}
    return {
        LifecycleAction.START: _(
            "Start %(name)s on %(pool)s (%(mode)s): the engine reconciles the pool first and refuses to start on "
            "a difference, then trades by version %(version)s."
        )
        % {
            "name": strategy.name,
            "pool": strategy.pool.name,
            "mode": strategy.get_mode_display(),
            "version": strategy.current_version.number if strategy.current_version else "-",
        },
        LifecycleAction.STOP: stop,
        LifecycleAction.PAUSE: _(
            "Pause %(name)s: no new hedges open; open hedges are still watched, closed at their exit and repaired."
        )
        % {"name": strategy.name},
        LifecycleAction.RESUME: _("Resume %(name)s: new hedges may open again.") % {"name": strategy.name},
        LifecycleAction.RESTART: _(
            "Restart %(name)s: the current runner loses its lease at once and can send nothing more; a fresh runner "
            "reconciles and carries on with the %(count)s open hedges (they are not closed)."
        )
        % {"name": strategy.name, "count": live},
    }


# --- list --------------------------------------------------------------------------------------------------------
STRATEGY_SORTS = {
    "name": ("name",),
    "state": ("state",),
    "pool": ("pool__name",),
    "mode": ("mode",),
    "version": ("current_version__number",),
    "heartbeat": ("heartbeat_at",),
    "open_hedges": ("open_hedges",),
    "realised": ("realised",),
}
VERSION_SORTS = {
    "number": lambda row: row.version.number,
    "by": lambda row: row.version.created_by.username if row.version.created_by_id else "",
    "when": lambda row: row.version.created_at,
    "note": lambda row: row.version.note,
}


@require_GET
@permission_required(Perm.TRADING_READ)
def strategy_list(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    strategies = strategies_for(membership=membership)
    state = request.GET.get("state", "")
    if state in StrategyState.values:
        strategies = strategies.filter(state=state)
    sort = sort_from(request.GET, STRATEGY_SORTS)
    page = Paginator(sort.apply(strategies), PER_PAGE).get_page(request.GET.get("page"))

    now = clock.now()
    for strategy in page:
        strategy.heartbeat_age_s = (  # type: ignore[attr-defined]
            None if strategy.heartbeat_at is None else (now - strategy.heartbeat_at).total_seconds()
        )
    can_create = role_has(membership.role, Perm.STRATEGY_OPERATE) and operable_pools(membership).exists()
    context = {
        "page": page,
        "state": state,
        "states": StrategyState.choices,
        "can_create": can_create,
        "sort": sort,
        "filter_query": f"state={state}" if state in StrategyState.values else "",
        "query": sort.extend(f"state={state}" if state in StrategyState.values else ""),
    }
    if is_htmx(request) and request.GET.get("partial") == "rows":
        return render(request, "strategies/partials/_strategy_table.html", context)
    return render(request, "strategies/strategy_list.html", context)


# --- create and configure ---------------------------------------------------------------------------------------
@permission_required(Perm.STRATEGY_OPERATE)
def strategy_new(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    pools = operable_pools(membership).filter(enabled=True)
    initial = {**initial_from(StrategyParams()), "pool": pools.first()}
    form = StrategyForm(request.POST or None, pools=pools, initial=initial)
    if request.method == "POST":
        if form.is_valid():
            assert form.cleaned_params is not None
            pool = form.cleaned_data["pool"]
            try:
                strategy = strategy_create(
                    tenant=membership.tenant,
                    name=form.cleaned_data["name"],
                    pool=pool,
                    mode=form.cleaned_data["mode"],
                    params=form.cleaned_params,
                    actor=require_actor(request),
                    note=form.cleaned_data.get("note", ""),
                    context=AuditContext.from_request(request),
                )
            except ValidationError as error:
                form.add_service_errors(error)
            else:
                messages.success(request, _("Strategy %(name)s created (version 1).") % {"name": strategy.name})
                return _saved(request, reverse("strategy", args=[strategy.pk]))
        template = "strategies/partials/_strategy_form.html" if is_htmx(request) else "strategies/strategy_form.html"
        return render(request, template, {"form": form, "pools": pools}, status=400)
    return render(request, "strategies/strategy_form.html", {"form": form, "pools": pools})


@permission_required(Perm.STRATEGY_OPERATE)
def strategy_edit(request: HttpRequest, strategy_id: int) -> HttpResponse:
    strategy = _operable_or_403(request, strategy_id)
    initial = {**initial_from(current_params(strategy)), "name": strategy.name, "pool": strategy.pool}
    form = StrategyForm(request.POST or None, strategy=strategy, initial=initial)
    if request.method == "POST":
        if form.is_valid():
            assert form.cleaned_params is not None
            try:
                version = strategy_update(
                    strategy=strategy,
                    params=form.cleaned_params,
                    actor=require_actor(request),
                    name=form.cleaned_data["name"],
                    note=form.cleaned_data.get("note", ""),
                    context=AuditContext.from_request(request),
                )
            except ValidationError as error:
                form.add_service_errors(error)
            else:
                messages.success(
                    request,
                    _("Saved as version %(number)s.") % {"number": version.number},
                )
                return _saved(request, reverse("strategy", args=[strategy.pk]))
        template = "strategies/partials/_strategy_form.html" if is_htmx(request) else "strategies/strategy_form.html"
        return render(request, template, {"form": form, "strategy": strategy}, status=400)
    return render(request, "strategies/strategy_form.html", {"form": form, "strategy": strategy})


# --- detail, status, lifecycle ----------------------------------------------------------------------------------
def _status_context(request: HttpRequest, strategy: Strategy) -> dict[str, Any]:
    membership = require_membership(request)
    status = strategy_status(strategy)
    can_operate = may_operate_strategy(membership, strategy)
    return {
        "strategy": status.strategy,
        "status": status,
        "can_operate": can_operate,
        "actions": allowed_actions(status.strategy.state) if can_operate else [],
    }


@require_GET
@permission_required(Perm.TRADING_READ)
def strategy_detail(request: HttpRequest, strategy_id: int) -> HttpResponse:
    strategy = _strategy_or_404(request, strategy_id)
    context = _status_context(request, strategy)
    params = current_params(strategy)
    context.update(
        {
            "params_groups": _params_groups(params),
            # Each dialog asks `strategy_confirm` what its action will do when it opens (hedges open and close
            # while the page stays open).
            "confirm_actions": list(LifecycleAction.values) if context["can_operate"] else [],
            "recent_hedges": hedges_pnl(strategy.hedges.select_related("pool").order_by("-planned_at", "-id")[:10]),
            "can_trip": role_has(require_membership(request).role, Perm.KILL_SWITCH) and context["can_operate"],
        }
    )
    return render(request, "strategies/strategy_detail.html", context)


def _params_groups(params: StrategyParams) -> list[tuple[Any, list[tuple[str, Any]]]]:
    values = params.to_json()
    groups = []
    for title, names in GROUPS:
        rows = []
        for name in names:
            value = values.get(name)
            if name in ENUM_CHOICES:
                value = dict(ENUM_CHOICES[name]).get(str(value), value)
            elif name == "usd_per_usdt_source":  # "pair" or a rate source's code: in words
                sources = dict(RateSource.choices)
                value = _("The pair's own source") if value == "pair" else sources.get(str(value), value)
            rows.append((FIELD_LABELS.get(name, name), value))
        groups.append((title, rows))
    return groups


@require_GET
@permission_required(Perm.TRADING_READ)
def strategy_status_panel(request: HttpRequest, strategy_id: int) -> HttpResponse:
    strategy = _strategy_or_404(request, strategy_id)
    return render(request, "strategies/partials/_status.html", _status_context(request, strategy))


@require_GET
@permission_required(Perm.STRATEGY_OPERATE)
def strategy_confirm(request: HttpRequest, strategy_id: int, action: str) -> HttpResponse:
    """What a lifecycle action will do, counted now: the text of its confirmation dialog as it opens."""
    strategy = _operable_or_403(request, strategy_id)
    if action not in LifecycleAction.values:
        raise Http404
    context = {
        "text": lifecycle_texts(strategy)[action],
        "modal_id": action,
        "confirm_class": "btn-danger" if action in (LifecycleAction.STOP, LifecycleAction.RESTART) else "btn-primary",
    }
    return render(request, "trading/execution/_confirm_body.html", context)


@require_POST
@permission_required(Perm.STRATEGY_OPERATE)
def strategy_lifecycle(request: HttpRequest, strategy_id: int) -> HttpResponse:
    strategy = _operable_or_403(request, strategy_id)
    action = request.POST.get("action", "")
    if action not in LifecycleAction.values:
        messages.error(request, _("Choose an action: start, stop, pause, resume or restart."))
        return HttpResponseRedirect(reverse("strategy", args=[strategy.pk]))
    try:
        strategy = strategy_request(
            strategy=strategy,
            action=action,
            actor=require_actor(request),
            context=AuditContext.from_request(request),
            reason=request.POST.get("reason", "")[:300],
        )
    except TransitionRefused as refused:
        messages.error(request, refused.message)
        if is_htmx(request):
            return render(request, "strategies/partials/_status.html", _status_context(request, strategy), status=409)
        return HttpResponseRedirect(reverse("strategy", args=[strategy.pk]))
    messages.success(
        request,
        _("%(action)s requested: %(name)s is now %(state)s.")
        % {
            "action": LifecycleAction(action).label,
            "name": strategy.name,
            "state": strategy.get_state_display().lower(),
        },
    )
    if is_htmx(request):
        return render(request, "strategies/partials/_status.html", _status_context(request, strategy), status=202)
    return HttpResponseRedirect(reverse("strategy", args=[strategy.pk]))


@require_GET
@permission_required(Perm.TRADING_READ)
def strategy_versions(request: HttpRequest, strategy_id: int) -> HttpResponse:
    strategy = _strategy_or_404(request, strategy_id)

    sort = sort_from(request.GET, VERSION_SORTS)
    rows = sort.apply(version_history(strategy))
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "strategy": strategy,
        "page": page,
        "sort": sort,
        "query": sort.extend(""),
        "labels": {name: str(label) for name, label in FIELD_LABELS.items()},
        "can_operate": may_operate_strategy(require_membership(request), strategy),
    }
    return render(request, "strategies/strategy_versions.html", context)
