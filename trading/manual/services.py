"""Manual control: an operator opens or closes a hedge by hand, flattens a pool, repairs a
legged hedge (complete or unwind) or cancels open orders. The web queues a `ManualCommand` (validated,
audited) with a description of exactly what will happen; the engine that holds the pool's venues and quotes
carries it out (`strategies.manual_desk`) and records the outcome on the command.

A hedge opened by hand is put to the pre-trade gate (trading/execution/gate.py) before it is queued, with the state as
it
is now and the last stored quotes, so a size no limit or margin allows, or an open under a kill switch, is
refused on the form and in the API with its reasons; the engine asks the same gate again when it writes the
orders.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.audit import audit_record
from accounts.choices import AuditAction
from accounts.http import AuditContext
from accounts.models import AccountPool, User
from quantarb import clock, formatting
from trading.choices import (
    LIVE_HEDGE_STATUSES,
    OPEN_ORDER_STATUSES,
    CommandStatus,
    Direction,
    HedgeStatus,
    Leg,
    ManualKind,
    OrderIntent,
    OrderKind,
    OrderSide,
)
from trading.domain.calendar import SessionView, demo_always_open
from trading.domain.quotes import Quote
from trading.domain.sizing import valid_size
from trading.execution.gate import CheckStage, OrderCheck, StoredMarket, refusals, report_refusals
from trading.execution.services import LegOrder
from trading.instruments import sizing_specs
from trading.models import OUNCES, Hedge, ManualCommand, Order
from trading.portfolio.pnl import latest_sample
from trading.problems import problem_text

REPAIRABLE = (HedgeStatus.LEGGED, HedgeStatus.NEEDS_RECONCILE)


def describe(*, kind: str, pool: AccountPool, hedge: Hedge | None = None, params: dict[str, Any] | None = None) -> str:
    """What the command will do, in words, for the confirmation dialog (and the audit trail)."""
    params = params or {}
    if kind == ManualKind.OPEN_HEDGE:
        direction = Direction(params["direction"]).label
        return _("Open a %(size)s oz hedge on %(pool)s: %(direction)s, both legs at market now.") % {
            "size": formatting.trimmed(params["size_oz"], group=True),
            "pool": pool.name,
            "direction": direction,
        }
    if kind == ManualKind.CLOSE_HEDGE and hedge is not None:
        return _("Close hedge #%(id)s: sell/buy back %(perp)s oz on the perp and %(cfd)s oz on the CFD.") % {
            "id": hedge.pk,
            "perp": formatting.trimmed(abs(hedge.perp_oz), group=True),
            "cfd": formatting.trimmed(abs(hedge.cfd_oz), group=True),
        }
    if kind == ManualKind.FLATTEN_POOL:
        live = Hedge.objects.filter(pool=pool, status__in=[s.value for s in LIVE_HEDGE_STATUSES])
        counts = {"open": 0, "legged": 0, "other": 0}
        for status in live.values_list("status", flat=True):
            counts["open" if status == HedgeStatus.OPEN else "legged" if status == HedgeStatus.LEGGED else "other"] += 1
        text = _(
            "Flatten %(pool)s at market: both legs of %(open)s open hedges and the remaining legs of %(legged)s "
            "legged hedges."
        ) % {"pool": pool.name, **counts}
        if counts["other"]:
            text += " " + _(
                "%(other)s hedges with orders still settling or awaiting reconciliation are settled first and "
                "flattened only if they are then open or legged."
            ) % {"other": counts["other"]}
        return text
    if kind in (ManualKind.REPAIR_COMPLETE, ManualKind.REPAIR_UNWIND) and hedge is not None:
        unhedged = hedge.perp_oz + hedge.cfd_oz
        if kind == ManualKind.REPAIR_COMPLETE:
            return _("Repair hedge #%(id)s by completing the missing leg (unhedged %(oz)s oz).") % {
                "id": hedge.pk,
                "oz": formatting.trimmed(unhedged, group=True),
            }
        return _("Repair hedge #%(id)s by unwinding the leg that filled (unhedged %(oz)s oz).") % {
            "id": hedge.pk,
            "oz": unhedged,
        }
    if kind == ManualKind.CANCEL_ORDERS:
        count = Order.objects.filter(
            account_id__in=[pool.perp_account_id, pool.cfd_account_id],
            status__in=[s.value for s in OPEN_ORDER_STATUSES],
        ).count()
        return _("Cancel %(count)s open orders on %(pool)s.") % {"count": count, "pool": pool.name}
    return str(ManualKind(kind).label)


# The size column's bound (trading.models.OUNCES): max_digits - decimal_places integer digits.
MAX_SIZE_OZ = Decimal(10) ** (OUNCES["max_digits"] - OUNCES["decimal_places"])


def clean_open_params(pool: AccountPool, params: dict[str, Any]) -> dict[str, Any]:
    """The direction and size of a hand-opened hedge, checked against the pool's specs (ValidationError by field)."""
    errors: dict[str, list[str]] = {}
    direction = params.get("direction")
    if direction not in Direction.values:
        errors["direction"] = [_("Choose a direction.")]
    try:
        size = Decimal(str(params.get("size_oz", "")))
    except (InvalidOperation, ValueError):
        size = Decimal(0)
        errors["size_oz"] = [_("Enter a size in ounces.")]
    else:
        # Within the hedge's size column (ounces, 3 dp): `1e400` or `inf` is no size and must not reach the math.
        if not size.is_finite() or not 0 < size < MAX_SIZE_OZ or size.as_tuple().exponent < -3:  # type: ignore[operator]
            errors["size_oz"] = [
                _("Enter a size in ounces between 0.001 and %(max)s, with up to 3 decimals.")
                % {"max": MAX_SIZE_OZ - Decimal("0.001")}
            ]
    if "size_oz" not in errors:
        problems = valid_size(size, *sizing_specs(pool))
        if problems:
            errors["size_oz"] = [problem_text(problem, SIZE_LABEL) for problem in problems]
    if errors:
        raise ValidationError(errors)
    return {"direction": direction, "size_oz": formatting.plain(size)}  # "1000000000", never "1E+9"


