"""Ends portal sessions that were revoked, went idle or reached their lifetime, at their next request.

Placed after authentication (it reads `request.user`) and before the account gate. A request with a bearer token
is the token's business (accounts/jwt.py), not the session's. A person's request moves the idle deadline; the
page's background requests (see accounts/sessions.py) are checked but move nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from quantarb import clock

from .http import AuditContext
from .models import SessionEnd
from .sessions import (
    is_background,
    portal_session_end,
    portal_session_of,
    portal_session_start,
    portal_session_touch,
    reset_current_session,
    session_expiry_reason,
    set_current_session,
)


def _end_message(reason: str) -> str:
    if reason == SessionEnd.IDLE:
        return _("You were signed out after a period without activity. Sign in again.")
    if reason == SessionEnd.LIFETIME:
        return _("Your session reached its maximum length. Sign in again.")
    if reason == SessionEnd.PASSWORD_CHANGED:
        return _("Your password was changed, which signed out your other sessions. Sign in again.")
    return _("This session was signed out from another session or by an admin. Sign in again.")


class SessionLifetimeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or self._bearer(request):
            return self.get_response(request)
        portal_session = portal_session_of(request)
        if portal_session is None or portal_session.user_id != user.pk:
            # Signed in before sessions were recorded: adopt it, counting from now.
            portal_session = portal_session_start(request=request, user=user)
        now = clock.now()
        reason: str | None = portal_session.end_reason if portal_session.ended_at is not None else None
        if reason is None:
            expired = session_expiry_reason(portal_session, now)
            if expired is not None:
                portal_session_end(
                    portal_session=portal_session,
                    reason=expired,
                    actor=None,
                    context=AuditContext.from_request(request),
                )
                reason = expired
        if reason is not None:
            return self._signed_out(request, reason)
        if not is_background(request):
            portal_session_touch(portal_session=portal_session, request=request, now=now)
        token = set_current_session(portal_session.pk)
        try:
            return self.get_response(request)
        finally:
            reset_current_session(token)

    @staticmethod
    def _bearer(request: HttpRequest) -> bool:
        return request.path.startswith("/api/") and request.headers.get("Authorization", "").startswith("Bearer ")

    @staticmethod
    def _signed_out(request: HttpRequest, reason: str) -> HttpResponse:
        request.session.flush()
        request.user = AnonymousUser()
        message = _end_message(reason)
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": message, "code": "session_ended"}, status=401)
        login_url = reverse("login")
        if request.method == "GET" and not request.headers.get("HX-Request"):
            login_url += "?" + urlencode({"next": request.get_full_path()})
        messages.warning(request, message)
        if request.headers.get("HX-Request"):
            # htmx would swap a redirect's target into the fragment; this sends the whole page to the login.
            response = HttpResponse(status=401)
            response["HX-Redirect"] = login_url
            return response
        return HttpResponseRedirect(login_url)
