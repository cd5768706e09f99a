"""Limits that act, evaluated on metrics built by hand (risk/metrics.py computes them in the
running platform): validation of a limit, a warning alerts without acting, a breach is logged with its peak,
audited, alerted and acted on, hysteresis keeps a metric oscillating around a level from flapping, a pending
action waits for a person, and a withdrawal does not trip the drawdown limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from accounts.models import AuditEvent, Membership
from alerts.models import Alert
from risk.domain.limits import Metric, Scope, ScopeKind
from risk.limits import blocks_for, breach_confirm, evaluate_limits, limit_save, pending_confirmations
from risk.models import Breach, RiskLimit, RiskLimitState
from strategies.choices import StrategyState
from strategies.models import Strategy

pytestmark = pytest.mark.django_db


def pool_metrics(pool: Any, metric: Metric, value: str | None) -> dict[int, dict[Any, Decimal | None]]:
    return {pool.tenant_id: {(metric, Scope(ScopeKind.POOL, pool.pk)): None if value is None else Decimal(value)}}


def a_limit(where: Any, **fields: Any) -> RiskLimit:
    values: dict[str, Any] = {
        "tenant": where.tenant,
        "scope_kind": "pool",
        "pool": where,
        "metric": "unhedged_oz",
        "warning_level": Decimal(1),
        "breach_level": Decimal(2),
        "action": "block_entries",
        **fields,
    }
    return limit_save(row=RiskLimit(**values), actor=None)


def open_alerts(tenant: Any) -> list[Alert]:
    return list(Alert.objects.filter(tenant=tenant).exclude(status="resolved").order_by("pk"))


# --- validation -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"warning_level": Decimal(3), "breach_level": Decimal(2)}, "warning_level", "below it for an upper limit"),
        (
            {"metric": "liquidation_distance_pct", "warning_level": Decimal(5), "breach_level": Decimal(10)},
            "warning_level",
            "above it for a lower limit",
        ),
        ({"metric": "drawdown_pct", "warning_level": Decimal(5), "breach_level": Decimal(150)}, "breach_level", "100"),
        (
            {"metric": "loss_streak", "warning_level": Decimal("2.5"), "breach_level": Decimal(4)},
            "warning_level",
            "whole",
        ),
        ({"warning_level": None, "breach_level": None}, "breach_level", "warning level, a breach level or both"),
        ({"hysteresis": Decimal(-1)}, "hysteresis", "band"),
        ({"action": "alert", "confirm": True}, "confirm", "confirmation"),
        ({"scope_kind": "pool", "pool": None}, "pool", "Choose the pool"),
    ],
)
def test_a_limit_is_validated_field_by_field(paper_pool: Any, fields: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ValidationError) as refused:
        a_limit(paper_pool, **fields)
    assert words in " ".join(refused.value.message_dict[field])
    assert not RiskLimit.objects.exists()


def test_a_limit_watches_only_its_own_desks_objects(paper_pool: Any, charlie: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        limit_save(
            row=RiskLimit(tenant=charlie.tenant, scope_kind="pool", pool=paper_pool, metric="unhedged_oz",
                          breach_level=Decimal(2)),
            actor=None,
        )  # fmt: skip
    assert refused.value.message_dict["pool"] == ["Choose one of this desk's."]


def test_the_direction_defaults_to_the_metrics_natural_one(paper_pool: Any) -> None:
    limit = a_limit(paper_pool, metric="liquidation_distance_pct", warning_level=Decimal(20), breach_level=Decimal(10))
    assert limit.direction == "" and limit.effective_direction() == "min"
    saved = AuditEvent.objects.get(action="risk_limit_saved")
    assert saved.summary["created"] is True and saved.summary["limit"] == limit.label


# --- evaluation -------------------------------------------------------------------------------------------------
def test_a_warning_alerts_without_acting(paper_pool: Any, strategy: Any, frozen_clock: Any) -> None:
    limit = a_limit(paper_pool, action="pause")
    Strategy.objects.filter(pk=strategy.pk).update(state=StrategyState.RUNNING)
    evaluate_limits(metrics=pool_metrics(paper_pool, Metric.UNHEDGED_OZ, "1.5"))
    assert RiskLimitState.objects.get(limit=limit).level == "warning"
    [alert] = open_alerts(paper_pool.tenant)
    assert alert.category == "risk" and alert.severity == "warning" and alert.rule.rule_type == "risk_limit_warning"
    assert "Limit warning" in alert.title and "1.5" in alert.title
    assert not Breach.objects.exists() and blocks_for(paper_pool, strategy.pk) == ()
    assert Strategy.objects.get(pk=strategy.pk).state == StrategyState.RUNNING
    assert not AuditEvent.objects.filter(action="risk_limit_breach").exists()
    # Back within the levels: the alert resolves.
    evaluate_limits(metrics=pool_metrics(paper_pool, Metric.UNHEDGED_OZ, "0.2"))
    assert open_alerts(paper_pool.tenant) == []


def test_a_breach_is_logged_with_its_peak_audited_alerted_and_blocks_entries_until_it_ends(
    paper_pool: Any, strategy: Any, frozen_clock: Any
) -> None:
    limit = a_limit(paper_pool, name="Unhedged oz")
    evaluate_limits(metrics=pool_metrics(paper_pool, Metric.UNHEDGED_OZ, "2.5"))
    breach = Breach.objects.get()
    assert (breach.limit, breach.start_value, breach.peak_value) == (limit, Decimal("2.5"), Decimal("2.5"))
    assert breach.ended_at is None
    assert breach.action == "block_entries" and breach.action_status == "done"
    assert [event.summary["event"] for event in AuditEvent.objects.filter(action="risk_limit_breach")] == [
        "started",
        "action",
    ]
    [alert] = open_alerts(paper_pool.tenant)
    assert alert.severity == "critical" and alert.rule.rule_type == "risk_limit_breach"
    assert "Limit breached: Unhedged oz at 2.5 (breach level 2)" in alert.title
    assert [block.limit for block in blocks_for(paper_pool, strategy.pk)] == ["Unhedged oz"]
    assert [block.limit for block in blocks_for(paper_pool, None)] == ["Unhedged oz"]  # orders by hand too

    frozen_clock.advance(15)
    evaluate_limits(metrics=pool_metrics(paper_pool, Metric.UNHEDGED_OZ, "3.25"))
    frozen_clock.advance(15)
    evaluate_limits(metrics=pool_metrics(paper_pool, Metric.UNHEDGED_OZ, "2.75"))
    breach.refresh_from_db()
    assert breach.peak_value == Decimal("3.25") and breach.ended_at is None
    assert Breach.objects.count() == 1

    frozen_clock.advance(15)
    evaluate_limits(metrics=pool_metrics(paper_pool, Metric.UNHEDGED_OZ, "0.5"))
    breach.refresh_from_db()
    assert breach.ended_at is not None and blocks_for(paper_pool, strategy.pk) == ()
    assert AuditEvent.objects.filter(action="risk_limit_breach").last().summary["event"] == "ended"
    assert open_alerts(paper_pool.tenant) == []


def test_hysteresis_keeps_an_oscillating_metric_from_flapping(paper_pool: Any, frozen_clock: Any) -> None:
    a_limit(paper_pool, warning_level=None, breach_level=Decimal(2), hysteresis=Decimal("0.5"))
    for value in ("2.1", "1.9", "2.05", "1.7", "2.2", "1.6"):  # around the level, within the band
        evaluate_limits(metrics=pool_metrics(paper_pool, Metric.UNHEDGED_OZ, value))
        frozen_clock.advance(15)
    assert Breach.objects.count() == 1 and Breach.objects.get().ended_at is None
    assert AuditEvent.objects.filter(action="risk_limit_breach", summary__event="started").count() == 1
    [alert] = open_alerts(paper_pool.tenant)
    assert alert.count == 1  # raised once, when the breach began
    evaluate_limits(metrics=pool_metrics(paper_pool, Metric.UNHEDGED_OZ, "1.4"))  # past the band: it ends
    assert Breach.objects.get().ended_at is not None and open_alerts(paper_pool.tenant) == []


def test_a_metric_without_a_value_is_ok(paper_pool: Any) -> None:
    limit = a_limit(paper_pool)
    evaluate_limits(metrics=pool_metrics(paper_pool, Metric.UNHEDGED_OZ, None))
    assert RiskLimitState.objects.get(limit=limit).level == "ok" and not Breach.objects.exists()


def test_a_breach_pauses_a_running_strategy_through_its_lifecycle_service(
    paper_pool: Any, strategy: Any, frozen_clock: Any
) -> None:
    a_limit(paper_pool, metric="daily_loss_usd", warning_level=Decimal(500), breach_level=Decimal(1000), action="pause")
    Strategy.objects.filter(pk=strategy.pk).update(state=StrategyState.RUNNING)
    evaluate_limits(metrics=pool_metrics(paper_pool, Metric.DAILY_LOSS_USD, "1200"))
    paused = Strategy.objects.get(pk=strategy.pk)
    assert paused.state == StrategyState.PAUSED and "Limit breached" in paused.state_reason
    assert AuditEvent.objects.filter(action="strategy_stopped", summary__request="pause").exists()
    assert Breach.objects.get().action_note == "Paused: Basis A."


def test_a_confirmed_action_waits_for_a_person(paper_pool: Any, strategy: Any, alice: Any, frozen_clock: Any) -> None:
    a_limit(paper_pool, action="pause", confirm=True)
    Strategy.objects.filter(pk=strategy.pk).update(state=StrategyState.RUNNING)
    evaluate_limits(metrics=pool_metrics(paper_pool, Metric.UNHEDGED_OZ, "5"))
    breach = Breach.objects.get()
    assert breach.action_status == "pending" and Strategy.objects.get(pk=strategy.pk).state == StrategyState.RUNNING
    assert blocks_for(paper_pool, strategy.pk) == ()  # nothing acts before the person
    assert "awaiting a person's confirmation" in open_alerts(paper_pool.tenant)[0].title
    assert list(pending_confirmations(membership=Membership.objects.get(user=alice.user))) == [breach]
    breach_confirm(breach=breach, actor=alice.user)
    breach.refresh_from_db()
    assert breach.action_status == "done" and breach.confirmed_by == alice.user and breach.confirmed_at is not None
    assert Strategy.objects.get(pk=strategy.pk).state == StrategyState.PAUSED
    confirmed = AuditEvent.objects.get(action="risk_limit_breach", summary__event="confirmed")
    assert confirmed.actor_username == alice.user.username
    with pytest.raises(ValidationError):
        breach_confirm(breach=breach, actor=alice.user)


def test_disabling_a_limit_ends_its_breach_and_lifts_the_block(paper_pool: Any, strategy: Any) -> None:
    limit = a_limit(paper_pool)
    evaluate_limits(metrics=pool_metrics(paper_pool, Metric.UNHEDGED_OZ, "5"))
    limit.enabled = False
    limit_save(row=limit, actor=None, before={"enabled": True})
    assert Breach.objects.get().ended_at is not None and blocks_for(paper_pool, strategy.pk) == ()
    assert open_alerts(paper_pool.tenant) == []
    evaluate_limits(metrics=pool_metrics(paper_pool, Metric.UNHEDGED_OZ, "5"))  # a disabled limit is not evaluated
    assert Breach.objects.count() == 1


def test_a_desk_limit_is_keyed_by_the_tenant_and_covers_every_pool(paper_pool: Any, strategy: Any) -> None:
    limit_save(
        row=RiskLimit(tenant=paper_pool.tenant, scope_kind="desk", metric="gross_notional_usd",
                      breach_level=Decimal(1_000_000), action="block_entries"),
        actor=None,
    )  # fmt: skip
    metrics = {paper_pool.tenant_id: {(Metric.GROSS_NOTIONAL_USD, Scope(ScopeKind.DESK, paper_pool.tenant_id)):
                                      Decimal(2_000_000)}}  # fmt: skip
    evaluate_limits(metrics=metrics)
    assert len(blocks_for(paper_pool, strategy.pk)) == 1


def test_the_beat_job_is_scheduled() -> None:
    from quantarb.schedule import SCHEDULE

    assert any(job.task == "risk.tasks.evaluate_limits" for job in SCHEDULE)


# --- drawdown after a withdrawal ----------------------------------------------------------------------------------
def test_a_withdrawal_in_the_ledger_does_not_trip_the_drawdown_limit(paper_pool: Any) -> None:
    """Drawdown is measured on flow-adjusted equity (trading/domain/performance.py, the portfolio's equity series
    and cash-flow ledger). The figure the limit is handed here is that one; risk/metrics.py (the risk centre)
    computes it the same way in the platform."""
    from trading.domain.performance import CashFlow, EquitySeries, Frequency, performance

    start = datetime(2026, 12, 1, tzinfo=UTC)
    series = EquitySeries.from_points(
        [(start + timedelta(hours=i), value) for i, value in enumerate(
            [Decimal(100_000), Decimal(100_400), Decimal(60_400), Decimal(60_350)])],
        Frequency.HOUR,
    )  # fmt: skip
    withdrawal = CashFlow(at=start + timedelta(hours=2), amount=Decimal(-40_000))
    adjusted = Decimal(str(-performance(series, [withdrawal], frequency=Frequency.HOUR).current_drawdown * 100))
    naive = Decimal(str(-performance(series, frequency=Frequency.HOUR).current_drawdown * 100))
    assert adjusted < Decimal("0.1") < Decimal(39) < naive  # the withdrawal alone looks like a 40 % drawdown

    a_limit(paper_pool, metric="drawdown_pct", warning_level=Decimal(5), breach_level=Decimal(10), action="pause")
    evaluate_limits(metrics=pool_metrics(paper_pool, Metric.DRAWDOWN_PCT, str(adjusted)))
    assert RiskLimitState.objects.get().level == "ok" and not Breach.objects.exists()
    evaluate_limits(metrics=pool_metrics(paper_pool, Metric.DRAWDOWN_PCT, str(naive)))  # what it would have done
    assert Breach.objects.count() == 1


# --- the margin-level alert rule became a limit -------------------------------------------------------------------
def test_the_margin_rule_of_each_desk_becomes_a_margin_level_limit(alice: Any, charlie: Any) -> None:
    """The data migration (risk/migrations/0003): each desk's `margin_low` rule becomes a desk limit on the MT5
    margin level with the rule's level as the breach level, enabled as the rule was; the rule and its open alert go."""
    import importlib

    from django.apps import apps

    from alerts.models import AlertRule

    migration = importlib.import_module("risk.migrations.0004_risk_limits")
    rule = AlertRule.objects.create(tenant=alice.tenant, rule_type="margin_low", params={"min_level_pct": "180"})
    AlertRule.objects.create(tenant=charlie.tenant, rule_type="margin_low", params={"min_level_pct": "x"},
                             enabled=False)  # fmt: skip
    old = Alert.objects.create(tenant=alice.tenant, category="account", severity="critical", title="Margin level",
                               rule=rule, dedup_key="rule:margin_low:margin_low:1", first_seen=datetime.now(UTC),
                               last_seen=datetime.now(UTC))  # fmt: skip
    migration.margin_rules_to_limits(apps, None)
    mine = RiskLimit.objects.get(tenant=alice.tenant)
    assert (mine.scope_kind, mine.metric, mine.breach_level, mine.warning_level, mine.action, mine.enabled) == (
        "desk", "mt5_margin_level_pct", Decimal(180), None, "alert", True)  # fmt: skip
    assert mine.effective_direction() == "min"
    theirs = RiskLimit.objects.get(tenant=charlie.tenant)
    assert theirs.breach_level == Decimal(150) and not theirs.enabled  # an unreadable level: the old default
    assert not AlertRule.objects.filter(rule_type="margin_low").exists()
    old.refresh_from_db()
    assert old.status == "resolved"


