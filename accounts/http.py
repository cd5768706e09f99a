"""What a view needs to know about its request, typed, in one place: the active membership, the acting user,
whether HTMX asked, where it may safely be sent back to, and the audit context a service records with.

Views and API views read these instead of poking at `request` themselves; services never see a request at all:
they take an `AuditContext` (who, from where), so a job or a command calls them with the same arguments.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.ipv6 import clean_ipv6_address

if TYPE_CHECKING:
    from .models import Membership, Tenant, User

USER_AGENT_LENGTH = 512  # the audit row's column


def client_ip(request: HttpRequest | None) -> str | None:
    """The peer's address, normalised as PostgreSQL's `inet` prints it. Forwarded-for headers are not trusted
    here: behind a proxy, the proxy must set REMOTE_ADDR."""
    raw = request.META.get("REMOTE_ADDR", "") if request is not None else ""
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return None
    return clean_ipv6_address(raw) if address.version == 6 else str(address)


def request_membership(request: Any) -> Membership | None:
    """The active membership (the token's under JWT, the session's choice otherwise), unwrapped from its lazy
    object so that `None` reads as `None`."""
    membership = getattr(request, "membership", None)
    return membership if membership else None


def require_membership(request: Any) -> Membership:
    """The active membership of a request a permission check has already admitted (`permission_required`,
    `HasRolePermission`); a request without one is refused rather than let through unscoped."""
    membership = request_membership(request)
    if membership is None:
        raise PermissionDenied
    return membership


def require_tenant(request: Any) -> Tenant:
    """The active tenant of a request a permission check has already admitted."""
    return require_membership(request).tenant


def request_actor(request: Any) -> User | None:
    """The signed-in user of the request, or None for an anonymous caller."""
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def require_actor(request: Any) -> User:
    """The signed-in user of a request that sign-in is required for."""
    user = request_actor(request)
    if user is None:
        raise PermissionDenied
    return user


def is_htmx(request: HttpRequest) -> bool:
    """HTMX asked (it wants a partial, not the whole page)."""
    return request.headers.get("HX-Request") == "true"


def safe_redirect_target(request: HttpRequest, target: str | None, *, fallback: str, prefix: str = "") -> str:
    """`target` when it is a URL of this site (and starts with `prefix`), else `fallback`: a `next` parameter or
    a Referer header must never send the user off-site."""
    if (
        target
        and target.startswith(prefix)
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return target
    return fallback


@dataclass(frozen=True, slots=True)
class AuditContext:
    """Who asked for a change and from where, as the audit trail records it beside the service's own `actor`.
    A view builds it from its request (`from_request`); a job or a command passes none, and the audit row then
    names the system as the actor. Services take this, never the request."""

    actor: User | None = None
    ip: str | None = None
    user_agent: str = ""
    correlation_id: str = ""

    @classmethod
    def from_request(cls, request: Any) -> AuditContext:
        """A web or API request's context. Reads the Django request under a DRF one: DRF copies the user it
        authenticated onto it, and reading it there never starts DRF's authentication (the JWT backend audits
        from inside it)."""
        http_request: Any = getattr(request, "_request", request)
        return cls(
            actor=request_actor(http_request),
            ip=client_ip(http_request),
            user_agent=http_request.headers.get("User-Agent", "")[:USER_AGENT_LENGTH],
            correlation_id=str(getattr(http_request, "correlation_id", "") or ""),
        )


def audit_context(request: Any | None) -> AuditContext | None:
    """`AuditContext.from_request` for a request that may be missing (a signal sent outside any request)."""
    return AuditContext.from_request(request) if request is not None else None
