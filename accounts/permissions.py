"""The permission matrix: what each role may do in its tenant. ONE table, read by the views, the API and `/me`.

`docs/permissions.md` carries the same table (`matrix_markdown()` renders it; a test keeps the two equal).
Object-level narrowing (a trader operates only the pools and strategies granted to them) comes on top of this
table through django-guardian; the table says what a role may do at most.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

from .choices import Role
from .http import request_membership

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


class Perm(StrEnum):
    DASHBOARD_VIEW = "dashboard.view"
    MARKET_READ = "market.read"
    TRADING_READ = "trading.read"
    TRADING_EXPORT = "trading.export"
    STRATEGY_OPERATE = "strategy.operate"
    ORDER_SUBMIT = "order.submit"
    KILL_SWITCH = "risk.kill_switch"
    ACCOUNT_MANAGE = "account.manage"
    MEMBER_VIEW = "member.view"
    MEMBER_MANAGE = "member.manage"
    SETTINGS_MANAGE = "settings.manage"
    AUDIT_READ = "audit.read"
    ADMIN_SITE = "admin_site.access"
    ALERT_READ = "alert.read"
    ALERT_ACT = "alert.act"
    ALERT_MANAGE = "alert.manage"
    RECONCILIATION_SYNC = "reconciliation.sync"
    MARKET_MANAGE = "market.manage"
    CASH_FLOW_MANAGE = "cash_flow.manage"
    MT5_VIEW = "mt5.view"
    MT5_OPERATE = "mt5.operate"
    RISK_LIMITS_VIEW = "risk.limits.view"
    RISK_LIMITS_MANAGE = "risk.limits.manage"


class Grant(NamedTuple):
    permission: Perm
    admin: bool
    trader: bool
    analyst: bool
    viewer: bool
    compliance: bool
    meaning: str


Y, N = True, False

# fmt: off
MATRIX: Final[tuple[Grant, ...]] = (
    #      permission            admin trader analyst viewer compliance
    Grant(Perm.DASHBOARD_VIEW,   Y,    Y,     Y,      Y,     Y, "Dashboard, health strip, system status"),
    Grant(Perm.MARKET_READ,      Y,    Y,     Y,      Y,     Y, "Market-data API (quotes, spreads, candles)"),
    Grant(Perm.TRADING_READ,     Y,    Y,     Y,      Y,     N, "Trading data: strategies, orders, positions, PnL"),
    Grant(Perm.TRADING_EXPORT,   Y,    Y,     Y,      N,     N, "Export trading data (CSV)"),
    Grant(Perm.STRATEGY_OPERATE, Y,    Y,     N,      N,     N, "Configure, start, stop strategies (trader: granted)"),
    Grant(Perm.ORDER_SUBMIT,     Y,    Y,     N,      N,     N, "Submit, cancel orders (trader: granted accounts)"),
    Grant(Perm.KILL_SWITCH,      Y,    Y,     N,      N,     N, "Pull the kill switch"),
    Grant(Perm.ACCOUNT_MANAGE,   Y,    N,     N,      N,     N, "Venue accounts, credentials (secrets write-only)"),
    Grant(Perm.MEMBER_VIEW,      Y,    N,     N,      N,     Y, "See the tenant's users and their roles"),
    Grant(Perm.MEMBER_MANAGE,    Y,    N,     N,      N,     N, "Invite and remove members, change roles"),
    Grant(Perm.SETTINGS_MANAGE,  Y,    N,     N,      N,     N, "Tenant settings"),
    Grant(Perm.AUDIT_READ,       Y,    N,     N,      N,     Y, "Read and export the audit trail"),
    Grant(Perm.ADMIN_SITE,       Y,    N,     N,      N,     Y, "Django admin, scoped to the active tenant"),
    Grant(Perm.ALERT_READ,       Y,    Y,     Y,      Y,     N, "Alert centre, alert badge, alerts API"),
    Grant(Perm.ALERT_ACT,        Y,    Y,     N,      N,     N, "Acknowledge and resolve alerts"),
    Grant(Perm.ALERT_MANAGE,     Y,    N,     N,      N,     N, "Alert channels (secrets write-only), rules, retries"),
    Grant(Perm.RECONCILIATION_SYNC, Y, N,     N,      N,     N, "Sync a reconciliation: adopt the venue's state"),
    Grant(Perm.MARKET_MANAGE,    Y,    N,     N,      N,     N, "Quote sources and pairs: create, edit, delete"),
    Grant(Perm.CASH_FLOW_MANAGE, Y,    N,     N,      N,     N, "Enter cash flows; approve or reject another admin's"),
    Grant(Perm.MT5_VIEW,         Y,    Y,     Y,      Y,     N, "MT5 terminals: state, health log, uptime, API"),
    Grant(Perm.MT5_OPERATE,      Y,    N,     N,      N,     N, "MT5 terminals: add, reconnect, restart, maintain"),
    Grant(Perm.RISK_LIMITS_VIEW, Y,    Y,     Y,      Y,     Y, "Risk limits, their levels and the breach log"),
    Grant(Perm.RISK_LIMITS_MANAGE, Y,  N,     N,      N,     N, "Create, edit, disable limits; confirm their actions"),
)
# fmt: on

ROLE_COLUMNS: Final[tuple[Role, ...]] = (Role.ADMIN, Role.TRADER, Role.ANALYST, Role.VIEWER, Role.COMPLIANCE)

_BY_ROLE: Final[dict[str, frozenset[Perm]]] = {
    role.value: frozenset(grant.permission for grant in MATRIX if getattr(grant, role.value)) for role in ROLE_COLUMNS
}


def permissions_for(role: str | None) -> frozenset[Perm]:
    """The permissions of a role; none for no role (a user outside every tenant) or an unknown one."""
    return _BY_ROLE.get(role or "", frozenset())


def role_has(role: str | None, permission: Perm) -> bool:
    return permission in permissions_for(role)


def matrix_markdown() -> str:
    """The matrix as the markdown table that `docs/permissions.md` carries."""
    header = "| Permission | " + " | ".join(role.value for role in ROLE_COLUMNS) + " | Meaning |"
    rule = "|" + "---|" * (len(ROLE_COLUMNS) + 2)
    rows = [
        f"| `{grant.permission.value}` | "
        + " | ".join("✔" if getattr(grant, role.value) else "—" for role in ROLE_COLUMNS)
        + f" | {grant.meaning} |"
        for grant in MATRIX
    ]
    return "\n".join([header, rule, *rows]) + "\n"


# --- enforcement ------------------------------------------------------------------------------------------
class HasRolePermission(BasePermission):
    """The API's default permission: the caller is signed in and, unless the view declares
    `required_permission = None` (routes about the caller, such as `/me`), their role in the active tenant
    holds the view's `required_permission`. A view that declares nothing is refused: forgetting fails closed."""

    message = _("Your role does not allow this.")

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if getattr(request.user, "is_suspended", False):
            # JWT refuses a suspended user with 401 already; this covers a session that outlived the suspension.
            self.message = _("This account is suspended.")
            return False
        if not hasattr(view, "required_permission"):
            return False
        needed: Perm | None = view.required_permission
        if request.method not in ("GET", "HEAD", "OPTIONS") and hasattr(view, "write_permission"):
            # Views that read for many roles and write for few name both (e.g. venue accounts).
            needed = view.write_permission
        if needed is None:
            return True
        membership = request_membership(request)
        if membership is None:
            self.message = _("You are not a member of any tenant.")
            return False
        return role_has(membership.role, needed)


def permission_required(permission: Perm) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Portal views: sign-in required, a page that says so without a tenant, 403 when the role lacks `permission`."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            membership = request_membership(request)
            if membership is None:
                return render(request, "no_tenant.html", status=403)
            if not role_has(membership.role, permission):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        guarded.required_permission = permission  # type: ignore[attr-defined] # read by the route sweep's tests
        return guarded

    return decorator
