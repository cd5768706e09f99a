"""Reads around identity. Each takes the user, so no lookup reaches a membership that is not theirs."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from .models import Membership


def memberships_of(*, user: Any) -> QuerySet[Membership]:
    """The user's memberships, oldest first: the first is the default tenant of the portal and of tokens."""
    return Membership.objects.filter(user=user).select_related("tenant").order_by("created_at", "pk")


def membership_in(*, user: Any, tenant_id: int | None = None, tenant_slug: str | None = None) -> Membership | None:
    """The user's membership of one tenant, named by id or slug; `None` when they are not a member of it,
    exactly as when the tenant does not exist."""
    memberships = memberships_of(user=user)
    if tenant_id is not None:
        # `tenant__pk` turns an id beyond the column's range into "no such row" (see accounts.views).
        memberships = memberships.filter(tenant__pk=tenant_id)
    if tenant_slug is not None:
        memberships = memberships.filter(tenant__slug=tenant_slug)
    return memberships.first()
