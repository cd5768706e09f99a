"""Writes of the execution path: hedges and orders persisted before anything is sent, venue answers applied
through the order machine, hedges kept in step with their fills (ARCHITECTURE.md "Order safety").

Everything here is synchronous ORM work in short transactions; the async executor (trading/execution/executor.py) calls
it between venue round trips. A strategy's writes carry its lease and are fenced (`trading.execution.leases.fence`)
in the same transaction, so a runner whose lease was taken over cannot write an order.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.audit import audit_record
from accounts.choices import AccountMode, AuditAction
from accounts.models import AccountPool, Tenant, User, VenueAccount
from alerts.choices import ACTIVE_STATUSES
from alerts.models import Alert
from alerts.services import alert_raise, alert_resolve
from quantarb import clock
from quantarb.phrases import phrase
from trading.choices import (
    OPEN_ORDER_STATUSES,
    Direction,
    HedgeStatus,
    Leg,
    OrderIntent,
    OrderKind,
    OrderSide,
    OrderStatus,
)
from trading.domain import hedges as hedge_rules
from trading.domain import orders as order_rules
from trading.domain import pnl
from trading.domain.clientids import Intent, client_order_id
from trading.execution.gate import GateState, MarketView, OrderCheck, OrderRefused, clear_orders, report_refused
from trading.execution.leases import Lease, LeaseLost, fence
from trading.models import PNL_FIELDS, Fill, Hedge, Order

OUNCE = Decimal("0.001")
if TYPE_CHECKING:  # the strategy a hedge belongs to, in annotations only
    from strategies.models import Strategy, StrategyVersion

log = logging.getLogger(__name__)


class StaleQuote(Exception):
    """The quote that would price the order is older than the configured maximum age: nothing is written."""


class ExecutionRefused(Exception):
    """A write the state forbids (e.g. opening legs on a hedge that is not planned)."""


@dataclass(frozen=True)
class LegOrder:
    """What one leg's order should be, priced from a quote of `quote_ts_ms`."""

    account: VenueAccount
    leg: str
    side: str
    kind: str
    quantity_oz: Decimal
    lots: Decimal | None
    limit_price: Decimal | None
    deviation: int | None
    quote_ts_ms: int | None
    reducing: bool = False
    usd_per_usdt: Decimal | None = None


def _check_fresh(leg_order: LegOrder, *, max_quote_age_ms: int, now_ms: int) -> None:
    if leg_order.kind == OrderKind.MARKET and leg_order.quote_ts_ms is None:
        return  # a market order with a deviation is priced by the venue; the decision's quote was checked
    if leg_order.quote_ts_ms is None or now_ms - leg_order.quote_ts_ms > max_quote_age_ms:
        age = None if leg_order.quote_ts_ms is None else now_ms - leg_order.quote_ts_ms
        raise StaleQuote(
            _("The %(leg)s quote is %(age)s ms old (limit %(limit)s ms): no order is priced from it.")
            % {"leg": leg_order.leg, "age": age if age is not None else "?", "limit": max_quote_age_ms}
        )


def _now_ms() -> int:
    return int(clock.now().timestamp() * 1000)


def _order_fields(
    *,
    tenant_id: int,
    hedge_id: int,
    paper: bool,
    leg_order: LegOrder,
    intent: str,
    attempt: int,
    strategy: Strategy | None,
    epoch: int | None,
    created_at: datetime,
) -> dict[str, Any]:
    """A new order's field values (the `Order(...)` keyword arguments, the hedge given by id)."""
    quantity = leg_order.quantity_oz.quantize(OUNCE)
    return {
        "tenant_id": tenant_id,
        "hedge_id": hedge_id,
        "account": leg_order.account,
        "strategy": strategy,
        "epoch": epoch,
        "leg": leg_order.leg,
        "intent": intent,
        "attempt": attempt,
        "client_order_id": client_order_id(
            tenant_id, hedge_id, order_rules.Leg(leg_order.leg), Intent(intent), attempt
        ),
        "side": leg_order.side,
        "kind": leg_order.kind,
        "quantity": quantity,
        "lots": leg_order.lots,
        "limit_price": leg_order.limit_price,
        "deviation": leg_order.deviation,
        "reducing": leg_order.reducing,
        # Persisted as new and marked submitting in this same commit, right before the send (one durable write on the
        # path to the wire): an order found `submitting` after a crash may or may not have left, and is looked up.
        "status": order_rules.submit(order_rules.new_order(quantity)).status.value,
        "submitted_at": created_at,
        "paper": paper,
        "quote_ts": None
        if leg_order.quote_ts_ms is None
        else datetime.fromtimestamp(leg_order.quote_ts_ms / 1000, tz=clock.now().tzinfo),
        "usd_per_usdt": leg_order.usd_per_usdt,
        "created_at": created_at,
    }


def _order_instance(hedge: Hedge, fields: dict[str, Any]) -> Order:
    order = Order(**{name: value for name, value in fields.items() if name != "hedge_id"})
    order.hedge = hedge
    return order


