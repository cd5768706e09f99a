"""Writes around venue accounts and pools. Secrets are set only here, audited (masked) here, and never logged."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext as _

from quantarb import alerting

from .audit import audit_record
from .choices import AccountMode, AuditAction
from .crypto import mask
from .http import AuditContext
from .models import AccountPool, User, VenueAccount
from .venue_forms import AccountPoolForm, VenueAccountForm
from .venue_link import account_test


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
def account_save(*, form: VenueAccountForm, actor: User, context: AuditContext | None = None) -> VenueAccount:
    """Create or update an account from a valid form; a credential change is audited (masked summary)."""
    creating = form.instance.pk is None
    changed = form.credentials_changed
    account: VenueAccount = form.save(commit=False)
    account.tenant = form.tenant
    if changed:
        account.credentials = form.new_credentials
        account.credential_hints = credential_hints(form.new_credentials)
    account.save()
    if changed and form.new_credentials:
        audit_record(
            tenant=form.tenant,
            actor=actor,
            action=AuditAction.SECRET_CREATED if creating else AuditAction.SECRET_UPDATED,
            obj=account,
            summary={"account": account.label, "venue": account.venue, "fields": sorted(form.new_credentials)},
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


def pool_save(*, form: AccountPoolForm, actor: User | None = None, context: AuditContext | None = None) -> AccountPool:
    """Save a valid pool form. Enabling a pool — a new enabled pool, one enabled now, or an enabled pool given
    another account — first tests each of its live accounts, as their Test button does (recorded on the account and
    audited): while one fails, the pool is not enabled and nothing is saved (`ValidationError` on that account's
    field, with the test's own words)."""
    pool: AccountPool = form.save(commit=False)
    pool.tenant = form.tenant
    if pool.enabled and (pool.pk is None or {"enabled", "perp_account", "cfd_account"} & set(form.changed_data)):
        problems = {}
        for field, account in (("perp_account", pool.perp_account), ("cfd_account", pool.cfd_account)):
            if account.mode != AccountMode.LIVE:
                continue  # paper accounts trade on the paper venue: nothing to reach
            result = account_test(account=account, actor=actor, context=context)
            if not result.ok:
                problems[field] = _(
                    "%(account)s failed its connection test, so the pool cannot be enabled: %(message)s"
                ) % {"account": account.label, "message": result.message}
        if problems:
            raise ValidationError(problems)
    pool.save()
    return pool
