"""The cash-flow ledger: deposits, withdrawals and transfers of each venue account.

Two ways in, each flow once:
- **Entered by an admin** (`cash_flow_enter`). A flow worth more than `QUANTARB_CASH_FLOW_APPROVAL_USD` (one
  desk-wide setting) waits for a second admin (`cash_flow_approve` / `cash_flow_reject`, never by the admin who
  entered it); a smaller one is approved on entry. An approved flow is booked at once, or when its time comes if it
  is dated ahead (`cash_flows_book_due`, run by the equity beat job). A transfer between two of the desk's accounts
  is two rows — out of one, into the other — linked, approved and booked together.
  Nothing booked or approved is ever changed or removed: a mistake there is corrected by a new entry (the reverse
  flow). While a flow still awaits approval, the admin who entered it may correct it (`cash_flow_correct`: amount,
  time, note, venue reference; it keeps waiting for a second admin) and any admin may withdraw it
  (`cash_flow_withdraw`: the row stays, marked withdrawn, never booked). Both audited with what changed.
- **Reported by the venue** (`import_venue_cash_flows`, a beat job): Binance income `TRANSFER` rows and MT5 balance
  deals (DEAL_TYPE_BALANCE) of live accounts, booked as they are, unique per account by the venue's own reference.
  A row that matches an admin's entry not yet tied to the venue (same account and signed amount, within a day)
  is that entry: the entry takes the venue's reference (and is booked) instead of a second row being made.

Every change is audited (accounts.audit.audit_record). Amounts are Decimal in the account's currency and in USD at
the USDT/USD rate of the flow's moment (a stored spread sample of the desk's pairs; 1 when none, stated as such).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.choices import AccountMode, AccountStatus, AuditAction
from accounts.http import AuditContext
from accounts.models import AccountSnapshot, Membership, Tenant, User, VenueAccount
from accounts.venue_kinds import Venue, spec_for
from quantarb import clock
from trading.domain import pnl
from trading.models import (
    INFLOW_KINDS,
    CashFlow,
    CashFlowKind,
    CashFlowSource,
    CashFlowStatus,
    PairAccess,
    SpreadSample,
)
from trading.venues.binance.gateway import BinanceUsdmGateway
from trading.venues.errors import VenueError, VenueErrorKind
from trading.venues.mt5.gateway import terminal_gateway

log = logging.getLogger(__name__)

USD_QUANTUM = pnl.MONEY_QUANTUM
# How far back a first import reads (Binance keeps 3 months of income history).
FIRST_IMPORT = timedelta(days=90)
# A venue row within this of an admin's entry of the same account and amount is that entry.
MATCH_WINDOW = timedelta(days=1)
VENUE_READ_TIMEOUT_S = 30.0


class CashFlowError(ValueError):
    """A cash flow that cannot be entered or moved to the asked state; the text says why, for the user."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def approval_threshold_usd() -> Decimal:
    return Decimal(str(settings.QUANTARB_CASH_FLOW_APPROVAL_USD))


# --- what a flow is worth --------------------------------------------------------------------------------------
def account_currency(account: VenueAccount) -> str:
    """The account's currency: as its venue last reported it (a balance snapshot), else its leg's (a perpetual
    account holds USDT, a CFD account USD)."""
    reported = (
        AccountSnapshot.objects.filter(account=account).order_by("-at").values_list("currency", flat=True).first()
    )
    if reported in (pnl.USD, pnl.USDT):
        return str(reported)
    spec = spec_for(account.venue)
    return pnl.USDT if spec is not None and spec.leg == "perpetual" else pnl.USD


def usd_per_usdt_at(tenant: Tenant, at: datetime) -> tuple[Decimal, bool]:
    """(USDT/USD at `at`, whether it was observed): the latest spread sample of the desk's pairs at or before `at`;
    (1, False) when there is none — an assumption, stated so to whoever shows it."""
    pairs = PairAccess.objects.filter(tenant=tenant).values_list("pair_id", flat=True)
    rate = (
        SpreadSample.objects.filter(pair_id__in=list(pairs), ts__lte=at)
        .order_by("-ts")
        .values_list("usd_per_usdt", flat=True)
        .first()
    )
    return (Decimal(rate), True) if rate is not None else (Decimal(1), False)


