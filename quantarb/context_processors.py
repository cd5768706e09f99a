from typing import Any

from django.conf import settings

from accounts.permissions import permissions_for
from accounts.selectors import invitations_for


def platform(request: Any) -> dict[str, Any]:
    membership = getattr(request, "membership", None)
    tenants = []
    invitation_count = 0
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        tenants = [m.tenant for m in user.memberships.select_related("tenant")]
        # The top bar's badge: invitations the user may still answer (accounts/views.py `invitations`).
        invitation_count = invitations_for(user=user).count()
    return {
        "run_mode": settings.QUANTARB_RUN_MODE,
        "active_membership": membership if membership else None,
        # The active role's permissions (accounts/permissions.py), for menus: `{% if "member.view" in tenant_perms %}`.
        "tenant_perms": {p.value for p in permissions_for(membership.role)} if membership else set(),
        "user_tenants": tenants,
        "invitation_count": invitation_count,
        "stale_after_ms": int(settings.QUANTARB_STALE_AFTER_SECONDS * 1000),
    }