def _order(
    *,
    hedge: Hedge,
    leg_order: LegOrder,
    intent: str,
    attempt: int,
    strategy: Strategy | None,
    epoch: int | None,
    created_at: datetime,
) -> Order:
    fields = _order_fields(
        tenant_id=hedge.tenant_id,
        hedge_id=hedge.pk,
        paper=hedge.paper,
        leg_order=leg_order,
        intent=intent,
        attempt=attempt,
        strategy=strategy,
        epoch=epoch,
        created_at=created_at,
    )
    return _order_instance(hedge, fields)


@dataclass
class HedgePlan:
    """A new hedge (opening) and its two opening orders (submitting) as field values, before the hedge has an id
    (the orders' client ids carry it). Written by `hedge_open`, or on the signal-to-wire path by the runner's own
    connection (trading/execution/order_writer.py); the statement's values come from the field values, the model
    objects are
    built from the same values once it is written."""

    hedge_fields: dict[str, Any]
    legs: tuple[LegOrder, LegOrder]
    strategy: Strategy | None
    created_at: datetime
    lease: Lease | None

    def order_fields(self, hedge_id: int) -> list[dict[str, Any]]:
        epoch = self.lease.epoch if self.lease is not None else None
        return [
            _order_fields(
                tenant_id=self.hedge_fields["tenant_id"],
                hedge_id=hedge_id,
                paper=self.hedge_fields["paper"],
                leg_order=leg,
                intent=OrderIntent.OPEN,
                attempt=1,
                strategy=self.strategy,
                epoch=epoch,
                created_at=self.created_at,
            )
            for leg in self.legs
        ]

    def statement(self, hedge_id: int) -> tuple[str, list[Any], Written]:
        """The fenced insert of the hedge with id `hedge_id` and its orders, and the field values it writes."""
        hedge = {**self.hedge_fields, "id": hedge_id}
        orders = self.order_fields(hedge_id)
        sql, params = fenced_insert(hedge, orders, self.lease)
        return sql, params, (hedge, orders)

    @staticmethod
    def instances(written: Written) -> tuple[Hedge, list[Order]]:
        """The model objects of what `statement` wrote."""
        hedge_fields, orders = written
        hedge = Hedge(**hedge_fields)
        return hedge, [_order_instance(hedge, fields) for fields in orders]


Written = tuple[dict[str, Any], list[dict[str, Any]]]


def _atomic_reporting_refusals(function: Callable[..., Any]) -> Callable[..., Any]:
    """`transaction.atomic`, and a refusal of the pre-trade gate reported once the transaction has rolled back (its
    audit record must outlive the rollback: trading/execution/gate.py `report_refused`)."""
    atomic = transaction.atomic(function)

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return atomic(*args, **kwargs)
        except OrderRefused as refused:
            report_refused(refused, actor=kwargs.get("actor"))
            raise

    return wrapper


def plan_hedge_open(
    *,
    pool: AccountPool,
    direction: str,
    size_oz: Decimal,
    perp: LegOrder,
    cfd: LegOrder,
    max_quote_age_ms: int,
    market: MarketView,
    gate_state: GateState | None = None,
    strategy: Strategy | None = None,
    version: StrategyVersion | None = None,
    lease: Lease | None = None,
    reason: dict[str, Any] | None = None,
    entry_net_edge: Decimal | None = None,
    usd_per_usdt: Decimal | None = None,
    manual: bool = False,
) -> HedgePlan:
    """Check both legs' quotes, ask the pre-trade gate (trading/execution/gate.py) and plan the rows to write. Raises
    StaleQuote when either leg would be priced from a quote older than `max_quote_age_ms`, OrderRefused when the
    gate refuses: nothing is written then. No database access when `gate_state` (read off the signal-to-wire path,
    `gate.gate_state`) is given; without it the gate reads its state here."""
    now_ms = _now_ms()
    _check_fresh(perp, max_quote_age_ms=max_quote_age_ms, now_ms=now_ms)
    _check_fresh(cfd, max_quote_age_ms=max_quote_age_ms, now_ms=now_ms)
    clear_orders(
        OrderCheck(
            pool=pool,
            intent=OrderIntent.OPEN,
            legs=(perp, cfd),
            market=market,
            strategy_id=strategy.pk if strategy is not None else None,
            manual=manual,
        ),
        state=gate_state,
    )
    now = clock.now()
    hedge_fields = {
        "tenant_id": pool.tenant_id,
        "pool": pool,
        "strategy": strategy,
        "strategy_version": version,
        "direction": Direction(direction),
        # Planned and opening in the same commit as its orders: the machine's move is checked, one row is written.
        "status": hedge_rules.transition(hedge_rules.HedgeStatus.PLANNED, hedge_rules.HedgeStatus.OPENING).value,
        "paper": pool.perp_account.mode == AccountMode.PAPER,
        "manual": manual,
        "size_oz": size_oz,
        "entry_net_edge": entry_net_edge,
        "entry_usd_per_usdt": usd_per_usdt,
        "open_reason": reason or {},
        "planned_at": now,
        "updated_at": now,
    }
    return HedgePlan(hedge_fields=hedge_fields, legs=(perp, cfd), strategy=strategy, created_at=now, lease=lease)


