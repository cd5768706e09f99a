"""The write paths of channels and rules: the services take plain values (no form, no request), and the API's write
serializers answer a bad value with the very words the portal's forms give, on the same field (a secret's under
`secrets`)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from accounts.models import AuditEvent
from alerts import registry
from alerts.checks import ChannelValues, channel_check, rule_params_check
from alerts.forms import ChannelForm, RuleForm
from alerts.models import AlertRule, Channel
from alerts.rules import rules_ensure_defaults
from alerts.services import channel_save, rule_save
from tests.helpers.clients import bearer, obtain

pytestmark = pytest.mark.django_db
API = "/api/v1/alerts/"
TOKEN = "123456789:" + "A" * 35


def send(persona: Any, method: str, path: str, body: Any) -> Any:
    client = Client(headers=bearer(obtain(persona)["access"]))
    return getattr(client, method)(path, json.dumps(body), content_type="application/json")


def form_errors(form: Any, field: str) -> list[str]:
    assert not form.is_valid()
    return [str(message) for message in form.errors[field]]


def test_the_channel_service_takes_plain_values_and_keeps_a_stored_secret(alice: Any) -> None:
    values = ChannelValues(name="tg", kind="telegram", target="@desk_alerts", secrets={"bot_token": TOKEN})
    checked, errors = channel_check(tenant=alice.tenant, channel=None, values=values)
    assert errors == {}
    channel = channel_save(tenant=alice.tenant, channel=None, values=checked, actor=alice.user)
    assert channel.secrets == {"bot_token": TOKEN} and channel.secret_hints["bot_token"].startswith("••••")
    renamed = channel_save(
        tenant=alice.tenant, channel=channel, values=ChannelValues(name="tg 2", kind="telegram", target="@desk_alerts"),
        actor=alice.user,
    )  # fmt: skip
    renamed.refresh_from_db()
    assert renamed.name == "tg 2" and renamed.secrets == {"bot_token": TOKEN}  # an empty secret keeps the stored one
    assert AuditEvent.objects.filter(tenant=alice.tenant, action="alert_channel_saved").count() == 2


def test_a_bad_chat_id_and_token_have_the_same_words_on_the_api_and_the_page(alice: Any) -> None:
    body = {"name": "tg", "kind": "telegram", "target": "not a chat", "secrets": {"bot_token": "short"}}
    answer = send(alice, "post", f"{API}channels/", body)
    assert answer.status_code == 400
    form = ChannelForm(
        data={"name": "tg", "kind": "telegram", "target": "not a chat", "bot_token": "short", "min_severity": "warning",
              "repeat_after_s": 3600, "max_per_hour": 30},
        tenant=alice.tenant,
    )  # fmt: skip
    assert answer.json()["target"] == form_errors(form, "target")
    assert answer.json()["secrets"]["bot_token"] == form_errors(form, "bot_token")
    assert not Channel.objects.exists()


def test_a_taken_channel_name_has_the_same_words_on_the_api_and_the_page(alice: Any, email_channel: Any) -> None:
    body = {"name": email_channel.name, "kind": "email", "target": "ops@example.test"}
    answer = send(alice, "post", f"{API}channels/", body)
    assert answer.status_code == 400
    page = {**body, "min_severity": "warning", "repeat_after_s": 3600, "max_per_hour": 30}
    assert answer.json()["name"] == form_errors(ChannelForm(data=page, tenant=alice.tenant), "name")


def test_the_rule_service_takes_plain_values_and_audits(alice: Any) -> None:
    rules_ensure_defaults(tenant=alice.tenant)
    rule = AlertRule.objects.get(tenant=alice.tenant, rule_type="hedge_legged")
    params, errors = rule_params_check(registry.get(rule.rule_type), {"max_seconds": Decimal(90)})
    assert errors == {}
    rule_save(rule=rule, enabled=False, severity="warning", params=params, actor=alice.user)
    rule.refresh_from_db()
    assert (rule.enabled, rule.severity, rule.params) == (False, "warning", {"max_seconds": "90"})
    assert AuditEvent.objects.get(tenant=alice.tenant, action="alert_rule_saved").summary["params"] == params


def test_a_rule_parameter_out_of_range_has_the_same_words_on_the_api_and_the_page(alice: Any) -> None:
    rules_ensure_defaults(tenant=alice.tenant)
    rule = AlertRule.objects.get(tenant=alice.tenant, rule_type="hedge_legged")
    answer = send(alice, "patch", f"{API}rules/{rule.pk}/", {"params": {"max_seconds": -3}})
    assert answer.status_code == 400
    form = RuleForm(data={"severity": rule.severity, "max_seconds": "-3"}, rule=rule)
    assert answer.json()["max_seconds"] == form_errors(form, "max_seconds")
    unknown = send(alice, "patch", f"{API}rules/{rule.pk}/", {"params": {"max_minutes": 3}})
    assert unknown.status_code == 400 and unknown.json() == {"params": ["Unknown parameter(s): max_minutes."]}
