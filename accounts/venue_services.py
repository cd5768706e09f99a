"""Writes around venue accounts and pools. Secrets are set only here, audited (masked) here, and never logged."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext as _

from quantarb import alerting

from .audit import audit_record
from .choices import AccountMode, AuditAction
from .crypto import mask
from .http import AuditContext
from .models import AccountPool, Tenant, User, VenueAccount
from .venue_link import account_test
from .venue_rules import POOL_FIELDS, AccountValues, PoolValues, credentials_merged


def credential_hints(credentials: dict[str, str] | None) -> dict[str, str]:
    """What may be shown of each credential: masked keys (last four characters), masked password, the login's
    last digits, the server in full (it is not secret)."""
    if not credentials:
        return {}
    hints: dict[str, str] = {}
    for name, value in credentials.items():
        if not value:
            continue
        if name == "server":
            hints[name] = value
        elif name == "password":
            hints[name] = mask(value, hint=False)
        elif name == "login":
            hints[name] = mask(value, hint=False) + value[-3:] if len(value) > 3 else mask(value, hint=False)
        else:
            hints[name] = mask(value)
    return hints


@transaction.atomic
def account_save(
    *,
    tenant: Tenant,
    account: VenueAccount | None,
    values: AccountValues,
    actor: User,
    context: AuditContext | None = None,
) -> VenueAccount:
    """Create (`account` None) or update an account from validated values (venue_rules.account_problems found
    nothing). Only the secrets given replace stored ones; a credential change is audited (masked summary). An
    account never changes venue: an update keeps its own."""
    creating = account is None
    if account is None:
        account = VenueAccount(tenant=tenant, venue=values.venue)
    stored = {} if creating else (account.credentials or {})
    new_credentials = credentials_merged(venue=account.venue, stored=stored, given=values.credentials)
    changed = (new_credentials or None) != (stored or None)
    account.label = values.label
    account.owner = values.owner
    account.mode = values.mode
    account.status = values.status
    account.terminal = values.terminal  # type: ignore[assignment]
    account.rest_endpoint = values.rest_endpoint
    account.ws_endpoint = values.ws_endpoint
    account.binance_testnet = values.binance_testnet
    if changed:
        account.credentials = new_credentials
        account.credential_hints = credential_hints(new_credentials)
    account.save()
    if changed and new_credentials:
        audit_record(
            tenant=tenant,
            actor=actor,
            action=AuditAction.SECRET_CREATED if creating else AuditAction.SECRET_UPDATED,
            obj=account,
            summary={"account": account.label, "venue": account.venue, "fields": sorted(new_credentials)},
            context=context,
        )
    _account_alerts_on_commit(account)
    return account


def _account_alerts_on_commit(account: VenueAccount) -> None:
    """An account's status may have changed: its alert rules look again as soon as this commits."""
    alerting.evaluate_on_commit(tenant=account.tenant, rule_types=("account_error",))


@transaction.atomic
def account_delete(*, account: VenueAccount, actor: User, context: AuditContext | None = None) -> None:
    if account.credentials:
        audit_record(
            tenant=account.tenant,
            actor=actor,
            action=AuditAction.SECRET_UPDATED,
            obj=account,
            summary={"account": account.label, "deleted": True},
            context=context,
        )
    account.delete()


def account_in_use(account: VenueAccount) -> AccountPool | None:
    return (
        AccountPool.objects.filter(perp_account=account).first()
        or AccountPool.objects.filter(cfd_account=account).first()
    )


class PoolInUse(Exception):
    """The pool is still referenced (a strategy trades it, hedges or commands name it): nothing was deleted."""


def pool_delete(*, pool: AccountPool, actor: User, context: AuditContext | None = None) -> None:
    """Delete a pool nothing refers to any more, audited; PoolInUse (the API's 409) with a message naming what
    still does, and nothing recorded."""
    pool_id, name, tenant = pool.pk, pool.name, pool.tenant
    try:
        with transaction.atomic():
            pool.delete()
            audit_record(
                tenant=tenant,
                actor=actor,
                action=AuditAction.POOL_DELETED,
                summary={"pool": name, "id": pool_id},
                context=context,
            )
    except ProtectedError as error:
        strategies = sorted({str(obj) for obj in error.protected_objects if obj._meta.model_name == "strategy"})
        if strategies:
            message = _(
                "The pool %(pool)s is used by the strategy %(names)s: delete it or move it to another pool first."
            ) % {"pool": pool.name, "names": ", ".join(strategies[:5])}
        else:
            message = _("The pool %(pool)s has trading history (hedges, orders or commands) and cannot be deleted.") % {
                "pool": pool.name
            }
        raise PoolInUse(message) from None


def pool_save(
    *,
    tenant: Tenant,
    pool: AccountPool | None,
    values: PoolValues,
    actor: User | None = None,
    context: AuditContext | None = None,
) -> AccountPool:
    """Create (`pool` None) or update a pool from validated values (venue_rules.pool_problems found nothing),
    audited with the fields that changed. Enabling a pool — a new enabled pool, one enabled now, or an enabled pool
    given another account — first tests each of its live accounts, as their Test button does (recorded on the
    account and audited): while one fails, the pool is not enabled and nothing is saved (`ValidationError` on that
    account's field, with the test's own words)."""
    creating = pool is None
    # What is stored, read again: a portal form has already copied the new values onto its instance.
    stored = AccountPool.objects.filter(pk=pool.pk) if pool is not None else AccountPool.objects.none()
    before = stored.values(*_POOL_COLUMNS.values()).first() or {}
    after = {_POOL_COLUMNS[name]: _column_value(getattr(values, name)) for name in _POOL_COLUMNS}
    changed = sorted(name for name, column in _POOL_COLUMNS.items() if creating or before.get(column) != after[column])
    if values.enabled and (creating or {"enabled", "perp_account", "cfd_account"} & set(changed)):
        problems = {}
        for field, account in (("perp_account", values.perp_account), ("cfd_account", values.cfd_account)):
            if account.mode != AccountMode.LIVE:
                continue  # paper accounts trade on the paper venue: nothing to reach
            result = account_test(account=account, actor=actor, context=context)
            if not result.ok:
                problems[field] = _(
                    "%(account)s failed its connection test, so the pool cannot be enabled: %(message)s"
                ) % {"account": account.label, "message": result.message}
        if problems:
            raise ValidationError(problems)
    with transaction.atomic():
        if pool is None:
            pool = AccountPool(tenant=tenant)
        for name in _POOL_COLUMNS:
            setattr(pool, name, getattr(values, name))
        pool.save()
        if changed:
            audit_record(
                tenant=tenant,
                actor=actor,
                action=AuditAction.POOL_CREATED if creating else AuditAction.POOL_UPDATED,
                obj=pool,
                summary={
                    "pool": pool.name,
                    "fields": changed,
                    "values": {name: _summary_value(getattr(values, name)) for name in changed},
                },
                context=context,
            )
    return pool


# A pool's fields and their columns (an account leg is compared by its id).
_POOL_COLUMNS = {name: f"{name}_id" if name in ("perp_account", "cfd_account") else name for name in POOL_FIELDS}


def _column_value(value: Any) -> Any:
    return value.pk if isinstance(value, VenueAccount) else value


def _summary_value(value: Any) -> Any:
    """A value as the audit trail keeps it (JSON): an account by its label, an amount as its digits."""
    if isinstance(value, VenueAccount):
        return value.label
    if isinstance(value, Decimal):
        return str(value)
    return value
