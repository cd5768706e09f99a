from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp import verify_token as otp_verify_token
from django_otp.plugins.otp_totp.models import TOTPDevice

from quantarb.sorting import sort_from

from .choices import InvitationStatus, Role, Theme
from .forms import JoinForm, JoinLinkForm, MemberAddForm, MemberRoleForm
from .grants import granted_ids, set_grant
from .http import AuditContext, request_actor, require_actor, require_membership, safe_redirect_target
from .lockout import locked_usernames
from .models import AccountPool, Invitation, Membership
from .permissions import Perm, permission_required, role_has
from .selectors import invitations_for, invitations_standing
from .services import (
    invitation_accept,
    invitation_decline,
    invitation_link_create,
    invitation_link_join,
    invitation_send,
    invitation_withdraw,
    join_link_name_taken,
    link_digest,
    member_reinstate,
    member_suspend,
    member_unlock,
    membership_remove,
    membership_set,
    totp_device_confirm,
    two_factor_failed,
    two_factor_reset,
    user_preferences_set,
)
from .sessions import TENANT_SESSION_KEY
from .signin_forms import OneTimeCodeForm, PortalAuthenticationForm
from .two_factor import (
    Candidate,
    confirmed_device,
    enrolment_device,
    pending_begin,
    pending_candidate,
    pending_end,
    qr_svg,
    secret_text,
    two_factor_required,
)


def _back(request: HttpRequest) -> str:
    return safe_redirect_target(request, request.POST.get("next") or request.headers.get("Referer"), fallback="/")


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Save the language on the user (when signed in) and in the `django_language` cookie."""
    language = request.POST.get("language", "").lower()  # `zh-Hans` is `zh-hans`
    if language not in dict(settings.LANGUAGES):
        return HttpResponseBadRequest(_("Unknown language."))
    response = HttpResponseRedirect(_back(request))
    user = request_actor(request)
    if user is not None:
        user_preferences_set(user=user, language=language)
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, max_age=365 * 24 * 3600, samesite="Lax")
    return response


@require_POST
def set_theme(request: HttpRequest) -> HttpResponse:
    theme = request.POST.get("theme", "")
    if theme not in Theme.values:
        return HttpResponseBadRequest(_("Unknown theme."))
    user = request_actor(request)
    if user is not None:
        user_preferences_set(user=user, theme=theme)
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
    request.session[TENANT_SESSION_KEY] = membership.tenant_id
    messages.success(request, _("Switched to %(tenant)s.") % {"tenant": membership.tenant.name})
    return HttpResponseRedirect(_back(request))


# --- members of the active tenant -----------------------------------------------------------------------------
MEMBERS_PER_PAGE = 50
MEMBER_SORTS = {
    "user": ("user__username",),
    "status": ("user__status",),
    "last_login": ("user__last_login",),
    "role": ("role",),
}


@permission_required(Perm.MEMBER_VIEW)
def members(request: HttpRequest) -> HttpResponse:
    """The active tenant's members and roles; admins add, re-role and remove them here (compliance reads)."""
    membership = require_membership(request)
    tenant = membership.tenant
    can_manage = role_has(membership.role, Perm.MEMBER_MANAGE)
    add_form = MemberAddForm(tenant=tenant)
    link_form = JoinLinkForm()
    join_link = ""
    status = 200
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied
        if request.POST.get("action") == "join_link":
            link_form = JoinLinkForm(request.POST)
            if link_form.is_valid():
                _invitation, secret = invitation_link_create(
                    tenant=tenant,
                    role=link_form.cleaned_data["role"],
                    actor=require_actor(request),
                    context=AuditContext.from_request(request),
                )
                # Shown in this answer only (never in a redirect's message, which a cookie may carry): the secret
                # is stored as a digest and cannot be shown again.
                join_link = request.build_absolute_uri(join_path(secret))
                link_form = JoinLinkForm()
            else:
                status = 400
        else:
            add_form = MemberAddForm(request.POST, tenant=tenant)
            if add_form.is_valid():
                try:
                    invitation = invitation_send(
                        tenant=tenant,
                        username=add_form.cleaned_data["username"],
                        role=add_form.cleaned_data["role"],
                        actor=require_actor(request),
                        context=AuditContext.from_request(request),
                    )
                except ValidationError as error:  # a concurrent admin invited or added the name meanwhile
                    add_form.add_error("username", error)
                else:
                    messages.success(request, _invitation_sent_message(invitation))
                    return HttpResponseRedirect(reverse("members"))
            status = 400
    query = request.GET.get("q", "").strip()[:150]
    rows = Membership.objects.for_member(require_membership(request)).select_related("user").order_by("user__username")
    if query:
        rows = rows.filter(Q(user__username__icontains=query) | Q(user__email__icontains=query))
    sort = sort_from(request.GET, MEMBER_SORTS)
    page = Paginator(sort.apply(rows), MEMBERS_PER_PAGE).get_page(request.GET.get("page"))
    pairs = list(tenant.pair_access.select_related("pair").order_by("pair__name"))  # trading's, by relation
    pools = list(AccountPool.objects.for_member(require_membership(request)).order_by("name"))
    locked = locked_usernames([row.user.username for row in page])
    with_device = set(
        TOTPDevice.objects.filter(user_id__in=[row.user_id for row in page], confirmed=True).values_list(
            "user_id", flat=True
        )
    )
    pair_grants = granted_ids(members=page, objects=pairs)
    pool_grants = granted_ids(members=page, objects=pools)
    for row in page:
        row.has_authenticator = row.user_id in with_device  # type: ignore[attr-defined]
        row.locked_until = locked.get(row.user.username)  # type: ignore[attr-defined]
        row.granted_pairs = pair_grants.get(row.user_id, set())  # type: ignore[attr-defined]
        row.granted_pools = pool_grants.get(row.user_id, set())  # type: ignore[attr-defined]
    context = {
        "invitations": list(invitations_standing(tenant=tenant)) if can_manage else [],
        "pairs": pairs,
        "pools": pools,
        "grantables": bool(pairs or pools),
        "page": page,
        "query": query,
        "sort": sort,
        "page_query": sort.extend(urlencode({"q": query}) if query else ""),
        "can_manage": can_manage,
        "add_form": add_form,
        "link_form": link_form,
        "join_link": join_link,
        "roles": Role.choices,
        "tenant": tenant,
        "me": membership,
    }
    return render(request, "accounts/members.html", context, status=status)


