"""The request helpers every view reads (accounts/http.py): membership, actor, HTMX, safe redirects, audit context."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from rest_framework.request import Request

from accounts.http import (
    AuditContext,
    audit_context,
    is_htmx,
    request_actor,
    require_membership,
    require_tenant,
    safe_redirect_target,
)
from tests.helpers.personas import Persona


def test_it_refuses_a_request_without_membership_instead_of_letting_it_through_unscoped(rf: Any) -> None:
    request = rf.get("/")
    request.membership = None

    with pytest.raises(PermissionDenied):
        require_membership(request)
    with pytest.raises(PermissionDenied):
        require_tenant(request)


@pytest.mark.django_db
def test_it_reads_the_membership_and_tenant_of_the_request(alice: Persona, rf: Any) -> None:
    request = rf.get("/")
    request.membership = alice.user.memberships.get()

    assert require_membership(request).user == alice.user
    assert require_tenant(request) == alice.tenant


def test_an_anonymous_caller_has_no_actor(rf: Any) -> None:
    request = rf.get("/")
    request.user = AnonymousUser()

    assert request_actor(request) is None


def test_only_htmx_requests_are_htmx(rf: Any) -> None:
    assert is_htmx(rf.get("/", headers={"HX-Request": "true"}))
    assert not is_htmx(rf.get("/"))


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/members/?page=2", "/members/?page=2"),
        ("https://evil.example/members/", "/members/"),
        ("//evil.example/members/", "/members/"),
        ("/strategies/", "/members/"),  # outside the prefix
        ("", "/members/"),
        (None, "/members/"),
    ],
)
def test_a_redirect_never_leaves_the_site_or_its_prefix(rf: Any, target: str | None, expected: str) -> None:
    request = rf.post("/")

    assert safe_redirect_target(request, target, fallback="/members/", prefix="/members/") == expected


@pytest.mark.django_db
def test_the_audit_context_of_an_api_request_reads_the_django_request_under_it(alice: Persona, rf: Any) -> None:
    http_request = rf.post("/api/v1/x/", REMOTE_ADDR="2001:DB8::7", HTTP_USER_AGENT="bot/2" + "x" * 600)
    http_request.user = alice.user
    http_request.correlation_id = "corr-9"

    context = AuditContext.from_request(Request(http_request))

    assert context.actor == alice.user
    assert (context.ip, context.correlation_id) == ("2001:db8::7", "corr-9")
    assert context.user_agent.startswith("bot/2") and len(context.user_agent) == 512  # the audit row's column


def test_a_signal_sent_outside_a_request_has_no_audit_context() -> None:
    assert audit_context(None) is None
