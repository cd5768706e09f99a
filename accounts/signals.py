"""Glue from Django's authentication signals to the audit trail. Each receiver only calls `audit_record`.

A sign-in concerns every desk the user belongs to, so it is recorded in each of their tenants' chains (their
compliance staff see it); a failed attempt on an unknown username goes to the platform's chain.
A lockout (django-axes) is recorded once, by the failure that caused it, in the locked user's tenants' chains.
Tenant switches and language changes are not audited.
"""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from .audit import audit_record
from .choices import AuditAction
from .http import audit_context
from .lockout import lockout_ends_at
from .models import Tenant, User


def _tenants_of(user: User) -> list[Tenant | None]:
    # Ordered by id: when one transaction appends to several chains, every writer takes their locks in the
    # same order, so two of them cannot deadlock.
    tenants: list[Tenant | None] = list(Tenant.objects.filter(memberships__user=user).order_by("pk"))
    return tenants or [None]


@receiver(user_logged_in, dispatch_uid="accounts.audit.login")
def audit_login(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    for tenant in _tenants_of(user):
        audit_record(tenant=tenant, actor=user, action=AuditAction.LOGIN, obj=user, context=audit_context(request))


@receiver(user_logged_out, dispatch_uid="accounts.audit.logout")
def audit_logout(sender: Any, request: HttpRequest | None, user: User | None, **kwargs: Any) -> None:
    if user is None:  # signing out when not signed in changes nothing
        return
    for tenant in _tenants_of(user):
        audit_record(tenant=tenant, actor=user, action=AuditAction.LOGOUT, obj=user, context=audit_context(request))


@receiver(user_login_failed, dispatch_uid="accounts.audit.login_failed")
def audit_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # The actor is whoever typed the password: unknown. The account they tried is the object.
    username = str(credentials.get(User.USERNAME_FIELD) or "")[:150]
    target = User.objects.filter(**{User.USERNAME_FIELD: username}).first() if username else None
    for tenant in _tenants_of(target) if target is not None else [None]:
        audit_record(
            tenant=tenant,
            actor=None,
            action=AuditAction.LOGIN_FAILED,
            obj=target,
            summary={"username": username},
            context=audit_context(request),
        )


@receiver(user_locked_out, dispatch_uid="accounts.audit.lockout")
def audit_lockout(sender: Any, request: Any, username: str | None, **kwargs: Any) -> None:
    # axes also signals every attempt refused during the lock; only the failure it counted (the one that reached
    # the limit) carries a failure count.
    failures = getattr(request, "axes_failures_since_start", None)
    if failures is None:
        return
    name = str(username or "")[:150]
    target = User.objects.filter(**{User.USERNAME_FIELD: name}).first() if name else None
    for tenant in _tenants_of(target) if target is not None else [None]:
        audit_record(
            tenant=tenant,
            actor=None,
            action=AuditAction.LOCKOUT,
            obj=target,
            summary={"username": name, "failures": failures, "until": lockout_ends_at(name)},
            context=audit_context(request),
        )
