"""How log lines are rendered: one line of text (people) or one JSON object (log shippers), never a frame's locals.

A traceback is rendered as Python prints it: file, line and code of each frame, and the exception's text. Not the
frames' local variables: rendering them (structlog's Rich traceback does by default when Rich is installed) put a
request's password on eleven lines after a failed token request, and took 296 s over a 100 KB strategy name while
every other request waited. Requests are never rendered either: Django passes the request object to its
`django.request` records, and nothing here reads it. A message or an exception text longer than `MAX_FIELD_CHARS` is
cut, so one huge value costs the logger a bounded amount of work.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import structlog

MAX_FIELD_CHARS = 8_000
MAX_EXCEPTION_CHARS = 32_000


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} more characters cut]"


def bounded(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Cut the message and every other text field to MAX_FIELD_CHARS, the rendered exception to
    MAX_EXCEPTION_CHARS. Runs after the traceback was rendered as text (`format_exc_info`)."""
    for key, value in event_dict.items():
        if key.startswith("_"):
            continue
        if isinstance(value, str):
            event_dict[key] = _cut(value, MAX_EXCEPTION_CHARS if key == "exception" else MAX_FIELD_CHARS)
    return event_dict


def processor_formatter(*, json_lines: bool) -> structlog.stdlib.ProcessorFormatter:
    """The formatter of settings.LOGGING's handlers, for stdlib records and structlog events alike."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # The traceback as plain text (no locals), in the same place for both renderers.
            structlog.processors.format_exc_info,
            bounded,
            renderer,
        ],
    )
