"""An alert's title is written by a job in whatever language it runs (English), and read in each reader's: the alert
keeps the title's template and parameters (quantarb/phrases.py) beside its English rendering, and the pages and the
API render it in the reader's language. Notifications and the audit trail carry the English."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.models import AuditEvent
from alerts.models import Alert
from alerts.services import alert_raise, alert_resolve
from quantarb import phrases
from quantarb.phrases import Phrase, phrase, said, words
from risk.choices import KillScope, KillTrigger
from risk.domain.limits import Metric, Scope, ScopeKind
from risk.limits import evaluate_limits, limit_save
from risk.models import RiskLimit
from risk.services import kill_switch_trip
from tests.helpers.clients import Api, client_for

pytestmark = pytest.mark.django_db

BREACHED_EN = "Limit breached: Unhedged exposure (oz) · Pool {pool} at 3 (breach level 2) → Alert"
BREACHED_ZH = "限额突破：未对冲敞口（盎司） · 账户池 {pool} 为 3（突破级别 2）→ 告警"


def _breach(alice: Any, paper_pool: Any) -> Alert:
    limit_save(row=RiskLimit(tenant=alice.tenant, scope_kind="pool", pool=paper_pool, metric="unhedged_oz",
                             breach_level=Decimal(2), action="alert"), actor=None)  # fmt: skip
    with translation.override("en"):  # the job's language
        evaluate_limits(
            metrics={alice.tenant.pk: {(Metric.UNHEDGED_OZ, Scope(ScopeKind.POOL, paper_pool.pk)): Decimal(3)}}
        )
    return Alert.objects.get(tenant=alice.tenant, dedup_key__startswith="rule:risk_limit_breach:")


def test_a_limit_alert_written_in_english_reads_in_chinese_on_the_page_and_in_the_api(
    alice: Any, paper_pool: Any
) -> None:
    alert = _breach(alice, paper_pool)
    english, chinese = BREACHED_EN.format(pool=paper_pool.name), BREACHED_ZH.format(pool=paper_pool.name)
    assert alert.title == english  # the stored rendering: notifications, the audit trail, logs
    with translation.override("zh-hans"):
        assert alert.title_text == chinese
    client = client_for(alice, alice.tenant)
    for path in ("/alerts/", f"/alerts/{alert.pk}/"):
        page = client.get(path, HTTP_ACCEPT_LANGUAGE="zh-Hans").content.decode()
        assert chinese in page and english not in page, path
        assert english in client.get(path, HTTP_ACCEPT_LANGUAGE="en").content.decode(), path
    api = Api(alice)
    answer = api.client.get(f"/api/v1/alerts/{alert.pk}/", HTTP_ACCEPT_LANGUAGE="zh-Hans", **api.headers)
    assert answer.json()["title"] == chinese
    assert api.get(f"alerts/{alert.pk}/").json()["title"] == english


def test_a_kill_switch_s_coded_reason_is_translated_inside_its_title(alice: Any, strategy: Any) -> None:
    with translation.override("en"):
        kill_switch_trip(scope=KillScope.STRATEGY, trigger=KillTrigger.LOSS_LIMIT, tenant=alice.tenant,
                         strategy=strategy, code="loss_limit", params={"loss": "120.5", "limit": "100"})  # fmt: skip
    alert = Alert.objects.get(tenant=alice.tenant, dedup_key__contains="kill_switch_active")
    assert alert.title == f"Kill switch tripped ({strategy.name}): Loss 120.5 USD reached the limit of 100 USD."
    with translation.override("zh-hans"):
        shown = alert.title_text
        reason = translation.gettext("Loss %(loss)s USD reached the limit of %(limit)s USD.") % {
            "loss": "120.5",
            "limit": "100",
        }
    assert (
        shown == f"熔断开关已触发（{strategy.name}）：{reason}"
        and reason != "Loss 120.5 USD reached the limit of 100 USD."
    )


def test_a_title_given_as_text_and_a_row_from_before_read_as_stored(alice: Any) -> None:
    typed = alert_raise(tenant=alice.tenant, category="system", severity="info", title="Drill: ignore", dedup_key="d")
    assert typed.alert.title_phrase == {}
    alert = _alert_with_phrase(alice, {"msgid": 7, "params": []})  # a shape this version cannot read
    with translation.override("zh-hans"):
        assert typed.alert.title_text == "Drill: ignore" and alert.title_text == "stored English"


def test_notifications_and_the_audit_trail_carry_the_english(alice: Any, paper_pool: Any) -> None:
    alert = _breach(alice, paper_pool)
    with translation.override("zh-hans"):
        alert_resolve(alert=alert, actor=alice.user)
    audited = AuditEvent.objects.get(action="alert_resolved", object_id=str(alert.pk))
    assert audited.summary["title"] == BREACHED_EN.format(pool=paper_pool.name)


def _alert_with_phrase(alice: Any, stored: Any) -> Alert:
    alert = alert_raise(tenant=alice.tenant, category="system", severity="info", title="x", dedup_key="odd").alert
    Alert.objects.filter(pk=alert.pk).update(title="stored English", title_phrase=stored)
    alert.refresh_from_db()
    return alert


# --- the phrases themselves -----------------------------------------------------------------------------------------
def test_phrases_nest_and_join_in_each_language() -> None:
    nested = phrase("Kill switch tripped (%(target)s): %(reason)s", target=words(KillScope.GLOBAL.label), reason="x")
    joined = said(phrase("(awaiting a person's confirmation)"), nested)
    with translation.override("zh-hans"):
        assert nested.render() == "熔断开关已触发（全局（所有租户））：x"
        assert (
            joined.render() == "（等待人工确认）熔断开关已触发（全局（所有租户））：x"
        )  # no space after a full-width stop
    assert joined.english() == "(awaiting a person's confirmation) Kill switch tripped (Global (every tenant)): x"
    assert Phrase.from_json(joined.as_json()) == joined


def test_a_long_parameter_is_kept_to_its_bound() -> None:
    stored = phrase("Feed %(source)s is stale", source="x" * 10_000).as_json()
    assert len(stored["params"]["source"]) == phrases.PARAM_MAX_LENGTH


def test_a_catalogue_entry_that_does_not_fill_falls_back_to_the_english() -> None:
    with translation.override("zh-hans"):  # a parameter missing: the template cannot fill, in either language
        assert phrase("Feed %(source)s is stale", feed="x").render() == "Feed %(source)s is stale"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["msgid", "params", "parts", "a"]), inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_any_stored_value_renders_or_falls_back_and_never_raises(stored: Any) -> None:
    with translation.override("zh-hans"):
        shown = phrases.render_stored(stored, "fallback")
    assert isinstance(shown, str) and shown
