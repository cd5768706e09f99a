"""Canary secrets: credentials planted in fixtures that must never leave the encrypted column.

Every test runs under these watchers (wired in tests/conftest.py and quantarb/settings/test.py):

- every HTTP response the test client gets (pages, API, the error page) — `CanaryMiddleware`, outermost;
- every log record, stdlib and structlog alike — a handler on the root logger;
- every WebSocket frame a consumer sends — a wrapper around Channels' `AsyncWebsocketConsumer.send`;
- every audit and change-log row written — a `post_save` receiver.

A canary seen anywhere fails the test that leaked it (at its teardown), naming where it was seen.
"""

from __future__ import annotations

import logging
from typing import Any

CANARY_API_KEY = "CanaryKey" + "7" * 55  # 64 letters and digits, as Binance issues
CANARY_API_SECRET = "CanarySecret" + "5" * 52
CANARY_MT5_PASSWORD = "canary-mt5-passw0rd!"
CANARIES = (CANARY_API_KEY, CANARY_API_SECRET, CANARY_MT5_PASSWORD)
# The distinctive middles: a leak of a slice of a secret counts too.
_NEEDLES = tuple({canary[3:-3] for canary in CANARIES})

leaks: list[str] = []


def _scan(where: str, payload: Any) -> None:
    if payload is None:
        return
    if isinstance(payload, bytes | bytearray | memoryview):
        text = bytes(payload).decode("utf-8", "replace")
    else:
        text = str(payload)
    for needle in _NEEDLES:
        if needle in text:
            leaks.append(f"{where}: {text[:200]!r}")
            return


class CanaryMiddleware:
    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        response = self.get_response(request)
        if not getattr(response, "streaming", False):
            _scan(f"response {request.method} {request.path}", response.content)
        else:
            chunks = [bytes(chunk) for chunk in response.streaming_content]
            _scan(f"response {request.method} {request.path}", b"".join(chunks))
            response.streaming_content = iter(chunks)
        return response


class _CanaryLogHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        _scan(f"log {record.name}", f"{message} {record.args!r} {getattr(record, '__dict__', {})!r}")


def install() -> None:
    """Start watching (once per test session)."""
    logging.getLogger().addHandler(_CanaryLogHandler(level=logging.DEBUG))

    from channels.generic.websocket import AsyncWebsocketConsumer

    original_send = AsyncWebsocketConsumer.send

    async def send(self: Any, text_data: Any = None, bytes_data: Any = None, close: bool = False) -> None:
        _scan(f"websocket frame of {type(self).__name__}", text_data or bytes_data)
        await original_send(self, text_data=text_data, bytes_data=bytes_data, close=close)

    AsyncWebsocketConsumer.send = send

    from django.db.models.signals import post_save

    from accounts.models import AuditEvent, ChangeLogEntry

    def audit_row(sender: Any, instance: Any, **kwargs: Any) -> None:
        fields = {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}
        _scan(f"{sender._meta.label} row", fields)

    post_save.connect(audit_row, sender=AuditEvent, weak=False, dispatch_uid="tests.canary.audit")
    post_save.connect(audit_row, sender=ChangeLogEntry, weak=False, dispatch_uid="tests.canary.changelog")
