"""Object rights on top of roles: a trader operates only the objects an admin granted them.

The permission matrix (accounts/permissions.py) says what a role may do at most; django-guardian narrows a
trader to chosen objects. Admins of a tenant operate all of its objects; analysts, viewers and compliance never
operate anything, whatever grants exist. Grants are per object of the active tenant: an object of another
tenant cannot be granted (the caller gets None and answers 404), and a membership that ends takes the user's
grants in that tenant with it. Every grant and revocation is audited.

Today the granted objects are the tenant's pairs (`trading.PairAccess`, permission `operate_pairaccess`);
pools and strategies join `GRANTABLE` when they exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from guardian.models import UserObjectPermission
from guardian.shortcuts import assign_perm, get_users_with_perms, remove_perm

from .audit import audit_record
from .choices import AuditAction, Role
from .http import AuditContext
from .models import Membership, Tenant, User
from .scoping import GRANTABLE, TenantQuerySet


def _permission_for(model: type[models.Model]) -> str:
    return GRANTABLE[model._meta.label]


def operable(membership: Membership | None, queryset: models.QuerySet[Any]) -> models.QuerySet[Any]:
    """The objects of `queryset` (a grantable, tenant-owned model) that this member may operate."""
    assert isinstance(queryset, TenantQuerySet), "a grantable model's manager is a GrantableQuerySet"
    return queryset.for_member(membership, "trade")


def may_operate(membership: Membership | None, obj: models.Model) -> bool:
    return operable(membership, type(obj)._default_manager.filter(pk=obj.pk)).exists()


def operable_ids(membership: Membership | None, queryset: models.QuerySet[Any]) -> set[int]:
    """The ids among `queryset` that this member may operate, in one query: a page that asks it of many rows tests
    each row's id against this set instead of calling `may_operate` (a query) per row."""
    return set(operable(membership, queryset).values_list("pk", flat=True))


def grantees(obj: models.Model) -> list[User]:
    """The users holding the grant on `obj` (traders; admins need none)."""
    return list(get_users_with_perms(obj, only_with_perms_in=[_permission_for(type(obj)).split(".")[1]]))


@transaction.atomic
def set_grant(*, actor: User, member: Membership, obj: Any, granted: bool, context: AuditContext | None = None) -> bool:
    """Grant or revoke `member`'s right to operate `obj` (same tenant only: ValueError otherwise). Returns whether
    anything changed; a change is audited in the tenant's chain."""
    if obj.tenant_id != member.tenant_id:
        raise ValueError("an object of another tenant cannot be granted")
    permission = _permission_for(type(obj))
    holds = member.user.has_perm(permission, obj)
    if holds == granted:
        return False
    if granted:
        assign_perm(permission, member.user, obj)
    else:
        remove_perm(permission, member.user, obj)
    audit_record(
        tenant=member.tenant,
        actor=actor,
        action=AuditAction.GRANT_ADDED if granted else AuditAction.GRANT_REMOVED,
        obj=obj,
        summary={"user": member.user.username, "permission": permission, "object": str(obj)},
        context=context,
    )
    return True


def granted_ids(*, members: Iterable[Membership], objects: Iterable[models.Model]) -> dict[int, set[int]]:
    """For each trader among `members`, by user id, the ids among `objects` (one grantable model's) granted to
    them: one query for the whole list, not one per member and object. Admins need no grant and are left out."""

    rows = list(objects)
    traders = [member.user_id for member in members if member.role == Role.TRADER]
    if not rows or not traders:
        return {}
    model = type(rows[0])
    codename = _permission_for(model).split(".")[1]
    found: dict[int, set[int]] = {}
    for user_id, object_pk in UserObjectPermission.objects.filter(
        user_id__in=traders,
        content_type=ContentType.objects.get_for_model(model),
        permission__codename=codename,
        object_pk__in=[str(row.pk) for row in rows],
    ).values_list("user_id", "object_pk"):
        found.setdefault(user_id, set()).add(int(object_pk))
    return found


def revoke_all(*, user: User, tenant: Tenant) -> int:
    """Remove every grant `user` holds on `tenant`'s objects (their membership ended). Returns how many."""

    removed = 0
    for label in GRANTABLE:
        model = apps.get_model(label)
        ids = [str(pk) for pk in model._default_manager.filter(tenant=tenant).values_list("pk", flat=True)]
        removed += UserObjectPermission.objects.filter(
            user=user, content_type=ContentType.objects.get_for_model(model), object_pk__in=ids
        ).delete()[0]
    return removed
