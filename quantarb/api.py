"""API conventions: DRF-style pagination (`count`, `next`, `previous`, `results`), errors as 4xx JSON with
field messages (`{"field": ["message"]}`, or `{"detail": "message"}`), and decimals as plain strings.

Every decimal a response carries is a JSON string in fixed-point notation, never an exponent and never a float:
a model's decimal field to its own precision (`1E+9` in an ounces field → `"1000000000.000"`, `0E-8` in a price
field → `"0.00000000"`), whatever its size (DRF's own field raises on a value wider than `max_digits`: a 500).
`ModelSerializer` maps a model `DecimalField` to `PlainDecimalField` (installed by `QuantarbConfig.ready`); a
Decimal anywhere else in a response (a dict, a method field) leaves `JSONRenderer` as its plain digits. Those live
in `api_decimals` (the renderer setting is read while `rest_framework.views` is imported: no cycle through here).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from quantarb.api_decimals import PlainDecimalField


def json_object(data: Any) -> dict[str, Any]:
    """A request body that must be a JSON object: it, or a 400 saying so (in the caller's language)."""
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": [_("Send a JSON object.")]})
    return data


class WriteSerializer(serializers.Serializer[Any]):
    """A write body: a field the serializer does not know is refused by name (400, `non_field_errors`) before any
    field is read, rather than ignored."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise ValidationError(
                    {"non_field_errors": [_("Unknown field(s): %(fields)s.") % {"fields": ", ".join(unknown)}]}
                )
        return super().to_internal_value(data)


class BlankDecimalField(PlainDecimalField):
    """A decimal that may be sent empty: "" reads as null, as an empty form field does."""

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        return super().validate_empty_values(None if data == "" else data)


class JSONBooleanField(serializers.BooleanField):
    """A JSON true or false, nothing else (no "yes", no 1)."""

    default_error_messages = {"invalid": gettext_lazy("Send true or false.")}

    def to_internal_value(self, data: Any) -> bool:
        if isinstance(data, bool):
            return data
        self.fail("invalid")
        raise AssertionError("unreachable")  # fail() raises


def choice_of(rows: QuerySet[Any], pk: Any) -> Any:
    """The row of `rows` with id `pk`, or a field error in the words of the portal's choice fields."""
    row = rows.filter(pk=pk).first()
    if row is None:
        raise ValidationError(str(forms.ModelChoiceField.default_error_messages["invalid_choice"]))
    return row


def field_errors(errors: Mapping[Any, Any]) -> dict[str, list[str]]:
    """Errors of a shared validation rule (field or None → message or messages) as a 400 body names them."""
    out: dict[str, list[str]] = {}
    for field, messages in errors.items():
        texts = [str(message) for message in (messages if isinstance(messages, list | tuple) else [messages])]
        out.setdefault(field or "non_field_errors", []).extend(texts)
    return out


class Pagination(PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, list):
        response.data = {"detail": response.data}
    return response
