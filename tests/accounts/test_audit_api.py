"""`GET /api/v1/audit/`: the token's tenant's audit trail, for admins and compliance only."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.audit import audit_record
from accounts.choices import AuditAction
from accounts.models import Membership
from tests.helpers.clients import bearer_get, obtain

pytestmark = pytest.mark.django_db
AUDIT = "/api/v1/audit/"


@pytest.fixture
def trails(alice: Any, charlie: Any, cora: Any, bob: Any, tom: Any, ana: Any) -> None:
    audit_record(tenant=alice.tenant, actor=alice.user, action=AuditAction.SETTINGS_CHANGED, summary={"n": 1})
    audit_record(tenant=alice.tenant, actor=tom.user, action=AuditAction.KILL_SWITCH, summary={"n": 2})
    audit_record(tenant=charlie.tenant, actor=charlie.user, action=AuditAction.SETTINGS_CHANGED, summary={"n": 3})


@pytest.mark.parametrize(("who", "status"), [("alice", 200), ("cora", 200), ("tom", 403), ("ana", 403), ("bob", 403)])
def test_only_admins_and_compliance_read_it(trails: None, who: str, status: int, request: Any) -> None:
    token = obtain(request.getfixturevalue(who))["access"]
    assert bearer_get(AUDIT, token).status_code == status


def test_it_answers_the_token_s_tenant_only_newest_first(trails: None, cora: Any, alice: Any) -> None:
    body = bearer_get(AUDIT, obtain(cora)["access"]).json()
    tenants = {row["tenant"] for row in body["results"]}
    assert tenants == {alice.tenant.pk}
    seqs = [row["seq"] for row in body["results"]]
    assert seqs == sorted(seqs, reverse=True) and body["count"] == len(seqs)
    assert {"actor", "action", "object_type", "summary", "ip", "correlation_id", "hash"} <= set(body["results"][0])


def test_a_member_of_both_reads_each_tenant_only_with_its_token(trails: None, alice: Any, charlie: Any) -> None:
    Membership.objects.create(user=alice.user, tenant=charlie.tenant, role="compliance")
    alpha = bearer_get(AUDIT, obtain(alice)["access"]).json()["results"]
    bravo = bearer_get(AUDIT, obtain(alice, tenant="bravo")["access"]).json()["results"]
    assert {row["tenant"] for row in alpha} == {alice.tenant.pk}
    assert {row["tenant"] for row in bravo} == {charlie.tenant.pk}


def test_filters(trails: None, alice: Any) -> None:
    token = obtain(alice)["access"]
    by_actor = bearer_get(AUDIT, token, actor="tom").json()["results"]
    assert [row["action"] for row in by_actor] == ["kill_switch"]
    by_action = bearer_get(AUDIT, token, action="settings_changed").json()["results"]
    assert {row["actor"] for row in by_action} == {"alice"}
    assert bearer_get(AUDIT, token, since="2100-01-01T00:00:00Z").json()["count"] == 0
    assert bearer_get(AUDIT, token, page_size=1).json()["next"]


@pytest.mark.parametrize(
    "params",
    [
        {"action": "nope"},
        {"since": "yesterday"},
        {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        {"actor": "x" * 200},
        {"page": "999"},
    ],
)
def test_bad_filters_answer_4xx_with_a_message(trails: None, alice: Any, params: dict[str, str]) -> None:
    response = bearer_get(AUDIT, obtain(alice)["access"], None, **params)
    assert response.status_code in (400, 404)
    assert response.json()