def test_a_margin_level_below_the_migrated_limit_raises_a_critical_risk_alert(alice: Any, frozen_clock: Any) -> None:
    """What the `margin_low` rule's tests showed, as a limit: below the level it alerts (critical), bumps while it
    holds, resolves when the level recovers; nothing else is done (action alert)."""
    limit = limit_save(
        row=RiskLimit(tenant=alice.tenant, name="Margin level", scope_kind="desk", metric="mt5_margin_level_pct",
                      breach_level=Decimal(150), action="alert"),
        actor=None,
    )  # fmt: skip
    desk = Scope(ScopeKind.DESK, alice.tenant.pk)

    def at(level: str) -> None:
        evaluate_limits(metrics={alice.tenant.pk: {(Metric.MT5_MARGIN_LEVEL_PCT, desk): Decimal(level)}})

    at("400")
    assert open_alerts(alice.tenant) == []
    at("120")
    [alert] = open_alerts(alice.tenant)
    assert alert.severity == "critical" and alert.category == "risk" and "Margin level at 120" in alert.title
    assert alert.source_type == "risk.risklimit" and alert.source_id == str(limit.pk)
    assert Breach.objects.get().action_status == "none"
    from alerts.rules import evaluate_all

    frozen_clock.advance(10)
    evaluate_all()  # the rule keeps it open while it holds
    alert.refresh_from_db()
    assert alert.count == 2 and alert.status == "open"
    at("400")
    alert.refresh_from_db()
    assert alert.status == "resolved" and Breach.objects.get().ended_at is not None