@_atomic_reporting_refusals
def hedge_open(
    *,
    pool: AccountPool,
    direction: str,
    size_oz: Decimal,
    perp: LegOrder,
    cfd: LegOrder,
    max_quote_age_ms: int,
    market: MarketView,
    gate_state: GateState | None = None,
    strategy: Strategy | None = None,
    version: StrategyVersion | None = None,
    lease: Lease | None = None,
    reason: dict[str, Any] | None = None,
    entry_net_edge: Decimal | None = None,
    usd_per_usdt: Decimal | None = None,
    actor: User | None = None,
) -> tuple[Hedge, Order, Order]:
    """Persist a new hedge (opening) and both opening orders (submitting), fenced by the lease, in one transaction.
    Nothing is sent here. Raises StaleQuote when either leg would be priced from a quote older than
    `max_quote_age_ms`, OrderRefused when the pre-trade gate refuses them, LeaseLost when the lease is not the
    runner's any more.

    On PostgreSQL the fence and the three rows are one statement (`fenced_insert`); elsewhere the ORM writes them
    one by one in the same transaction."""
    plan = plan_hedge_open(
        pool=pool,
        direction=direction,
        size_oz=size_oz,
        perp=perp,
        cfd=cfd,
        max_quote_age_ms=max_quote_age_ms,
        market=market,
        gate_state=gate_state,
        strategy=strategy,
        version=version,
        lease=lease,
        reason=reason,
        entry_net_edge=entry_net_edge,
        usd_per_usdt=usd_per_usdt,
        manual=actor is not None,
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [Hedge._meta.db_table])
            hedge_id = cursor.fetchone()[0]
        sql, params, written = plan.statement(hedge_id)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            returned = cursor.fetchall()
        hedge, orders = plan.instances(written)
        perp_order, cfd_order = mark_inserted(hedge, orders, returned, lease)
    else:
        if lease is not None:
            fence(lease)
        hedge = Hedge(**plan.hedge_fields)
        hedge.save(force_insert=True)
        orders = [_order_instance(hedge, fields) for fields in plan.order_fields(hedge.pk)]
        perp_order, cfd_order = Order.objects.bulk_create(orders)
    if actor is not None:
        audit_record(
            tenant=pool.tenant,
            actor=actor,
            action=AuditAction.ORDER_SUBMITTED,
            obj=hedge,
            summary={"manual": "open", "direction": direction, "size_oz": str(size_oz), "pool": pool.name},
        )
    return hedge, perp_order, cfd_order


def fenced_insert(hedge: dict[str, Any], orders: list[dict[str, Any]], lease: Lease | None) -> tuple[str, list[Any]]:
    """One PostgreSQL statement and its parameters: lock the strategy row if the lease is still the runner's and
    unexpired, and only then insert the hedge (its id already drawn: the orders' client ids carry it) and its orders
    (`INSERT ... SELECT ... FROM fence`: no lease, no rows). It returns each order's id and client id. Its text
    depends only on the models and the number of orders (built once), so a connection can keep it prepared.
    `hedge` and `orders` are field values as the models take them; the timestamps set on insert are added to them."""
    if lease is not None:
        fence_params: list[Any] = [lease.strategy_id, lease.runner_id, lease.epoch, clock.now()]
    else:
        fence_params = []
    params = [*fence_params, *_values(Hedge, hedge, with_pk=True)]
    for fields in orders:
        params.extend(_values(Order, fields, with_pk=False))
    return _fenced_sql(lease is not None, len(orders)), params


_FENCED_SQL: dict[tuple[bool, int], str] = {}


def _fenced_sql(fenced: bool, orders: int) -> str:
    key = (fenced, orders)
    if key not in _FENCED_SQL:
        fence_sql = (
            "SELECT id FROM strategies_strategy WHERE id = %s AND runner_id = %s AND lease_epoch = %s "
            "AND lease_until >= %s FOR UPDATE"
            if fenced
            else "SELECT 1 AS id"
        )
        hedge_shape, order_shape = _shape(Hedge, with_pk=True), _shape(Order, with_pk=False)
        order_rows = ", ".join(f"({order_shape.casts})" for _ in range(orders))
        # Identifiers and casts come from the models' own metadata; every value is a bound parameter.
        _FENCED_SQL[key] = (
            f"WITH fence AS ({fence_sql}), "  # noqa: S608
            f"h AS (INSERT INTO {Hedge._meta.db_table} ({hedge_shape.columns}) SELECT {hedge_shape.casts} FROM fence "
            "RETURNING id) "
            f"INSERT INTO {Order._meta.db_table} ({order_shape.columns}) "
            f"SELECT v.* FROM (VALUES {order_rows}) AS v({order_shape.columns}) WHERE EXISTS (SELECT 1 FROM h) "
            "RETURNING id, client_order_id"
        )
    return _FENCED_SQL[key]


def mark_inserted(hedge: Hedge, rows: list[Order], returned: list[tuple[int, str]], lease: Lease | None) -> list[Order]:
    """After `fenced_insert`: nothing returned means the fence found no current lease and nothing was written."""
    if not returned:
        raise LeaseLost(f"strategy {lease.strategy_id if lease else '-'}: lease is not current, nothing written")
    ids = {cid: pk for pk, cid in returned}
    for order in rows:
        order.pk = ids[order.client_order_id]
        order._state.adding = False
        order._state.db = "default"
    hedge._state.adding = False
    hedge._state.db = "default"
    return rows