SIZE_LABEL = {"size_oz": gettext_lazy("Size (oz)")}

# Gate refusals about the size itself are shown on the size field; the others (a kill switch, a closed market, an
# account in error) concern the whole form.
SIZE_CODES = frozenset(
    {
        "max_position",
        "max_notional",
        "max_unhedged",
        "margin",
        "quantity_step",
        "below_minimum",
        "above_maximum",
        "min_notional",
        "invalid_quantity",
    }
)


def stored_market(pool: AccountPool) -> StoredMarket | None:
    """The pool's pair's last stored quotes and its CFD session now (None: nothing stored yet)."""
    sample = latest_sample(pool)
    if sample is None:
        return None
    ts_ms = int(sample.ts.timestamp() * 1000)
    calendar = sample.pair.cfd_source.instrument.calendar
    domain_calendar = (
        demo_always_open() if settings.QUANTARB_DEMO_CALENDAR or calendar is None else calendar.to_domain()
    )
    return StoredMarket(
        perp=Quote.of("perp", sample.perp_bid, sample.perp_ask, ts_ms),
        cfd=Quote.of("cfd", sample.cfd_bid, sample.cfd_ask, ts_ms),
        usd_per_usdt=sample.usd_per_usdt,
        session=SessionView.of(domain_calendar.status(clock.now())),
    )


def open_refusals(pool: AccountPool, cleaned: dict[str, Any], *, actor: User | None = None) -> dict[str, list[str]]:
    """What the pre-trade gate says now about opening the hedge `cleaned` describes, by form field (empty: it
    may be queued). The same gate the engine asks when it writes the orders, on the state as it is now and the
    last stored quotes (their age and the order rate are judged when the orders are written)."""
    market = stored_market(pool)
    if market is None:
        return {NON_FIELD_ERRORS: [_("No quotes for this pool yet: nothing can be priced. Try again in a moment.")]}
    size = Decimal(cleaned["size_oz"])
    sell_perp = cleaned["direction"] == Direction.SELL_PERP

    def leg(name: str, account: Any, side: str, quote: Quote | None) -> LegOrder:
        return LegOrder(
            account=account,
            leg=name,
            side=side,
            kind=OrderKind.LIMIT_IOC if name == Leg.PERP else OrderKind.MARKET,
            quantity_oz=size,
            lots=None,
            limit_price=None,
            deviation=None,
            quote_ts_ms=None if quote is None else quote.ts_ms,
            usd_per_usdt=market.usd_per_usdt,
        )

    check = OrderCheck(
        pool=pool,
        intent=OrderIntent.OPEN,
        legs=(
            leg(Leg.PERP, pool.perp_account, OrderSide.SELL if sell_perp else OrderSide.BUY, market.perp),
            leg(Leg.CFD, pool.cfd_account, OrderSide.BUY if sell_perp else OrderSide.SELL, market.cfd),
        ),
        market=market,
        manual=True,
        stage=CheckStage.QUEUE,
    )
    errors: dict[str, list[str]] = {}
    found = refusals(check)
    report_refusals(check, found, actor=actor)
    for refusal in found:
        errors.setdefault("size_oz" if refusal.code in SIZE_CODES else NON_FIELD_ERRORS, []).append(refusal.message)
    return errors


