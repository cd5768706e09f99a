"""Error logging renders no frame locals and no request, and its cost is bounded.

A 100 KB strategy name once made the error log render a traceback with its locals for 296 s while every other
request waited; a failed token request with a long username put the password on eleven log lines. Both came from
rendering the locals of each frame. The formatters are those of settings.LOGGING, in both formats.
"""

from __future__ import annotations

import io
import json
import logging
import sys
import time
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils.module_loading import import_string

PASSWORD = "pl41ntext-Passw0rd-never-logged"


def _formatter(name: str) -> logging.Formatter:
    config = dict(settings.LOGGING["formatters"][name])
    factory = import_string(config.pop("()"))
    formatter: logging.Formatter = factory(**config)
    return formatter


def _failing_sign_in(username: str, password: str) -> None:
    credentials = {"username": username, "password": password}
    raise ValueError(f"value too long for type character varying(255) ({len(credentials['username'])})")


def _record() -> logging.LogRecord:
    try:
        _failing_sign_in("u" * 100_000, PASSWORD)
    except ValueError:
        exc_info = sys.exc_info()
    return logging.LogRecord(
        "django.request", logging.ERROR, __file__, 1, "Internal Server Error: %s", ("/x",), exc_info
    )


@pytest.mark.parametrize("fmt", ["plain", "json"])
def test_a_traceback_is_logged_without_the_frames_locals(fmt: str) -> None:
    started = time.perf_counter()
    text = _formatter(fmt).format(_record())
    elapsed = time.perf_counter() - started

    assert "_failing_sign_in" in text  # the frames are there …
    assert "ValueError: value too long" in text
    assert PASSWORD not in text  # … their values are not
    assert "u" * 200 not in text
    assert len(text) < 20_000
    assert elapsed < 30  # generous: only a pathological renderer (the old one took minutes) gets near it
    if fmt == "json":
        assert json.loads(text)["exception"].startswith("Traceback")


@pytest.mark.parametrize("fmt", ["plain", "json"])
def test_a_huge_message_is_cut(fmt: str) -> None:
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "strategy %s refused", ("n" * 100_000,), None)
    text = _formatter(fmt).format(record)
    assert len(text) < 10_000
    assert "more characters cut" in text


def test_the_error_page_shows_no_locals() -> None:
    from django.views.debug import ExceptionReporter

    try:
        _failing_sign_in("u" * 1000, PASSWORD)
    except ValueError:
        exc_type, exc_value, tb = sys.exc_info()
    html = ExceptionReporter(None, exc_type, exc_value, tb).get_traceback_html()
    assert "_failing_sign_in" in html
    assert PASSWORD not in html


@pytest.mark.django_db
def test_a_failed_token_request_with_a_long_username_logs_no_password(alice: Any) -> None:
    """End to end through the configured root handler: whatever the request causes, the password is in no line."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_formatter("plain"))
    logging.getLogger().addHandler(handler)
    try:
        client = Client(raise_request_exception=False)
        body = {"username": "a" * 300, "password": PASSWORD}
        response = client.post("/api/v1/auth/token/", json.dumps(body), content_type="application/json")
    finally:
        logging.getLogger().removeHandler(handler)
    assert response.status_code == 400
    assert "username" in response.json()
    assert PASSWORD not in stream.getvalue()
