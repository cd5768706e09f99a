"""The USDT/USD rate as risk limits ("the existing margin-level and USDT/USD alert rules become limits of
this kind"): risk/metrics.py measures the rate each pool's pair prices with — its age in seconds (a missing rate
counts as a day, so it breaches) and its distance from parity in basis points — per pool, strategy and desk; the data
migration turns each desk's `rate_stale` and `usd_per_usdt` rules into desk limits; the limits editor offers the two
metrics and /risk/ shows the rate."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from alerts.models import Alert, AlertRule
from risk.domain.limits import RATE_AGE_CAP_S, Metric, Scope, ScopeKind
from risk.metrics import desk_risk
from risk.models import RiskLimit
from tests.helpers.clients import api, client_for
from tests.risk import factories as f
from trading.choices import RateSource
from trading.models import RateTick, SourcePair

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)


def tick(source: str, age_s: str, rate: str) -> RateTick:
    return RateTick.objects.create(source=source, ts=NOW - timedelta(seconds=float(age_s)), usd_per_usdt=Decimal(rate))


def figures(tenant: Any, pool: Any, strategy_id: int | None = None) -> dict[str, Decimal | None]:
    values = desk_risk(tenant.pk, now=NOW).values
    scopes = {"pool": Scope(ScopeKind.POOL, pool.pk), "desk": Scope(ScopeKind.DESK, tenant.pk)}
    if strategy_id is not None:
        scopes["strategy"] = Scope(ScopeKind.STRATEGY, strategy_id)
    return {
        f"{name}:{metric}": values[(metric, scope)]
        for name, scope in scopes.items()
        for metric in (Metric.USDT_RATE_AGE_S, Metric.USDT_DEPEG_BPS)
    }


@pytest.fixture
def priced(alice: Any, alpha_pair: Any) -> Any:
    """A pool priced by the pair, whose rate comes from the Binance USDC/USDT book; a strategy on it."""
    from strategies.models import Strategy

    SourcePair.objects.filter(pk=alpha_pair.pk).update(rate_source=RateSource.BINANCE_USDC)
    pool = f.pool(alice.tenant, alice.user, "P1")
    pool.strategy_id = Strategy.objects.create(tenant=alice.tenant, name="S1", pool=pool).pk  # type: ignore[attr-defined]
    f.sample(alpha_pair, NOW - timedelta(seconds=1), perp="2500", cfd="2499", rate="0.9995")
    return pool


def test_a_fresh_rate_its_age_and_its_distance_from_parity(alice: Any, priced: Any) -> None:
    tick(RateSource.BINANCE_USDC, "40", "0.9990")  # an older one: the newest counts
    tick(RateSource.BINANCE_USDC, "2.5", "0.9996")
    tick(RateSource.SIMULATED, "0", "0.9")  # another source prices nothing here
    values = figures(alice.tenant, priced, priced.strategy_id)
    for scope in ("pool", "strategy", "desk"):
        assert values[f"{scope}:{Metric.USDT_RATE_AGE_S}"] == Decimal("2.5")
        assert values[f"{scope}:{Metric.USDT_DEPEG_BPS}"] == Decimal(4)  # |0.9996 − 1| × 10,000
    accounts = desk_risk(alice.tenant.pk, now=NOW).values
    for account_id in (priced.perp_account_id, priced.cfd_account_id):  # each account: its pool's rate
        assert accounts[(Metric.USDT_RATE_AGE_S, Scope(ScopeKind.ACCOUNT, account_id))] == Decimal("2.5")
    pool = desk_risk(alice.tenant.pk, now=NOW).pool(priced.pk)
    assert pool is not None and pool.rate is not None
    assert (pool.rate.source, pool.rate.usd_per_usdt) == (RateSource.BINANCE_USDC, Decimal("0.9996"))
    assert not pool.rate.missing and not pool.rate.fixed


def test_a_stale_rate_counts_its_age_and_one_older_than_a_day_counts_a_day(alice: Any, priced: Any) -> None:
    tick(RateSource.BINANCE_USDC, "95", "1.0001")
    values = figures(alice.tenant, priced)
    assert values[f"pool:{Metric.USDT_RATE_AGE_S}"] == Decimal(95)
    assert values[f"pool:{Metric.USDT_DEPEG_BPS}"] == Decimal(1)
    RateTick.objects.all().delete()
    tick(RateSource.BINANCE_USDC, str(2 * 86_400), "1")  # beyond the horizon: as good as none
    assert figures(alice.tenant, priced)[f"pool:{Metric.USDT_RATE_AGE_S}"] == RATE_AGE_CAP_S


def test_a_missing_rate_counts_a_day_so_it_breaches_every_age_limit(alice: Any, priced: Any) -> None:
    values = figures(alice.tenant, priced, priced.strategy_id)
    assert values[f"pool:{Metric.USDT_RATE_AGE_S}"] == RATE_AGE_CAP_S == Decimal(86_400)
    assert values[f"strategy:{Metric.USDT_RATE_AGE_S}"] == values[f"desk:{Metric.USDT_RATE_AGE_S}"] == RATE_AGE_CAP_S
    assert values[f"pool:{Metric.USDT_DEPEG_BPS}"] is None  # no rate: nothing to measure parity on
    pool = desk_risk(alice.tenant.pk, now=NOW).pool(priced.pk)
    assert pool is not None and pool.rate is not None and pool.rate.missing
    # The largest age a limit may take is the cap: a missing rate reaches it.
    from risk.models import LEVEL_RANGES

    assert LEVEL_RANGES["usdt_rate_age_s"][1] == RATE_AGE_CAP_S


def test_a_depegged_rate_and_the_desk_takes_its_worst_pool(alice: Any, priced: Any, alpha_pair: Any) -> None:
    tick(RateSource.BINANCE_USDC, "1", "0.9750")  # USDT at 97.5 cents: 250 bps
    values = figures(alice.tenant, priced)
    assert values[f"pool:{Metric.USDT_DEPEG_BPS}"] == Decimal(250)
    # A second pool priced by a pair of the desk's own at a fixed rate: never stale, its own distance.
    own = SourcePair.objects.create(
        tenant=alice.tenant,
        name="Own pair",
        perp_source_id=alpha_pair.perp_source_id,
        cfd_source_id=alpha_pair.cfd_source_id,
        rate_source=RateSource.FIXED,
        fixed_usd_per_usdt=Decimal("1.0010"),
    )
    values = figures(alice.tenant, priced)
    pool = desk_risk(alice.tenant.pk, now=NOW).pool(priced.pk)
    assert pool is not None and pool.rate is not None
    assert pool.rate.fixed and pool.rate.age_metric is None and pool.rate.depeg_bps == Decimal(10)
    assert values[f"pool:{Metric.USDT_RATE_AGE_S}"] is None  # a fixed rate is an assumption, never stale
    own.delete()
    other = f.pool(alice.tenant, alice.user, "P2")
    SourcePair.objects.filter(pk=alpha_pair.pk).update(enabled=False)  # no pair prices either pool now
    values = desk_risk(alice.tenant.pk, now=NOW).values
    assert values[(Metric.USDT_DEPEG_BPS, Scope(ScopeKind.POOL, other.pk))] is None
    assert values[(Metric.USDT_RATE_AGE_S, Scope(ScopeKind.DESK, alice.tenant.pk))] is None


def test_the_metric_values_read_the_rate_in_one_query_whatever_the_pools(
    alice: Any, priced: Any, django_assert_max_num_queries: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from risk.metrics import metric_values

    tick(RateSource.BINANCE_USDC, "3", "0.9999")
    with CaptureQueriesContext(connection) as one:
        metric_values([alice.tenant.pk], now=NOW)
    for number in range(2, 12):
        f.pool(alice.tenant, alice.user, f"P{number}")
    with CaptureQueriesContext(connection) as eleven:
        values = metric_values([alice.tenant.pk], now=NOW)[alice.tenant.pk]
    assert len(eleven.captured_queries) == len(one.captured_queries)
    assert sum("trading_ratetick" in query["sql"] for query in eleven.captured_queries) == 1
    ages = [value for (metric, scope), value in values.items()
            if metric is Metric.USDT_RATE_AGE_S and scope.kind is ScopeKind.POOL]  # fmt: skip
    assert ages == [Decimal(3)] * 11


# --- the alert rules became limits -----------------------------------------------------------------------------
def test_the_usdt_rules_of_each_desk_become_desk_limits(alice: Any, charlie: Any) -> None:
    """risk/migrations/0006: `rate_stale` → a limit on the rate's age, the rule's age its breach level, blocking new
    entries; `usd_per_usdt` → a limit on the distance from parity, the rule's deviation × 10,000 its warning level
    (an alert, as the rule raised); enabled as the rules were; unreadable settings take the rules' defaults; the
    rules and their open alerts go."""
    from django.apps import apps

    migration = importlib.import_module("risk.migrations.0006_usdt_rate_limits")
    stale = AlertRule.objects.create(tenant=alice.tenant, rule_type="rate_stale", params={"max_age_s": "45"})
    AlertRule.objects.create(tenant=alice.tenant, rule_type="usd_per_usdt", params={"max_deviation": "0.0125"})
    AlertRule.objects.create(tenant=charlie.tenant, rule_type="rate_stale", params={"max_age_s": "x"}, enabled=False)
    AlertRule.objects.create(tenant=charlie.tenant, rule_type="usd_per_usdt", params={"max_deviation": "7"})
    kept = AlertRule.objects.create(tenant=alice.tenant, rule_type="feed_stale", params={"max_age_s": "30"})
    old = Alert.objects.create(tenant=alice.tenant, category="system", severity="warning", rule=stale,
                               title="USDT/USD rate from Binance is stale", dedup_key="rule:rate_stale:rate_stale:x",
                               first_seen=NOW, last_seen=NOW)  # fmt: skip

    migration.usdt_rules_to_limits(apps, None)

    def limits(tenant: Any) -> list[tuple[Any, ...]]:
        return list(
            RiskLimit.objects.filter(tenant=tenant)
            .order_by("metric")
            .values_list("scope_kind", "metric", "warning_level", "breach_level", "action", "enabled")
        )

    assert limits(alice.tenant) == [
        ("desk", "usdt_depeg_bps", Decimal(125), None, "alert", True),
        ("desk", "usdt_rate_age_s", None, Decimal(45), "block_entries", True),
    ]
    assert limits(charlie.tenant) == [  # out of range and unreadable: the rules' defaults (0.005, 30 s)
        ("desk", "usdt_depeg_bps", Decimal(50), None, "alert", True),
        ("desk", "usdt_rate_age_s", None, Decimal(30), "block_entries", False),
    ]
    for row in RiskLimit.objects.all():
        row.full_clean()  # valid limits, as the editor would save them
        assert row.effective_direction() == "max"
    assert set(AlertRule.objects.values_list("pk", flat=True)) == {kept.pk}
    old.refresh_from_db()
    assert old.status == "resolved"


def test_the_rules_are_no_longer_created_for_a_desk(alice: Any) -> None:
    from alerts.rules import rules_ensure_defaults

    types = {rule.rule_type for rule in rules_ensure_defaults(tenant=alice.tenant)}
    assert "rate_stale" not in types and "usd_per_usdt" not in types and "feed_stale" in types


# --- the pages ---------------------------------------------------------------------------------------------------
def test_the_limits_editor_offers_the_rate_metrics_and_validates_their_levels(alice: Any, priced: Any) -> None:
    client = client_for(alice)
    page = client.get(reverse("risk_limit_create")).content.decode()
    assert 'value="usdt_rate_age_s"' in page and 'value="usdt_depeg_bps"' in page
    refused = client.post(
        reverse("risk_limit_create"),
        {"scope_kind": "desk", "metric": "usdt_rate_age_s", "breach_level": "90000", "action": "block_entries",
         "enabled": "on"},
    )  # fmt: skip
    assert refused.status_code == 400
    assert "Enter a level between 1 and 86400" in refused.content.decode()
    saved = client.post(
        reverse("risk_limit_create"),
        {"scope_kind": "desk", "metric": "usdt_rate_age_s", "breach_level": "30", "action": "block_entries",
         "enabled": "on"},
    )  # fmt: skip
    assert saved.status_code == 302
    assert RiskLimit.objects.get(tenant=alice.tenant).metric == "usdt_rate_age_s"


def test_the_risk_page_shows_the_rate_its_distance_and_its_age(alice: Any, priced: Any, frozen_clock: Any) -> None:
    RateTick.objects.create(
        source=RateSource.BINANCE_USDC, ts=frozen_clock.now() - timedelta(seconds=12), usd_per_usdt=Decimal("0.9985")
    )
    page = client_for(alice).get(reverse("risk")).content.decode()
    assert "0.9985" in page and "15.0 bps" in page and "12 s old" in page
    assert "Rate 0.9985 (15.0 bps from 1) · 12 s old" in page
    RateTick.objects.all().delete()
    page = client_for(alice).get(reverse("risk")).content.decode()
    assert "No USDT/USD rate from Binance USDC/USDT book (1 USDC taken as 1 USD)" in page and "no rate" in page


def test_a_depeg_limit_alerts_naming_the_rate_and_its_source(alice: Any, priced: Any, frozen_clock: Any) -> None:
    from risk.limits import evaluate_limits, limit_save

    limit_save(
        row=RiskLimit(tenant=alice.tenant, name="USDT depeg", scope_kind="desk", metric="usdt_depeg_bps",
                      warning_level=Decimal(50), action="alert"),
        actor=None,
    )  # fmt: skip
    RateTick.objects.create(source=RateSource.BINANCE_USDC, ts=frozen_clock.now(), usd_per_usdt=Decimal("0.9960"))
    evaluate_limits()
    assert not Alert.objects.exclude(status="resolved").exists()  # 40 bps: below the level
    RateTick.objects.create(source=RateSource.BINANCE_USDC, ts=frozen_clock.now(), usd_per_usdt=Decimal("0.9750"))
    evaluate_limits()
    [alert] = Alert.objects.exclude(status="resolved")
    assert alert.severity == "warning" and alert.rule.rule_type == "risk_limit_warning"
    assert alert.title.startswith("USDT is worth 0.975 USD (Binance USDC/USDT book (1 USDC taken as 1 USD)).")
    assert "Limit warning: USDT depeg at 250" in alert.title
    assert alert.detail["rate_sources"] == [
        {"rate_source": RateSource.BINANCE_USDC, "age_s": "0", "usd_per_usdt": "0.975000", "missing": False}
    ]


def test_the_pool_api_gives_the_rate_and_the_summary_its_metrics(alice: Any, priced: Any, frozen_clock: Any) -> None:
    RateTick.objects.create(
        source=RateSource.BINANCE_USDC, ts=frozen_clock.now() - timedelta(seconds=7), usd_per_usdt=Decimal("1.0002")
    )
    answer = api(alice).get(reverse("api-risk-pool", args=[priced.pk]))
    assert answer.status_code == 200, answer.content
    assert answer.json()["rate"] == {
        "rate_source": "binance-usdcusdt",
        "fixed": False,
        "missing": False,
        "usd_per_usdt": "1.00020000",
        "at": (frozen_clock.now() - timedelta(seconds=7)).isoformat().replace("+00:00", "Z"),
        "age_s": "7.00000000",
        "depeg_bps": "2.00000000",
    }
    rows = api(alice).get(reverse("api-risk-summary")).json()["metrics"]
    mine = {row["metric"]: row["value"] for row in rows if row["scope"] == f"pool:{priced.pk}"}
    assert Decimal(mine["usdt_rate_age_s"]) == 7 and Decimal(mine["usdt_depeg_bps"]) == 2
