"""Portal pages of execution: hedges, orders, fills and positions tables with filters,
pagination and CSV export; a hedge's detail with its orders, fills, PnL split and manual actions; a pool's desk
with the pool-level actions (open a hedge by hand, flatten, cancel open orders); manual commands followed live.

Everyone who reads trading data sees the tables; exports need `trading.export`; manual actions need
`order.submit` and, for a trader, the pool granted. Every action is confirmed in a dialog that says what will
happen (`trading.manual.services.describe`) and is queued for the engine as a `ManualCommand` (audited). A foreign id
is a 404.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from typing import Any

from django.apps import apps
from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Case, DecimalField, F, Value, When
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from accounts.admin_site import _csv_value
from accounts.grants import may_operate
from accounts.http import AuditContext, is_htmx, require_actor, require_membership
from accounts.models import AccountPool
from accounts.permissions import Perm, permission_required, role_has
from quantarb.sorting import sort_from
from trading.choices import (
    LIVE_HEDGE_STATUSES,
    OPEN_ORDER_STATUSES,
    Direction,
    HedgeStatus,
    Leg,
    ManualKind,
    OrderStatus,
)
from trading.execution.gate import halts as pool_halts
from trading.execution.selectors import (
    HEDGE_STATUSES,
    ORDER_STATUSES,
    Filters,
    commands_for,
    fills_for,
    hedges_for,
    orders_for,
    parse_filters,
    positions_for,
)
from trading.instruments import attach_instruments, pool_instruments
from trading.manual.services import REPAIRABLE, clean_open, describe, manual_request
from trading.models import USD, Hedge, ManualCommand
from trading.portfolio.pnl import LIVE, PoolMarks, hedge_pnl, hedges_pnl

PER_PAGE = 50


def may_act_on_pool(membership: Any, pool: AccountPool) -> bool:
    return (
        membership is not None
        and role_has(membership.role, Perm.ORDER_SUBMIT)
        and pool.tenant_id == membership.tenant_id
        and may_operate(membership, pool)
    )


# --- the tables ---------------------------------------------------------------------------------------------------
def _settled(expression: Any) -> Case:
    """A PnL column as the hedges table sorts it: a settled hedge's booked figure. A live hedge shows its split
    marked now, which the database does not hold (its booked fields are still zero), so it has no sort value and
    comes after the settled ones in either direction rather than among them as a false 0.00."""
    column = F(expression) if isinstance(expression, str) else expression
    return Case(
        When(status__in=[status.value for status in LIVE_HEDGE_STATUSES], then=Value(None)),
        default=column,
        output_field=DecimalField(**USD),
    )


TABLES: dict[str, dict[str, Any]] = {
    "hedges": {
        "title": gettext_lazy("Hedges"),
        "select": hedges_for,
        "statuses": HEDGE_STATUSES,
        "status_choices": HedgeStatus.choices,
        "columns": (
            ("id", gettext_lazy("Hedge")),
            ("pool", gettext_lazy("Pool")),
            ("strategy", gettext_lazy("Strategy")),
            ("strategy_version", gettext_lazy("Version")),
            ("direction", gettext_lazy("Direction")),
            ("status", gettext_lazy("Status")),
            ("paper", gettext_lazy("Paper")),
            ("manual", gettext_lazy("Opened by hand")),
            ("size_oz", gettext_lazy("Size (oz)")),
            ("perp_oz", gettext_lazy("Perp (oz)")),
            ("cfd_oz", gettext_lazy("CFD (oz)")),
            ("entry_net_edge", gettext_lazy("Net edge at entry (USD/oz)")),
            ("pnl_spread", gettext_lazy("Spread capture (USD)")),
            ("pnl_fees", gettext_lazy("Fees (USD)")),
            ("pnl_funding", gettext_lazy("Funding (USD)")),
            ("pnl_swap", gettext_lazy("Swap (USD)")),
            ("pnl_fx", gettext_lazy("USDT/USD (USD)")),
            ("pnl_total", gettext_lazy("Total (USD)")),
            ("planned_at", gettext_lazy("Planned")),
            ("opened_at", gettext_lazy("Opened")),
            ("closed_at", gettext_lazy("Closed")),
        ),
        "sorts": {
            "id": ("id",),
            "strategy": ("strategy__name", "pool__name"),
            "direction": ("direction",),
            "status": ("status",),
            "size": ("size_oz",),
            "unhedged": (F("perp_oz") + F("cfd_oz"),),
            "spread": (_settled("pnl_spread"),),
            "fees": (_settled("pnl_fees"),),
            "carry": (_settled(F("pnl_funding") + F("pnl_swap")),),
            "total": (_settled(F("pnl_spread") + F("pnl_fees") + F("pnl_funding") + F("pnl_swap") + F("pnl_fx")),),
            "planned": ("planned_at",),
        },
    },
    "orders": {
        "title": gettext_lazy("Orders"),
        "select": orders_for,
        "statuses": ORDER_STATUSES,
        "status_choices": None,
        "columns": (
            ("id", gettext_lazy("Order")),
            ("client_order_id", gettext_lazy("Client order id")),
            ("venue_order_id", gettext_lazy("Venue order id")),
            ("hedge_id", gettext_lazy("Hedge")),
            ("account", gettext_lazy("Account")),
            ("leg", gettext_lazy("Leg")),
            ("intent", gettext_lazy("Intent")),
            ("side", gettext_lazy("Side")),
            ("kind", gettext_lazy("Type")),
            ("quantity", gettext_lazy("Quantity (oz)")),
            ("lots", gettext_lazy("Lots")),
            ("limit_price", gettext_lazy("Limit price")),
            ("status", gettext_lazy("Status")),
            ("filled", gettext_lazy("Filled (oz)")),
            ("avg_price", gettext_lazy("Average price")),
            ("fee", gettext_lazy("Fees")),
            ("fee_currency", gettext_lazy("Fee currency")),
            ("paper", gettext_lazy("Paper")),
            ("error", gettext_lazy("Error")),
            ("created_at", gettext_lazy("Created")),
        ),
        "sorts": {
            "client_order_id": ("client_order_id",),
            "hedge": ("hedge_id",),
            "account": ("account__label",),
            "leg": ("leg",),
            "intent": ("intent",),
            "side": ("side",),
            "kind": ("kind",),
            "quantity": ("quantity",),
            "filled": ("filled",),
            "avg_price": ("avg_price",),
            "status": ("status",),
            "created": ("created_at",),
        },
    },
    "fills": {
        "title": gettext_lazy("Fills"),
        "select": fills_for,
        "statuses": None,
        "status_choices": None,
        "columns": (
            ("id", gettext_lazy("Fill")),
            ("fill_id", gettext_lazy("Fill id")),
            ("order", gettext_lazy("Client order id")),
            ("leg", gettext_lazy("Leg")),
            ("side", gettext_lazy("Side")),
            ("quantity", gettext_lazy("Quantity (oz)")),
            ("price", gettext_lazy("Price")),
            ("fee", gettext_lazy("Fee")),
            ("fee_currency", gettext_lazy("Fee currency")),
            ("maker", gettext_lazy("Maker")),
            ("venue_fee", gettext_lazy("Fee as charged")),
            ("venue_fee_asset", gettext_lazy("Fee asset as charged")),
            ("fee_rate", gettext_lazy("Fee conversion rate")),
            ("fee_rate_source", gettext_lazy("Fee rate source")),
            ("source", gettext_lazy("Source")),
            ("paper", gettext_lazy("Paper")),
            ("at", gettext_lazy("Time")),
        ),
        "sorts": {
            "at": ("at",),
            "client_order_id": ("order__client_order_id",),
            "fill_id": ("fill_id",),
            "leg": ("order__leg",),
            "side": ("order__side",),
            "quantity": ("quantity",),
            "price": ("price",),
            "fee": ("fee",),
            "source": ("source",),
        },
    },
    "positions": {
        "title": gettext_lazy("Positions"),
        "select": positions_for,
        "statuses": None,
        "status_choices": None,
        "columns": (
            ("at", gettext_lazy("Time")),
            ("account", gettext_lazy("Account")),
            ("pool", gettext_lazy("Pool")),
            ("ours_oz", gettext_lazy("Our position (oz)")),
            ("venue_oz", gettext_lazy("Venue position (oz)")),
            ("avg_price", gettext_lazy("Average price")),
            ("mark_price", gettext_lazy("Mark price")),
            ("unrealised", gettext_lazy("Unrealised PnL")),
            ("currency", gettext_lazy("Currency")),
        ),
        "sorts": {
            "at": ("at",),
            "account": ("account__label",),
            "pool": ("pool__name",),
            "ours": ("ours_oz",),
            "venue": ("venue_oz",),
            "avg_price": ("avg_price",),
            "mark_price": ("mark_price",),
            "unrealised": ("unrealised",),
        },
    },
}


def _cell(kind: str, row: Any, name: str, marks: PoolMarks | None = None) -> Any:
    """A CSV cell: labels rather than internal codes (`Sell perp / buy CFD`, not `sell_perp`), decimals as
    written (never an exponent: `_csv_value`). A live hedge's PnL lines are its split marked now, as its page
    shows them (its booked fields stay empty until it settles); blank when it cannot be marked yet."""
    if kind == "hedges" and name.startswith("pnl_") and row.status in LIVE:
        split = hedge_pnl(row, marks).split
        return "" if split is None else getattr(split, name.removeprefix("pnl_"))
    if kind == "fills":
        if name == "order":
            return row.order.client_order_id
        if name in ("leg", "side"):
            return getattr(row.order, f"get_{name}_display")()
    display = getattr(row, f"get_{name}_display", None)
    if callable(display):
        return display()
    if name == "account":
        return row.account.label
    if name == "pool":
        return row.pool.name if row.pool_id else ""
    if name == "strategy":
        return row.strategy.name if row.strategy_id else ""
    if name == "strategy_version":
        return row.strategy_version.number if row.strategy_version_id else ""
    return getattr(row, name)


def _table_context(request: HttpRequest, kind: str) -> tuple[dict[str, Any], Filters]:
    membership = require_membership(request)
    table = TABLES[kind]
    filters, errors = parse_filters(request.GET, table["statuses"])
    sort = sort_from(request.GET, table["sorts"])
    rows = sort.apply(table["select"](membership=membership, filters=filters))
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    if kind in ("orders", "positions"):
        attach_instruments(page, account=lambda row: row.account)
    elif kind == "fills":
        attach_instruments(page, account=lambda row: row.order.account)
    context = {
        "kind": kind,
        "table": table,
        "tables": [(name, spec["title"]) for name, spec in TABLES.items()],
        "page": page,
        "filters": filters,
        "filter_errors": errors,
        "sort": sort,
        "filter_query": filters.query,
        "query": sort.extend(filters.query),
        "pools": AccountPool.objects.for_member(membership).order_by("name"),
        "strategies": apps.get_model("strategies", "Strategy").objects.for_member(membership).order_by("name"),
        "statuses": HedgeStatus.choices if kind == "hedges" else OrderStatus.choices if kind == "orders" else [],
        "legs": Leg.choices,
        "can_export": role_has(membership.role, Perm.TRADING_EXPORT),
        "desk_pools": (
            list(AccountPool.objects.for_member(membership, "trade").order_by("name"))
            if role_has(membership.role, Perm.ORDER_SUBMIT)
            else []
        ),
    }
    if kind == "hedges":
        context["rows"] = hedges_pnl(page)  # booked for settled hedges, marked now for live ones
    return context, filters


def _table_view(kind: str) -> Callable[[HttpRequest], HttpResponse]:
    @require_GET
    @permission_required(Perm.TRADING_READ)
    def view(request: HttpRequest) -> HttpResponse:
        context, _filters = _table_context(request, kind)
        status = 400 if context["filter_errors"] else 200
        if is_htmx(request) and request.GET.get("partial") == "rows":
            return render(request, f"trading/execution/_{kind}_table.html", context, status=status)
        return render(request, "trading/execution/records.html", context, status=status)

    view.__name__ = f"{kind}_list"
    return view


class _Echo:
    def write(self, value: str) -> str:
        return value


def _export_view(kind: str) -> Callable[[HttpRequest], HttpResponseBase]:
    @require_GET
    @permission_required(Perm.TRADING_EXPORT)  # type: ignore[arg-type] # a streaming answer is an HttpResponseBase
    def export(request: HttpRequest) -> HttpResponseBase:
        membership = require_membership(request)
        table = TABLES[kind]
        filters, errors = parse_filters(request.GET, table["statuses"])
        if errors:
            return HttpResponse(
                "; ".join(f"{name}: {' '.join(texts)}" for name, texts in errors.items()),
                status=400,
                content_type="text/plain; charset=utf-8",
            )
        rows = sort_from(request.GET, table["sorts"]).apply(table["select"](membership=membership, filters=filters))
        columns = table["columns"]

        def lines() -> Iterator[str]:
            writer = csv.writer(_Echo())
            yield "\ufeff"  # a BOM, so spreadsheet programs read the Chinese headers as UTF-8
            yield writer.writerow([str(label) for _name, label in columns])
            marks = PoolMarks()  # each pool's marks read once for the whole file
            for row in rows.iterator(chunk_size=2000):
                yield writer.writerow([_csv_value(_cell(kind, row, name, marks)) for name, _label in columns])

        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{kind}-{stamp}.csv"'
        return response

    export.__name__ = f"{kind}_export"
    return export


hedge_list = _table_view("hedges")
order_list = _table_view("orders")
fill_list = _table_view("fills")
position_list = _table_view("positions")
hedge_export = _export_view("hedges")
order_export = _export_view("orders")
fill_export = _export_view("fills")
position_export = _export_view("positions")


# --- a hedge ------------------------------------------------------------------------------------------------------
def _hedge_or_404(request: HttpRequest, hedge_id: int) -> Hedge:
    hedge = (
        Hedge.objects.for_member(require_membership(request))
        .filter(pk=hedge_id)
        .select_related("pool", "strategy", "strategy_version")
        .first()
    )
    if hedge is None:
        raise Http404
    return hedge


def hedge_actions(hedge: Hedge) -> list[tuple[str, str]]:
    """The manual actions this hedge's status allows, each with what it will do."""
    kinds: list[str] = []
    if hedge.status == HedgeStatus.OPEN:
        kinds.append(ManualKind.CLOSE_HEDGE)
    if hedge.status in REPAIRABLE:
        kinds += [ManualKind.REPAIR_COMPLETE, ManualKind.REPAIR_UNWIND]
    return [(kind, describe(kind=kind, pool=hedge.pool, hedge=hedge)) for kind in kinds]


