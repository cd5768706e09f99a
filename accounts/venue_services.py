"""Writes around venue accounts and pools. Secrets are set only here, audited (masked) here, and never logged."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from quantarb import clock
from trading.venues.checks import CheckResult, check_connection
from trading.venues.registry import spec_for

from .audit import audit_record
from .choices import AccountStatus, AuditAction
from .crypto import mask
from .models import AccountPool, AccountSnapshot, User, VenueAccount
from .venue_forms import AccountPoolForm, VenueAccountForm


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
def account_save(*, form: VenueAccountForm, actor: User, request: HttpRequest | None = None) -> VenueAccount:
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
            request=request,
        )
    _account_alerts_on_commit(account)
    return account


def _account_alerts_on_commit(account: VenueAccount) -> None:
    """An account's status or margin changed: its alert rules look again as soon as this commits."""
    from alerts.rules import evaluate_on_commit

    evaluate_on_commit(tenant=account.tenant, rule_types=("account_error", "margin_low"))


@transaction.atomic
def account_delete(*, account: VenueAccount, actor: User, request: HttpRequest | None = None) -> None:
    if account.credentials:
        audit_record(
            tenant=account.tenant,
            actor=actor,
            action=AuditAction.SECRET_UPDATED,
            obj=account,
            summary={"account": account.label, "deleted": True},
            request=request,
        )
    account.delete()


def account_in_use(account: VenueAccount) -> AccountPool | None:
    return (
        AccountPool.objects.filter(perp_account=account).first()
        or AccountPool.objects.filter(cfd_account=account).first()
    )


@transaction.atomic
def account_test(*, account: VenueAccount, actor: User, request: HttpRequest | None = None) -> CheckResult:
    """Test the connection, record the result on the account, audit the test (never the secret)."""
    result = check_connection(
        venue=account.venue,
        credentials=account.credentials,
        terminal=account.terminal,
        rest_endpoint=account.rest_endpoint,
        ws_endpoint=account.ws_endpoint,
    )
    account.last_test_at = timezone.now()
    account.last_test_ok = result.ok
    account.last_test_message = result.message[:500]
    if result.ok and account.status == AccountStatus.ERROR:
        account.status, account.last_error = AccountStatus.ACTIVE, ""
    account.save(update_fields=["last_test_at", "last_test_ok", "last_test_message", "status", "last_error"])
    audit_record(
        tenant=account.tenant,
        actor=actor,
        action=AuditAction.SECRET_TESTED,
        obj=account,
        summary={"account": account.label, "ok": result.ok, "message": result.message},
        request=request,
    )
    _account_alerts_on_commit(account)
    return result


def pool_save(*, form: AccountPoolForm) -> AccountPool:
    pool: AccountPool = form.save(commit=False)
    pool.tenant = form.tenant
    pool.save()
    return pool


# --- balance and margin -----------------------------------------------------------------------------------
def sync_accounts(now: Any = None) -> dict[str, int]:
    """Snapshot balance, equity, used margin and margin level of every active account that can be read today.

    Simulated accounts hold paper capital (`QUANTARB_PAPER_BALANCE` in the leg's currency) and, until paper
    execution books fills, no margin in use. Live accounts are read once venue connectivity lands; they are
    counted as skipped.
    """
    at = now or clock.now()
    counts = {"synced": 0, "skipped": 0}
    capital = Decimal(str(settings.QUANTARB_PAPER_BALANCE))
    for account in VenueAccount.objects.filter(status=AccountStatus.ACTIVE).defer("credentials"):
        spec = spec_for(account.venue)
        if spec is None or not spec.simulated:
            counts["skipped"] += 1
            continue
        AccountSnapshot.objects.create(
            account=account,
            tenant_id=account.tenant_id,
            at=at,
            currency="USDT" if spec.leg == "perpetual" else "USD",
            balance=capital,
            equity=capital,
            used_margin=Decimal(0),
            margin_level=None,
        )
        VenueAccount.objects.filter(pk=account.pk).update(last_sync_at=at)
        counts["synced"] += 1
    return counts
