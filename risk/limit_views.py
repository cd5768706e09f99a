"""The limits page of the risk centre (`/risk/limits/`): the desk's limits with where each stands, the actions
waiting for a person's confirmation, and the breach log (start, peak, end, action; paginated); the editor
(create, edit, disable) for admins.

Reading needs `risk.limits.view`; editing and confirming `risk.limits.manage`. A foreign id is a 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.http import AuditContext, require_actor, require_membership, require_tenant
from accounts.models import Membership
from accounts.permissions import Perm, permission_required, role_has

from .forms import RiskLimitForm
from .limits import breach_confirm, limit_save, limit_summary, pending_confirmations
from .models import Breach, RiskLimit

PER_PAGE = 25


def limits_for(*, membership: Membership | None) -> QuerySet[RiskLimit]:
    """The limits the member may view (their tenant's), enabled first."""
    return (
        RiskLimit.objects.for_member(membership, "view")
        .select_related("pool", "strategy", "account", "state")
        .order_by("-enabled", "scope_kind", "metric", "pk")
    )


def breaches_for(*, membership: Membership | None) -> QuerySet[Breach]:
    """The breaches the member may view (their tenant's), newest first."""
    return Breach.objects.for_member(membership, "view").select_related("confirmed_by").order_by("-started_at", "-pk")


@require_http_methods(["GET"])
@permission_required(Perm.RISK_LIMITS_VIEW)
def limits_page(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    page = Paginator(breaches_for(membership=membership), PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "limits": list(limits_for(membership=membership)),
        "pending": list(pending_confirmations(membership=membership).order_by("started_at", "pk")),
        "page": page,
        "can_manage": role_has(membership.role, Perm.RISK_LIMITS_MANAGE),
    }
    return render(request, "risk/limits.html", context)


def _limit_or_404(request: HttpRequest, limit_id: int) -> RiskLimit:
    limit = RiskLimit.objects.for_member(require_membership(request)).filter(pk=limit_id).first()
    if limit is None:
        raise Http404
    return limit


def _edit(request: HttpRequest, limit: RiskLimit | None) -> HttpResponse:
    tenant = require_tenant(request)
    before = limit_summary(limit) if limit is not None else None
    form = RiskLimitForm(request.POST or None, instance=limit, tenant=tenant)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                saved = limit_save(
                    row=form.instance,
                    actor=require_actor(request),
                    before=before,
                    context=AuditContext.from_request(request),
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, _("Limit saved: %(limit)s.") % {"limit": saved.label})
                return HttpResponseRedirect(reverse("risk_limits"))
        status = 400
    return render(request, "risk/limit_form.html", {"form": form, "limit": limit}, status=status)


@require_http_methods(["GET", "POST"])
@permission_required(Perm.RISK_LIMITS_MANAGE)
def limit_create(request: HttpRequest) -> HttpResponse:
    return _edit(request, None)


@require_http_methods(["GET", "POST"])
@permission_required(Perm.RISK_LIMITS_MANAGE)
def limit_edit(request: HttpRequest, limit_id: int) -> HttpResponse:
    return _edit(request, _limit_or_404(request, limit_id))


@require_POST
@permission_required(Perm.RISK_LIMITS_MANAGE)
def breach_confirm_view(request: HttpRequest, breach_id: int) -> HttpResponse:
    breach = Breach.objects.for_member(require_membership(request)).filter(pk=breach_id).first()
    if breach is None:
        raise Http404
    try:
        breach_confirm(breach=breach, actor=require_actor(request), context=AuditContext.from_request(request))
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("Confirmed: %(action)s.") % {"action": breach.get_action_display()})
    return HttpResponseRedirect(reverse("risk_limits"))
