"""Reasons the system writes are stored as a code and its parameters and shown in the reader's language: a
strategy's state reason and an automatic kill switch's reason; a person's words stay as typed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import translation

from risk.services import kill_switch_trip
from strategies.choices import StrategyState
from strategies.models import Strategy
from strategies.services import lease_acquire, runner_transition, strategy_pause_for_risk, strategy_request

pytestmark = pytest.mark.django_db

TTL = timedelta(seconds=30)


def _running(strategy: Any, alice: Any) -> Any:
    strategy_request(strategy=strategy, action="start", actor=alice.user)
    lease = lease_acquire(strategy_id=strategy.pk, runner_id="r1", ttl=TTL)
    assert lease is not None
    runner_transition(lease=lease, to=StrategyState.RUNNING, code="reconciled")
    return lease


def test_a_runner_reason_is_a_code_shown_in_either_language(alice: Any, strategy: Any) -> None:
    lease = _running(strategy, alice)
    runner_transition(
        lease=lease,
        to=StrategyState.ERROR,
        code="reconciliation_refused",
        params={"report": 12, "status": "mismatch", "differences": 3},
        release=True,
    )
    row = Strategy.objects.get(pk=strategy.pk)
    assert (row.state_reason_code, row.state_reason_params) == (
        "reconciliation_refused",
        {"report": 12, "status": "mismatch", "differences": 3},
    )
    assert row.state_reason == "Reconciliation #12 with the venues: mismatch (3 differences)."
    with translation.override("zh-hans"):
        assert row.state_reason_text == "与交易所对账 #12：mismatch（3 处差异）。"
    with translation.override("en"):
        assert row.state_reason_text == row.state_reason


def test_the_status_panel_and_the_api_speak_the_readers_language(alice: Any, strategy: Any, client: Any) -> None:
    lease = _running(strategy, alice)
    runner_transition(lease=lease, to=StrategyState.ERROR, code="no_pair", release=True)
    client.force_login(alice.user)
    zh = client.get(reverse("strategy_status", args=[strategy.pk]), HTTP_ACCEPT_LANGUAGE="zh-Hans")
    assert zh.status_code == 200
    assert "没有报价源交易对推送该账户池的品种。" in zh.content.decode()
    alice.user.language = "zh-hans"
    alice.user.save(update_fields=["language"])
    body = client.get(f"/api/v1/strategies/{strategy.pk}/").json()
    assert body["state_reason_code"] == "no_pair"
    assert body["state_reason"] == "No quote source pair streams this pool's instruments."
    assert body["state_reason_text"] == "没有报价源交易对推送该账户池的品种。"


def test_a_persons_reason_is_kept_as_typed(alice: Any, strategy: Any) -> None:
    _running(strategy, alice)
    strategy_request(strategy=strategy, action="pause", actor=alice.user, reason="午休 lunch")
    row = Strategy.objects.get(pk=strategy.pk)
    assert (row.state, row.state_reason, row.state_reason_code, row.state_reason_params) == (
        StrategyState.PAUSED,
        "午休 lunch",
        "",
        {},
    )
    with translation.override("zh-hans"):
        assert row.state_reason_text == "午休 lunch"


def test_a_risk_pause_names_the_limit_in_the_readers_language(alice: Any, strategy: Any) -> None:
    _running(strategy, alice)
    assert strategy_pause_for_risk(Strategy.objects.get(pk=strategy.pk), "Unhedged (pause)")
    row = Strategy.objects.get(pk=strategy.pk)
    assert row.state_reason_code == "risk_limit" and row.state_reason == "Limit breached: Unhedged (pause)"
    with translation.override("zh-hans"):
        assert row.state_reason_text == "限额突破：Unhedged (pause)"


def test_an_automatic_switch_reason_is_translated_a_typed_one_is_not(alice: Any, strategy: Any) -> None:
    auto = kill_switch_trip(
        scope="strategy",
        trigger="legging_timeout",
        code="legging_timeout",
        params={"hedge": 7, "oz": "1.5", "seconds": 20},
        strategy=strategy,
    )
    assert auto.reason == "Hedge 7 legged by 1.5 oz for more than 20 s."
    with translation.override("zh-hans"):
        assert auto.reason_text == "对冲 7 单腿敞口 1.5 盎司，已超过 20 秒。"
    typed = kill_switch_trip(scope="tenant", trigger="manual", reason="胖手指 fat finger", tenant=alice.tenant)
    assert (typed.reason, typed.reason_code) == ("胖手指 fat finger", "")
    with translation.override("zh-hans"):
        assert typed.reason_text == "胖手指 fat finger"


def test_an_unknown_code_or_bad_params_fall_back_to_the_stored_text(alice: Any, strategy: Any) -> None:
    row = Strategy.objects.get(pk=strategy.pk)
    row.state_reason, row.state_reason_code, row.state_reason_params = "stored words", "from_a_newer_version", {}
    assert row.state_reason_text == "stored words"
    row.state_reason_code = "reconciliation_refused"  # its parameters missing
    assert row.state_reason_text == "stored words"
