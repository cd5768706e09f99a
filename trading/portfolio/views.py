"""The portfolio pages: the cash-flow ledger (read by every role that reads trading data; entered, approved and
rejected by admins) and the Reports page. A foreign id is a 404."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.permissions import Perm, permission_required, request_membership, role_has
from trading.models import CashFlow, CashFlowStatus

from .cashflows import CashFlowError, approval_threshold_usd, cash_flow_approve, cash_flow_enter, cash_flow_reject
from .cashflows import cash_flows_for as flows_of_tenant
from .forms import CashFlowFilterForm, CashFlowForm

PER_PAGE = 25


def _membership(request: HttpRequest) -> Any:
    membership = request_membership(request)
    assert membership is not None  # permission_required answered for users without a tenant
    return membership


def _flow_or_404(request: HttpRequest, flow_id: int) -> CashFlow:
    flow = CashFlow.objects.filter(tenant=_membership(request).tenant, pk=flow_id).first()
    if flow is None:
        raise Http404
    return flow


def _list_context(request: HttpRequest, form: CashFlowForm | None = None) -> dict[str, Any]:
    membership = _membership(request)
    tenant = membership.tenant
    filters = CashFlowFilterForm(request.GET or None, tenant=tenant)
    rows = flows_of_tenant(tenant=tenant, filters=filters.filters())
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
        "awaiting": CashFlow.objects.filter(tenant=tenant, status=CashFlowStatus.REQUESTED).count(),
        "user_id": request.user.pk,
    }


@permission_required(Perm.TRADING_READ)
def cash_flow_list(request: HttpRequest) -> HttpResponse:
    return render(request, "trading/portfolio/cash_flows.html", _list_context(request))


@permission_required(Perm.CASH_FLOW_MANAGE)
@require_POST
def cash_flow_create(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    form = CashFlowForm(request.POST, tenant=membership.tenant)
    if form.is_valid():
        try:
            flows = cash_flow_enter(tenant=membership.tenant, actor=request.user, entry=form.entry(), request=request)  # type: ignore[arg-type]
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
            cash_flow_approve(flow=flow, actor=request.user, request=request)  # type: ignore[arg-type]
            messages.success(request, _("Cash flow approved."))
        else:
            reason = request.POST.get("reason", "")[:300]
            cash_flow_reject(flow=flow, actor=request.user, reason=reason, request=request)  # type: ignore[arg-type]
            messages.success(request, _("Cash flow rejected."))
    except CashFlowError as error:
        messages.error(request, str(error))
        return render(request, "trading/portfolio/cash_flows.html", _list_context(request), status=409)
    return HttpResponseRedirect(reverse("cash_flows"))