@dataclass(frozen=True)
class _Shape:
    """A model's concrete fields as one INSERT writes them: quoted columns, placeholders cast to each column's type
    (PostgreSQL reads a bare parameter in a SELECT list or a VALUES row as text) and, per field, how its value is
    found among the model's keyword arguments and prepared for PostgreSQL."""

    columns: str
    casts: str
    # per field: attribute name, relation name (None if not a relation), set on insert?, the field, its preparer
    fields: tuple[tuple[str, str | None, bool, Any, Callable[[Any], Any]], ...]


_SHAPES: dict[tuple[str, bool], _Shape] = {}


def _auto_timestamp(field: Any) -> bool:
    return bool(getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False))


def _preparer(field: models.Field[Any, Any]) -> Callable[[Any], Any]:
    """A field's value as `save()` would send it to PostgreSQL (a test compares the two). Django's PostgreSQL
    preparation passes keys, strings, booleans, aware datetimes and finite decimals through and makes integers
    psycopg's sized integers; a JSON value and anything else go through the field's own preparation."""
    internal = field.get_internal_type()
    if internal in {"BigAutoField", "AutoField", "BooleanField", "CharField", "TextField", "ForeignKey"}:
        return lambda value: value
    if internal in {"IntegerField", "BigIntegerField", "PositiveIntegerField", "PositiveBigIntegerField"}:
        adapt = connection.ops.adapt_integerfield_value
        return lambda value: adapt(value, internal)
    if internal == "DecimalField":

        def decimal(value: Any) -> Any:
            if value is not None and not value.is_finite():
                raise ValueError(f"{field.name}: {value} is not a finite number")
            return value

        return decimal
    if internal == "DateTimeField":
        return lambda value: value
    return lambda value: field.get_db_prep_save(value, connection)


def _shape(model: type[models.Model], with_pk: bool) -> _Shape:
    """Computed once per model."""
    key = (model._meta.label, with_pk)
    if key not in _SHAPES:
        fields = [f for f in model._meta.concrete_fields if with_pk or not f.primary_key]
        _SHAPES[key] = _Shape(
            columns=", ".join(connection.ops.quote_name(f.column) for f in fields),
            casts=", ".join(f"%s::{f.db_type(connection)}" for f in fields),  # a foreign key's is its target's
            fields=tuple(
                (f.attname, f.name if f.is_relation else None, _auto_timestamp(f), f, _preparer(f)) for f in fields
            ),
        )
    return _SHAPES[key]


def _values(model: type[models.Model], given: dict[str, Any], *, with_pk: bool) -> list[Any]:
    """Every concrete field's value prepared for the database, in `_shape`'s column order, from the keyword arguments
    the model would be built with (`given`): by attribute name, by relation name (the related object's key), else the
    field's default. As `save()` does, a timestamp set on insert is now; it and every default are added to `given`,
    so the model built from it afterwards holds what was written."""
    values = []
    for attname, relation, on_insert, field, prepare in _shape(model, with_pk).fields:
        value: Any
        if on_insert:
            value = given[attname] = timezone.now()
        elif attname in given:
            value = given[attname]
        elif relation is not None and relation in given:
            related = given[relation]
            value = related.pk if related is not None else None
        else:
            value = given[attname] = field.get_default()
        values.append(prepare(value))
    return values