def clean_open(pool: AccountPool, params: dict[str, Any], *, actor: User | None = None) -> dict[str, Any]:
    """`clean_open_params`, then the pre-trade gate: ValidationError by field with every reason it is refused. The
    refusals go to the gate's record (audited, for a desk's compliance rules): call it outside a transaction."""
    cleaned = clean_open_params(pool, params)
    errors = open_refusals(pool, cleaned, actor=actor)
    if errors:
        raise ValidationError(errors)
    return cleaned


def manual_request(
    *,
    pool: AccountPool,
    kind: str,
    actor: User,
    hedge: Hedge | None = None,
    params: dict[str, Any] | None = None,
    context: AuditContext | None = None,
) -> ManualCommand:
    """Queue a manual command after checking it makes sense now. Raises ValidationError with a message. An open is
    put to the pre-trade gate before the transaction that queues it, so that a refusal's audit record stays."""
    params = dict(params or {})
    checked = False
    if ManualKind(kind) == ManualKind.OPEN_HEDGE and pool.enabled and (hedge is None or hedge.pool_id == pool.pk):
        params, checked = clean_open(pool, params, actor=actor), True
    return _manual_request(
        pool=pool, kind=kind, actor=actor, hedge=hedge, params=params, context=context, checked=checked
    )


@transaction.atomic
def _manual_request(
    *,
    pool: AccountPool,
    kind: str,
    actor: User,
    hedge: Hedge | None,
    params: dict[str, Any],
    context: AuditContext | None,
    checked: bool,
) -> ManualCommand:
    kind = ManualKind(kind)
    if hedge is not None and hedge.pool_id != pool.pk:
        raise ValidationError(_("That hedge belongs to another pool."))
    if kind == ManualKind.OPEN_HEDGE:
        if not pool.enabled:
            raise ValidationError(_("The pool is disabled."))
        if not checked:
            params = clean_open(pool, params)
    elif kind == ManualKind.CLOSE_HEDGE:
        if hedge is None or hedge.status != HedgeStatus.OPEN:
            raise ValidationError(_("Only an open hedge can be closed."))
    elif kind in (ManualKind.REPAIR_COMPLETE, ManualKind.REPAIR_UNWIND):
        if hedge is None or hedge.status not in REPAIRABLE:
            raise ValidationError(_("Only a legged hedge can be repaired."))
    elif kind == ManualKind.FLATTEN_POOL:
        if not Hedge.objects.filter(pool=pool, status__in=[s.value for s in LIVE_HEDGE_STATUSES]).exists():
            raise ValidationError(_("The pool has no open hedges."))
    if ManualCommand.objects.filter(pool=pool, status__in=[CommandStatus.QUEUED, CommandStatus.RUNNING]).exists():
        raise ValidationError(_("Another manual command on this pool is still running; wait for it to finish."))
    summary = describe(kind=kind, pool=pool, hedge=hedge, params=params)
    command = ManualCommand.objects.create(
        tenant_id=pool.tenant_id,
        pool=pool,
        hedge=hedge,
        kind=kind,
        params=params,
        requested_by=actor,
        requested_at=clock.now(),
    )
    audit_record(
        tenant=pool.tenant,
        actor=actor,
        action=AuditAction.ORDER_CANCELLED if kind == ManualKind.CANCEL_ORDERS else AuditAction.ORDER_SUBMITTED,
        obj=command,
        summary={"manual": kind.value, "pool": pool.name, "hedge": hedge.pk if hedge else None, "what": summary},
        context=context,
    )
    return command
