"""Input no column or parser can hold is refused at the door with 400 and a message, never a 500 further in.

- NUL characters: PostgreSQL text cannot hold them, so a NUL in a search box (`/members/?q=%00`), an admin filter
  or a form field failed the query that used it. Refused in the path, the query string and form bodies here.
- Lone UTF-16 surrogates (`"\\ud800"` in JSON): no UTF-8 encoding exists, so saving or even echoing one back
  failed. Percent-encoded bytes cannot produce one (invalid UTF-8 decodes to U+FFFD); JSON escapes can, and
  `GuardedJSONParser` refuses them with NUL and nesting deeper than `MAX_JSON_DEPTH` (a body nested 10,000 deep
  exhausted the parser's recursion).
- Too many form fields or too large a body (Django's DATA_UPLOAD_MAX_NUMBER_FIELDS / _MEMORY_SIZE): 400 with the
  reason, for the token endpoint as for any form.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote_to_bytes

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_JSON_DEPTH = 32
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored or rendered, or None when it can."""
    if "\x00" in value:
        return _("The text contains a NUL character, which is not allowed.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return _("The text contains an unpaired UTF-16 surrogate (e.g. \\ud800), which is not valid Unicode.")
    return None


def json_problem(data: Any) -> str | None:
    """The first reason `data` (parsed JSON) cannot be accepted: nesting deeper than MAX_JSON_DEPTH, or a key or
    string that `text_problem` refuses. Iterative, so its own depth is never the limit."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                return _("The JSON is nested deeper than %(depth)d levels.") % {"depth": MAX_JSON_DEPTH}
            items: Iterator[Any] = iter(value.values()) if isinstance(value, dict) else iter(value)
            if isinstance(value, dict):
                for key in value:
                    problem = text_problem(key)
                    if problem:
                        return problem
            stack.extend((item, depth + 1) for item in items)
        elif isinstance(value, str):
            problem = text_problem(value)
            if problem:
                return problem
    return None


class GuardedJSONParser(JSONParser):
    """DRF's JSON parser (DEFAULT_PARSER_CLASSES), answering 400 for JSON no column could store: see the module."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(
                _("JSON parse error - nested deeper than %(depth)d levels.") % {"depth": MAX_JSON_DEPTH}
            ) from None
        problem = json_problem(data)
        if problem:
            raise ParseError(problem)
        return data


def _refuse(request: HttpRequest, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=400)
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


class InputGuardMiddleware:
    """Refuses NUL in the path, the query string and form fields, and too many or too large form fields."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or b"\x00" in unquote_to_bytes(query.replace("+", " ")):
            return _refuse(request, _("The address contains a NUL character, which is not allowed."))
        if request.method not in ("GET", "HEAD", "OPTIONS") and request.content_type in _FORM_TYPES:
            try:
                fields = request.POST
            except (TooManyFieldsSent, RequestDataTooBig) as error:
                return _refuse(request, _("The form is too large: %(reason)s") % {"reason": error})
            except MultiPartParserError as error:
                return _refuse(request, _("The form could not be read: %(reason)s") % {"reason": error})
            for name, values in fields.lists():
                for value in (name, *values):
                    if isinstance(value, str) and "\x00" in value:
                        return _refuse(request, _("The form contains a NUL character, which is not allowed."))
        return self.get_response(request)
