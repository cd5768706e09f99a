"""Rule types registered by the apps that own their conditions, evaluated by the beat job, auto-resolving."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from accounts.models import AuditEvent, VenueAccount
from alerts import registry
from alerts.choices import AlertStatus
from alerts.models import Alert, AlertRule
from alerts.rules import evaluate_all, rules_ensure_defaults
from quantarb import clock
from quantarb.schedule import SCHEDULE
from trading.models import Heartbeat

pytestmark = pytest.mark.django_db


def test_the_apps_register_the_rule_types_that_exist_now() -> None:
    assert set(registry.rule_types()) >= {
        "feed_stale",
        "net_edge",
        "account_error",
        "risk_limit_warning",
        "risk_limit_breach",
        "heartbeat_missing",
    }
    # accounts sits below alerts and registers nothing: the alerts app keeps the rules over accounts' data.
    assert registry.get("account_error").evaluate.__module__ == "alerts.alert_rules"
    # The margin level became a risk limit (risk/limits.py): its rule type is retired.
    assert registry.get("margin_low") is None
    # So did the USDT/USD rate's age and its distance from parity (risk/migrations/0006_usdt_rate_limits.py).
    assert registry.get("rate_stale") is None and registry.get("usd_per_usdt") is None
    assert registry.get("feed_stale").evaluate.__module__ == "trading.alert_rules"


def test_the_beat_job_evaluates_the_rules() -> None:
    assert any(job.task == "alerts.tasks.evaluate_rules" for job in SCHEDULE)


def test_params_are_validated_against_the_rule_type() -> None:
    legged = registry.get("hedge_legged")
    assert legged is not None
    assert legged.clean_params({"max_seconds": "120"}) == ({"max_seconds": "120"}, {})
    _, errors = legged.clean_params({"max_seconds": "-5", "colour": "red"})
    assert set(errors) == {"max_seconds", "colour"}
    _, errors = legged.clean_params({"max_seconds": "NaN"})
    assert "max_seconds" in errors


def test_every_tenant_gets_default_rules(alice: Any) -> None:
    rules = rules_ensure_defaults(tenant=alice.tenant)
    assert {rule.rule_type for rule in rules} == set(registry.rule_types())
    legged = AlertRule.objects.get(tenant=alice.tenant, rule_type="hedge_legged")
    assert legged.params == {"max_seconds": "30"} and legged.severity == "critical"


def _account(alice: Any, **extra: Any) -> VenueAccount:
    return VenueAccount.objects.create(
        tenant=alice.tenant, owner=alice.user, venue="simulated-perp", label="perp one", **extra
    )


def test_a_rule_raises_once_bumps_while_it_holds_and_resolves_when_it_clears(alice: Any, frozen_clock: Any) -> None:
    account = _account(alice, status="error")
    evaluate_all()
    frozen_clock.advance(10)
    evaluate_all()
    alert = Alert.objects.get(tenant=alice.tenant, rule__rule_type="account_error")
    assert alert.count == 2 and alert.category == "account" and alert.severity == "warning"
    assert alert.source_type == "accounts.venueaccount" and alert.source_id == str(account.pk)
    frozen_clock.advance(10)
    VenueAccount.objects.filter(pk=account.pk).update(status="active")
    evaluate_all()
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED and alert.resolved_by is None
    resolved = AuditEvent.objects.get(tenant=alice.tenant, action="alert_resolved")
    assert resolved.actor_username == "(system)" and resolved.summary["automatic"] is True


def test_an_account_in_error_alerts(alice: Any) -> None:
    _account(alice, status="error")
    evaluate_all()
    assert Alert.objects.filter(tenant=alice.tenant, rule__rule_type="account_error", status="open").count() == 1


def test_a_disabled_rule_raises_nothing_and_clears_its_alerts(alice: Any) -> None:
    _account(alice, status="error")
    evaluate_all()
    AlertRule.objects.filter(tenant=alice.tenant, rule_type="account_error").update(enabled=False)
    evaluate_all()
    assert not Alert.objects.filter(rule__rule_type="account_error", status="open").exists()


def test_missing_heartbeats_alert_until_they_come_back(alice: Any, frozen_clock: Any) -> None:
    evaluate_all()
    keys = set(Alert.objects.filter(status="open").values_list("dedup_key", flat=True))
    # No engine ever ran (poll_feeds feeds the quotes): only the scheduler is missed.
    assert "rule:heartbeat_missing:heartbeat:scheduler" in keys
    assert "rule:heartbeat_missing:heartbeat:engine" not in keys
    Heartbeat.objects.create(component="engine", beat_at=clock.now() - timedelta(seconds=120))
    evaluate_all()
    keys = set(Alert.objects.filter(status="open").values_list("dedup_key", flat=True))
    assert "rule:heartbeat_missing:heartbeat:engine" in keys  # an engine that stopped beating is
    Heartbeat.objects.filter(component="engine").update(beat_at=clock.now())
    Heartbeat.objects.create(component="scheduler", beat_at=clock.now())
    evaluate_all()
    assert not Alert.objects.filter(rule__rule_type="heartbeat_missing", status="open").exists()


def test_feed_stale_and_net_edge_rules_read_market_data(alpha_pair: Any, alice: Any, frozen_clock: Any) -> None:
    from trading.models import QuoteTick, SpreadSample

    now = clock.now()
    for source in (alpha_pair.perp_source, alpha_pair.cfd_source):
        QuoteTick.objects.create(
            source=source, ts=now, received_at=now - timedelta(seconds=90), bid=Decimal(2650), ask=Decimal("2650.2")
        )
    SpreadSample.objects.create(
        pair=alpha_pair,
        ts=now,
        perp_bid=Decimal(2655),
        perp_ask=Decimal("2655.1"),
        cfd_bid=Decimal(2650),
        cfd_ask=Decimal("2650.3"),
        usd_per_usdt=Decimal("0.990000"),
        edge_sell_perp=Decimal("4.1"),
        edge_buy_perp=Decimal("-5.4"),
        net_sell_perp=Decimal("3.2"),
        net_buy_perp=Decimal("-6.3"),
        basis=Decimal("4.9"),
    )
    evaluate_all()
    open_keys = set(Alert.objects.filter(tenant=alice.tenant, status="open").values_list("dedup_key", flat=True))
    assert f"rule:feed_stale:feed_stale:{alpha_pair.perp_source.key}" in open_keys
    assert f"rule:net_edge:net_edge:{alpha_pair.pk}" in open_keys
    assert not any(key.startswith("rule:usd_per_usdt:") for key in open_keys)  # a risk limit's now


def test_an_account_that_tests_fine_again_clears_its_alert_at_once(alice: Any, committed: Any) -> None:
    from trading.account_sync import account_test

    account = _account(alice, status="error")
    evaluate_all()
    alert = Alert.objects.get(rule__rule_type="account_error")
    committed(account_test, account=account, actor=alice.user)  # no beat in between: the event evaluates
    account.refresh_from_db()
    alert.refresh_from_db()
    assert account.status == "active" and alert.status == AlertStatus.RESOLVED


def test_a_broken_audit_chain_is_a_critical_alert_in_its_tenant(alice: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from accounts import audit, tasks

    event = audit.audit_record(tenant=alice.tenant, actor=alice.user, action="settings_changed")
    monkeypatch.setattr(
        audit,
        "first_chain_break",
        lambda tenant: audit.ChainBreak(event, "tampered") if tenant == alice.tenant.pk else None,
    )
    tasks.verify_audit_chains()
    tasks.verify_audit_chains()
    alert = Alert.objects.get(dedup_key="audit_chain_broken")
    assert alert.tenant == alice.tenant and alert.severity == "critical" and alert.count == 2