@_atomic_reporting_refusals
def hedge_leg_orders(
    *,
    hedge: Hedge,
    intent: str,
    legs: list[LegOrder],
    max_quote_age_ms: int,
    market: MarketView,
    gate_state: GateState | None = None,
    lease: Lease | None = None,
    actor: User | None = None,
) -> list[Order]:
    """Persist the orders that close or repair a hedge (one per leg given), moving it to closing / repairing.
    Their attempt number continues the leg's previous attempts, so each has a new deterministic client id.
    `hedge` is the hedge as the orders were planned from: if its legs moved since (a late fill, a venue-side
    change adopted) or an order of it is still working (another repair in flight), nothing is written
    (ExecutionRefused) and the caller plans again. Raises StaleQuote on a quote older than `max_quote_age_ms`,
    OrderRefused when the pre-trade gate refuses the orders (trading/execution/gate.py): nothing is written then."""
    if lease is not None:
        fence(lease)
    planned = (hedge.perp_oz, hedge.cfd_oz)
    hedge = (
        Hedge.objects.select_for_update(of=("self",))
        .select_related("pool__perp_account", "pool__cfd_account")
        .get(pk=hedge.pk)
    )
    if (hedge.perp_oz, hedge.cfd_oz) != planned:
        raise ExecutionRefused(
            _("Hedge #%(id)s changed while its orders were planned; nothing was sent.") % {"id": hedge.pk}
        )
    if hedge.orders.filter(status__in=[s.value for s in OPEN_ORDER_STATUSES]).exists():
        raise ExecutionRefused(_("Hedge #%(id)s still has an order working; nothing was sent.") % {"id": hedge.pk})
    now_ms = _now_ms()
    for leg_order in legs:
        _check_fresh(leg_order, max_quote_age_ms=max_quote_age_ms, now_ms=now_ms)
    clear_orders(
        OrderCheck(
            pool=hedge.pool,
            intent=intent,
            legs=tuple(legs),
            market=market,
            strategy_id=hedge.strategy_id,
            hedge_id=hedge.pk,
            manual=actor is not None,
        ),
        state=gate_state,
    )
    now = clock.now()
    created = []
    for leg_order in legs:
        attempt = (
            Order.objects.filter(hedge=hedge, leg=leg_order.leg, intent=intent)
            .order_by("-attempt")
            .values_list("attempt", flat=True)
            .first()
            or 0
        ) + 1
        order = _order(
            hedge=hedge,
            leg_order=leg_order,
            intent=intent,
            attempt=attempt,
            strategy=hedge.strategy,
            epoch=lease.epoch if lease is not None else None,
            created_at=now,
        )
        order.save(force_insert=True)
        created.append(order)
    target = HedgeStatus.CLOSING if intent == OrderIntent.CLOSE else HedgeStatus.REPAIRING
    if hedge.status != target:
        _set_hedge_status(hedge, target)
    if intent == OrderIntent.CLOSE and hedge.closing_at is None:
        hedge.closing_at = now
        hedge.save(update_fields=["closing_at"])
    if actor is not None:
        audit_record(
            tenant=hedge.tenant,
            actor=actor,
            action=AuditAction.ORDER_SUBMITTED,
            obj=hedge,
            summary={"manual": intent, "orders": [order.client_order_id for order in created]},
        )
    return created


def _set_hedge_status(hedge: Hedge, to: str, reason: str = "", also: tuple[str, ...] = ()) -> None:
    """Move a hedge through its machine (trading/domain/hedges.py); an illegal move is a programming error.
    `also` names other fields changed on the instance, saved in the same UPDATE. A hedge that becomes legged
    raises its legged alert, resolved when it is whole again (both after commit)."""
    was_legged = hedge.legged_at is not None
    new = hedge_rules.transition(hedge_rules.HedgeStatus(hedge.status), hedge_rules.HedgeStatus(to))
    hedge.status = new.value
    fields = ["status", "status_reason", *also]
    hedge.status_reason = reason[:300]
    now = clock.now()
    if new == hedge_rules.HedgeStatus.OPEN and hedge.opened_at is None:
        hedge.opened_at = now
        fields.append("opened_at")
    if new == hedge_rules.HedgeStatus.LEGGED and hedge.legged_at is None:
        hedge.legged_at = now
        fields.append("legged_at")
    if new in (hedge_rules.HedgeStatus.OPEN, hedge_rules.HedgeStatus.CLOSED):
        hedge.legged_at = None
        fields.append("legged_at")
    if new == hedge_rules.HedgeStatus.CLOSED:
        hedge.closed_at = now
        fields.append("closed_at")
    hedge.save(update_fields=list(dict.fromkeys(fields)))
    exposed = hedge.perp_oz + hedge.cfd_oz != 0
    if new == hedge_rules.HedgeStatus.LEGGED or (new == hedge_rules.HedgeStatus.NEEDS_RECONCILE and exposed):
        _legged_alert_on_commit(hedge)
    elif was_legged and new in hedge_rules.TERMINAL | {hedge_rules.HedgeStatus.OPEN}:
        _legged_alert_resolve_on_commit(hedge)


def legged_alert_key(hedge_id: int) -> str:
    return f"hedge_legged:{hedge_id}"


def _legged_alert_on_commit(hedge: Hedge) -> None:
    """Every hedge that becomes legged raises its alert at once (the `hedge_legged` rule only sees hedges legged
    longer than its limit, at its next evaluation: a hedge repaired or halted in between would raise none)."""
    hedge_id, tenant_id = hedge.pk, hedge.tenant_id
    detail = {
        "hedge": hedge_id,
        "perp_oz": str(hedge.perp_oz),
        "cfd_oz": str(hedge.cfd_oz),
        "unhedged_oz": str(hedge.perp_oz + hedge.cfd_oz),
        "reason": hedge.status_reason,
    }
    title = phrase(
        gettext_noop("Hedge #%(id)s is legged: %(oz)s oz unhedged"), id=hedge_id, oz=hedge.perp_oz + hedge.cfd_oz
    )

    def raise_alert() -> None:

        try:
            alert_raise(
                tenant=Tenant.objects.get(pk=tenant_id),
                category="execution",
                severity="critical",
                title=title,
                dedup_key=legged_alert_key(hedge_id),
                detail=detail,
                source=Hedge.objects.filter(pk=hedge_id).first(),
            )
        except Exception:  # the hedge's state is committed; a failed alert must not undo it
            log.exception("hedge %s: raising its legged alert failed", hedge_id)

    transaction.on_commit(raise_alert)