@require_GET
@permission_required(Perm.TRADING_READ)
def hedge_detail(request: HttpRequest, hedge_id: int) -> HttpResponse:
    hedge = _hedge_or_404(request, hedge_id)
    membership = require_membership(request)
    orders = list(hedge.orders.select_related("account").order_by("created_at", "id"))
    fills = list(fills_for(membership=membership, filters=Filters(hedge=hedge.pk)))
    attach_instruments(orders, account=lambda row: row.account)
    attach_instruments(fills, account=lambda row: row.order.account)
    can_act = may_act_on_pool(membership, hedge.pool)
    context = {
        "hedge": hedge,
        "instruments": pool_instruments(hedge.pool),
        "orders": orders,
        "fills": fills,
        "pnl": hedge_pnl(hedge),
        "carry": hedge.carry.order_by("-at")[:50],
        "commands": commands_for(membership=membership, filters=Filters(hedge=hedge.pk))[:10],
        "can_act": can_act,
        "actions": hedge_actions(hedge) if can_act else [],
    }
    return render(request, "trading/execution/hedge_detail.html", context)


@require_POST
@permission_required(Perm.ORDER_SUBMIT)
def hedge_manual(request: HttpRequest, hedge_id: int) -> HttpResponse:
    hedge = _hedge_or_404(request, hedge_id)
    if not may_act_on_pool(require_membership(request), hedge.pool):
        raise PermissionDenied
    kind = request.POST.get("kind", "")
    if kind not in (ManualKind.CLOSE_HEDGE, ManualKind.REPAIR_COMPLETE, ManualKind.REPAIR_UNWIND):
        messages.error(request, _("Choose close, complete or unwind."))
        return HttpResponseRedirect(reverse("hedge", args=[hedge.pk]))
    _queue(request, pool=hedge.pool, kind=kind, hedge=hedge, params={})
    return HttpResponseRedirect(reverse("hedge", args=[hedge.pk]))