def usd_value(amount: Decimal, currency: str, usd_per_usdt: Decimal) -> Decimal:
    """A flow in USD: a USDT amount at the rate of its moment, a USD amount as it is (8 dp, half-even)."""
    if currency == pnl.USD:
        return amount.quantize(USD_QUANTUM, rounding=ROUND_HALF_EVEN)
    if currency == pnl.USDT:
        return (amount * usd_per_usdt).quantize(USD_QUANTUM, rounding=ROUND_HALF_EVEN)
    raise CashFlowError(_("Only USD and USDT accounts can book cash flows, not %(currency)s.") % {"currency": currency})


# --- reading ---------------------------------------------------------------------------------------------------
def cash_flows_for(*, membership: Membership | None, filters: dict[str, str] | None = None) -> QuerySet[CashFlow]:
    """The cash flows the member may view (their tenant's), newest first, filtered by `account`, `kind`, `status`,
    `source`, `since` and `until` (ISO dates or times; an unusable value is ignored by the caller's form, not
    here)."""
    rows = CashFlow.objects.for_member(membership, "view").select_related("account", "requested_by", "decided_by")
    for name, value in (filters or {}).items():
        if not value:
            continue
        if name == "account":
            rows = rows.filter(account_id=int(value))
        elif name in ("kind", "status", "source"):
            rows = rows.filter(**{name: value})
        elif name == "since":
            rows = rows.filter(at__gte=value)
        elif name == "until":
            rows = rows.filter(at__lte=value)
    return rows.order_by("-at", "-id")


