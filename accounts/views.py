from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from quantarb.tenancy import SESSION_KEY
from trading.models import PairAccess

from .choices import Role, Theme
from .forms import MemberAddForm, MemberRoleForm
from .models import Membership
from .permissions import Perm, permission_required, request_membership, role_has
from .grants import may_operate, set_grant
from .services import membership_remove, membership_set


def _back(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.headers.get("Referer") or "/"
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    return target


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Save the language on the user (when signed in) and in the `django_language` cookie."""
    language = request.POST.get("language", "").lower()  # `zh-Hans` is `zh-hans`
    if language not in dict(settings.LANGUAGES):
        return HttpResponseBadRequest(_("Unknown language."))
    response = HttpResponseRedirect(_back(request))
    if request.user.is_authenticated:
        request.user.language = language
        request.user.save(update_fields=["language"])
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, max_age=365 * 24 * 3600, samesite="Lax")
    return response


@require_POST
def set_theme(request: HttpRequest) -> HttpResponse:
    theme = request.POST.get("theme", "")
    if theme not in Theme.values:
        return HttpResponseBadRequest(_("Unknown theme."))
    if request.user.is_authenticated:
        request.user.theme = theme
        request.user.save(update_fields=["theme"])
    return HttpResponseRedirect(_back(request))


@require_POST
def switch_tenant(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return HttpResponseRedirect(settings.LOGIN_URL)
    try:
        tenant_id = int(request.POST.get("tenant", ""))
    except ValueError:
        return HttpResponseBadRequest(_("Choose a tenant."))
    # `tenant__pk` (not `tenant_id`) goes through the primary key's lookup, which turns an id beyond the column's
    # range into "no such row" instead of an overflow error on SQLite.
    membership = Membership.objects.filter(user=request.user, tenant__pk=tenant_id).select_related("tenant").first()
    if membership is None:
        return HttpResponse(_("No such tenant."), status=404)
    request.session[SESSION_KEY] = membership.tenant_id
    messages.success(request, _("Switched to %(tenant)s.") % {"tenant": membership.tenant.name})
    return HttpResponseRedirect(_back(request))


# --- members of the active tenant -----------------------------------------------------------------------------
MEMBERS_PER_PAGE = 50


@permission_required(Perm.MEMBER_VIEW)
def members(request: HttpRequest) -> HttpResponse:
    """The active tenant's members and roles; admins add, re-role and remove them here (compliance reads)."""
    membership = request_membership(request)
    assert membership is not None  # permission_required answered for a user without a tenant
    tenant = membership.tenant
    can_manage = role_has(membership.role, Perm.MEMBER_MANAGE)
    add_form = MemberAddForm(tenant=tenant)
    status = 200
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied
        add_form = MemberAddForm(request.POST, tenant=tenant)
        if add_form.is_valid():
            added = add_form.save(actor=request.user, request=request)  # type: ignore[arg-type]
            messages.success(
                request,
                _("%(user)s is now %(role)s of %(tenant)s.")
                % {"user": added.user.username, "role": added.get_role_display(), "tenant": tenant.name},
            )
            return HttpResponseRedirect(reverse("members"))
        status = 400
    query = request.GET.get("q", "").strip()[:150]
    rows = Membership.objects.filter(tenant=tenant).select_related("user").order_by("user__username")
    if query:
        rows = rows.filter(Q(user__username__icontains=query) | Q(user__email__icontains=query))
    page = Paginator(rows, MEMBERS_PER_PAGE).get_page(request.GET.get("page"))
    pairs = list(PairAccess.objects.filter(tenant=tenant).select_related("pair").order_by("pair__name"))
    for row in page:
        row.granted_pairs = {access.pk for access in pairs if row.role == Role.TRADER and may_operate(row, access)}
    context = {
        "pairs": pairs,
        "page": page,
        "query": query,
        "can_manage": can_manage,
        "add_form": add_form,
        "roles": Role.choices,
        "tenant": tenant,
        "me": membership,
    }
    return render(request, "accounts/members.html", context, status=status)


@require_POST
@permission_required(Perm.MEMBER_MANAGE)
def member_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    target = _member_of_active_tenant(request, membership_id)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose one of the roles."))
        return HttpResponseRedirect(reverse("members"))
    try:
        membership_set(
            user=target.user,
            tenant=target.tenant,
            role=form.cleaned_data["role"],
            actor=request.user,  # type: ignore[arg-type]
            request=request,
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        target.refresh_from_db()
        messages.success(
            request,
            _("%(user)s is now %(role)s.") % {"user": target.user.username, "role": target.get_role_display()},
        )
    return HttpResponseRedirect(_back_to_members(request))


@require_POST
@permission_required(Perm.MEMBER_MANAGE)
def member_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    target = _member_of_active_tenant(request, membership_id)
    try:
        membership_remove(membership=target, actor=request.user, request=request)  # type: ignore[arg-type]
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            _("%(user)s no longer belongs to %(tenant)s.")
            % {"user": target.user.username, "tenant": target.tenant.name},
        )
    return HttpResponseRedirect(_back_to_members(request))


@require_POST
@permission_required(Perm.MEMBER_MANAGE)
def member_grants(request: HttpRequest, membership_id: int) -> HttpResponse:
    """Set which of the tenant's pairs a trader may operate (the boxes ticked are granted, the others revoked)."""
    target = _member_of_active_tenant(request, membership_id)
    if target.role != Role.TRADER:
        messages.error(request, _("Only traders get pair grants: admins operate every pair, other roles none."))
        return HttpResponseRedirect(_back_to_members(request))
    pairs = {access.pk: access for access in PairAccess.objects.filter(tenant_id=target.tenant_id)}
    try:
        wanted = {int(value) for value in request.POST.getlist("pair_access")}
    except ValueError:
        return HttpResponseBadRequest(_("Choose pairs from the list."))
    if not wanted <= set(pairs):
        raise Http404(_("No such pair in this tenant."))
    changed = 0
    with transaction.atomic():
        for pk, access in pairs.items():
            changed += set_grant(
                actor=request.user,  # type: ignore[arg-type]
                member=target,
                obj=access,
                granted=pk in wanted,
                request=request,
            )
    if changed:
        messages.success(request, _("Pair grants of %(user)s saved.") % {"user": target.user.username})
    return HttpResponseRedirect(_back_to_members(request))


def _member_of_active_tenant(request: HttpRequest, membership_id: int) -> Membership:
    """A membership of the active tenant, or 404 — another tenant's id answers exactly like a missing one."""
    membership = request_membership(request)
    assert membership is not None
    return get_object_or_404(
        Membership.objects.select_related("user", "tenant"), pk=membership_id, tenant_id=membership.tenant_id
    )


def _back_to_members(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    if target.startswith(reverse("members")) and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}
    ):
        return target
    return reverse("members")
