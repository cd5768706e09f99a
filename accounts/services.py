"""Writes around identity. Changes of membership, role or status tell the user's open sockets to re-check."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.http import HttpRequest

from quantarb.events import AccessChanged, user_group
from quantarb.live import send_on_commit

from .audit import audit_record
from .choices import AuditAction, Role, UserStatus
from .models import Membership, Tenant, User


def access_changed(*, user_ids: Iterable[int]) -> None:
    """After the current transaction commits, make every open socket of these users re-check its access
    (closing it when the user lost the tenant or was suspended, narrowing it when pairs were revoked)."""
    for user_id in set(user_ids):
        message: AccessChanged = {"type": "access.changed", "user_id": user_id}
        send_on_commit(user_group(user_id), dict(message))


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    tenant: Tenant | None,
    actor: User | None,
    status: str = UserStatus.ACTIVE,
    request: HttpRequest | None = None,
) -> User:
    """Create a user and record it in `tenant`'s audit chain (the desk it is created for; None: the platform's)."""
    user = User.objects.create_user(username=username, password=password, status=status)
    audit_record(
        tenant=tenant,
        actor=actor,
        action=AuditAction.USER_CREATED,
        obj=user,
        summary={"after": {"username": user.username, "status": user.status}},
        request=request,
    )
    return user


@transaction.atomic
def membership_set(
    *, user: User, tenant: Tenant, role: Role | str, actor: User | None, request: HttpRequest | None = None
) -> Membership:
    """Make `user` a member of `tenant` with `role`: creates the membership or changes its role, and audits
    either; no change, no event. A changed role makes the user's open sockets re-check their access."""
    role = Role(role)
    membership = Membership.objects.select_for_update().filter(user=user, tenant=tenant).first()
    if membership is None:
        membership = Membership.objects.create(user=user, tenant=tenant, role=role)
        audit_record(
            tenant=tenant,
            actor=actor,
            action=AuditAction.MEMBERSHIP_CREATED,
            obj=membership,
            summary={"after": {"user": user.username, "role": role.value}},
            request=request,
        )
        return membership
    if membership.role == role:
        return membership
    before = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        tenant=tenant,
        actor=actor,
        action=AuditAction.ROLE_CHANGED,
        obj=membership,
        summary={"before": {"user": user.username, "role": before}, "after": {"user": user.username, "role": role}},
        request=request,
    )
    access_changed(user_ids=[user.pk])
    return membership
