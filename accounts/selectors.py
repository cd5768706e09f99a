"""Reads around identity. Each takes the user, so no lookup reaches a membership that is not theirs."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from .choices import InvitationStatus
from .models import Invitation, Membership


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


def invitations_for(*, user: Any) -> QuerySet[Invitation]:
    """Invitations `user` may still accept or decline, newest first."""
    if not getattr(user, "is_authenticated", False):
        return Invitation.objects.none()
    return Invitation.objects.filter(
        user=user, status=InvitationStatus.PENDING, expires_at__gt=timezone.now()
    ).select_related("tenant", "invited_by")


def invitations_standing(*, tenant: Any) -> QuerySet[Invitation]:
    """The desk's invitations that stand for it (not accepted, withdrawn nor lapsed), newest first. Only fields that
    are the same whether or not the name is an account may be shown from these (see `Invitation`)."""
    return Invitation.objects.filter(
        tenant=tenant, status__in=Invitation.STANDING_FOR_TENANT, expires_at__gt=timezone.now()
    ).select_related("invited_by")
