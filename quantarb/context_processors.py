from typing import Any

from django.conf import settings

from accounts.permissions import permissions_for


def platform(request: Any) -> dict[str, Any]:
    membership = getattr(request, "membership", None)
    tenants = []
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        tenants = [m.tenant for m in user.memberships.select_related("tenant")]
    return {
        "run_mode": settings.QUANTARB_RUN_MODE,
        "active_membership": membership if membership else None,
        # The active role's permissions (accounts/permissions.py), for menus: `{% if "member.view" in tenant_perms %}`.
        "tenant_perms": {p.value for p in permissions_for(membership.role)} if membership else set(),
        "user_tenants": tenants,
        "stale_after_ms": int(settings.QUANTARB_STALE_AFTER_SECONDS * 1000),
    }
