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

from typing import Any

from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class Pagination(PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, list):
        response.data = {"detail": response.data}
    return response
