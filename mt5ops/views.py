"""Portal pages for MT5 terminal instances: everyone who reads trading data sees them, admins add and delete them.
The form posts with HTMX and comes back with its errors inline (400) or redirects on success; without JavaScript it
works as a plain form. A foreign id is a 404."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.http import (
    AuditContext,
    is_htmx,
    request_membership,
    require_actor,
    require_membership,
    require_tenant,
)
from accounts.permissions import Perm, permission_required, role_has
from quantarb.sorting import sort_from

from . import services
from .forms import TerminalForm
from .models import TerminalInstance

PER_PAGE = 25
TERMINAL_SORTS = {
    "label": ("label",),
    "backend": ("backend",),
    "address": ("host", "bridge_port"),
    "accounts": ("account_count",),
}


def _can_manage(request: HttpRequest) -> bool:
    membership = request_membership(request)
    return membership is not None and role_has(membership.role, Perm.ACCOUNT_MANAGE)


def _saved(request: HttpRequest, url: str) -> HttpResponse:
    """After a successful post: HTMX follows `HX-Redirect`; a plain form follows the 302."""
    if is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


@permission_required(Perm.TRADING_READ)
def terminal_list(request: HttpRequest) -> HttpResponse:
    tenant = require_tenant(request)
    can_manage = _can_manage(request)
    form = TerminalForm(request.POST or None, tenant=tenant) if can_manage else None
    status = 200
    if request.method == "POST":
        if form is None:
            return HttpResponse(status=403)
        if form.is_valid():
            terminal = services.terminal_add(
                tenant=tenant,
                values=form.values(),
                actor=require_actor(request),
                context=AuditContext.from_request(request),
            )
            messages.success(request, _("Terminal %(label)s added.") % {"label": terminal.label})
            return _saved(request, reverse("terminals"))
        status = 400
        if is_htmx(request):
            return render(request, "mt5ops/partials/_terminal_form.html", {"form": form}, status=400)
    terminals = (
        TerminalInstance.objects.for_member(require_membership(request))
        .annotate(account_count=Count("accounts"))
        .order_by("label")
    )
    sort = sort_from(request.GET, TERMINAL_SORTS)
    page = Paginator(sort.apply(terminals), PER_PAGE).get_page(request.GET.get("page"))
    context = {"page": page, "form": form, "can_manage": can_manage, "sort": sort, "query": sort.extend("")}
    return render(request, "mt5ops/terminals.html", context, status=status)


@require_POST
@permission_required(Perm.ACCOUNT_MANAGE)
def terminal_delete(request: HttpRequest, terminal_id: int) -> HttpResponse:
    terminal = get_object_or_404(TerminalInstance.objects.for_member(require_membership(request)), pk=terminal_id)
    try:
        services.terminal_delete(
            terminal=terminal, actor=require_actor(request), context=AuditContext.from_request(request)
        )
    except services.TerminalInUse as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Terminal %(label)s deleted.") % {"label": terminal.label})
    return HttpResponseRedirect(reverse("terminals"))