# --- entering, approving, rejecting, booking -----------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """What an admin enters: `amount` positive, in the account's currency; for a transfer the receiving account and
    what it received (in its currency; None: the same value converted at the rate of the moment)."""

    account: VenueAccount
    kind: str
    amount: Decimal
    at: datetime
    note: str = ""
    venue_ref: str = ""
    to_account: VenueAccount | None = None
    to_amount: Decimal | None = None


# The fields a correction may send (`Correction`'s).
CORRECTION_FIELDS = ("amount", "at", "to_amount", "venue_ref", "note")


def entry_errors(
    *, kind: str | None, at: datetime | None, to_account: Any, to_amount: Decimal | None
) -> dict[str, str]:
    """The checks of an admin's entry across its fields, by field: the portal's form and the API's serializer both
    apply them once each field has been read (the service checks the entry again as it books it)."""
    errors: dict[str, str] = {}
    if kind == CashFlowKind.TRANSFER_OUT and not to_account:
        errors["to_account"] = _("A transfer needs the account that received the money.")
    if kind != CashFlowKind.TRANSFER_OUT and (to_account or to_amount):
        errors["to_account"] = _("Only a transfer has a receiving account.")
    if at is not None and at.year < 2000:
        errors["at"] = _("Enter a time after 2000.")
    return errors


def correction_errors(*, sent: Iterable[str], values: dict[str, Any]) -> dict[str | None, str]:
    """The checks of a correction across its fields (`sent`: the names the body gave; `values`: as read), by field
    (None: the correction as a whole)."""
    given = set(sent)
    if not given & set(CORRECTION_FIELDS):
        return {None: _("Send at least one of amount, at, to_amount, venue_ref and note.")}
    at = values.get("at")
    if at is not None and at.year < 2000:
        return {"at": _("Enter a time after 2000.")}
    return {
        name: _("This field cannot be empty.")
        for name in ("amount", "at")
        if name in given and values.get(name) is None
    }


def _check_entry(tenant: Tenant, entry: Entry) -> None:
    if entry.account.tenant_id != tenant.pk:
        raise CashFlowError(_("Choose one of this desk's accounts."), "account")
    if entry.kind not in CashFlowKind.values or entry.kind == CashFlowKind.TRANSFER_IN:
        raise CashFlowError(_("Choose deposit, withdrawal or transfer."), "kind")
    if entry.amount <= 0:
        raise CashFlowError(_("Enter a positive amount; the kind says which way the money went."), "amount")
    if entry.kind == CashFlowKind.TRANSFER_OUT:
        if entry.to_account is None:
            raise CashFlowError(_("A transfer needs the account that received the money."), "to_account")
        if entry.to_account.tenant_id != tenant.pk:
            raise CashFlowError(_("Choose one of this desk's accounts."), "to_account")
        if entry.to_account.pk == entry.account.pk:
            raise CashFlowError(_("A transfer goes between two different accounts."), "to_account")
        if entry.to_amount is not None and entry.to_amount <= 0:
            raise CashFlowError(_("Enter a positive amount received."), "to_amount")
    elif entry.to_account is not None or entry.to_amount is not None:
        raise CashFlowError(_("Only a transfer has a receiving account."), "to_account")
    if entry.venue_ref and CashFlow.objects.filter(account=entry.account, venue_ref=entry.venue_ref).exists():
        raise CashFlowError(_("This venue reference is already booked on the account."), "venue_ref")


def _summary(flow: CashFlow) -> dict[str, Any]:
    return {
        "account": flow.account.label,
        "kind": flow.kind,
        "amount": str(flow.amount),
        "currency": flow.currency,
        "amount_usd": str(flow.amount_usd),
        "at": flow.at.isoformat(),
        "status": flow.status,
        "venue_ref": flow.venue_ref,
    }


@transaction.atomic
def cash_flow_enter(
    *, tenant: Tenant, actor: User, entry: Entry, context: AuditContext | None = None
) -> list[CashFlow]:
    """Record an admin's flow (two linked rows for a transfer, the outgoing one first). Above the approval
    threshold it waits for a second admin; otherwise it is approved now and booked if its time has come. Raises
    CashFlowError with the field at fault."""
    _check_entry(tenant, entry)
    now = clock.now()
    rate, _observed = usd_per_usdt_at(tenant, entry.at)
    currency = account_currency(entry.account)
    inflow = entry.kind in INFLOW_KINDS
    signed = entry.amount if inflow else -entry.amount
    amount_usd = usd_value(signed, currency, rate)
    rows = [(entry.account, entry.kind, signed, currency, amount_usd)]
    if entry.to_account is not None:
        to_currency = account_currency(entry.to_account)
        if entry.to_amount is not None:
            received = entry.to_amount
        elif to_currency == currency:
            received = entry.amount
        else:  # the same value in the other currency at the rate of the moment
            received = (-amount_usd / rate if to_currency == pnl.USDT else -amount_usd).quantize(
                USD_QUANTUM, rounding=ROUND_HALF_EVEN
            )
        rows.append(
            (entry.to_account, CashFlowKind.TRANSFER_IN, received, to_currency, usd_value(received, to_currency, rate))
        )
    needs_approval = max(abs(row[4]) for row in rows) > approval_threshold_usd()
    flows = []
    for account, kind, amount, row_currency, usd in rows:
        flow = CashFlow.objects.create(
            tenant=tenant,
            account=account,
            kind=kind,
            status=CashFlowStatus.REQUESTED if needs_approval else CashFlowStatus.APPROVED,
            source=CashFlowSource.MANUAL,
            amount=amount,
            currency=row_currency,
            usd_per_usdt=rate,
            amount_usd=usd,
            at=entry.at,
            note=entry.note,
            venue_ref=entry.venue_ref if account is entry.account else "",
            requested_by=actor,
            created_at=now,
        )
        flows.append(flow)
    if len(flows) == 2:
        CashFlow.objects.filter(pk=flows[0].pk).update(transfer_peer=flows[1])
        CashFlow.objects.filter(pk=flows[1].pk).update(transfer_peer=flows[0])
        flows[0].transfer_peer, flows[1].transfer_peer = flows[1], flows[0]
    for flow in flows:
        audit_record(
            tenant=tenant,
            actor=actor,
            action=AuditAction.CASH_FLOW_ENTERED,
            obj=flow,
            summary={**_summary(flow), "needs_approval": needs_approval},
            context=context,
        )
    if not needs_approval and entry.at <= now:
        for flow in flows:
            _book(flow, actor=actor, context=context)
    return flows


def _pair(flow: CashFlow) -> list[CashFlow]:
    """The flow and, for a transfer, its other side, locked."""
    ids = [flow.pk] + ([flow.transfer_peer_id] if flow.transfer_peer_id else [])
    return list(CashFlow.objects.select_for_update().filter(pk__in=ids).select_related("account").order_by("pk"))


def _decide(flow: CashFlow, actor: User) -> list[CashFlow]:
    rows = _pair(flow)
    if any(row.status != CashFlowStatus.REQUESTED for row in rows):
        raise CashFlowError(_("Only a cash flow awaiting approval can be approved or rejected."))
    if any(row.requested_by_id == actor.pk for row in rows):
        raise CashFlowError(_("A second admin must decide: you entered this cash flow."))
    return rows


@transaction.atomic
def cash_flow_approve(*, flow: CashFlow, actor: User, context: AuditContext | None = None) -> CashFlow:
    """A second admin approves a requested flow (both sides of a transfer); it is booked now if its time has come."""
    rows = _decide(flow, actor)
    now = clock.now()
    for row in rows:
        row.status = CashFlowStatus.APPROVED
        row.decided_by = actor
        row.decided_at = now
        row.save(update_fields=["status", "decided_by", "decided_at"])
        audit_record(
            tenant=row.tenant, actor=actor, action=AuditAction.CASH_FLOW_APPROVED, obj=row, summary=_summary(row),
            context=context,
        )  # fmt: skip
        if row.at <= now:
            _book(row, actor=actor, context=context)
    return next(row for row in rows if row.pk == flow.pk)


@transaction.atomic
def cash_flow_reject(*, flow: CashFlow, actor: User, reason: str = "", context: AuditContext | None = None) -> CashFlow:
    """A second admin rejects a requested flow (both sides of a transfer): it is never booked."""
    rows = _decide(flow, actor)
    now = clock.now()
    for row in rows:
        row.status = CashFlowStatus.REJECTED
        row.decided_by = actor
        row.decided_at = now
        row.reject_reason = reason[:300]
        row.save(update_fields=["status", "decided_by", "decided_at", "reject_reason"])
        audit_record(
            tenant=row.tenant, actor=actor, action=AuditAction.CASH_FLOW_REJECTED, obj=row,
            summary={**_summary(row), "reason": row.reject_reason}, context=context,
        )  # fmt: skip
    return next(row for row in rows if row.pk == flow.pk)


class CashFlowForbidden(CashFlowError):
    """The caller may not make this change (not their entry): answered 403, the text says who may."""


def _not_pending() -> str:
    return _(
        "Only a cash flow awaiting approval can be corrected or withdrawn; one that is approved or booked stays as "
        "it is: enter a correcting flow (the reverse movement) instead."
    )


@dataclass(frozen=True)
class Correction:
    """What the admin who entered a pending flow may change; None leaves a field as it is. For a transfer,
    `amount` is what left the sending account and `to_amount` what the receiving one got (None with a new amount
    or time: the same value at the rate of the moment, as on entry)."""

    amount: Decimal | None = None
    at: datetime | None = None
    note: str | None = None
    venue_ref: str | None = None
    to_amount: Decimal | None = None


def _pending_pair(flow: CashFlow) -> list[CashFlow]:
    rows = _pair(flow)
    if any(row.status != CashFlowStatus.REQUESTED for row in rows):
        raise CashFlowError(_not_pending())
    return rows


@transaction.atomic
def cash_flow_correct(
    *, flow: CashFlow, actor: User, correction: Correction, context: AuditContext | None = None
) -> CashFlow:
    """The admin who entered a flow still awaiting approval corrects it (both sides of a transfer together); it
    keeps waiting for a second admin, who sees the corrected figures. Audited with the figures before and after.
    Raises CashFlowError (not pending, or a bad value, with its field) or CashFlowForbidden (someone else's)."""
    rows = _pending_pair(flow)
    if any(row.requested_by_id != actor.pk for row in rows):
        raise CashFlowForbidden(
            _("Only the admin who entered this cash flow can correct it; reject it or withdraw it instead.")
        )
    out = next((row for row in rows if row.kind != CashFlowKind.TRANSFER_IN), rows[0])
    into = next((row for row in rows if row.kind == CashFlowKind.TRANSFER_IN), None)
    if correction.to_amount is not None and into is None:
        raise CashFlowError(_("Only a transfer has a receiving account."), "to_amount")
    for value, name in ((correction.amount, "amount"), (correction.to_amount, "to_amount")):
        if value is not None and value <= 0:
            raise CashFlowError(_("Enter a positive amount; the kind says which way the money went."), name)
    venue_ref = None if correction.venue_ref is None else correction.venue_ref.strip()
    if venue_ref and CashFlow.objects.filter(account=out.account, venue_ref=venue_ref).exclude(pk=out.pk).exists():
        raise CashFlowError(_("This venue reference is already booked on the account."), "venue_ref")
    before = {row.pk: _summary(row) for row in rows}
    at = correction.at or out.at
    rate, _observed = usd_per_usdt_at(out.tenant, at)
    size = correction.amount if correction.amount is not None else abs(out.amount)
    signed = size if out.kind in INFLOW_KINDS else -size
    out_usd = usd_value(signed, out.currency, rate)
    figures = {out.pk: (signed, out_usd)}
    if into is not None:
        if correction.to_amount is not None:
            received = correction.to_amount
        elif correction.amount is None and correction.at is None:
            received = into.amount
        elif into.currency == out.currency:
            received = size
        else:
            received = (-out_usd / rate if into.currency == pnl.USDT else -out_usd).quantize(
                USD_QUANTUM, rounding=ROUND_HALF_EVEN
            )
        figures[into.pk] = (received, usd_value(received, into.currency, rate))
    for row in rows:
        row.amount, row.amount_usd = figures[row.pk]
        row.usd_per_usdt, row.at = rate, at
        if correction.note is not None:
            row.note = correction.note[:300]
        if venue_ref is not None and row.pk == out.pk:
            row.venue_ref = venue_ref
        row.save(update_fields=["amount", "amount_usd", "usd_per_usdt", "at", "note", "venue_ref"])
        audit_record(
            tenant=row.tenant, actor=actor, action=AuditAction.CASH_FLOW_CORRECTED, obj=row,
            summary={"before": before[row.pk], "after": _summary(row)}, context=context,
        )  # fmt: skip
    return next(row for row in rows if row.pk == flow.pk)


@transaction.atomic
def cash_flow_withdraw(*, flow: CashFlow, actor: User, context: AuditContext | None = None) -> CashFlow:
    """Any admin withdraws a flow still awaiting approval (both sides of a transfer): the rows stay, marked
    withdrawn, and are never booked. Audited."""
    rows = _pending_pair(flow)
    now = clock.now()
    for row in rows:
        row.status = CashFlowStatus.WITHDRAWN
        row.decided_by = actor
        row.decided_at = now
        row.save(update_fields=["status", "decided_by", "decided_at"])
        audit_record(
            tenant=row.tenant, actor=actor, action=AuditAction.CASH_FLOW_WITHDRAWN, obj=row, summary=_summary(row),
            context=context,
        )  # fmt: skip
    return next(row for row in rows if row.pk == flow.pk)


def _book(flow: CashFlow, *, actor: User | None, context: AuditContext | None = None) -> None:
    flow.status = CashFlowStatus.BOOKED
    flow.booked_at = clock.now()
    flow.save(update_fields=["status", "booked_at"])
    audit_record(
        tenant=flow.tenant, actor=actor, action=AuditAction.CASH_FLOW_BOOKED, obj=flow, summary=_summary(flow),
        context=context,
    )  # fmt: skip


def cash_flows_book_due(now: datetime | None = None) -> int:
    """Book every approved flow whose time has come (a beat job, through the equity job). Returns how many."""
    moment = now or clock.now()
    count = 0
    for flow_id in CashFlow.objects.filter(status=CashFlowStatus.APPROVED, at__lte=moment).values_list("pk", flat=True):
        with transaction.atomic():
            flow = CashFlow.objects.select_for_update().select_related("tenant", "account").get(pk=flow_id)
            if flow.status == CashFlowStatus.APPROVED:
                _book(flow, actor=None)
                count += 1
    return count


# --- read from the venues ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VenueFlow:
    """A movement as the venue reports it: signed amount in `currency`, its reference, its time (UTC)."""

    venue_ref: str
    amount: Decimal
    currency: str
    at: datetime
    note: str = ""


def cash_flows_record(*, account: VenueAccount, rows: Iterable[VenueFlow]) -> dict[str, int]:
    """Book the venue's movements of `account`, each once: a reference already on the account is skipped; an
    admin's entry of the same signed amount within a day that carries no reference yet takes this one (and is
    booked); anything else becomes a booked deposit or withdrawal. Returns counts: created, matched, known."""
    counts = {"created": 0, "matched": 0, "known": 0}
    for row in rows:
        if not row.amount:
            continue
        with transaction.atomic():
            if CashFlow.objects.filter(account=account, venue_ref=row.venue_ref).exists():
                counts["known"] += 1
                continue
            entry = (
                CashFlow.objects.select_for_update()
                .filter(
                    account=account,
                    venue_ref="",
                    source=CashFlowSource.MANUAL,
                    amount=row.amount,
                    at__gte=row.at - MATCH_WINDOW,
                    at__lte=row.at + MATCH_WINDOW,
                )
                .exclude(status__in=[CashFlowStatus.REJECTED, CashFlowStatus.WITHDRAWN])
                .order_by("at", "pk")
                .first()
            )
            if entry is not None:
                entry.venue_ref = row.venue_ref
                entry.save(update_fields=["venue_ref"])
                if entry.status != CashFlowStatus.BOOKED:
                    _book(entry, actor=None)
                else:
                    audit_record(
                        tenant=entry.tenant, actor=None, action=AuditAction.CASH_FLOW_BOOKED, obj=entry,
                        summary={**_summary(entry), "matched_venue_ref": row.venue_ref},
                    )  # fmt: skip
                counts["matched"] += 1
                continue
            rate, _observed = usd_per_usdt_at(account.tenant, row.at)
            try:
                with transaction.atomic():
                    flow = CashFlow.objects.create(
                        tenant=account.tenant,
                        account=account,
                        kind=CashFlowKind.DEPOSIT if row.amount > 0 else CashFlowKind.WITHDRAWAL,
                        status=CashFlowStatus.BOOKED,
                        source=CashFlowSource.VENUE,
                        amount=row.amount,
                        currency=row.currency,
                        usd_per_usdt=rate,
                        amount_usd=usd_value(row.amount, row.currency, rate),
                        at=row.at,
                        note=row.note[:300],
                        venue_ref=row.venue_ref,
                        booked_at=clock.now(),
                        created_at=clock.now(),
                    )
            except IntegrityError:  # another import booked it between our look and our insert
                counts["known"] += 1
                continue
            audit_record(
                tenant=account.tenant, actor=None, action=AuditAction.CASH_FLOW_BOOKED, obj=flow,
                summary=_summary(flow),
            )  # fmt: skip
            counts["created"] += 1
    return counts


def _import_since(account: VenueAccount) -> datetime:
    last = (
        CashFlow.objects.filter(account=account, source=CashFlowSource.VENUE)
        .order_by("-at")
        .values_list("at", flat=True)
        .first()
    )
    return last if last is not None else clock.now() - FIRST_IMPORT


def _run(work: Any) -> Any:
    """A coroutine run to completion from synchronous code, on its own loop in a worker thread, within a deadline."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, asyncio.wait_for(work, VENUE_READ_TIMEOUT_S)).result()


def binance_transfers(account: VenueAccount, since: datetime) -> list[VenueFlow]:
    """The account's Binance income `TRANSFER` rows since `since` (the gateway that reads its funding income)."""

    credentials = account.credentials or {}

    async def read() -> list[Any]:
        gateway = BinanceUsdmGateway(
            api_key=str(credentials.get("api_key", "")) or None,
            api_secret=str(credentials.get("api_secret", "")) or None,
            rest_url=account.rest_endpoint or None,
            ws_url=account.ws_endpoint or None,
            testnet=account.binance_testnet,
            timeout_ms=10_000,
        )
        try:
            await gateway.connect()
            return await gateway.fetch_transfer_income(int(since.timestamp() * 1000))
        finally:
            await gateway.close()

    return [
        VenueFlow(
            venue_ref=f"binance:{row.venue_id}",
            amount=row.amount,
            currency=row.asset,
            at=datetime.fromtimestamp(row.ts_ms / 1000, tz=since.tzinfo),
            note=_("Binance transfer"),
        )
        for row in _run(read())
    ]


def mt5_balance_deals(account: VenueAccount, since: datetime) -> list[VenueFlow]:
    """The account's MT5 balance deals since `since`, in the account's currency (`account_info().currency`)."""

    if account.terminal is None:
        raise VenueError(VenueErrorKind.UNREACHABLE, _("No MT5 terminal is set for this account."))
    gateway = terminal_gateway(account.terminal, account.credentials or {})
    try:
        gateway.connect()
        currency = gateway.account().currency
        gateway.server_offset(polls=2, interval_s=0.05)
        deals = gateway.balance_deals(since)
    finally:
        gateway.close()
    return [
        VenueFlow(
            venue_ref=f"mt5:{deal.ticket}",
            amount=deal.amount,
            currency=currency,
            at=deal.at or datetime.fromtimestamp(deal.server_time_ms / 1000, tz=since.tzinfo),
            note=deal.comment or _("MT5 balance operation"),
        )
        for deal in deals
    ]


def import_account_cash_flows(account: VenueAccount) -> dict[str, int]:
    """Read one live account's movements from its venue and book them (see `cash_flows_record`)."""
    since = _import_since(account)
    if account.venue == Venue.BINANCE_USDM:
        rows = binance_transfers(account, since)
    elif account.venue == Venue.BYBIT_MT5:
        rows = mt5_balance_deals(account, since)
    else:
        return {"created": 0, "matched": 0, "known": 0}
    return cash_flows_record(account=account, rows=rows)


def import_venue_cash_flows() -> dict[str, int]:
    """Every live Binance and MT5 account's deposits and withdrawals, read from the venue (a beat job). An account
    that cannot be read is counted as failed and tried again next time."""
    totals = {"created": 0, "matched": 0, "known": 0, "failed": 0}
    accounts = VenueAccount.objects.filter(
        Q(venue=Venue.BINANCE_USDM) | Q(venue=Venue.BYBIT_MT5),
        mode=AccountMode.LIVE,
        status__in=[AccountStatus.ACTIVE, AccountStatus.ERROR],
    ).select_related("tenant", "terminal")
    for account in accounts:
        try:
            counts = import_account_cash_flows(account)
        except (VenueError, TimeoutError) as exc:
            log.warning("cash flows not read", extra={"account": account.pk, "reason": str(exc)[:200]})
            totals["failed"] += 1
            continue
        for key, value in counts.items():
            totals[key] += value
    return totals