def _invitation_sent_message(invitation: Invitation) -> str:
    """The answer to an invitation sent: it depends on what the admin typed, never on whether the name is an
    account."""
    values = {
        "user": invitation.username,
        "role": invitation.get_role_display(),
        "date": timezone.localtime(invitation.expires_at, UTC).strftime("%Y-%m-%d %H:%M"),
    }
    return (
        _(
            "Invitation sent to %(user)s as %(role)s. If this username has an account, they see it in their portal and "
            "appear here once they accept it (before %(date)s UTC)."
        )
        % values
    )


@require_POST
@permission_required(Perm.MEMBER_MANAGE)
def invitation_withdraw_view(request: HttpRequest, invitation_id: int) -> HttpResponse:
    """Withdraw one of the active tenant's standing invitations; another tenant's id answers 404."""
    membership = require_membership(request)
    invitation = get_object_or_404(invitations_standing(tenant=membership.tenant), pk=invitation_id)
    try:
        invitation_withdraw(
            invitation=invitation, actor=require_actor(request), context=AuditContext.from_request(request)
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        if invitation.is_link:
            messages.success(request, _("The join link is withdrawn: it no longer works."))
        else:
            messages.success(request, _("The invitation of %(user)s is withdrawn.") % {"user": invitation.username})
    return HttpResponseRedirect(_back_to_members(request))


# --- the invited user's side ----------------------------------------------------------------------------------
def join_path(secret: str) -> str:
    return f"{reverse('invitation_join')}?{urlencode({'key': secret})}"


def invitation_join(request: HttpRequest) -> HttpResponse:
    """A join link (`?key=<secret>`): whoever holds it creates their account — their own username and password —
    and joins the desk with the link's role. Needs no sign-in. A link that no longer stands (or never did) answers
    404. The secret rides in the query string, which the request log lines leave out (they name the path)."""
    secret = request.GET.get("key", "")[:100]
    invitation = (
        Invitation.objects.select_related("tenant")
        .filter(link_digest=link_digest(secret), status=InvitationStatus.PENDING, user__isnull=True)
        .filter(expires_at__gt=timezone.now())
        .first()
    )
    if invitation is None:
        return render(request, "registration/join.html", {"gone": True}, status=404)
    form = JoinForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                joined = invitation_link_join(
                    secret=secret,
                    username=form.cleaned_data["username"],
                    password=form.cleaned_data["password"],
                    email=form.cleaned_data.get("email") or "",
                    context=AuditContext.from_request(request),
                )
            except ValidationError as error:
                if error.code != "taken":
                    return render(request, "registration/join.html", {"gone": True}, status=404)
                form.add_error("username", error)
            else:
                messages.success(
                    request,
                    _("Your account %(user)s is ready and you joined %(tenant)s as %(role)s: sign in.")
                    % {"user": joined.user.username, "tenant": joined.tenant.name, "role": joined.get_role_display()},
                )
                return HttpResponseRedirect(reverse("login"))
    if form.has_error("username", code="taken") and join_link_name_taken(invitation=invitation):
        # The link's last try of a taken name: it lapsed, so its holder cannot go on testing which names exist.
        return render(request, "registration/join.html", {"gone": True, "spent": True}, status=429)
    context = {"form": form, "invitation": invitation, "action": join_path(secret)}
    return render(request, "registration/join.html", context, status=status)


@login_required
def invitations(request: HttpRequest) -> HttpResponse:
    """The signed-in user's invitations to desks, to accept or decline. Needs no tenant: a newcomer has none."""
    context = {"invitations": list(invitations_for(user=request.user))}
    return render(request, "accounts/invitations.html", context)


@require_POST
@login_required
def invitation_answer(request: HttpRequest, invitation_id: int, answer: str) -> HttpResponse:
    """Accept or decline one of the caller's invitations. Anyone else's id answers 404, like a missing one; an
    invitation of theirs that lapsed or was withdrawn meanwhile is told as such."""
    user: Any = request.user
    invitation = get_object_or_404(Invitation.objects.select_related("tenant"), pk=invitation_id, user=user)
    try:
        if answer == "accept":
            joined = invitation_accept(invitation=invitation, user=user, context=AuditContext.from_request(request))
        elif answer == "decline":
            invitation_decline(invitation=invitation, user=user, context=AuditContext.from_request(request))
        else:
            raise Http404
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return HttpResponseRedirect(reverse("invitations"))
    if answer == "decline":
        messages.info(request, _("Invitation to %(tenant)s declined.") % {"tenant": invitation.tenant.name})
        return HttpResponseRedirect(reverse("invitations"))
    request.session[TENANT_SESSION_KEY] = joined.tenant_id
    messages.success(
        request,
        _("You joined %(tenant)s as %(role)s.") % {"tenant": joined.tenant.name, "role": joined.get_role_display()},
    )
    return HttpResponseRedirect(resolve_url(settings.LOGIN_REDIRECT_URL))


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
            actor=require_actor(request),
            context=AuditContext.from_request(request),
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
        membership_remove(membership=target, actor=require_actor(request), context=AuditContext.from_request(request))
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
        messages.error(request, _("Only traders get grants: admins operate every pair and pool, other roles none."))
        return HttpResponseRedirect(_back_to_members(request))
    # The boxes of both kinds: pairs (`pair_access`) and pools (`pool`); each list replaces the grants of its kind.
    kinds = (
        ("pair_access", {access.pk: access for access in target.tenant.pair_access.all()}),
        ("pool", {pool.pk: pool for pool in AccountPool.objects.filter(tenant_id=target.tenant_id)}),
    )
    wanted: dict[str, set[int]] = {}
    for name, objects in kinds:
        try:
            wanted[name] = {int(value) for value in request.POST.getlist(name)}
        except ValueError:
            return HttpResponseBadRequest(_("Choose pairs from the list."))
        if not wanted[name] <= set(objects):
            raise Http404(_("No such pair in this tenant."))
    changed = 0
    with transaction.atomic():
        for name, objects in kinds:
            for pk, obj in objects.items():
                changed += set_grant(
                    actor=require_actor(request),
                    member=target,
                    obj=obj,
                    granted=pk in wanted[name],
                    context=AuditContext.from_request(request),
                )
    if changed:
        messages.success(request, _("Grants of %(user)s saved.") % {"user": target.user.username})
    return HttpResponseRedirect(_back_to_members(request))


@require_POST
@permission_required(Perm.MEMBER_MANAGE)
def member_two_factor_reset(request: HttpRequest, membership_id: int) -> HttpResponse:
    target = _member_of_active_tenant(request, membership_id)
    try:
        removed = two_factor_reset(
            member=target, actor=require_actor(request), context=AuditContext.from_request(request)
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        if removed:
            messages.success(
                request,
                _("The authenticator of %(user)s was removed: they enrol a new one at their next sign-in.")
                % {"user": target.user.username},
            )
        else:
            messages.info(request, _("%(user)s has no authenticator to reset.") % {"user": target.user.username})
    return HttpResponseRedirect(_back_to_members(request))


@require_POST
@permission_required(Perm.MEMBER_MANAGE)
def member_account(request: HttpRequest, membership_id: int, action: str) -> HttpResponse:
    """Unlock a member locked out by failed sign-ins, suspend them, or reinstate them (each audited)."""
    target = _member_of_active_tenant(request, membership_id)
    actor: Any = request.user
    try:
        if action == "unlock":
            member_unlock(member=target, actor=actor, context=AuditContext.from_request(request))
            messages.success(request, _("%(user)s can sign in again.") % {"user": target.user.username})
        elif action == "suspend":
            member_suspend(member=target, actor=actor, context=AuditContext.from_request(request))
            messages.success(
                request,
                _("%(user)s is suspended: their sessions and tokens no longer work.") % {"user": target.user.username},
            )
        elif action == "reinstate":
            member_reinstate(member=target, actor=actor, context=AuditContext.from_request(request))
            messages.success(request, _("%(user)s is active again.") % {"user": target.user.username})
        else:
            raise Http404
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return HttpResponseRedirect(_back_to_members(request))


def _member_of_active_tenant(request: HttpRequest, membership_id: int) -> Membership:
    """A membership of the active tenant, or 404 — another tenant's id answers exactly like a missing one."""
    membership = require_membership(request)
    return get_object_or_404(
        Membership.objects.select_related("user", "tenant"), pk=membership_id, tenant_id=membership.tenant_id
    )


def _back_to_members(request: HttpRequest) -> str:
    members = reverse("members")
    return safe_redirect_target(request, request.POST.get("next"), fallback=members, prefix=members)


# --- sign-in: password, then (when required) the one-time code ----------------------------------------------
class LoginView(auth_views.LoginView):
    """The portal's password step. For a user who needs two-factor it signs nobody in: it records a pending
    sign-in and sends them to the code (or to enrolment when they have no device yet)."""

    form_class = PortalAuthenticationForm
    redirect_authenticated_user = True

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        if not two_factor_required(user):
            return super().form_valid(form)
        pending_begin(self.request, user, self.get_success_url())
        if confirmed_device(user) is None:
            return HttpResponseRedirect(reverse("two_factor_enrol"))
        return HttpResponseRedirect(reverse("two_factor_verify"))


def _candidate(request: HttpRequest) -> Candidate | None:
    """Whoever this request may finish a two-factor sign-in for: a signed-in session that still needs it, else
    the session's pending sign-in."""
    user: Any = request.user
    if user.is_authenticated:
        if two_factor_required(user) and not user.is_verified():
            wanted = request.GET.get("next") or request.POST.get("next")
            return Candidate(user=user, backend=None, next_url=safe_redirect_target(request, wanted, fallback="/"))
        return None
    return pending_candidate(request)


def _signed_in(request: HttpRequest, candidate: Candidate, device: TOTPDevice) -> HttpResponse:
    if candidate.pending:
        pending_end(request)
        # django-otp records the device in the session when `login` sees `otp_device` on the user.
        candidate.user.otp_device = device  # type: ignore[attr-defined]
        login(request, candidate.user, backend=candidate.backend)
    else:
        otp_login(request, device)
    return HttpResponseRedirect(candidate.next_url)


def _start_again(request: HttpRequest) -> HttpResponse:
    messages.warning(request, _("Your sign-in expired. Enter your password again."))
    return HttpResponseRedirect(reverse("login"))


def _throttled_until(device: TOTPDevice) -> datetime | None:
    """Until when django-otp refuses to check codes for `device` after wrong ones; None when it checks now."""
    allowed, throttle = device.verify_is_allowed()
    if allowed:
        return None
    until = (throttle or {}).get("locked_until")
    return until if isinstance(until, datetime) else timezone.now()


def _code_refused(request: HttpRequest, candidate: Candidate, throttled_until: datetime | None) -> str:
    """Why a code was not accepted, audited as a failed sign-in."""
    two_factor_failed(user=candidate.user, context=AuditContext.from_request(request), channel="portal")
    if throttled_until is not None:
        seconds = max(1, math.ceil((throttled_until - timezone.now()).total_seconds()))
        return ngettext(
            "Too many wrong codes. Wait %(seconds)d second, then enter the current code.",
            "Too many wrong codes. Wait %(seconds)d seconds, then enter the current code.",
            seconds,
        ) % {"seconds": seconds}
    return _("That code is not right. Enter the code your app shows now (it changes every 30 seconds).")


def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """The code step of the sign-in for a user with a confirmed device."""
    candidate = _candidate(request)
    if candidate is None:
        if request.user.is_authenticated:
            return HttpResponseRedirect(resolve_url(settings.LOGIN_REDIRECT_URL))
        return _start_again(request)
    device = confirmed_device(candidate.user)
    if device is None:
        return HttpResponseRedirect(reverse("two_factor_enrol"))
    form = OneTimeCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        throttled_until = _throttled_until(device)
        if throttled_until is None:
            verified = otp_verify_token(candidate.user, device.persistent_id, form.cleaned_data["code"])
            if verified is not None:
                return _signed_in(request, candidate, verified)
        form.add_error("code", _code_refused(request, candidate, throttled_until))
    context = {"form": form, "candidate": candidate, "public_page": True}
    return render(request, "registration/two_factor_verify.html", context)


def two_factor_enrol(request: HttpRequest) -> HttpResponse:
    """Enrolment of a user who needs two-factor and has no device: scan (or type) the secret, confirm with a
    first code; that also finishes the sign-in."""
    candidate = _candidate(request)
    user: Any = request.user
    if candidate is None and user.is_authenticated and confirmed_device(user) is None:
        # Anyone signed in may set up two-factor from the user menu, required of them or not.
        candidate = Candidate(user=user, backend=None, next_url=resolve_url(settings.LOGIN_REDIRECT_URL))
    if candidate is None:
        if user.is_authenticated:
            messages.info(request, _("Two-factor sign-in is already set up for your account."))
            return HttpResponseRedirect(resolve_url(settings.LOGIN_REDIRECT_URL))
        return _start_again(request)
    if confirmed_device(candidate.user) is not None:
        return HttpResponseRedirect(reverse("two_factor_verify"))
    device = enrolment_device(candidate.user)
    form = OneTimeCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        throttled_until = _throttled_until(device)
        code = form.cleaned_data["code"]
        confirmed = throttled_until is None and totp_device_confirm(
            user=candidate.user, device=device, code=code, context=AuditContext.from_request(request)
        )
        if confirmed:
            device.refresh_from_db()
            messages.success(request, _("Two-factor sign-in is set up. Keep your authenticator app safe."))
            return _signed_in(request, candidate, device)
        form.add_error("code", _code_refused(request, candidate, throttled_until))
    context = {
        "form": form,
        "candidate": candidate,
        "qr_svg": mark_safe(qr_svg(device)),  # noqa: S308 (drawn by the qrcode library from our own URI)
        "secret": secret_text(device),
        "issuer": settings.OTP_TOTP_ISSUER,
        "public_page": True,
    }
    return render(request, "registration/two_factor_enrol.html", context)
