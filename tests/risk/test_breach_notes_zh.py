"""A breach's action note is written by a job (the limits' beat evaluation, a runner) in whatever language that
process has active; it is stored as codes and parameters and read in the reader's language on the limits page and
in the API. A note stored before the codes is shown as stored."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from risk.domain.limits import Metric, Scope, ScopeKind
from risk.limits import evaluate_limits, limit_save
from risk.models import Breach, RiskLimit
from strategies.choices import StrategyState
from strategies.models import Strategy
from tests.helpers.clients import Api, client_for

pytestmark = pytest.mark.django_db

PAUSED_ZH = "已暂停：Basis A。"


def _pause_breach(pool: Any, strategy: Any) -> Breach:
    limit_save(
        row=RiskLimit(tenant=pool.tenant, scope_kind="pool", pool=pool, metric="unhedged_oz",
                      breach_level=Decimal(2), action="pause"),
        actor=None,
    )  # fmt: skip
    Strategy.objects.filter(pk=strategy.pk).update(state=StrategyState.RUNNING)
    with translation.override("en"):  # the beat job's language
        evaluate_limits(metrics={pool.tenant_id: {(Metric.UNHEDGED_OZ, Scope(ScopeKind.POOL, pool.pk)): Decimal(3)}})
    return Breach.objects.get()


def test_a_note_written_in_english_reads_in_chinese_on_the_page_and_in_the_api(
    paper_pool: Any, strategy: Any, alice: Any
) -> None:
    breach = _pause_breach(paper_pool, strategy)
    assert breach.action_note == "Paused: Basis A."  # the English rendering, for logs and the audit
    assert breach.action_note_parts == [{"code": "paused", "params": {"names": "Basis A"}}]
    with translation.override("zh-hans"):
        assert breach.action_note_text == PAUSED_ZH
    zh = client_for(alice).get(reverse("risk_limits"), HTTP_ACCEPT_LANGUAGE="zh-Hans").content.decode()
    assert PAUSED_ZH in zh and "Paused: Basis A." not in zh
    assert "Paused: Basis A." in client_for(alice).get(reverse("risk_limits")).content.decode()
    api = Api(alice)
    [row] = api.client.get("/api/v1/risk/breaches/", HTTP_ACCEPT_LANGUAGE="zh-Hans", **api.headers).json()["results"]
    assert row["action_note"] == "Paused: Basis A."
    assert row["action_note_parts"] == [{"code": "paused", "params": {"names": "Basis A"}}]
    assert row["action_note_text"] == PAUSED_ZH


def test_disabling_the_limit_puts_its_part_before_the_actions(paper_pool: Any, strategy: Any) -> None:
    breach = _pause_breach(paper_pool, strategy)
    limit = RiskLimit.objects.get()
    limit.enabled = False
    with translation.override("en"):
        limit_save(row=limit, actor=None, before={"enabled": True})
    breach.refresh_from_db()
    assert breach.action_note == "The limit was disabled. Paused: Basis A."
    with translation.override("zh-hans"):
        assert breach.action_note_text == "该限额已停用。" + PAUSED_ZH


def test_a_note_stored_before_the_codes_is_shown_as_stored(paper_pool: Any, alice: Any) -> None:
    now = timezone.now()
    legacy = Breach.objects.create(
        tenant=alice.tenant, limit_label="Old limit", metric="unhedged_oz", scope_kind="pool", scope_ref=paper_pool.pk,
        scope_label=paper_pool.name, threshold=Decimal(2), started_at=now, start_value=Decimal(3),
        peak_value=Decimal(3), peak_at=now, action="pause", action_status="done", action_note="Paused: Old one.",
    )  # fmt: skip
    with translation.override("zh-hans"):
        assert legacy.action_note_text == "Paused: Old one."
    zh = client_for(alice).get(reverse("risk_limits"), HTTP_ACCEPT_LANGUAGE="zh-Hans").content.decode()
    assert "Paused: Old one." in zh
    api = Api(alice)
    [row] = api.client.get("/api/v1/risk/breaches/", HTTP_ACCEPT_LANGUAGE="zh-Hans", **api.headers).json()["results"]
    assert row["action_note_parts"] == [] and row["action_note_text"] == "Paused: Old one."


def test_a_stored_note_keeps_its_words_when_the_limit_is_disabled(paper_pool: Any, alice: Any) -> None:
    limit = limit_save(
        row=RiskLimit(tenant=alice.tenant, scope_kind="pool", pool=paper_pool, metric="unhedged_oz",
                      breach_level=Decimal(2), action="pause"),
        actor=None,
    )  # fmt: skip
    now = timezone.now()
    Breach.objects.create(
        tenant=alice.tenant, limit=limit, limit_label=limit.label, metric="unhedged_oz", scope_kind="pool",
        scope_ref=paper_pool.pk, scope_label=paper_pool.name, threshold=Decimal(2), started_at=now,
        start_value=Decimal(3), peak_value=Decimal(3), peak_at=now, action="pause", action_status="done",
        action_note="Paused: Old one.",
    )  # fmt: skip
    limit.enabled = False
    limit_save(row=limit, actor=None, before={"enabled": True})
    breach = Breach.objects.get()
    with translation.override("zh-hans"):
        assert breach.action_note_text == "该限额已停用。Paused: Old one."