@require_GET
@permission_required(Perm.ORDER_SUBMIT)
def hedge_confirm(request: HttpRequest, hedge_id: int, kind: str) -> HttpResponse:
    """What a hedge's action will do, asked for by its dialog each time it opens (never older than the dialog)."""
    hedge = _hedge_or_404(request, hedge_id)
    if not may_act_on_pool(require_membership(request), hedge.pool):
        raise PermissionDenied
    if kind not in (ManualKind.CLOSE_HEDGE, ManualKind.REPAIR_COMPLETE, ManualKind.REPAIR_UNWIND):
        raise Http404
    context = {"text": describe(kind=kind, pool=hedge.pool, hedge=hedge), "modal_id": f"manual-{kind}"}
    return render(request, "trading/execution/_confirm_body.html", context)


def _queue(
    request: HttpRequest, *, pool: AccountPool, kind: str, hedge: Hedge | None, params: dict[str, Any]
) -> ManualCommand | None:
    try:
        command = manual_request(
            pool=pool,
            kind=kind,
            actor=require_actor(request),
            hedge=hedge,
            params=params,
            context=AuditContext.from_request(request),
        )
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return None
    messages.success(
        request,
        _("Queued for the engine: %(what)s") % {"what": describe(kind=kind, pool=pool, hedge=hedge, params=params)},
    )
    return command


