"""The portfolio pages: the cash-flow ledger (read by every role that reads trading data; entered, approved and
rejected by admins) and the Reports page. A foreign id is a 404."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.apps import apps
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.http import AuditContext, require_actor, require_membership
from accounts.models import AccountPool
from accounts.permissions import Perm, permission_required, role_has
from quantarb import clock
from trading.models import CashFlow, CashFlowStatus, EquityResolution

from .cashflows import (
    CashFlowError,
    approval_threshold_usd,
    cash_flow_approve,
    cash_flow_enter,
    cash_flow_reject,
    cash_flow_withdraw,
    cash_flows_for,
)
from .equity import SETTLE, floor_to
from .forms import CashFlowFilterForm, CashFlowForm

PER_PAGE = 25


def _flow_or_404(request: HttpRequest, flow_id: int) -> CashFlow:
    flow = CashFlow.objects.for_member(require_membership(request)).filter(pk=flow_id).first()
    if flow is None:
        raise Http404
    return flow


def _list_context(request: HttpRequest, form: CashFlowForm | None = None) -> dict[str, Any]:
    membership = require_membership(request)
    tenant = membership.tenant
    filters = CashFlowFilterForm(request.GET or None, tenant=tenant)
    rows = cash_flows_for(membership=membership, filters=filters.filters())
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    query = urlencode({key: value for key, value in request.GET.items() if key != "page" and value})
    can_manage = role_has(membership.role, Perm.CASH_FLOW_MANAGE)
    return {
        "nav": "cash_flows",
        "page": page,
        "query": query,
        "filters": filters,
        "filtered": bool(filters.filters()),
        "can_manage": can_manage,
        "form": form if form is not None else (CashFlowForm(tenant=tenant) if can_manage else None),
        "threshold": approval_threshold_usd(),
        "awaiting": CashFlow.objects.for_member(require_membership(request))
        .filter(status=CashFlowStatus.REQUESTED)
        .count(),
        "user_id": request.user.pk,
    }


@permission_required(Perm.TRADING_READ)
def cash_flow_list(request: HttpRequest) -> HttpResponse:
    return render(request, "trading/portfolio/cash_flows.html", _list_context(request))


@permission_required(Perm.CASH_FLOW_MANAGE)
@require_POST
def cash_flow_create(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    form = CashFlowForm(request.POST, tenant=membership.tenant)
    if form.is_valid():
        try:
            flows = cash_flow_enter(
                tenant=membership.tenant,
                actor=require_actor(request),
                entry=form.entry(),
                context=AuditContext.from_request(request),
            )
        except CashFlowError as error:
            form.add_error(error.field if error.field in form.fields else None, str(error))
        else:
            if flows[0].status == CashFlowStatus.REQUESTED:
                messages.info(request, _("Cash flow entered: it waits for a second admin's approval."))
            else:
                messages.success(request, _("Cash flow entered."))
            return HttpResponseRedirect(reverse("cash_flows"))
    return render(request, "trading/portfolio/cash_flows.html", _list_context(request, form), status=400)


@permission_required(Perm.CASH_FLOW_MANAGE)
@require_POST
def cash_flow_decide(request: HttpRequest, flow_id: int, decision: str) -> HttpResponse:
    flow = _flow_or_404(request, flow_id)
    try:
        if decision == "approve":
            cash_flow_approve(flow=flow, actor=require_actor(request), context=AuditContext.from_request(request))
            messages.success(request, _("Cash flow approved."))
        elif decision == "withdraw":
            cash_flow_withdraw(flow=flow, actor=require_actor(request), context=AuditContext.from_request(request))
            messages.success(request, _("Cash flow withdrawn: it stays in the ledger and is never booked."))
        else:
            reason = request.POST.get("reason", "")[:300]
            cash_flow_reject(
                flow=flow, actor=require_actor(request), reason=reason, context=AuditContext.from_request(request)
            )
            messages.success(request, _("Cash flow rejected."))
    except CashFlowError as error:
        messages.error(request, str(error))
        return render(request, "trading/portfolio/cash_flows.html", _list_context(request), status=409)
    return HttpResponseRedirect(reverse("cash_flows"))


# --- the Reports page -------------------------------------------------------------------------------------------
PERIODS = (7, 30, 90, 365)


def _report_labels() -> dict[str, str]:
    """Every word the page's script writes, translated here (the script has no catalogue of its own)."""
    return {
        "twr": _("Time-weighted return"),
        "mwr": _("Money-weighted return"),
        "cagr": _("CAGR"),
        "volatility": _("Volatility"),
        "sharpe": _("Sharpe"),
        "sortino": _("Sortino"),
        "calmar": _("Calmar"),
        "max_drawdown": _("Max drawdown"),
        "var": _("VaR"),
        "cvar": _("CVaR"),
        "win_rate": _("Win rate"),
        "profit_factor": _("Profit factor"),
        "expectancy": _("Expectancy (USD)"),
        "hedges": _("Hedges closed"),
        "median_holding": _("Median holding"),
        "time_in_market": _("Time in market"),
        "pnl": _("PnL (USD)"),
        "net_flows": _("Net flows (USD)"),
        "basis": _("Annualised on %(days)s days a year; returns measured per %(frequency)s; %(clock)s equity points."),
        "frequency_1d": _("day"),
        "frequency_1h": _("hour"),
        "clock_1m": _("one-minute"),
        "clock_1h": _("hourly"),
        "undefined": _("n/a"),
        "loading": _("Loading…"),
        "failed": _("The figures could not be loaded: %(reason)s"),
        "no_equity": _(
            "No equity history for this filter yet. Enter the accounts' deposits under Cash flows; the equity job "
            "then writes a point every minute (or back-fill it: manage.py backfill_equity)."
        ),
        "no_hedges": _("No hedge closed in this period."),
        "spread": _("Spread capture"),
        "slippage": _("Slippage"),
        "fees": _("Fees"),
        "funding": _("Funding"),
        "swap": _("Swap"),
        "fx": _("USDT/USD"),
        "total": _("Net PnL"),
        "equity": _("Equity (USD)"),
        "underwater": _("Drawdown"),
        "daily_pnl": _("Daily PnL (USD)"),
        "monthly": _("Monthly return"),
        "count": _("Hedges"),
        "months": " ".join(
            [
                _("Jan"),
                _("Feb"),
                _("Mar"),
                _("Apr"),
                _("May"),
                _("Jun"),
                _("Jul"),
                _("Aug"),
                _("Sep"),
                _("Oct"),
                _("Nov"),
                _("Dec"),
            ]
        ),
        "seconds": _("s"),
        "minutes": _("min"),
        "hours": _("h"),
    }


