"""The Transfers and Compliance tabs of the risk centre.

Transfers (`trading.read` to read): the advice per pool from the accounts' latest snapshots, the request form and
the list with each transfer's state; requesting, approving, completing, rejecting and cancelling need
`cash_flow.manage` (admins), approving and rejecting a second admin. Compliance (`dashboard.view`: every role reads
the desk's rules; admins edit them in the admin). A foreign id is a 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.http import AuditContext, require_actor, require_membership
from accounts.permissions import Perm, permission_required, role_has

from .choices import TransferStatus
from .compliance import desk_rules
from .forms import TransferCloseForm, TransferCompleteForm, TransferRequestForm
from .models import Transfer
from .transfers import (
    TransferError,
    transfer_advice,
    transfer_approve,
    transfer_close,
    transfer_complete,
    transfer_request,
    transfers_for,
)

PER_PAGE = 20


def _page(request: HttpRequest, form: TransferRequestForm | None = None, status: int = 200) -> HttpResponse:
    membership = require_membership(request)
    may_manage = role_has(membership.role, Perm.CASH_FLOW_MANAGE)
    tenant = membership.tenant
    page = Paginator(transfers_for(membership=membership), PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "advice": transfer_advice(tenant=tenant),
        "page": page,
        "query": "",
        "form": form or TransferRequestForm(tenant=tenant),
        "may_manage": may_manage,
        "user_id": request.user.pk,
        "complete_form": TransferCompleteForm(),
    }
    return render(request, "risk/transfers.html", context, status=status)


@require_http_methods(["GET", "POST"])
@permission_required(Perm.TRADING_READ)
def transfer_list(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _page(request)
    membership = require_membership(request)
    if not role_has(membership.role, Perm.CASH_FLOW_MANAGE):
        raise PermissionDenied
    form = TransferRequestForm(request.POST, tenant=membership.tenant)
    if not form.is_valid():
        return _page(request, form, status=400)
    try:
        transfer = transfer_request(
            tenant=membership.tenant,
            actor=require_actor(request),
            from_account=form.cleaned_data["from_account"],
            to_account=form.cleaned_data["to_account"],
            amount=form.cleaned_data["amount"],
            note=form.cleaned_data["note"],
            context=AuditContext.from_request(request),
        )
    except TransferError as error:
        form.add_error(error.field, str(error))
        return _page(request, form, status=400)
    messages.success(request, _("Transfer #%(id)s requested: a second admin approves it.") % {"id": transfer.pk})
    return HttpResponseRedirect(reverse("transfers"))


def _transfer(request: HttpRequest, transfer_id: int) -> Transfer:
    transfer = transfers_for(membership=require_membership(request)).filter(pk=transfer_id).first()
    if transfer is None:
        raise Http404
    return transfer


@require_POST
@permission_required(Perm.CASH_FLOW_MANAGE)
def transfer_action(request: HttpRequest, transfer_id: int, action: str) -> HttpResponse:
    transfer = _transfer(request, transfer_id)
    actor = require_actor(request)
    context = AuditContext.from_request(request)
    try:
        if action == "approve":
            transfer_approve(transfer=transfer, actor=actor, context=context)
            messages.success(request, _("Transfer #%(id)s approved.") % {"id": transfer.pk})
        elif action == "complete":
            form = TransferCompleteForm(request.POST)
            if not form.is_valid():
                errors = "; ".join(str(text) for texts in form.errors.values() for text in texts)
                messages.error(request, errors)
                return HttpResponseRedirect(reverse("transfers"), status=303)
            transfer_complete(
                transfer=transfer, actor=actor, venue_ref=form.cleaned_data["venue_ref"],
                received=form.cleaned_data["received"], context=context,
            )  # fmt: skip
            messages.success(
                request, _("Transfer #%(id)s done and booked in the cash-flow ledger.") % {"id": transfer.pk}
            )
        elif action in ("reject", "cancel"):
            close = TransferCloseForm(request.POST)
            reason = close.cleaned_data["reason"] if close.is_valid() else ""
            to = TransferStatus.REJECTED if action == "reject" else TransferStatus.CANCELLED
            transfer_close(transfer=transfer, actor=actor, to=to, reason=reason, context=context)
            messages.success(request, _("Transfer #%(id)s %(state)s.") % {"id": transfer.pk, "state": to.label})
        else:
            raise Http404
    except TransferError as error:
        messages.error(request, str(error))
    return HttpResponseRedirect(reverse("transfers"))


@require_GET
@permission_required(Perm.DASHBOARD_VIEW)
def compliance_page(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    may_edit = role_has(membership.role, Perm.SETTINGS_MANAGE)
    return render(request, "risk/compliance.html", {"rules": desk_rules(membership.tenant.pk), "may_edit": may_edit})
