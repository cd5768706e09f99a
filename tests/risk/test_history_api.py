"""The risk history on simulated time (a row per figure and scope a minute, rolled up to hourly after the
retention) and the risk API: summary, one pool, history with validated parameters, foreign ids 404, the matrix's
roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings
from django.urls import reverse

from quantarb.schedule import SCHEDULE
from risk.domain.limits import Metric
from risk.history import risk_record
from risk.models import RiskSnapshot
from tests.helpers.clients import api
from tests.risk import factories as f

pytestmark = pytest.mark.django_db
START = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)


@pytest.fixture
def desk(alice: Any, alpha_pair: Any) -> Any:
    pool = f.pool(alice.tenant, alice.user, "P1")
    f.sample(alpha_pair, START - timedelta(minutes=1), perp="2500", cfd="2499")
    f.snapshot(
        pool.perp_account,
        START - timedelta(minutes=1),
        currency="USDT",
        balance="5000",
        equity="5000",
        quantity="-40",
        entry="2500",
    )
    return pool


def test_the_job_is_scheduled_every_minute() -> None:
    job = next(job for job in SCHEDULE if job.task == "risk.tasks.record_risk")
    assert job.every_s == 60.0


@override_settings(QUANTARB_RISK_HISTORY_MINUTE_DAYS=1)
def test_a_row_a_minute_rolled_up_to_hourly_after_the_retention(alice: Any, desk: Any, frozen_clock: Any) -> None:
    frozen_clock.set(START)
    for _ in range(90):  # 10:00 … 11:29, a minute apart
        risk_record(frozen_clock.now())
        frozen_clock.advance(60)
    minutes = RiskSnapshot.objects.filter(resolution="1m", metric=Metric.UNHEDGED_OZ, scope="pool", scope_id=desk.pk)
    assert minutes.count() == 90
    assert minutes.first().value == Decimal(40)
    # Writing the same minute again replaces it.
    risk_record(START + timedelta(seconds=30))
    assert minutes.count() == 90
    # A day and an hour later the 10:00 hour is past the retention: one hourly row (last, lowest, highest).
    later = START + timedelta(days=1, hours=1, minutes=30)
    frozen_clock.set(later)
    risk_record(later)
    hourly = RiskSnapshot.objects.filter(resolution="1h", metric=Metric.UNHEDGED_OZ, scope="pool", scope_id=desk.pk)
    assert list(hourly.values_list("at", "value", "low", "high")) == [(START, Decimal(40), Decimal(40), Decimal(40))]
    assert minutes.filter(at__lt=START + timedelta(hours=1)).count() == 0
    assert minutes.filter(at__gte=START + timedelta(hours=1), at__lt=START + timedelta(hours=2)).count() == 30
    # And the desk scope is recorded too, under the tenant's id.
    assert RiskSnapshot.objects.filter(scope="desk", scope_id=alice.tenant.pk, resolution="1m").exists()


def get(persona: Any, name: str, *args: Any, **params: Any) -> Any:
    return api(persona).get(reverse(name, args=args), params)


def test_summary_and_pool(alice: Any, bob: Any, desk: Any, frozen_clock: Any) -> None:
    frozen_clock.set(START)
    answer = get(bob, "api-risk-summary")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    pool = body["pools"][0]
    assert pool["pool_id"] == desk.pk
    assert Decimal(pool["perp"]["liquidation_price"]).quantize(Decimal("0.01")) == Decimal("2597.56")
    assert Decimal(pool["exposure"]["net_oz"]) == Decimal(-40)
    row = next(r for r in body["metrics"] if r["metric"] == "unhedged_oz" and r["scope"] == f"pool:{desk.pk}")
    assert Decimal(row["value"]) == Decimal(40)
    one = get(bob, "api-risk-pool", desk.pk)
    assert one.status_code == 200 and one.json()["name"] == "P1"


def test_history_answers_the_recorded_points(alice: Any, desk: Any, frozen_clock: Any) -> None:
    frozen_clock.set(START)
    for _ in range(3):
        risk_record(frozen_clock.now())
        frozen_clock.advance(60)
    answer = get(alice, "api-risk-history", metric="unhedged_oz", scope=f"pool:{desk.pk}", since="2026-11-18")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert [Decimal(p["value"]) for p in body["points"]] == [Decimal(40)] * 3
    assert body["resolution"] == "1m" and body["scope"] == f"pool:{desk.pk}"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"metric": "nonsense"}, "metric"),
        ({"scope": "galaxy:1"}, "scope"),
        ({"scope": "pool:abc"}, "scope"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-45"}, "until"),
        ({"since": "2026-11-18T12:00:00Z", "until": "2026-11-18T11:00:00Z"}, "since"),
        ({"since": "2024-01-01", "until": "2026-11-18"}, "since"),
        ({"scope": "pool:99999999999999999999999"}, "scope"),
        ({"until": "9999-12-31"}, "until"),  # its end is past the last representable day
        ({"until": "99999-01-01"}, "until"),
        ({"since": "0001-01-01"}, "since"),
    ],
)
def test_bad_history_parameters_are_400_naming_each(
    alice: Any, frozen_clock: Any, params: dict[str, str], field: str
) -> None:
    answer = get(alice, "api-risk-history", **params)
    assert answer.status_code == 400, answer.content
    assert field in answer.json()


def test_foreign_ids_are_404(alice: Any, charlie: Any, desk: Any, frozen_clock: Any) -> None:
    other = f.pool(charlie.tenant, charlie.user, "Bravo pool")
    assert get(alice, "api-risk-pool", other.pk).status_code == 404
    for scope in (f"pool:{other.pk}", f"account:{other.perp_account_id}", f"desk:{charlie.tenant.pk}"):
        answer = get(alice, "api-risk-history", scope=scope)
        assert answer.status_code in (400, 404), (scope, answer.content)
    assert get(alice, "api-risk-history", scope=f"pool:{other.pk}").status_code == 404
    assert get(charlie, "api-risk-pool", desk.pk).status_code == 404
    assert get(alice, "api-risk-pool", 99999999999999999999).status_code == 404


def test_the_risk_page_shows_the_desk_and_keeps_the_kill_switches(
    alice: Any, bob: Any, desk: Any, frozen_clock: Any
) -> None:
    from django.test import Client

    frozen_clock.set(START)
    client = Client()
    client.force_login(bob.user)
    page = client.get(reverse("risk"))
    assert page.status_code == 200
    html = page.content.decode()
    for testid in ("desk-cards", "risk-pools", "risk-accounts", "risk-history-chart", "risk-tabs", "no-active-switch"):
        assert f'data-testid="{testid}"' in html
    assert "2597.56" in html  # the pool's liquidation price
    assert 'id="risk-history-config"' in html


def test_the_risk_page_of_a_desk_without_pools_says_so(charlie: Any) -> None:
    from django.test import Client

    client = Client()
    client.force_login(charlie.user)
    html = client.get(reverse("risk")).content.decode()
    assert 'data-testid="no-pools"' in html and 'data-testid="risk-accounts"' not in html