def _legged_alert_resolve_on_commit(hedge: Hedge) -> None:
    hedge_id, tenant_id = hedge.pk, hedge.tenant_id

    def resolve() -> None:

        try:
            for alert in Alert.objects.filter(
                tenant_id=tenant_id, dedup_key=legged_alert_key(hedge_id), status__in=ACTIVE_STATUSES
            ):
                alert_resolve(alert=alert, actor=None, code="hedge_whole")
        except Exception:
            log.exception("hedge %s: resolving its legged alert failed", hedge_id)

    transaction.on_commit(resolve)


# --- orders through their machine ---------------------------------------------------------------------------
def order_view(order: Order) -> order_rules.OrderView:
    """The order as its machine sees it, rebuilt from the row and its recorded fills."""
    fills = list(order.fills.values_list("fill_id", "quantity", "price", "fee", "fee_currency"))
    fees: dict[str, Decimal] = {}
    for _fill_id, _quantity, _price, fee, currency in fills:
        fees[currency] = fees.get(currency, Decimal(0)) + fee
    return order_rules.OrderView(
        status=order_rules.OrderStatus(order.status),
        quantity=order.quantity,
        fill_qty=sum((quantity for _i, quantity, _p, _f, _c in fills), Decimal(0)),
        fill_notional=sum((quantity * price for _i, quantity, price, _f, _c in fills), Decimal(0)),
        fill_ids=frozenset(fill_id for fill_id, *_rest in fills),
        fees=tuple(sorted(fees.items())),
        venue_filled=order.venue_filled,
        venue_avg_price=order.venue_avg_price,
    )


def _store_view(order: Order, view: order_rules.OrderView, **extra: Any) -> None:
    order.status = view.status.value
    order.filled = view.filled
    order.avg_price = view.avg_price
    order.venue_filled = view.venue_filled
    order.venue_avg_price = view.venue_avg_price
    if view.fees:
        currency, _largest = max(view.fees, key=lambda pair: pair[1])
        order.fee, order.fee_currency = sum((amount for _c, amount in view.fees), Decimal(0)), currency
    fields = ["status", "filled", "avg_price", "venue_filled", "venue_avg_price", "fee", "fee_currency", "updated_at"]
    for name, value in extra.items():
        setattr(order, name, value)
        fields.append(name)
    order.save(update_fields=list(dict.fromkeys(fields)))


@transaction.atomic
def order_submitting(*, order: Order, lease: Lease | None = None) -> Order:
    """Mark the order as being sent (just before the request leaves). Fenced: a stale runner stops here."""
    if lease is not None:
        fence(lease)
    order = Order.objects.select_for_update().get(pk=order.pk)
    view = order_rules.submit(order_view(order))
    _store_view(order, view, submitted_at=clock.now())
    return order


@transaction.atomic
def order_unknown(*, order: Order, error: str) -> Order:
    """The venue's answer was lost or ambiguous: the order is unknown until looked up by its client id."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    view = order_rules.mark_unknown(order_view(order))
    _store_view(order, view, error=error[:500])
    return order


@transaction.atomic
def order_withdraw(*, order: Order, reason: str) -> None:
    """The order's request never left (a back-off still running, a read before the send failed, a check of our
    own): nothing can exist at the venue, so no row may claim a send — the order is deleted and its hedge brought
    in step. Precondition: nothing was heard of it (submitting, no fill); anything else is refused."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.status not in (order_rules.OrderStatus.NEW, order_rules.OrderStatus.SUBMITTING) or order.filled:
        raise ExecutionRefused(f"order {order.client_order_id} is {order.status}: it cannot be withdrawn")
    if order.fills.exists():
        raise ExecutionRefused(f"order {order.client_order_id} has fills: it cannot be withdrawn")
    hedge_id = order.hedge_id
    log.info("order %s withdrawn, never sent: %s", order.client_order_id, reason)
    order.delete()
    if hedge_id is not None:
        hedge_sync(hedge_id=hedge_id)


