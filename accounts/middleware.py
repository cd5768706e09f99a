"""The account gate: what a signed-in session may reach beyond authentication itself.

- A session whose user became suspended ends: `accounts.backends.AccountBackend` already makes it anonymous; here
  it is flushed and the user told why (a page redirects to the login with a message, the API answers 403).
- A signed-in user who must pass two-factor (accounts/two_factor.py) and whose session has not (it was signed in
  before the requirement applied to them, or through the admin's login) reaches only the verify and enrol pages,
  logout, and language and theme switches. The API answers 403 to such a session; a request that carries a bearer
  token is left to the token, which was issued with its code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY as AUTH_SESSION_KEY
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from .choices import UserStatus
from .models import User
from .two_factor import confirmed_device, two_factor_required

_OPEN_ROUTES = ("two_factor_verify", "two_factor_enrol", "logout", "set_language", "set_theme", "healthz", "readyz")


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


class AccountGateMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._open_paths: frozenset[str] | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user: Any = request.user
        if not user.is_authenticated:
            if AUTH_SESSION_KEY in request.session and self._session_user_suspended(request):
                return self._suspended(request)
            return self.get_response(request)
        if self._bearer(request) or self._is_open(request):
            return self.get_response(request)
        if two_factor_required(user) and not user.is_verified():
            return self._hold_for_two_factor(request, user)
        return self.get_response(request)

    @staticmethod
    def _bearer(request: HttpRequest) -> bool:
        return _is_api(request) and request.headers.get("Authorization", "").startswith("Bearer ")

    @staticmethod
    def _session_user_suspended(request: HttpRequest) -> bool:
        """The session names a user that the backend refused: is it because they are suspended?"""
        user_id = str(request.session.get(AUTH_SESSION_KEY, ""))
        return user_id.isdigit() and User.objects.filter(pk=int(user_id), status=UserStatus.SUSPENDED).exists()

    @staticmethod
    def _suspended(request: HttpRequest) -> HttpResponse:
        request.session.flush()
        message = _("This account is suspended. Ask an admin of your desk to reactivate it.")
        if _is_api(request):
            return JsonResponse({"detail": message}, status=403)
        messages.error(request, message)
        return HttpResponseRedirect(reverse("login"))

    def _is_open(self, request: HttpRequest) -> bool:
        if self._open_paths is None:
            self._open_paths = frozenset(reverse(name) for name in _OPEN_ROUTES)
        return request.path in self._open_paths or request.path.startswith("/" + settings.STATIC_URL.lstrip("/"))

    @staticmethod
    def _hold_for_two_factor(request: HttpRequest, user: Any) -> HttpResponse:
        if _is_api(request):
            return JsonResponse(
                {"detail": _("Two-factor sign-in is required: enter your code in the portal first.")}, status=403
            )
        step = "two_factor_verify" if confirmed_device(user) is not None else "two_factor_enrol"
        target = reverse(step)
        if request.method == "GET":
            target += "?" + urlencode({"next": request.get_full_path()})
        return HttpResponseRedirect(target)
