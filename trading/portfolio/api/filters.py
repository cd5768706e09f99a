"""The cash-flow list's filters: `account` (one of the tenant's venue accounts), `kind`, `status`, `source`, and
`since` / `until` as UTC days (`until` includes its day). A bad value answers 400 naming the parameter, with the
messages the portal's filter form shows."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import django_filters
from django.db.models import QuerySet

from accounts.http import require_tenant
from accounts.models import VenueAccount
from trading.models import CashFlow, CashFlowKind, CashFlowSource, CashFlowStatus


def _tenant_accounts(request: Any) -> QuerySet[VenueAccount]:
    """The accounts a caller may filter by: their tenant's (none while the schema is generated)."""
    if request is None or not getattr(request.user, "is_authenticated", False):
        return VenueAccount.objects.none()
    return VenueAccount.objects.filter(tenant=require_tenant(request))


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


class CashFlowFilterSet(django_filters.FilterSet):  # type: ignore[misc]
    account = django_filters.ModelChoiceFilter(queryset=_tenant_accounts, help_text="A venue account's id")
    kind = django_filters.ChoiceFilter(choices=CashFlowKind.choices)
    status = django_filters.ChoiceFilter(choices=CashFlowStatus.choices)
    source = django_filters.ChoiceFilter(choices=CashFlowSource.choices)
    since = django_filters.DateFilter(method="filter_since", help_text="UTC date (YYYY-MM-DD)")
    until = django_filters.DateFilter(method="filter_until", help_text="UTC date (YYYY-MM-DD), inclusive")

    class Meta:
        model = CashFlow
        fields: list[str] = []

    def filter_since(self, queryset: QuerySet[CashFlow], name: str, value: date) -> QuerySet[CashFlow]:
        return queryset.filter(at__gte=_day_start(value))

    def filter_until(self, queryset: QuerySet[CashFlow], name: str, value: date) -> QuerySet[CashFlow]:
        return queryset.filter(at__lt=_day_start(value + timedelta(days=1)))