@transaction.atomic
def order_rejected(*, order: Order, error: str) -> Order:
    """The venue refused the order outright (nothing was placed)."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    view = order_rules.reject(order_view(order))
    _store_view(order, view, error=error[:500])
    if order.hedge_id is not None:
        hedge_sync(hedge_id=order.hedge_id)
    return order


@transaction.atomic
def order_record(
    *,
    order: Order,
    report: order_rules.VenueOrderReport | None,
    fills: list[order_rules.FillEvent],
    source: str,
    venue_order_id: str = "",
) -> Order:
    """Apply what the venue says about the order: its fills (each recorded once) and its status (through the
    order machine, so a duplicate or late report changes nothing it must not). Then bring the hedge in step."""
    # trading.execution.fills imports order_record from this module at load: deferred to break that cycle
    from trading.execution.fills import booked_fill, fill_row

    _relaxed_commit()
    order = Order.objects.select_for_update().get(pk=order.pk)
    view = order_view(order)
    elsewhere: set[str] = set()
    if fills and not order.paper:
        # A venue fill id is the account's: one recorded on another order of the account is not this order's.
        elsewhere = set(
            Fill.objects.filter(account_id=order.account_id, fill_id__in=[fill.fill_id for fill in fills])
            .exclude(order_id=order.pk)
            .values_list("fill_id", flat=True)
        )
    try:
        for fill in fills:
            if fill.fill_id in elsewhere:
                log.error("order %s: fill %s is recorded on another order", order.client_order_id, fill.fill_id)
                continue
            if fill.fill_id in view.fill_ids:
                continue  # heard before
            booked = booked_fill(order, fill)
            if booked is None:
                continue
            before = view
            view = order_rules.apply_fill(view, booked)
            if view is before:
                continue
            fill_row(order, booked, source).save(force_insert=True)
        if report is not None:
            view = order_rules.resolve(view, report)
    except order_rules.IllegalTransition as exc:
        # The venue says something that contradicts what we know (a fill on a rejected order, more than the
        # quantity): keep what we had and flag the hedge, so reconciliation settles it before anything else.
        log.error("order %s: venue report refused by the order machine: %s", order.client_order_id, exc)
        _store_view(order, view, error=str(exc)[:500])
        if order.hedge_id is not None:
            hedge = Hedge.objects.select_for_update().get(pk=order.hedge_id)
            if hedge.status != HedgeStatus.NEEDS_RECONCILE:
                _set_hedge_status(
                    hedge,
                    HedgeStatus.NEEDS_RECONCILE,
                    _("Order %(cid)s: the venue's report contradicts ours (%(error)s).")
                    % {"cid": order.client_order_id, "error": exc},
                )
        return order
    extra: dict[str, Any] = {}
    if venue_order_id and not order.venue_order_id:
        extra["venue_order_id"] = venue_order_id
    _store_view(order, view, **extra)
    if order.hedge_id is not None:
        hedge_sync(hedge_id=order.hedge_id)
    return order


def _relaxed_commit() -> None:
    """Let this transaction commit without waiting for the disk (PostgreSQL `synchronous_commit = off`).

    Safe for recording a venue's answer: if the commit is lost in a crash, the order is still `submitting` or
    `unknown` in the database and the next runner looks it up by client id before anything else. The writes on
    the way to the wire (the order itself, its fencing) keep full durability."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def signed(side: str, quantity: Decimal) -> Decimal:
    return quantity if side == OrderSide.BUY else -quantity


@transaction.atomic
def hedge_sync(*, hedge_id: int) -> Hedge:
    """Recompute the hedge's filled ounces per leg from its orders and move it along its machine:
    opening/closing/repairing with no order left working → open, closed, legged or failed."""
    hedge = Hedge.objects.select_for_update().get(pk=hedge_id)
    orders = list(hedge.orders.all())
    perp_oz = sum((signed(o.side, o.filled) for o in orders if o.leg == Leg.PERP), Decimal(0))
    cfd_oz = sum((signed(o.side, o.filled) for o in orders if o.leg == Leg.CFD), Decimal(0))
    moved: tuple[str, ...] = ()
    if (perp_oz, cfd_oz) != (hedge.perp_oz, hedge.cfd_oz):
        hedge.perp_oz, hedge.cfd_oz = perp_oz, cfd_oz
        moved = ("perp_oz", "cfd_oz")
    working = any(o.status in OPEN_ORDER_STATUSES for o in orders)
    if perp_oz == 0 and cfd_oz == 0 and any(o.filled for o in orders):
        try:
            _book_pnl(hedge, orders)
        except ValueError as exc:
            # A fill without a price (a position adopted from a venue that did not say at what price): the legs are
            # recorded, the PnL waits for reconciliation. Never let the split stop the legs from being recorded.
            log.warning("hedge %s: PnL not booked: %s", hedge.pk, exc)
    settling = (HedgeStatus.OPENING, HedgeStatus.CLOSING, HedgeStatus.REPAIRING, HedgeStatus.LEGGED)
    hedged = perp_oz + cfd_oz == 0
    if working or hedge.status not in settling or (hedge.status == HedgeStatus.LEGGED and not hedged):
        if moved:
            hedge.save(update_fields=list(moved))
        return hedge
    # One UPDATE for the legs and the move.
    if hedged and perp_oz == 0:
        if hedge.status == HedgeStatus.OPENING:
            reason = _("Neither leg filled.") if orders else _("Neither leg could be sent.")
            _set_hedge_status(hedge, HedgeStatus.FAILED, reason, also=moved)
        else:
            _set_hedge_status(hedge, HedgeStatus.CLOSED, also=moved)
    elif hedged:
        _set_hedge_status(hedge, HedgeStatus.OPEN, also=moved)
    else:
        _set_hedge_status(
            hedge,
            HedgeStatus.LEGGED,
            _("Unhedged %(oz)s oz (perp %(perp)s, CFD %(cfd)s).")
            % {"oz": perp_oz + cfd_oz, "perp": perp_oz, "cfd": cfd_oz},
            also=moved,
        )
    return hedge


