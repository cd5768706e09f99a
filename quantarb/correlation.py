"""Correlation ids: one per request, socket and Celery task, in every log line and audit row it causes.

A request keeps the id its caller sent in `X-Request-ID` when it is well formed (a proxy or a program tracing
its own calls), else gets a new one, and answers with it. A Celery task carries the id of whatever published it
(a request, another task, the beat) in its message headers; a task published by nothing traced (the beat
itself) gets a fresh one. The id lives in a context variable, so structured logs (structlog's contextvars),
the domain audit (`accounts.audit.audit_record`) and django-auditlog (`AUDITLOG_CID_GETTER`) read the same one.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import structlog
from celery.signals import before_task_publish, task_postrun, task_prerun

HEADER = "X-Request-ID"
CELERY_HEADER = "quantarb_correlation_id"
_WELL_FORMED = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")

_current: ContextVar[str | None] = ContextVar("quantarb_correlation_id", default=None)


def new_id() -> str:
    return uuid.uuid4().hex


def current() -> str | None:
    """The id of the work in progress, or None outside a request, socket or task."""
    return _current.get()


def accept(candidate: object) -> str:
    """The caller's id when it is well formed (letters, digits, `._:-`, 8–64 characters), else a new one: a
    header never injects newlines or megabytes into logs and audit rows."""
    if isinstance(candidate, str) and _WELL_FORMED.match(candidate):
        return candidate
    return new_id()


@contextmanager
def bound(correlation_id: str) -> Iterator[str]:
    """Make `correlation_id` current (and a field of every structlog line) for the duration of the block."""
    token = _current.set(correlation_id)
    with structlog.contextvars.bound_contextvars(correlation_id=correlation_id):
        try:
            yield correlation_id
        finally:
            _current.reset(token)


class CorrelationIdMiddleware:
    """First middleware: `request.correlation_id`, bound for the request, echoed in the response header.

    Works for sync and async views alike: Django runs a sync middleware chain in one context, and a
    context variable set here is copied into the thread that runs a sync view.
    """

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        correlation_id = accept(request.headers.get(HEADER))
        request.correlation_id = correlation_id
        with bound(correlation_id):
            response = self.get_response(request)
        response[HEADER] = correlation_id
        return response


class CorrelationLogFilter(logging.Filter):
    """Puts the current id on every stdlib log record (`%(correlation_id)s`; "-" outside any work)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = current() or "-"
        return True


def configure_structlog(json_lines: bool) -> None:
    """structlog renders through the stdlib handlers (settings.LOGGING), with the bound context (the
    correlation id) merged into every event."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def auditlog_cid() -> str | None:
    """`AUDITLOG_CID_GETTER`: django-auditlog's change log rows carry the same id as the domain audit."""
    return current()


# --- Celery -------------------------------------------------------------------------------------------------
def install_celery_signals() -> None:
    """Carry the publisher's id in each task message and bind it while the task runs (quantarb/celery.py)."""
    tokens: dict[str, Any] = {}

    @before_task_publish.connect(weak=False, dispatch_uid="quantarb.correlation.publish")
    def add_header(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if headers is not None:
            headers.setdefault(CELERY_HEADER, current() or new_id())

    @task_prerun.connect(weak=False, dispatch_uid="quantarb.correlation.prerun")
    def bind(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
        request = getattr(task, "request", None)
        correlation_id = accept(getattr(request, CELERY_HEADER, None) or _header_of(request))
        manager = bound(correlation_id)
        manager.__enter__()
        tokens[task_id or ""] = manager

    @task_postrun.connect(weak=False, dispatch_uid="quantarb.correlation.postrun")
    def unbind(task_id: str | None = None, **kwargs: Any) -> None:
        manager = tokens.pop(task_id or "", None)
        if manager is not None:
            manager.__exit__(None, None, None)


def _header_of(request: Any) -> object:
    headers = getattr(request, "headers", None) or {}
    return headers.get(CELERY_HEADER) if isinstance(headers, dict) else None
