"""The breach list's filters: `open` (true: only breaches still going on) and `limit` (a limit's id). A bad value
answers 400 naming the parameter."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from ..models import Breach


class TrueFalseField(forms.CharField):
    def clean(self, value: Any) -> bool | None:
        text: str = super().clean(value)
        if text in ("true", "false"):
            return text == "true"
        if text:
            raise forms.ValidationError(_("Send true or false."), code="invalid")
        return None


class LimitIdField(forms.CharField):
    def clean(self, value: Any) -> int | None:
        text: str = super().clean(value)
        if text and not (text.isdigit() and len(text) < 12):
            raise forms.ValidationError(_("Send a limit's id."), code="invalid")
        return int(text) if text else None


@extend_schema_field(OpenApiTypes.BOOL)
class OpenFilter(django_filters.Filter):  # type: ignore[misc]
    field_class = TrueFalseField

    def filter(self, queryset: QuerySet[Breach], value: bool | None) -> QuerySet[Breach]:
        return queryset if value is None else queryset.filter(ended_at__isnull=value)


@extend_schema_field(OpenApiTypes.INT)
class LimitFilter(django_filters.Filter):  # type: ignore[misc]
    field_class = LimitIdField

    def filter(self, queryset: QuerySet[Breach], value: int | None) -> QuerySet[Breach]:
        return queryset if value is None else queryset.filter(limit_id=value)


class BreachFilterSet(django_filters.FilterSet):  # type: ignore[misc]
    open = OpenFilter(help_text="true: only breaches still going on")
    limit = LimitFilter(help_text="Only this limit's breaches")

    class Meta:
        model = Breach
        fields: list[str] = []
