"""Tenant scoping by construction: every tenant-owned model's default manager is a `TenantQuerySet`, so a view
reads `Model.objects.for_member(membership, "view")` and cannot forget the tenant (modelled on NetBox's
`RestrictedQuerySet.restrict(user, action)`).

What each action lets a member reach (roles and grants as accounts/permissions.py and accounts/grants.py say):

- `view`: the rows of the member's tenant. Whether the role may open the page at all is the view's
  `permission_required` / the API's `required_permission`.
- `trade`: the rows the member may operate. An admin operates every row of the tenant; a trader the rows of the
  pools and pairs an admin granted them (django-guardian), for a model that belongs to a pool or is one
  (`grant_path`), and every row of the tenant otherwise; analysts, viewers and compliance none.
- `change`: as `trade` for a model with a `grant_path` (a trader edits what they operate), admins only otherwise.
- `admin`: the tenant's rows for an admin, none for anyone else.

No membership (a user outside every tenant) reaches nothing. A foreign id is simply not in the queryset, so
`get_object_or_404(Model.objects.for_member(...), pk=...)` answers 404, never 403.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypeVar

from django.db import models
from guardian.shortcuts import get_objects_for_user

from .choices import Role

if TYPE_CHECKING:
    from .models import Membership

Action = Literal["view", "change", "trade", "admin"]
ACTIONS: tuple[Action, ...] = ("view", "change", "trade", "admin")

# model label → the object permission that means "may operate it" (django-guardian, accounts/grants.py)
GRANTABLE: dict[str, str] = {
    "trading.PairAccess": "trading.operate_pairaccess",
    "accounts.AccountPool": "accounts.operate_accountpool",
}

_M = TypeVar("_M", bound=models.Model)


class TenantQuerySet(models.QuerySet[_M]):
    """The queryset of a model with a `tenant` foreign key. A model that belongs to a pool (or is a grantable
    object itself) uses `PoolOwnedQuerySet` or `GrantableQuerySet`, which name the way to its grant."""

    grant_path: str | None = None  # "" for a grantable model itself, "pool" for a model that belongs to a pool

    def for_member(self, membership: Membership | None, action: Action = "view") -> TenantQuerySet[_M]:
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}: one of {', '.join(ACTIONS)}")
        if membership is None:
            return self.none()
        in_tenant = self.filter(tenant_id=membership.tenant_id)
        role = membership.role
        if action == "view" or role == Role.ADMIN:
            return in_tenant
        if action == "admin" or role != Role.TRADER:
            return in_tenant.none()
        if self.grant_path is None:
            return in_tenant if action == "trade" else in_tenant.none()
        if self.grant_path == "":
            return in_tenant.filter(pk__in=_granted(membership, in_tenant))
        return in_tenant.filter(**{f"{self.grant_path}__in": _pools_granted(membership)})


def _granted(membership: Membership, objects: models.QuerySet[Any]) -> Any:
    """The ids among `objects` (a grantable model's) that the member was granted, as a subquery."""
    permission = GRANTABLE[objects.model._meta.label]
    return get_objects_for_user(membership.user, permission, klass=objects, accept_global_perms=False).values("pk")


def _pools_granted(membership: Membership) -> Any:
    """The ids of the pools a trader was granted in their tenant, as a subquery (one query whatever the rows)."""
    # accounts.models imports this module for its querysets: deferred to break the cycle
    from .models import AccountPool

    return _granted(membership, AccountPool.objects.filter(tenant_id=membership.tenant_id))


class GrantableQuerySet(TenantQuerySet[_M]):
    """A model whose rows are granted themselves (pools, pairs)."""

    grant_path = ""


class PoolOwnedQuerySet(TenantQuerySet[_M]):
    """A model that belongs to a pool: a trader operates the rows of the pools granted to them."""

    grant_path = "pool"