@permission_required(Perm.TRADING_READ)
def reports(request: HttpRequest) -> HttpResponse:
    """Filters (desk, pool or strategy; a period or dates) rendered here; the figures and charts are read from the
    analytics API by static/js/reports.js, which shows each part loading until its answer arrives."""

    membership = require_membership(request)
    strategy_model = apps.get_model("strategies", "Strategy")
    pools = list(AccountPool.objects.for_member(membership).order_by("name").values_list("pk", "name"))
    strategies = list(strategy_model.objects.for_member(membership).order_by("name").values_list("pk", "name"))
    targets = [("desk", _("Whole desk"))]
    targets += [(f"pool:{pk}", _("Pool: %(name)s") % {"name": name}) for pk, name in pools]
    targets += [(f"strategy:{pk}", _("Strategy: %(name)s") % {"name": name}) for pk, name in strategies]
    target = request.GET.get("target") or "desk"
    if target not in {value for value, _label in targets}:
        target = "desk"
    period = request.GET.get("period") or "30"
    if period not in {str(days) for days in PERIODS}:
        period = "30"
    scope, _sep, scope_id = target.partition(":")
    # The window ends where the equity job has surely written (its settling time and a run's interval back), so the
    # page and an API call with the same filter read the same points.
    until = floor_to(clock.now() - SETTLE - timedelta(minutes=2), EquityResolution.MINUTE)
    params = {
        "scope": scope,
        "since": (until - timedelta(days=int(period))).isoformat(),
        "until": until.isoformat(),
    }
    if scope_id:
        params["id"] = scope_id
    config = {
        "params": params,
        "period_days": int(period),
        "urls": {
            "metrics": reverse("api-analytics-metrics"),
            "equity": reverse("api-analytics-equity"),
            "attribution": reverse("api-analytics-attribution"),
        },
        "strategies": [{"id": pk, "name": name} for pk, name in strategies],
        "labels": _report_labels(),
    }
    periods = [(str(days), _("Last %(days)s days") % {"days": days}) for days in PERIODS]
    context = {"nav": "reports", "targets": targets, "target": target, "periods": periods, "period": period,
               "config": config}  # fmt: skip
    return render(request, "trading/portfolio/reports.html", context)
