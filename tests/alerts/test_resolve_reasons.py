"""Why the system resolved an alert is kept on the alert as a code and its parameters, written by a job in English
and read in the reader's language on the alert's page; an alert resolved before (or by a person) has no reason."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.utils import translation

from accounts.models import AuditEvent
from alerts.models import Alert
from alerts.services import alert_raise, alert_resolve
from risk.domain.limits import Metric, Scope, ScopeKind
from risk.limits import evaluate_limits, limit_save
from risk.models import RiskLimit
from tests.helpers.clients import client_for

pytestmark = pytest.mark.django_db


def test_an_automatic_resolve_reason_reads_in_chinese(paper_pool: Any, alice: Any) -> None:
    limit = limit_save(
        row=RiskLimit(tenant=alice.tenant, scope_kind="pool", pool=paper_pool, metric="unhedged_oz",
                      breach_level=Decimal(2), action="alert"),
        actor=None,
    )  # fmt: skip
    evaluate_limits(metrics={alice.tenant.pk: {(Metric.UNHEDGED_OZ, Scope(ScopeKind.POOL, paper_pool.pk)): Decimal(3)}})
    limit.enabled = False
    with translation.override("en"):  # the job's language
        limit_save(row=limit, actor=None, before={"enabled": True})
    alert = Alert.objects.get(tenant=alice.tenant)
    assert (alert.status, alert.resolved_reason_code, alert.resolved_reason) == (
        "resolved",
        "limit_disabled",
        "The limit was disabled.",
    )
    with translation.override("zh-hans"):
        assert alert.resolved_reason_text == "该限额已停用。"
    audited = AuditEvent.objects.get(action="alert_resolved", object_id=str(alert.pk))
    assert audited.summary["reason"] == "The limit was disabled." and audited.summary["automatic"] is True
    page = client_for(alice, alice.tenant).get(f"/alerts/{alert.pk}/", HTTP_ACCEPT_LANGUAGE="zh-Hans")
    assert page.status_code == 200
    assert "该限额已停用。" in page.content.decode() and "The limit was disabled." not in page.content.decode()


def test_an_alert_resolved_without_a_code_shows_no_reason(alice: Any, tom: Any) -> None:
    alert = alert_raise(
        tenant=alice.tenant, category="account", severity="warning", title="Margin low", dedup_key="m:1"
    ).alert
    alert_resolve(alert=alert, actor=tom.user)
    alert.refresh_from_db()
    assert (alert.resolved_reason, alert.resolved_reason_code, alert.resolved_reason_params) == ("", "", {})
    assert alert.resolved_reason_text == ""
    page = client_for(alice, alice.tenant).get(f"/alerts/{alert.pk}/").content.decode()
    assert 'data-testid="resolved-reason"' not in page


def test_a_stored_reason_without_a_code_is_shown_as_stored(alice: Any) -> None:
    alert = alert_raise(
        tenant=alice.tenant, category="account", severity="warning", title="Margin low", dedup_key="m:2"
    ).alert
    Alert.objects.filter(pk=alert.pk).update(
        status="resolved", resolved_at=alert.last_seen, resolved_reason="Cleared by the old job."
    )
    alert.refresh_from_db()
    with translation.override("zh-hans"):
        assert alert.resolved_reason_text == "Cleared by the old job."
    page = client_for(alice, alice.tenant).get(f"/alerts/{alert.pk}/", HTTP_ACCEPT_LANGUAGE="zh-Hans")
    assert "Cleared by the old job." in page.content.decode()
