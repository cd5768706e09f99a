from typing import Any

from django.conf import settings

from accounts.permissions import permissions_for
from accounts.selectors import invitations_for

# Which entry of the left navigation a page belongs to, by URL name: exactly one entry is lit (a substring test lit
# both "Pools" and "Hedges & Orders" on a pool's page, `pool` being part of `pool_desk`).
NAV_SECTIONS: dict[str, tuple[str, ...]] = {
    "dashboard": ("dashboard",),
    "strategies": ("strategies", "strategy", "strategy_create", "strategy_edit", "strategy_versions"),
    "hedges": ("hedges", "hedge", "orders", "fills", "positions", "pool_desk"),
    "venue_accounts": ("venue_accounts", "venue_account", "venue_account_create", "terminals"),
    "pools": ("pools", "pool", "pool_create"),
    "market_setup": (
        "source_pairs",
        "source_pair",
        "source_pair_create",
        "quote_sources",
        "quote_source",
        "quote_source_create",
    ),
    "risk": ("risk", "reconciliation", "reconciliation_report"),
    "alerts": (
        "alerts",
        "alert",
        "alert_channels",
        "alert_channel",
        "alert_rules",
        "alert_rule",
        "alert_deliveries",
    ),
    "members": ("members",),
}
SECTION_OF = {url_name: section for section, names in NAV_SECTIONS.items() for url_name in names}


def nav_section(url_name: str | None) -> str:
    """The navigation entry of a page ("" for pages outside the navigation)."""
    return SECTION_OF.get(url_name or "", "")


def platform(request: Any) -> dict[str, Any]:
    membership = getattr(request, "membership", None)
    tenants = []
    invitation_count = 0
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        tenants = [m.tenant for m in user.memberships.select_related("tenant")]
        # The top bar's badge: invitations the user may still answer (accounts/views.py `invitations`).
        invitation_count = invitations_for(user=user).count()
    match = getattr(request, "resolver_match", None)
    return {
        "nav": nav_section(match.url_name if match is not None else None),
        "run_mode": settings.QUANTARB_RUN_MODE,
        "active_membership": membership if membership else None,
        # The active role's permissions (accounts/permissions.py), for menus: `{% if "member.view" in tenant_perms %}`.
        "tenant_perms": {p.value for p in permissions_for(membership.role)} if membership else set(),
        "user_tenants": tenants,
        "invitation_count": invitation_count,
        "stale_after_ms": int(settings.QUANTARB_STALE_AFTER_SECONDS * 1000),
    }
