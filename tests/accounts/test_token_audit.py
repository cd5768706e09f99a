"""Token issue, refresh and logout are audited in the token's tenant's chain: actor, address, user agent and the
token's id (`jti`), never the token.

Personas: alice (admin of alpha, also a member of bravo here), charlie (admin of bravo).
"""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
from django.test import Client

from accounts.audit import verify_chain
from accounts.models import AuditEvent, Membership

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"
REFRESH = "/api/v1/auth/token/refresh/"
LOGOUT = "/api/v1/auth/logout/"
PASSWORD = "correct horse battery staple 1"
AGENT = "quantarb-bot/1.0"


def post(path: str, body: dict[str, Any]) -> Any:
    return Client().post(path, json.dumps(body), content_type="application/json", headers={"user-agent": AGENT})


def jti(token: str) -> str:
    return str(jwt.decode(token, options={"verify_signature": False})["jti"])


def token_events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


@pytest.fixture
def alice_in_bravo(alice: Any, charlie: Any) -> Any:
    Membership.objects.create(user=alice.user, tenant=charlie.tenant, role="trader")
    return alice


def assert_no_token_in(event: AuditEvent, *tokens: str) -> None:
    row = json.dumps([event.summary, event.object_id, event.actor_username, event.user_agent, event.correlation_id])
    for token in tokens:
        for part in token.split("."):
            assert part not in row


def test_issuing_is_audited_in_the_token_s_tenant_only(alice_in_bravo: Any, charlie: Any) -> None:
    tokens = post(TOKEN, {"username": "alice", "password": PASSWORD, "tenant": "bravo"}).json()

    [event] = token_events("token_issued")
    assert event.tenant_id == charlie.tenant.pk
    assert (event.actor_id, event.actor_username) == (alice_in_bravo.user.pk, "alice")
    assert (event.ip, event.user_agent) == ("127.0.0.1", AGENT)
    assert event.summary == {"jti": jti(tokens["refresh"]), "access_jti": jti(tokens["access"])}
    assert_no_token_in(event, tokens["refresh"], tokens["access"])
    assert not AuditEvent.objects.filter(tenant=alice_in_bravo.tenant, action="token_issued").exists()
    assert verify_chain(charlie.tenant) is None


def test_a_refused_request_issues_and_audits_nothing(alice: Any) -> None:
    post(TOKEN, {"username": "alice", "password": "wrong"})

    assert token_events("token_issued") == []


def test_refreshing_is_audited_with_the_new_and_the_previous_id(alice: Any) -> None:
    first = post(TOKEN, {"username": "alice", "password": PASSWORD}).json()

    second = post(REFRESH, {"refresh": first["refresh"]}).json()

    [event] = token_events("token_refreshed")
    assert event.tenant_id == alice.tenant.pk
    assert event.actor_username == "alice"
    assert event.user_agent == AGENT
    assert event.summary == {"jti": jti(second["refresh"]), "previous_jti": jti(first["refresh"])}
    assert_no_token_in(event, first["refresh"], second["refresh"], second["access"])


def test_a_refused_refresh_is_not_audited(alice: Any) -> None:
    first = post(TOKEN, {"username": "alice", "password": PASSWORD}).json()
    post(REFRESH, {"refresh": first["refresh"]})

    assert post(REFRESH, {"refresh": first["refresh"]}).status_code == 401  # reused after rotation
    assert len(token_events("token_refreshed")) == 1


def test_logout_is_audited_as_a_revocation(alice_in_bravo: Any, charlie: Any) -> None:
    tokens = post(TOKEN, {"username": "alice", "password": PASSWORD, "tenant": "bravo"}).json()

    assert post(LOGOUT, {"refresh": tokens["refresh"]}).status_code == 204

    [event] = token_events("token_revoked")
    assert event.tenant_id == charlie.tenant.pk
    assert (event.actor_username, event.ip, event.user_agent) == ("alice", "127.0.0.1", AGENT)
    assert event.summary == {"jti": jti(tokens["refresh"])}
    assert_no_token_in(event, tokens["refresh"])
    assert post(LOGOUT, {"refresh": tokens["refresh"]}).status_code == 401
    assert len(token_events("token_revoked")) == 1  # a second logout revokes nothing
    assert verify_chain(charlie.tenant) is None
