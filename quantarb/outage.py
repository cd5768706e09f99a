"""A database outage answers 503 with a short message, on pages and the API alike — never a 500 and a traceback.

Two places see the error, depending on where it happens:

- in a view (the API's authentication included): `DatabaseOutageMiddleware.process_exception`;
- in a middleware (the session, the user, the tenant are read before any view runs): Django turns the exception
  into a response with the URLconf's `handler500`, which is `server_error` here.

Both answer with `outage_response`, which touches neither the database nor the template context processors (they
read the user and the tenant). `Retry-After` tells programs when to try again; `/readyz` says the same to the
balancer (quantarb/views.py).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views import defaults

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5
DATABASE_ERRORS = (OperationalError, InterfaceError)


def is_database_outage(exc: BaseException | None) -> bool:
    """The database cannot be reached or dropped the connection (not a bad query: those are ProgrammingError,
    IntegrityError, DataError)."""
    return isinstance(exc, DATABASE_ERRORS)


def outage_response(request: HttpRequest) -> HttpResponse:
    message = _("The database is unavailable at the moment. Try again in a few seconds.")
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=503)
    else:
        page = render_to_string("503.html", {"message": message})
        response = HttpResponse(page, status=503)
    response["Retry-After"] = str(RETRY_AFTER_S)
    return response


class DatabaseOutageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_database_outage(exception):
            return None
        log.warning("database unavailable on %s: %s", request.path[:200], str(exception)[:300])
        return outage_response(request)


def server_error(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """`handler500`: called while the exception that failed the request is being handled."""
    if is_database_outage(sys.exc_info()[1]):
        return outage_response(request)
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": _("Internal server error.")}, status=500)
    return HttpResponseServerError(render_to_string("500.html", {"message": _("Something went wrong on our side.")}))


def _api_or(
    page_view: Callable[..., HttpResponse], status: int, message: Callable[[], str]
) -> Callable[..., HttpResponse]:
    """The API answers its errors as JSON (`{"detail": ...}`, as documented in its schema); pages keep Django's."""

    def view(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": message()}, status=status)
        return page_view(request, exception)

    return view


page_not_found = _api_or(defaults.page_not_found, 404, lambda: _("Not found."))
bad_request = _api_or(defaults.bad_request, 400, lambda: _("Bad request."))
permission_denied = _api_or(defaults.permission_denied, 403, lambda: _("You do not have permission to do this."))
