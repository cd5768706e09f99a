"""The alert centre and the alerts API for every persona: who reads, who acts, who manages; isolation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection

from accounts.models import AuditEvent, ChangeLogEntry
from alerts.models import Alert, AlertRule, Channel, Delivery
from alerts.services import alert_raise
from tests.helpers.clients import api, client_for

pytestmark = pytest.mark.django_db
API = "/api/v1/alerts/"
SIGNING_KEY = "whsec-" + "k" * 20


def margin_alert(tenant: Any, **extra: Any) -> Alert:
    fields = {"category": "account", "severity": "critical", "title": "Margin low", "dedup_key": "margin:1"}
    return alert_raise(tenant=tenant, **{**fields, **extra}).alert


def test_readers_list_filter_and_see_alerts_compliance_does_not(alice: Any, ana: Any, bob: Any, cora: Any) -> None:
    margin_alert(alice.tenant)
    margin_alert(alice.tenant, category="system", severity="info", title="Engine slow", dedup_key="engine")
    for persona in (alice, ana, bob):
        body = api(persona).get(API, {"severity": "critical"}).json()
        assert [row["title"] for row in body["results"]] == ["Margin low"]
    assert api(cora).get(API).status_code == 403
    unknown = api(alice).get(API, {"severity": "dire", "status": "open"})
    assert unknown.status_code == 400 and set(unknown.json()) == {"severity"} and unknown.json()["severity"]
    page = client_for(ana, ana.tenant).get("/alerts/", {"category": "system"})
    assert page.status_code == 200 and b"Engine slow" in page.content and b"Margin low" not in page.content
    assert client_for(cora, cora.tenant).get("/alerts/").status_code == 403


def test_another_tenant_s_alert_is_a_404(alice: Any, charlie: Any) -> None:
    alert = margin_alert(alice.tenant)
    client = api(charlie)
    assert client.get(f"{API}{alert.pk}/").status_code == 404
    assert client.post(f"{API}{alert.pk}/ack/").status_code == 404
    assert client.get(API).json()["results"] == []
    assert client_for(charlie, charlie.tenant).get(f"/alerts/{alert.pk}/").status_code == 404


def test_a_trader_acknowledges_and_resolves_over_the_api_an_analyst_may_not(alice: Any, tom: Any, ana: Any) -> None:
    alert = margin_alert(alice.tenant)
    assert api(ana).post(f"{API}{alert.pk}/ack/").status_code == 403
    acked = api(tom).post(f"{API}{alert.pk}/ack/").json()
    assert acked["status"] == "acknowledged" and acked["acknowledged_by"] == "tom"
    assert api(tom).post(f"{API}{alert.pk}/ack/").status_code == 409
    resolved = api(tom).post(f"{API}{alert.pk}/resolve/").json()
    assert resolved["status"] == "resolved" and resolved["resolved_by"] == "tom"
    assert AuditEvent.objects.filter(tenant=alice.tenant, action="alert_acknowledged", actor_username="tom").exists()


def test_the_portal_acknowledges_with_htmx_and_swaps_the_status_in_place(alice: Any, tom: Any, bob: Any) -> None:
    alert = margin_alert(alice.tenant)
    badge = client_for(bob, bob.tenant).get("/alerts/badge/")
    assert b'data-count="1"' in badge.content
    assert b'data-testid="ack"' not in client_for(bob, bob.tenant).get(f"/alerts/{alert.pk}/").content
    assert client_for(bob, bob.tenant).post(f"/alerts/{alert.pk}/ack/").status_code == 403
    response = client_for(tom, tom.tenant).post(f"/alerts/{alert.pk}/ack/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert f'id="alert-status-{alert.pk}"'.encode() in response.content and b"tom" in response.content
    assert b'data-count="0"' in client_for(bob, bob.tenant).get("/alerts/badge/").content


def test_the_alert_centre_says_what_to_do_when_empty_and_paginates(alice: Any) -> None:
    client = client_for(alice, alice.tenant)
    assert b'data-testid="alerts-empty"' in client.get("/alerts/").content
    for number in range(30):
        margin_alert(alice.tenant, dedup_key=f"k{number}", title=f"Alert {number}")
    first = client.get("/alerts/")
    assert first.content.count(b"data-alert=") == 25 and b"page=2" in first.content
    assert client.get("/alerts/", {"page": 2}).content.count(b"data-alert=") == 5


def test_channel_secrets_are_write_only_encrypted_and_never_audited(alice: Any, tom: Any) -> None:
    body = {
        "name": "ops hook",
        "kind": "webhook",
        "target": "http://127.0.0.1:9/hook",
        "secrets": {"signing_key": SIGNING_KEY},
        "categories": ["risk", "account"],
        "min_severity": "critical",
    }
    assert api(tom).post(f"{API}channels/", body, content_type="application/json").status_code == 403
    created = api(alice).post(f"{API}channels/", body, content_type="application/json")
    assert created.status_code == 201, created.content
    answer = created.json()
    assert SIGNING_KEY not in json.dumps(answer) and answer["secret_hints"]["signing_key"].startswith("••••")
    channel = Channel.objects.get()
    assert channel.secrets == {"signing_key": SIGNING_KEY} and channel.categories == ["risk", "account"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM alerts_channel")
        assert SIGNING_KEY not in cursor.fetchone()[0]
    assert SIGNING_KEY not in json.dumps(list(AuditEvent.objects.values_list("summary", flat=True)))
    assert SIGNING_KEY not in json.dumps(list(ChangeLogEntry.objects.values_list("changes", flat=True)), default=str)
    page = client_for(alice, alice.tenant).get(f"/alerts/channels/{channel.pk}/")
    assert SIGNING_KEY.encode() not in page.content
    patched = api(alice).patch(f"{API}channels/{channel.pk}/", {"name": "ops hook 2"}, content_type="application/json")
    assert patched.status_code == 200
    channel.refresh_from_db()
    assert channel.name == "ops hook 2" and channel.secrets == {"signing_key": SIGNING_KEY}  # empty keeps it


def test_channel_errors_come_back_on_their_fields(alice: Any) -> None:
    answer = api(alice).post(
        f"{API}channels/",
        {"name": "tg", "kind": "telegram", "target": "not a chat", "secrets": {"bot_token": "short"}},
        content_type="application/json",
    )
    assert answer.status_code == 400
    errors = answer.json()
    assert "target" in errors and "bot_token" in errors["secrets"]
    page = client_for(alice, alice.tenant).post(
        "/alerts/channels/",
        {
            "name": "hook",
            "kind": "webhook",
            "target": "ftp://x",
            "min_severity": "warning",
            "repeat_after_s": 60,
            "max_per_hour": 5,
        },
        headers={"HX-Request": "true"},
    )
    assert page.status_code == 400
    assert b"invalid-feedback" in page.content and b'data-testid="channel-form"' in page.content
    assert not Channel.objects.exists()


def test_send_test_from_the_channel_page(alice: Any, mailoutbox: Any, django_capture_on_commit_callbacks: Any) -> None:
    channel = Channel.objects.create(tenant=alice.tenant, name="mail", kind="email", target="desk@x.test")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(alice, alice.tenant).post(
            f"/alerts/channels/{channel.pk}/test/", headers={"HX-Request": "true"}
        )
    assert response.status_code == 200
    assert len(mailoutbox) == 1 and Delivery.objects.get().is_test


def test_rules_are_listed_with_defaults_and_validated_on_change(alice: Any, tom: Any) -> None:
    assert api(tom).get(f"{API}rules/").status_code == 403
    rules = api(alice).get(f"{API}rules/").json()["results"]
    legged = next(rule for rule in rules if rule["rule_type"] == "hedge_legged")
    bad = api(alice).patch(
        f"{API}rules/{legged['id']}/", {"params": {"max_seconds": -3}}, content_type="application/json"
    )
    assert bad.status_code == 400 and "max_seconds" in bad.json()
    good = api(alice).patch(
        f"{API}rules/{legged['id']}/",
        {"params": {"max_seconds": 200}, "enabled": False},
        content_type="application/json",
    )
    assert good.status_code == 200, good.content
    rule = AlertRule.objects.get(pk=legged["id"])
    assert rule.params == {"max_seconds": "200"} and rule.enabled is False
    page = client_for(alice, alice.tenant).post(
        f"/alerts/rules/{rule.pk}/", {"severity": "warning", "max_seconds": "abc"}
    )
    assert page.status_code == 400