def pnl_fills(orders: list[Order], default_rate: Decimal) -> list[pnl.PnlFill]:
    """Each order's execution as PnL fills: its recorded fills, or the venue's cumulative when it named none."""
    out: list[pnl.PnlFill] = []
    for order in orders:
        if not order.filled:
            continue
        rate = order.usd_per_usdt or default_rate
        sign = Decimal(1) if order.side == OrderSide.BUY else Decimal(-1)
        leg = order_rules.Leg(order.leg)
        fills = list(order.fills.all())
        for fill in fills:
            out.append(
                pnl.PnlFill(
                    leg, sign * fill.quantity, fill.price, fill.fee, _fee_currency(fill.fee_currency, leg), rate
                )
            )
        rest = order.filled - sum((fill.quantity for fill in fills), Decimal(0))
        if rest > 0 and order.venue_avg_price is not None:
            out.append(pnl.PnlFill(leg, sign * rest, order.venue_avg_price, Decimal(0), _fee_currency("", leg), rate))
    return out


def _fee_currency(currency: str, leg: order_rules.Leg) -> str:
    if currency in (pnl.USD, pnl.USDT):
        return currency
    return pnl.USDT if leg is order_rules.Leg.PERP else pnl.USD


def carry_bookings(hedge: Hedge, default_rate: Decimal) -> list[pnl.CarryBooking]:
    """The hedge's funding and swap, each at the USDT/USD rate of its booking (`default_rate` for entries booked
    before the rate was stored with them)."""
    return [
        pnl.CarryBooking(pnl.CarryKind(entry.kind), entry.amount, entry.currency, entry.usd_per_usdt or default_rate)
        for entry in hedge.carry.all()
    ]


def _book_pnl(hedge: Hedge, orders: list[Order]) -> None:
    """Book the PnL split of a hedge whose legs are flat, at 8 dp. USDT is valued at the exit rate: the rate the
    latest closing (or repair) order was priced at."""
    closing = sorted(
        (o for o in orders if o.intent != OrderIntent.OPEN and o.usd_per_usdt), key=lambda o: (o.created_at, o.pk)
    )
    exit_rate = closing[-1].usd_per_usdt if closing else (hedge.entry_usd_per_usdt or Decimal(1))
    assert exit_rate is not None
    split = pnl.pnl_split(
        fills=pnl_fills(orders, exit_rate),
        carry=carry_bookings(hedge, exit_rate),
        valuation=pnl.Valuation(usd_per_usdt=exit_rate),
    ).quantized()
    for line, value in split.lines():
        setattr(hedge, f"pnl_{line}", value)
    hedge.exit_usd_per_usdt = exit_rate
    hedge.save(update_fields=[*PNL_FIELDS, "exit_usd_per_usdt"])


@transaction.atomic
def rebook_pnl(*, hedge_id: int) -> None:
    """Book a closed hedge's PnL split again after carry booked late: the swap MT5 moves onto the closing deal, a
    funding payment Binance records after the hedge closed. Nothing for a hedge that is not closed (its split is
    booked when it closes)."""
    hedge = Hedge.objects.select_for_update().get(pk=hedge_id)
    if hedge.status != HedgeStatus.CLOSED:
        return
    try:
        _book_pnl(hedge, list(hedge.orders.all()))
    except ValueError as exc:
        log.warning("hedge %s: PnL not booked again: %s", hedge.pk, exc)


@transaction.atomic
def hedge_mark(*, hedge: Hedge, status: str, reason: str) -> Hedge:
    """Move a hedge by a decision outside its fills (legged by a venue-side change, needs-reconcile after a
    restart, failed when a repair is abandoned to the kill switch)."""
    hedge = Hedge.objects.select_for_update().get(pk=hedge.pk)
    if hedge.status != status:
        _set_hedge_status(hedge, status, reason)
    return hedge


@transaction.atomic
def hedge_flag_unsettled(*, hedge_id: int, max_legging_seconds: int) -> Hedge | None:
    """Flag a hedge left exposed past the maximum legging time by orders still unknown: `needs_reconcile` (its
    legged alert raised), since our records cannot vouch for it while an order is unknown — repairing it then
    could duplicate what the unknown order did. The runner keeps looking the orders up (their fills are recorded
    on the hedge's legs); reconciliation or a manual repair moves it on from what the venues hold.

    Decided under the hedge's lock: None when it settled meanwhile, is no longer exposed, or its orders resolved."""
    hedge = Hedge.objects.select_for_update().get(pk=hedge_id)
    if hedge.status not in (HedgeStatus.OPENING, HedgeStatus.CLOSING, HedgeStatus.REPAIRING):
        return None
    unknown = list(hedge.orders.filter(status=OrderStatus.UNKNOWN).values_list("client_order_id", flat=True))
    if not unknown or hedge.perp_oz + hedge.cfd_oz == 0:
        return None
    _set_hedge_status(
        hedge,
        HedgeStatus.NEEDS_RECONCILE,
        _("Unhedged %(oz)s oz (perp %(perp)s, CFD %(cfd)s) after %(seconds)s s with orders still unknown: %(orders)s.")
        % {
            "oz": hedge.perp_oz + hedge.cfd_oz,
            "perp": hedge.perp_oz,
            "cfd": hedge.cfd_oz,
            "seconds": max_legging_seconds,
            "orders": ", ".join(unknown),
        },
    )
    return hedge


def working_orders(hedge: Hedge) -> list[Order]:
    return list(hedge.orders.filter(status__in=[s.value for s in OPEN_ORDER_STATUSES]))
