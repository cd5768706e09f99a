"""Reads of the execution records (hedges, orders, fills, positions, reconciliation reports, manual commands),
always what one member may view (`for_member`: their tenant's rows, never another's), with the filters the pages
and the API share: pool, strategy, status, leg, and a date range on the record's own time. Bad filter values are
reported per field (the API answers 400 with them; the portal shows them above the table and ignores the value)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from accounts.models import Membership
from trading.choices import HedgeStatus, Leg, OrderStatus, ReconciliationStatus
from trading.models import Fill, Hedge, ManualCommand, Order, PositionSnapshot, ReconciliationReport

FILTER_NAMES = ("pool", "strategy", "status", "leg", "since", "until", "hedge")


@dataclass
class Filters:
    pool: int | None = None
    strategy: int | None = None
    hedge: int | None = None
    status: str = ""
    leg: str = ""
    since: datetime | None = None
    until: datetime | None = None
    raw: dict[str, str] = field(default_factory=dict)

    @property
    def query(self) -> str:
        """The filters as a query string, for pagination and export links."""

        return urlencode({name: value for name, value in self.raw.items() if value})


def parse_moment(value: str, *, end: bool) -> datetime | None:
    parsed = parse_datetime(value)
    if parsed is None:
        day: date | None = parse_date(value)
        if day is None:
            raise ValueError(value)
        parsed = datetime.combine(day + timedelta(days=1) if end else day, time.min)
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    return parsed


def parse_filters(params: Any, statuses: list[str] | None = None) -> tuple[Filters, dict[str, list[str]]]:
    """Filters from query parameters. Dates are UTC days (`until` includes its day) or ISO 8601 times."""
    filters = Filters(raw={name: str(params.get(name, "") or "").strip() for name in FILTER_NAMES})
    errors: dict[str, list[str]] = {}
    for name in ("pool", "strategy", "hedge"):
        value = filters.raw[name]
        if value:
            if value.isdigit() and len(value) < 12:
                setattr(filters, name, int(value))
            else:
                errors[name] = [_("Give the id as a whole number.")]
    if filters.raw["status"]:
        if statuses is not None and filters.raw["status"] not in statuses:
            errors["status"] = [_("Unknown status; use one of: %(values)s.") % {"values": ", ".join(statuses)}]
        else:
            filters.status = filters.raw["status"]
    if filters.raw["leg"]:
        if filters.raw["leg"] not in Leg.values:
            errors["leg"] = [_("Unknown leg; use perp or cfd.")]
        else:
            filters.leg = filters.raw["leg"]
    for name in ("since", "until"):
        value = filters.raw[name]
        if value:
            try:
                setattr(filters, name, parse_moment(value, end=name == "until"))
            except (ValueError, OverflowError):
                errors[name] = [_("Give a date as YYYY-MM-DD or a time as ISO 8601.")]
    for name in errors:
        filters.raw[name] = ""
    return filters, errors


def _dated(queryset: QuerySet[Any], filters: Filters, field_name: str) -> QuerySet[Any]:
    if filters.since is not None:
        queryset = queryset.filter(**{f"{field_name}__gte": filters.since})
    if filters.until is not None:
        queryset = queryset.filter(**{f"{field_name}__lt": filters.until})
    return queryset


def hedges_for(*, membership: Membership | None, filters: Filters | None = None) -> QuerySet[Hedge]:
    queryset = Hedge.objects.for_member(membership, "view").select_related("pool", "strategy", "strategy_version")
    return hedges_filtered(queryset, filters or Filters()).order_by("-planned_at", "-id")


def hedges_filtered(queryset: QuerySet[Hedge], filters: Filters) -> QuerySet[Hedge]:
    """`queryset` narrowed by the filters; the caller has scoped it to a member."""
    if filters.pool is not None:
        queryset = queryset.filter(pool_id=filters.pool)
    if filters.strategy is not None:
        queryset = queryset.filter(strategy_id=filters.strategy)
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.leg:
        queryset = queryset.filter(orders__leg=filters.leg).distinct()
    return _dated(queryset, filters, "planned_at")


def orders_for(*, membership: Membership | None, filters: Filters | None = None) -> QuerySet[Order]:
    queryset = Order.objects.for_member(membership, "view").select_related("account", "hedge", "strategy")
    return orders_filtered(queryset, filters or Filters()).order_by("-created_at", "-id")


def orders_filtered(queryset: QuerySet[Order], filters: Filters) -> QuerySet[Order]:
    """`queryset` narrowed by the filters; the caller has scoped it to a member."""
    if filters.pool is not None:
        queryset = queryset.filter(
            Q(hedge__pool_id=filters.pool)
            | Q(account__perp_pools__id=filters.pool)
            | Q(account__cfd_pools__id=filters.pool)
        ).distinct()
    if filters.strategy is not None:
        queryset = queryset.filter(strategy_id=filters.strategy)
    if filters.hedge is not None:
        queryset = queryset.filter(hedge_id=filters.hedge)
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.leg:
        queryset = queryset.filter(leg=filters.leg)
    return _dated(queryset, filters, "created_at")


def fills_for(*, membership: Membership | None, filters: Filters | None = None) -> QuerySet[Fill]:
    queryset = Fill.objects.for_member(membership, "view").select_related("order", "order__account")
    return fills_filtered(queryset, filters or Filters()).order_by("-at", "-id")


def fills_filtered(queryset: QuerySet[Fill], filters: Filters) -> QuerySet[Fill]:
    """`queryset` narrowed by the filters; the caller has scoped it to a member."""
    if filters.pool is not None:
        queryset = queryset.filter(
            Q(order__hedge__pool_id=filters.pool)
            | Q(order__account__perp_pools__id=filters.pool)
            | Q(order__account__cfd_pools__id=filters.pool)
        ).distinct()
    if filters.strategy is not None:
        queryset = queryset.filter(order__strategy_id=filters.strategy)
    if filters.hedge is not None:
        queryset = queryset.filter(order__hedge_id=filters.hedge)
    if filters.leg:
        queryset = queryset.filter(order__leg=filters.leg)
    return _dated(queryset, filters, "at")


def positions_for(*, membership: Membership | None, filters: Filters | None = None) -> QuerySet[PositionSnapshot]:
    queryset = PositionSnapshot.objects.for_member(membership, "view").select_related("account", "pool")
    return positions_filtered(queryset, filters or Filters()).order_by("-at", "-id")


def positions_filtered(queryset: QuerySet[PositionSnapshot], filters: Filters) -> QuerySet[PositionSnapshot]:
    """`queryset` narrowed by the filters; the caller has scoped it to a member."""
    if filters.pool is not None:
        queryset = queryset.filter(pool_id=filters.pool)
    if filters.leg == Leg.PERP:
        queryset = queryset.filter(account__perp_pools__isnull=False).distinct()
    elif filters.leg == Leg.CFD:
        queryset = queryset.filter(account__cfd_pools__isnull=False).distinct()
    return _dated(queryset, filters, "at")


def reports_for(*, membership: Membership | None, filters: Filters | None = None) -> QuerySet[ReconciliationReport]:
    queryset = ReconciliationReport.objects.for_member(membership, "view").select_related(
        "pool", "strategy", "synced_by"
    )
    return reports_filtered(queryset, filters or Filters()).order_by("-started_at", "-id")


def reports_filtered(queryset: QuerySet[ReconciliationReport], filters: Filters) -> QuerySet[ReconciliationReport]:
    """`queryset` narrowed by the filters; the caller has scoped it to a member."""
    if filters.pool is not None:
        queryset = queryset.filter(pool_id=filters.pool)
    if filters.strategy is not None:
        queryset = queryset.filter(strategy_id=filters.strategy)
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    return _dated(queryset, filters, "started_at")


def commands_for(*, membership: Membership | None, filters: Filters | None = None) -> QuerySet[ManualCommand]:
    queryset = ManualCommand.objects.for_member(membership, "view").select_related("pool", "hedge", "requested_by")
    return commands_filtered(queryset, filters or Filters()).order_by("-requested_at", "-id")


def commands_filtered(queryset: QuerySet[ManualCommand], filters: Filters) -> QuerySet[ManualCommand]:
    """`queryset` narrowed by the filters; the caller has scoped it to a member."""
    if filters.pool is not None:
        queryset = queryset.filter(pool_id=filters.pool)
    if filters.hedge is not None:
        queryset = queryset.filter(hedge_id=filters.hedge)
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    return _dated(queryset, filters, "requested_at")


HEDGE_STATUSES = list(HedgeStatus.values)
ORDER_STATUSES = list(OrderStatus.values)
REPORT_STATUSES = list(ReconciliationStatus.values)
