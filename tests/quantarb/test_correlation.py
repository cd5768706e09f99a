"""Correlation ids: every request and task carries one, into logs and audit rows."""

from __future__ import annotations

from typing import Any

import pytest
import structlog
from celery import shared_task
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent
from quantarb import correlation

pytestmark = pytest.mark.django_db


def test_a_request_gets_an_id_and_answers_with_it(db: None) -> None:
    response = Client().get(reverse("healthz"))
    given = response[correlation.HEADER]
    assert len(given) == 32 and given.isalnum()
    assert Client().get(reverse("healthz"))[correlation.HEADER] != given


def test_a_well_formed_caller_id_is_kept_and_a_bad_one_replaced(db: None) -> None:
    kept = Client(headers={"X-Request-ID": "desk-42:trace.7"}).get(reverse("healthz"))
    assert kept[correlation.HEADER] == "desk-42:trace.7"
    for bad in ("short", "x" * 65, "evil\nheader-12345", "spaces are bad 123"):
        assert correlation.accept(bad) != bad


def test_login_audit_rows_carry_the_request_id(alice: Any) -> None:
    client = Client(headers={"X-Request-ID": "login-trace-0001"})
    client.post(reverse("login"), {"username": "alice", "password": alice.password})
    event = AuditEvent.objects.get(action="login")
    assert event.correlation_id == "login-trace-0001"


def test_api_calls_carry_it_too(alice: Any) -> None:
    response = Client(headers={"X-Request-ID": "api-trace-00001"}).post(
        "/api/v1/auth/token/", {"username": "alice", "password": "wrong"}, content_type="application/json"
    )
    assert response.status_code == 401 and response[correlation.HEADER] == "api-trace-00001"


def test_structured_logs_show_the_id(db: None) -> None:
    with structlog.testing.capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        with correlation.bound("bound-id-000001"):
            structlog.get_logger("test").info("inside")
        structlog.get_logger("test").info("outside")
    assert logs[0]["correlation_id"] == "bound-id-000001"
    assert "correlation_id" not in logs[1]


seen: list[str | None] = []


@shared_task(name="tests.record_correlation")
def record_correlation() -> None:
    seen.append(correlation.current())


def test_a_task_runs_under_its_publisher_s_id_or_a_fresh_one(db: None) -> None:
    seen.clear()
    headers: dict[str, Any] = {}
    with correlation.bound("publisher-0000001"):
        # What Celery does when it publishes: the signal adds the header.
        from celery.signals import before_task_publish

        before_task_publish.send(sender="tests.record_correlation", headers=headers, body=None)
    assert headers[correlation.CELERY_HEADER] == "publisher-0000001"
    record_correlation.apply(headers=headers)
    record_correlation.apply()
    assert seen[0] == "publisher-0000001"
    assert seen[1] and seen[1] != "publisher-0000001"
    assert correlation.current() is None  # nothing leaks past the task


def test_every_log_line_names_the_id(db: None, caplog: Any) -> None:
    import logging

    handler_filter = correlation.CorrelationLogFilter()
    with correlation.bound("log-line-0000001"):
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
        handler_filter.filter(record)
    assert record.correlation_id == "log-line-0000001"  # type: ignore[attr-defined]
    outside = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    handler_filter.filter(outside)
    assert outside.correlation_id == "-"  # type: ignore[attr-defined]
