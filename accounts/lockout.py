"""Login lockout (django-axes): when a locked username may retry, and what the portal, the admin and the API answer.

axes counts failures per username (settings: AXES_*). A lock lasts AXES_COOLOFF_TIME from the failure that caused
it, measured on axes' own clock (`request.axes_attempt_time`, Django's `timezone.now()` when the attempt came in),
and attempts during the lock do not extend it: the latest stored failure plus the cool-off is the time to retry.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import ngettext


def cool_off() -> timedelta:
    value = settings.AXES_COOLOFF_TIME
    assert isinstance(value, timedelta), "AXES_COOLOFF_TIME is a timedelta in quantarb's settings"
    return value


def lockout_ends_at(username: str | None) -> datetime | None:
    """When the lock of `username` ends: its latest counted failure plus the cool-off; None without failures."""
    if not username:
        return None
    latest = AccessAttempt.objects.filter(username=username).aggregate(latest=Max("attempt_time"))["latest"]
    return latest + cool_off() if latest is not None else None


def locked_usernames(usernames: list[str]) -> dict[str, datetime]:
    """Which of `usernames` are locked out now, with when each lock ends (for the members page)."""
    now = timezone.now()
    rows = (
        AccessAttempt.objects.filter(username__in=usernames, failures_since_start__gte=settings.AXES_FAILURE_LIMIT)
        .values("username")
        .annotate(latest=Max("attempt_time"))
    )
    ends = {row["username"]: row["latest"] + cool_off() for row in rows}
    return {name: end for name, end in ends.items() if end > now}


def retry_after_seconds(ends_at: datetime, now: datetime) -> int:
    return max(1, math.ceil((ends_at - now).total_seconds()))


def lockout_message(ends_at: datetime, now: datetime) -> str:
    minutes = math.ceil(retry_after_seconds(ends_at, now) / 60)
    return ngettext(
        "Too many failed sign-ins: this account is locked until %(time)s UTC. Try again in %(minutes)d minute.",
        "Too many failed sign-ins: this account is locked until %(time)s UTC. Try again in %(minutes)d minutes.",
        minutes,
    ) % {"time": ends_at.astimezone(UTC).strftime("%H:%M"), "minutes": minutes}


def attempted_username(request: Any, credentials: Any = None) -> str:
    """The username of the attempt axes refused: from the credentials it kept on the request, else the form."""
    for source in (getattr(request, "axes_credentials", None), credentials):
        if isinstance(source, Mapping) and source.get("username"):
            return str(source["username"])
    data = getattr(request, "data", None) or getattr(request, "POST", {})
    return str(data.get("username", "") or "")


def lockout_state(request: Any, credentials: Any = None) -> tuple[datetime, datetime]:
    """(now on axes' clock, the end of the lock) for the attempt on `request`."""
    now = getattr(request, "axes_attempt_time", None) or timezone.now()
    ends_at = lockout_ends_at(attempted_username(request, credentials)) or now + cool_off()
    return now, ends_at


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the answer to a locked-out sign-in on a page (the portal's or the admin's login).

    axes calls it with `(request, original_response, credentials)`, or `(request, credentials)` from its async
    middleware, so no argument but the request is relied on. The token endpoint answers by itself (accounts/jwt.py);
    an API path reaching here gets the same JSON.
    """
    now, ends_at = lockout_state(request, credentials)
    retry_after = retry_after_seconds(ends_at, now)
    message = lockout_message(ends_at, now)
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=settings.AXES_HTTP_RESPONSE_CODE)
    else:
        context = {"message": message, "ends_at": ends_at, "retry_after": retry_after, "public_page": True}
        response = render(request, "registration/locked_out.html", context, status=settings.AXES_HTTP_RESPONSE_CODE)
    response["Retry-After"] = str(retry_after)
    return response