# --- a pool's desk: pool-level manual actions ------------------------------------------------------------------
def _pool_or_404(request: HttpRequest, pool_id: int) -> AccountPool:
    pool = AccountPool.objects.for_member(require_membership(request)).filter(pk=pool_id).first()
    if pool is None:
        raise Http404
    return pool


@require_GET
@permission_required(Perm.TRADING_READ)
def pool_desk(request: HttpRequest, pool_id: int) -> HttpResponse:
    pool = _pool_or_404(request, pool_id)
    membership = require_membership(request)
    can_act = may_act_on_pool(membership, pool)
    live = hedges_for(membership=membership, filters=Filters(pool=pool.pk)).filter(
        status__in=[s.value for s in LIVE_HEDGE_STATUSES]
    )
    working = orders_for(membership=membership, filters=Filters(pool=pool.pk)).filter(
        status__in=[s.value for s in OPEN_ORDER_STATUSES]
    )
    orders = list(working.select_related("account")[:50])
    attach_instruments(orders, account=lambda row: row.account)
    context = {
        "pool": pool,
        "instruments": pool_instruments(pool),
        "hedges": live,
        "orders": orders,
        "commands": commands_for(membership=membership, filters=Filters(pool=pool.pk))[:20],
        "can_act": can_act,
        "directions": Direction.choices,
        # What halts orders by hand here, shown before anyone fills the form (the gate refuses opens under it).
        "halts": pool_halts(pool=pool),
    }
    return render(request, "trading/execution/pool_desk.html", context)


