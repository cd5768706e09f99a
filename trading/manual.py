"""Manual control (issue 8, item 8): an operator opens or closes a hedge by hand, flattens a pool, repairs a
legged hedge (complete or unwind) or cancels open orders. The web queues a `ManualCommand` (validated,
audited) with a description of exactly what will happen; the engine that holds the pool's venues and quotes
carries it out (`trading.manual_desk`) and records the outcome on the command.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.choices import AuditAction
from accounts.models import AccountPool, User
from quantarb import clock
from strategies.specs import pool_specs
from trading.domain.sizing import valid_size

from .choices import (
    LIVE_HEDGE_STATUSES,
    OPEN_ORDER_STATUSES,
    CommandStatus,
    Direction,
    HedgeStatus,
    ManualKind,
)
from .models import OUNCES, Hedge, ManualCommand, Order

REPAIRABLE = (HedgeStatus.LEGGED, HedgeStatus.NEEDS_RECONCILE)


def describe(*, kind: str, pool: AccountPool, hedge: Hedge | None = None, params: dict[str, Any] | None = None) -> str:
    """What the command will do, in words, for the confirmation dialog (and the audit trail)."""
    params = params or {}
    if kind == ManualKind.OPEN_HEDGE:
        direction = Direction(params["direction"]).label
        return _("Open a %(size)s oz hedge on %(pool)s: %(direction)s, both legs at market now.") % {
            "size": params["size_oz"],
            "pool": pool.name,
            "direction": direction,
        }
    if kind == ManualKind.CLOSE_HEDGE and hedge is not None:
        return _("Close hedge #%(id)s: sell/buy back %(perp)s oz on the perp and %(cfd)s oz on the CFD.") % {
            "id": hedge.pk,
            "perp": abs(hedge.perp_oz),
            "cfd": abs(hedge.cfd_oz),
        }
    if kind == ManualKind.FLATTEN_POOL:
        count = Hedge.objects.filter(pool=pool, status=HedgeStatus.OPEN).count()
        return _("Flatten both legs of %(count)s open hedges on %(pool)s.") % {"count": count, "pool": pool.name}
    if kind in (ManualKind.REPAIR_COMPLETE, ManualKind.REPAIR_UNWIND) and hedge is not None:
        unhedged = hedge.perp_oz + hedge.cfd_oz
        if kind == ManualKind.REPAIR_COMPLETE:
            return _("Repair hedge #%(id)s by completing the missing leg (unhedged %(oz)s oz).") % {
                "id": hedge.pk,
                "oz": unhedged,
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
        from strategies.messages import problem_text

        problems = valid_size(size, pool_specs(pool))
        if problems:
            errors["size_oz"] = [problem_text(problem) for problem in problems]
    if errors:
        raise ValidationError(errors)
    return {"direction": direction, "size_oz": str(size)}


@transaction.atomic
def manual_request(
    *,
    pool: AccountPool,
    kind: str,
    actor: User,
    hedge: Hedge | None = None,
    params: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> ManualCommand:
    """Queue a manual command after checking it makes sense now. Raises ValidationError with a message."""
    kind = ManualKind(kind)
    params = dict(params or {})
    if hedge is not None and hedge.pool_id != pool.pk:
        raise ValidationError(_("That hedge belongs to another pool."))
    if kind == ManualKind.OPEN_HEDGE:
        if not pool.enabled:
            raise ValidationError(_("The pool is disabled."))
        params = clean_open_params(pool, params)
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
        request=request,
    )
    return command
