"""Capital between venues: the advice per pool from the accounts' latest snapshots, and the
transfer workflow — requested by an admin, approved by a second admin (never the requester), done with the venue's
reference, or rejected / cancelled — audited at each step and booked in the cash-flow ledger when done.

Nothing here moves money: admins move it at the venues and record it. When a transfer is done it is booked through
the ledger's own service (trading/portfolio/cashflows.py `cash_flow_enter`, its transfer kind: out of one account,
into the other, linked), entered in the requester's name with the venue's reference and, where the ledger's
threshold asks for a second admin, approved in the approver's — the same two people who requested and approved
the transfer, so the ledger's four eyes are the workflow's.

Advice policy (settings, margin levels in %): `QUANTARB_TRANSFER_PERP_LOW_PCT` / `_TARGET_PCT` for the perp
account (equity ÷ initial margin), `QUANTARB_TRANSFER_CFD_LOW_PCT` / `_TARGET_PCT` for the MT5 account (equity ÷
margin), `QUANTARB_TRANSFER_MIN_USD` the smallest transfer worth advising.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.choices import AuditAction
from accounts.http import AuditContext
from accounts.models import AccountPool, AccountSnapshot, Membership, Tenant, User, VenueAccount
from quantarb import clock
from trading.models import CashFlowKind, CashFlowStatus
from trading.portfolio.cashflows import (
    CashFlowError,
    Entry,
    account_currency,
    cash_flow_approve,
    cash_flow_enter,
    usd_per_usdt_at,
)

from .choices import TransferStatus
from .domain import transfers as advice_domain
from .models import Transfer

USDT = "USDT"


class TransferError(Exception):
    """A refused transfer step: `message` for people, the `field` at fault, and the HTTP status it answers
    (400 bad input, 403 the requester deciding their own, 409 the transfer's state)."""

    def __init__(self, message: str, field: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


def _setting(name: str, default: str) -> Decimal:
    return Decimal(str(getattr(settings, name, default)))


def policies() -> tuple[advice_domain.MarginPolicy, advice_domain.MarginPolicy, Decimal]:
    perp = advice_domain.MarginPolicy(
        _setting("QUANTARB_TRANSFER_PERP_LOW_PCT", "300"), _setting("QUANTARB_TRANSFER_PERP_TARGET_PCT", "500")
    )
    cfd = advice_domain.MarginPolicy(
        _setting("QUANTARB_TRANSFER_CFD_LOW_PCT", "200"), _setting("QUANTARB_TRANSFER_CFD_TARGET_PCT", "300")
    )
    return perp, cfd, _setting("QUANTARB_TRANSFER_MIN_USD", "100")


@dataclass(frozen=True)
class PoolAdvice:
    pool: AccountPool
    perp: advice_domain.VenueMargin | None
    cfd: advice_domain.VenueMargin | None
    advice: advice_domain.Advice | None
    usd_per_usdt: Decimal
    rate_observed: bool

    @property
    def missing(self) -> bool:
        return self.perp is None or self.cfd is None


def _margin(account: VenueAccount, leg: str, snapshot: AccountSnapshot | None, usdt: Decimal) -> Any:
    if snapshot is None:
        return None
    maintenance = (snapshot.margin_terms or {}).get("maintenance_margin") if leg == "perp" else None
    try:
        maintenance_margin = Decimal(str(maintenance)) if maintenance not in (None, "") else None
    except InvalidOperation:
        maintenance_margin = None
    return advice_domain.VenueMargin(
        account_id=account.pk,
        label=account.label,
        leg=leg,
        currency=snapshot.currency,
        equity=snapshot.equity,
        used_margin=max(snapshot.used_margin, Decimal(0)),
        usd_per_unit=usdt if snapshot.currency == USDT else Decimal(1),
        maintenance_margin=maintenance_margin,
    )


def transfer_advice(*, tenant: Tenant) -> list[PoolAdvice]:
    """Each enabled pool of the desk with its two accounts' margins and the transfer advised now (None: none)."""
    perp_policy, cfd_policy, min_usd = policies()
    rate, observed = usd_per_usdt_at(tenant, clock.now())
    pools = list(
        AccountPool.objects.filter(tenant=tenant, enabled=True)
        .select_related("perp_account", "cfd_account")
        .order_by("name", "pk")
    )
    account_ids = {pool.perp_account_id for pool in pools} | {pool.cfd_account_id for pool in pools}
    newest = AccountSnapshot.objects.filter(account=OuterRef("pk")).order_by("-at", "-pk").values("pk")[:1]
    ids = (
        VenueAccount.objects.filter(pk__in=account_ids)
        .annotate(latest=Subquery(newest))
        .values_list("latest", flat=True)
    )
    latest = {row.account_id: row for row in AccountSnapshot.objects.filter(pk__in=[i for i in ids if i is not None])}
    out = []
    for pool in pools:
        perp = _margin(pool.perp_account, "perp", latest.get(pool.perp_account_id), rate)
        cfd = _margin(pool.cfd_account, "cfd", latest.get(pool.cfd_account_id), rate)
        advice = None
        if perp is not None and cfd is not None:
            advice = advice_domain.advise(perp, cfd, perp_policy=perp_policy, cfd_policy=cfd_policy, min_usd=min_usd)
        out.append(PoolAdvice(pool, perp, cfd, advice, rate, observed))
    return out


def advice_summary(advice: advice_domain.Advice) -> dict[str, Any]:
    def side(after: advice_domain.SideAfter) -> dict[str, Any]:
        return {
            "account": after.account_id,
            "label": after.label,
            "amount": str(after.amount),
            "currency": after.currency,
            "level_before_pct": None if after.level_before_pct is None else str(round(after.level_before_pct, 1)),
            "level_after_pct": None if after.level_after_pct is None else str(round(after.level_after_pct, 1)),
        }

    return {"amount_usd": str(advice.amount_usd), "from": side(advice.source), "to": side(advice.target)}


# --- the workflow ---------------------------------------------------------------------------------------------
def transfers_for(*, membership: Membership | None) -> QuerySet[Transfer]:
    """The transfers the member may view (their tenant's), newest first."""
    return (
        Transfer.objects.for_member(membership, "view")
        .select_related(
            "from_account",
            "to_account",
            "requested_by",
            "approved_by",
            "done_by",
            "closed_by",
            "cash_flow__transfer_peer",
        )
        .order_by("-requested_at", "-pk")
    )


def _summary(transfer: Transfer) -> dict[str, Any]:
    return {
        "from": transfer.from_account.label,
        "to": transfer.to_account.label,
        "amount": str(transfer.amount),
        "currency": transfer.currency,
        "status": transfer.status,
        "venue_ref": transfer.venue_ref,
    }


def _audit(transfer: Transfer, actor: User, action: str, context: AuditContext | None, **extra: Any) -> None:
    audit_record(
        tenant=transfer.tenant, actor=actor, action=action, obj=transfer, summary={**_summary(transfer), **extra},
        context=context,
    )  # fmt: skip


@transaction.atomic
def transfer_request(
    *,
    tenant: Tenant,
    actor: User,
    from_account: VenueAccount,
    to_account: VenueAccount,
    amount: Decimal,
    note: str = "",
    context: AuditContext | None = None,
) -> Transfer:
    """Record an admin's request to move `amount` (in the sending account's currency). Raises TransferError."""
    for name, account in (("from_account", from_account), ("to_account", to_account)):
        if account.tenant_id != tenant.pk:
            raise TransferError(_("Choose one of this desk's accounts."), name)
    if from_account.pk == to_account.pk:
        raise TransferError(_("A transfer goes between two different accounts."), "to_account")
    if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise TransferError(_("Enter a positive amount with at most two decimals."), "amount")
    if amount >= Decimal("1e16"):
        raise TransferError(_("The amount is too large."), "amount")
    advice = next(
        (
            advice_summary(item.advice)
            for item in transfer_advice(tenant=tenant)
            if item.advice is not None
            and {item.advice.source.account_id, item.advice.target.account_id} == {from_account.pk, to_account.pk}
        ),
        {},
    )
    transfer = Transfer.objects.create(
        tenant=tenant,
        from_account=from_account,
        to_account=to_account,
        amount=amount,
        currency=account_currency(from_account),
        note=note[:300],
        advice=advice,
        requested_by=actor,
        requested_at=clock.now(),
    )
    _audit(transfer, actor, AuditAction.TRANSFER_REQUESTED, context, note=transfer.note)
    return transfer


def _locked(transfer: Transfer) -> Transfer:
    return (
        Transfer.objects.select_for_update(of=("self",))
        .select_related("from_account", "to_account", "tenant", "requested_by", "approved_by")
        .get(pk=transfer.pk)
    )


def _move(transfer: Transfer, to: str, actor: User) -> None:
    if to in (TransferStatus.APPROVED, TransferStatus.REJECTED) and actor.pk == transfer.requested_by_id:
        raise TransferError(_("A second admin must decide: you requested this transfer."), status=403)
    try:
        advice_domain.transition(transfer.status, to, actor_id=actor.pk, requester_id=transfer.requested_by_id)
    except advice_domain.WorkflowError as error:
        raise TransferError(
            _("This transfer is %(status)s: it cannot be %(action)s.")
            % {"status": transfer.get_status_display(), "action": TransferStatus(to).label},
            status=409,
        ) from error


@transaction.atomic
def transfer_approve(*, transfer: Transfer, actor: User, context: AuditContext | None = None) -> Transfer:
    """A second admin approves a requested transfer (the money may now be moved at the venues)."""
    transfer = _locked(transfer)
    _move(transfer, TransferStatus.APPROVED, actor)
    transfer.status, transfer.approved_by, transfer.approved_at = TransferStatus.APPROVED, actor, clock.now()
    transfer.save(update_fields=["status", "approved_by", "approved_at"])
    _audit(transfer, actor, AuditAction.TRANSFER_APPROVED, context)
    return transfer


@transaction.atomic
def transfer_complete(
    *,
    transfer: Transfer,
    actor: User,
    venue_ref: str,
    received: Decimal | None = None,
    context: AuditContext | None = None,
) -> Transfer:
    """Record an approved transfer as done at the venues, with the venue's reference, and book it in the cash-flow
    ledger (out of one account, into the other). `received`: what arrived, in the receiving account's currency
    (None: the same value at the rate of the moment)."""
    transfer = _locked(transfer)
    venue_ref = venue_ref.strip()
    if not venue_ref:
        raise TransferError(_("Enter the venue's reference of the transfer."), "venue_ref")
    if len(venue_ref) > 80:
        raise TransferError(_("The venue's reference has at most 80 characters."), "venue_ref")
    if received is not None and (received <= 0 or received >= Decimal("1e16")):
        raise TransferError(_("Enter a positive amount received."), "received")
    _move(transfer, TransferStatus.DONE, actor)
    now = clock.now()
    try:
        flows = cash_flow_enter(
            tenant=transfer.tenant,
            actor=transfer.requested_by,
            entry=Entry(
                account=transfer.from_account,
                kind=CashFlowKind.TRANSFER_OUT,
                amount=transfer.amount,
                at=now,
                note=_("Transfer #%(id)s") % {"id": transfer.pk},
                venue_ref=venue_ref,
                to_account=transfer.to_account,
                to_amount=received,
            ),
            context=context,
        )
        if flows[0].status == CashFlowStatus.REQUESTED:
            assert transfer.approved_by is not None
            cash_flow_approve(flow=flows[0], actor=transfer.approved_by, context=context)
    except CashFlowError as error:
        raise TransferError(str(error), "venue_ref" if error.field == "venue_ref" else None) from error
    transfer.status, transfer.done_by, transfer.done_at = TransferStatus.DONE, actor, now
    transfer.venue_ref, transfer.received, transfer.cash_flow = venue_ref, flows[1].amount, flows[0]
    transfer.save(update_fields=["status", "done_by", "done_at", "venue_ref", "received", "cash_flow"])
    _audit(transfer, actor, AuditAction.TRANSFER_DONE, context, received=str(transfer.received))
    return transfer


@transaction.atomic
def transfer_close(
    *, transfer: Transfer, actor: User, to: str, reason: str = "", context: AuditContext | None = None
) -> Transfer:
    """Reject (a second admin, a requested transfer) or cancel (any admin, until it is done)."""
    transfer = _locked(transfer)
    _move(transfer, to, actor)
    transfer.status, transfer.closed_by, transfer.closed_at = to, actor, clock.now()
    transfer.reason = reason.strip()[:300]
    transfer.save(update_fields=["status", "closed_by", "closed_at", "reason"])
    action = AuditAction.TRANSFER_REJECTED if to == TransferStatus.REJECTED else AuditAction.TRANSFER_CANCELLED
    _audit(transfer, actor, action, context, reason=transfer.reason)
    return transfer
