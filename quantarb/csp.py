"""The Content-Security-Policy header (django-csp), with this host's WebSocket origin added per request.

The policy itself is `CONTENT_SECURITY_POLICY` in settings/base.py. Browsers that follow CSP Level 3 let
`connect-src 'self'` reach this origin's `ws:`/`wss:` twin, older ones do not: the live pages' Channels sockets
(`/ws/spreads/`, `/ws/strategies/<id>/`) connect to the host the page came from, so that origin is named exactly,
per request, rather than allowing every `ws:`/`wss:` destination.
https://django-csp.readthedocs.io/en/latest/configuration.html
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from csp.middleware import PolicyParts
from django.core.exceptions import DisallowedHost

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponseBase


def socket_origin(request: HttpRequest) -> str | None:
    """`wss://host[:port]` of this request (`ws://` over plain HTTP); None when the host is not an allowed one."""
    try:
        host = request.get_host()
    except DisallowedHost:
        return None
    return f"{'wss' if request.is_secure() else 'ws'}://{host}"


class CSPMiddleware(BaseCSPMiddleware):
    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        origin = socket_origin(request)
        if origin:
            update = dict(parts.update or {})
            update["connect-src"] = [*(update.get("connect-src") or ()), origin]
            parts.update = update
        return parts
