"""Pages where a user sees and ends their own sessions and API tokens, and an admin ends a member's."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from .http import AuditContext, require_membership
from .models import ApiTokenGrant, Membership, PortalSession, SessionEnd, User
from .permissions import Perm, permission_required
from .sessions import portal_session_end, portal_session_of, portal_sessions_end_all, token_grant_revoke


def _open_sessions(user: Any) -> list[PortalSession]:
    return list(PortalSession.objects.filter(user=user, ended_at__isnull=True).order_by("-last_activity_at"))


def _open_grants(user: Any, **scope: Any) -> list[ApiTokenGrant]:
    return list(
        ApiTokenGrant.objects.filter(user=user, revoked_at__isnull=True, **scope)
        .select_related("tenant")
        .order_by("-issued_at")
    )


@login_required
def my_sessions(request: HttpRequest) -> HttpResponse:
    """The signed-in user's open portal sessions and API token families, each with a button that ends it."""
    current = portal_session_of(request)
    context = {
        "sessions": _open_sessions(request.user),
        "grants": _open_grants(request.user),
        "current_id": current.pk if current is not None else None,
        "subject": request.user,
        "member": None,
    }
    return render(request, "accounts/sessions.html", context)


@require_POST
@login_required
def my_session_revoke(request: HttpRequest, session_id: int) -> HttpResponse:
    # Another user's id answers 404, as a missing one does.
    target = get_object_or_404(PortalSession, pk=session_id, user=request.user)
    user: User = request.user  # type: ignore[assignment]
    if portal_session_end(
        portal_session=target, reason=SessionEnd.REVOKED, actor=user, context=AuditContext.from_request(request)
    ):
        messages.success(request, _("The session was signed out."))
    return HttpResponseRedirect(reverse("my_sessions"))


@require_POST
@login_required
def my_token_revoke(request: HttpRequest, grant_id: int) -> HttpResponse:
    grant = get_object_or_404(ApiTokenGrant.objects.select_related("tenant", "user"), pk=grant_id, user=request.user)
    user: User = request.user  # type: ignore[assignment]
    if token_grant_revoke(
        grant=grant, reason=SessionEnd.REVOKED, actor=user, context=AuditContext.from_request(request)
    ):
        messages.success(request, _("The API token was revoked: it and its access tokens answer 401 from now on."))
    return HttpResponseRedirect(reverse("my_sessions"))


def _member(request: HttpRequest, membership_id: int) -> Membership:
    membership = require_membership(request)
    return get_object_or_404(
        Membership.objects.select_related("user", "tenant"), pk=membership_id, tenant_id=membership.tenant_id
    )


@permission_required(Perm.MEMBER_MANAGE)
def member_sessions(request: HttpRequest, membership_id: int) -> HttpResponse:
    """A member's open sessions and their API tokens for this tenant; the admin signs them out everywhere."""
    member = _member(request, membership_id)
    context = {
        "sessions": _open_sessions(member.user),
        "grants": _open_grants(member.user, tenant=member.tenant),
        "current_id": None,
        "subject": member.user,
        "member": member,
    }
    return render(request, "accounts/sessions.html", context)


@require_POST
@permission_required(Perm.MEMBER_MANAGE)
def member_sessions_revoke(request: HttpRequest, membership_id: int) -> HttpResponse:
    member = _member(request, membership_id)
    actor: User = request.user  # type: ignore[assignment]
    # The admin's own current session stays when they sign themselves out elsewhere.
    current = portal_session_of(request) if member.user_id == actor.pk else None
    ended = portal_sessions_end_all(
        user=member.user,
        reason=SessionEnd.REVOKED_BY_ADMIN,
        actor=actor,
        context=AuditContext.from_request(request),
        keep=current.pk if current is not None else None,
    )
    revoked = sum(
        token_grant_revoke(
            grant=grant, reason=SessionEnd.REVOKED_BY_ADMIN, actor=actor, context=AuditContext.from_request(request)
        )
        for grant in ApiTokenGrant.objects.filter(user=member.user, tenant=member.tenant, revoked_at__isnull=True)
    )
    messages.success(
        request,
        ngettext(
            "%(user)s: %(sessions)d session signed out, %(tokens)d API token revoked.",
            "%(user)s: %(sessions)d sessions signed out, %(tokens)d API tokens revoked.",
            ended + revoked,
        )
        % {"user": member.user.username, "sessions": ended, "tokens": revoked},
    )
    return HttpResponseRedirect(reverse("member_sessions", args=[member.pk]))
