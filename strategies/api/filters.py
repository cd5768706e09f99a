"""The trading API's list filters as django-filter FilterSets: hedges, orders, fills, positions, reconciliation
reports, manual commands and kill switches. The records' FilterSets validate the query parameters with the
messages the portal's tables show (`trading/execution/selectors.py`) and narrow the tenant's rows through the same
selector functions, so a filter means the same on a page and in the API. A bad value answers 400 naming the
parameter (DRF's DjangoFilterBackend raises the form's errors as a ValidationError).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from risk.models import KillSwitch
from trading.choices import Leg
from trading.execution.selectors import (
    HEDGE_STATUSES,
    ORDER_STATUSES,
    REPORT_STATUSES,
    Filters,
    commands_filtered,
    fills_filtered,
    hedges_filtered,
    orders_filtered,
    parse_moment,
    positions_filtered,
    reports_filtered,
)
from trading.models import Fill, Hedge, ManualCommand, Order, PositionSnapshot, ReconciliationReport

COMMAND_STATUSES = ["queued", "running", "done", "failed"]
_LARGEST_ID = 10**11 - 1  # eleven digits, as the portal's filters accept


class IdField(forms.IntegerField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=0, max_value=_LARGEST_ID, **kwargs)

    def clean(self, value: Any) -> int | None:
        try:
            return super().clean(value)  # type: ignore[no-any-return]
        except forms.ValidationError:
            raise forms.ValidationError(_("Give the id as a whole number."), code="invalid") from None


class MomentField(forms.CharField):
    """A UTC day (`YYYY-MM-DD`) or an ISO 8601 time; `end=True` makes a day mean its end (the next midnight)."""

    def __init__(self, *, end: bool = False, **kwargs: Any) -> None:
        self.end = end
        super().__init__(**kwargs)

    def clean(self, value: Any) -> datetime | None:
        text: str = super().clean(value)
        if not text:
            return None
        try:
            return parse_moment(text, end=self.end)
        except (ValueError, OverflowError):
            raise forms.ValidationError(_("Give a date as YYYY-MM-DD or a time as ISO 8601."), code="invalid") from None


class StatusField(django_filters.fields.ChoiceField):  # type: ignore[misc]
    def validate(self, value: Any) -> None:
        if value and not self.valid_value(value):
            values = ", ".join(str(choice) for choice, _label in self.choices)
            raise forms.ValidationError(_("Unknown status; use one of: %(values)s.") % {"values": values})


class LegField(django_filters.fields.ChoiceField):  # type: ignore[misc]
    def validate(self, value: Any) -> None:
        if value and not self.valid_value(value):
            raise forms.ValidationError(_("Unknown leg; use perp or cfd."))


class ActiveField(forms.CharField):
    def clean(self, value: Any) -> bool | None:
        text: str = super().clean(value)
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        if text:
            raise forms.ValidationError(_("Use true or false."), code="invalid")
        return None


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.Filter):  # type: ignore[misc]
    field_class = IdField


@extend_schema_field(OpenApiTypes.STR)
class MomentFilter(django_filters.Filter):  # type: ignore[misc]
    field_class = MomentField


class StatusFilter(django_filters.ChoiceFilter):  # type: ignore[misc]
    field_class = StatusField


class LegFilter(django_filters.ChoiceFilter):  # type: ignore[misc]
    field_class = LegField


def _choices(values: list[str]) -> list[tuple[str, str]]:
    return [(value, value) for value in values]


def _since() -> MomentFilter:
    return MomentFilter(help_text="UTC date (YYYY-MM-DD) or ISO 8601 time")


def _until() -> MomentFilter:
    return MomentFilter(end=True, help_text="UTC date (inclusive) or ISO 8601 time")


class RecordFilterSet(django_filters.FilterSet):  # type: ignore[misc]
    """The filters a record list accepts; `narrow` applies them to rows already scoped to the tenant."""

    narrow: Callable[[QuerySet[Any], Filters], QuerySet[Any]]

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        data = self.form.cleaned_data
        filters = Filters(
            pool=data.get("pool"),
            strategy=data.get("strategy"),
            hedge=data.get("hedge"),
            status=data.get("status") or "",
            leg=data.get("leg") or "",
            since=data.get("since"),
            until=data.get("until"),
        )
        return type(self).narrow(queryset, filters)


class HedgeFilterSet(RecordFilterSet):
    pool = IdFilter(help_text="Pool id")
    strategy = IdFilter(help_text="Strategy id")
    status = StatusFilter(choices=_choices(HEDGE_STATUSES))
    leg = LegFilter(choices=Leg.choices, help_text="A hedge with an order on this leg")
    since = _since()
    until = _until()
    narrow = staticmethod(hedges_filtered)

    class Meta:
        model = Hedge
        fields: list[str] = []


class OrderFilterSet(RecordFilterSet):
    pool = IdFilter(help_text="Pool id")
    strategy = IdFilter(help_text="Strategy id")
    hedge = IdFilter(help_text="Hedge id")
    status = StatusFilter(choices=_choices(ORDER_STATUSES))
    leg = LegFilter(choices=Leg.choices)
    since = _since()
    until = _until()
    narrow = staticmethod(orders_filtered)

    class Meta:
        model = Order
        fields: list[str] = []


class FillFilterSet(RecordFilterSet):
    pool = IdFilter(help_text="Pool id")
    strategy = IdFilter(help_text="Strategy id")
    hedge = IdFilter(help_text="Hedge id")
    leg = LegFilter(choices=Leg.choices)
    since = _since()
    until = _until()
    narrow = staticmethod(fills_filtered)

    class Meta:
        model = Fill
        fields: list[str] = []


class PositionFilterSet(RecordFilterSet):
    pool = IdFilter(help_text="Pool id")
    leg = LegFilter(choices=Leg.choices, help_text="Accounts trading this leg")
    since = _since()
    until = _until()
    narrow = staticmethod(positions_filtered)

    class Meta:
        model = PositionSnapshot
        fields: list[str] = []


class ReportFilterSet(RecordFilterSet):
    pool = IdFilter(help_text="Pool id")
    strategy = IdFilter(help_text="Strategy id")
    status = StatusFilter(choices=_choices(REPORT_STATUSES))
    since = _since()
    until = _until()
    narrow = staticmethod(reports_filtered)

    class Meta:
        model = ReconciliationReport
        fields: list[str] = []


class CommandFilterSet(RecordFilterSet):
    pool = IdFilter(help_text="Pool id")
    hedge = IdFilter(help_text="Hedge id")
    status = StatusFilter(choices=_choices(COMMAND_STATUSES))
    since = _since()
    until = _until()
    narrow = staticmethod(commands_filtered)

    class Meta:
        model = ManualCommand
        fields: list[str] = []


@extend_schema_field(OpenApiTypes.BOOL)
class ActiveFilter(django_filters.Filter):  # type: ignore[misc]
    field_class = ActiveField

    def filter(self, queryset: QuerySet[KillSwitch], value: bool | None) -> QuerySet[KillSwitch]:
        if value is None:
            return queryset
        return queryset.filter(reset_at__isnull=value)


class KillSwitchFilterSet(django_filters.FilterSet):  # type: ignore[misc]
    active = ActiveFilter(help_text="true: the tripped switches; false: the reset ones")

    class Meta:
        model = KillSwitch
        fields: list[str] = []