@require_GET
@permission_required(Perm.ORDER_SUBMIT)
def pool_confirm(request: HttpRequest, pool_id: int, kind: str) -> HttpResponse:
    """What flattening the pool or cancelling its orders will do, counted when the dialog opens."""
    pool = _pool_or_404(request, pool_id)
    if not may_act_on_pool(require_membership(request), pool):
        raise PermissionDenied
    if kind not in (ManualKind.FLATTEN_POOL, ManualKind.CANCEL_ORDERS):
        raise Http404
    context = {"text": describe(kind=kind, pool=pool), "modal_id": f"manual-{kind}"}
    return render(request, "trading/execution/_confirm_body.html", context)


@require_POST
@permission_required(Perm.ORDER_SUBMIT)
def pool_manual(request: HttpRequest, pool_id: int) -> HttpResponse:
    """Flatten or cancel at once (their dialog already said what happens); opening a hedge by hand first
    answers with the confirmation naming direction and size, then queues on the confirmed post."""
    pool = _pool_or_404(request, pool_id)
    if not may_act_on_pool(require_membership(request), pool):
        raise PermissionDenied
    kind = request.POST.get("kind", "")
    desk = reverse("pool_desk", args=[pool.pk])
    if kind in (ManualKind.FLATTEN_POOL, ManualKind.CANCEL_ORDERS):
        _queue(request, pool=pool, kind=kind, hedge=None, params={})
        return HttpResponseRedirect(desk)
    if kind != ManualKind.OPEN_HEDGE:
        messages.error(request, _("Choose open, flatten or cancel."))
        return HttpResponseRedirect(desk)
    params = {"direction": request.POST.get("direction", ""), "size_oz": request.POST.get("size_oz", "").strip()}
    if request.POST.get("confirmed") != "yes":
        try:
            # the size's rules, then the pre-trade gate with the state now
            cleaned = clean_open(pool, params, actor=require_actor(request))
        except ValidationError as error:
            context = {
                "pool": pool,
                "errors": error.message_dict,
                "refusals": error.message_dict.get(NON_FIELD_ERRORS, []),
                "params": params,
                "directions": Direction.choices,
            }
            return render(request, "trading/execution/open_confirm.html", context, status=400)
        context = {
            "pool": pool,
            "params": cleaned,
            "text": describe(kind=ManualKind.OPEN_HEDGE, pool=pool, params=cleaned),
        }
        return render(request, "trading/execution/open_confirm.html", context)
    _queue(request, pool=pool, kind=kind, hedge=None, params=params)
    return HttpResponseRedirect(desk)


@require_GET
@permission_required(Perm.TRADING_READ)
def command_status(request: HttpRequest, command_id: int) -> HttpResponse:
    command = commands_for(membership=require_membership(request)).filter(pk=command_id).first()
    if command is None:
        raise Http404
    return render(request, "trading/execution/_command.html", {"command": command})
