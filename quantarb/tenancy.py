"""The active tenant of a request or socket: the session's choice among the user's memberships, else the first.

Every page and API route reads `request.tenant` / `request.membership`; selectors take them, so no list can
forget isolation. A user with no membership has no tenant and sees nothing but a page that says so.
"""

from __future__ import annotations

from typing import Any

from django.utils.functional import SimpleLazyObject

from accounts.choices import UserStatus
from accounts.models import Membership
from accounts.sessions import TENANT_SESSION_KEY
from accounts.two_factor import session_passes_two_factor


def active_membership(user: Any, session: Any) -> Membership | None:
    """The membership a session acts in; None for a suspended user, and for one who must pass two-factor and
    whose session has not (accounts/two_factor.py), so neither a page nor a socket opens for them."""
    if not getattr(user, "is_authenticated", False) or user.status != UserStatus.ACTIVE:
        return None
    if not session_passes_two_factor(user, session):
        return None
    memberships = Membership.objects.filter(user=user).select_related("tenant").order_by("created_at", "pk")
    wanted = session.get(TENANT_SESSION_KEY) if session is not None else None
    if wanted is not None:
        chosen = memberships.filter(tenant_id=wanted).first()
        if chosen is not None:
            return chosen
    return memberships.first()


class TenantMiddleware:
    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        membership = SimpleLazyObject(lambda: active_membership(request.user, request.session))
        request.membership = membership
        request.tenant = SimpleLazyObject(lambda: membership.tenant if membership else None)  # type: ignore[attr-defined]
        return self.get_response(request)
