"""API conventions: DRF-style pagination (`count`, `next`, `previous`, `results`) and errors as 4xx JSON with
field messages (`{"field": ["message"]}`, or `{"detail": "message"}`)."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def form_value(name: str, value: Any, *, many: bool = False) -> Any:
    """A JSON value as a Django form takes it: null → "", a scalar as is, a list of scalars for a multiple-choice
    field (`many`). Anything else (an object, a list for a single field) is a 400 naming the field, where a form
    would have failed on it (a list has no `.strip()`)."""
    if value is None:
        return ""
    scalar = (str, int, float, bool)
    if many:
        if isinstance(value, list) and all(isinstance(item, scalar) for item in value):
            return value
        raise ValidationError({name: ["Send a list of values."]})
    if isinstance(value, scalar):
        return value
    raise ValidationError({name: ["Send a single value (a string, a number or a boolean)."]})


class Pagination(PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, list):
        response.data = {"detail": response.data}
    return response