def test_two_hundred_pools_are_evaluated_in_a_bounded_number_of_queries(
    alice: Any, django_assert_max_num_queries: Any
) -> None:
    """One beat run over 200 pools' limits: a handful of queries whatever the number of pools (reads in bulk, the
    levels written in bulk); a change costs its own writes only (the breach, its alert and audit)."""
    from accounts.models import AccountPool, VenueAccount

    accounts = VenueAccount.objects.bulk_create(
        VenueAccount(tenant=alice.tenant, owner=alice.user, venue=venue, label=f"{venue} {n}", mode="paper")
        for n in range(200)
        for venue in ("simulated-perp", "simulated-cfd")
    )
    pools = AccountPool.objects.bulk_create(
        AccountPool(tenant=alice.tenant, name=f"Pool {n}", perp_account=accounts[2 * n],
                    cfd_account=accounts[2 * n + 1], perp_allocation=Decimal(1000), cfd_allocation=Decimal(1000))
        for n in range(200)
    )  # fmt: skip
    RiskLimit.objects.bulk_create(
        RiskLimit(tenant=alice.tenant, scope_kind="pool", pool=pool, metric="unhedged_oz", warning_level=Decimal(1),
                  breach_level=Decimal(2), action="block_entries")
        for pool in pools
    )  # fmt: skip
    calm = {alice.tenant.pk: {(Metric.UNHEDGED_OZ, Scope(ScopeKind.POOL, pool.pk)): Decimal("0.5") for pool in pools}}
    with django_assert_max_num_queries(12):
        first = evaluate_limits(metrics=calm)  # every level stored for the first time
    with django_assert_max_num_queries(12):
        again = evaluate_limits(metrics=calm)
    assert len(first.states) == len(again.states) == 200 and not again.started
    assert RiskLimitState.objects.count() == 200
