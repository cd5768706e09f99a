"""`/api/v1/analytics/{metrics,equity,attribution}/`: the figures of the scope's stored
equity series and closed hedges, as the domain computes them; validated parameters (400 naming each), a foreign id
404, the matrix's roles."""

from __future__ import annotations

import itertools
import math
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from accounts.models import AccountPool, VenueAccount
from tests.helpers.books import NOW, OPENED
from tests.helpers.clients import api
from tests.trading.domain.pnl_cases import A_SELL_PERP_CLOSED
from trading.domain import performance
from trading.models import EquityPoint
from trading.portfolio.equity import equity_write

pytestmark = pytest.mark.django_db


@pytest.fixture
def written(alice: Any, history: dict[str, Any]) -> dict[str, Any]:
    equity_write(tenant=alice.tenant, since=OPENED - timedelta(hours=1), until=NOW, resolution="1h")
    equity_write(tenant=alice.tenant, since=OPENED - timedelta(hours=1), until=NOW, resolution="1m")
    return history


def get(persona: Any, name: str, **params: Any) -> Any:
    return api(persona).get(reverse(name), params)


def test_metrics_are_the_domains_figures_of_the_stored_series(alice: Any, written: dict[str, Any]) -> None:
    pool = written["pool"]
    since = (OPENED - timedelta(hours=1)).isoformat()
    answer = get(alice, "api-analytics-metrics", scope="pool", id=pool.pk, since=since, frequency="1h")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    for key in ("twr", "mwr", "sharpe", "sortino", "calmar", "max_drawdown", "win_rate", "profit_factor",
                "expectancy", "annualisation_days"):  # fmt: skip
        assert key in body
    assert body["basis"] == {
        "scope": "pool", "id": pool.pk, "label": pool.name, "since": body["basis"]["since"],
        "until": body["basis"]["until"], "clock": "1m", "points": 10 * 60 + 1, "return_frequency": "1h",
        "annualisation_days": 365, "periods_per_year": 365 * 24,
    }  # fmt: skip
    rows = EquityPoint.objects.filter(scope="pool", scope_id=pool.pk, resolution="1m").order_by("at")
    series = performance.EquitySeries.from_points(rows.values_list("at", "equity"), performance.Frequency.MINUTE)
    flows = [performance.CashFlow(b.at, b.flows - a.flows) for a, b in itertools.pairwise(rows) if b.flows != a.flows]
    expected = performance.performance(series, flows, frequency=performance.Frequency.HOUR)
    assert body["twr"] == expected.twr and body["sharpe"] == expected.sharpe
    assert body["max_drawdown"] == expected.max_drawdown and body["pnl"] == str(expected.pnl)
    assert body["mwr"] is None or math.isfinite(body["mwr"])
    # A (closed now) is the window's one closed hedge: its booked total is the expectancy.
    assert body["hedges"] == 1 and body["win_rate"] == 1.0
    assert Decimal(body["expectancy"]) == A_SELL_PERP_CLOSED.expected.quantized().total
    assert body["profit_factor"] is None  # no loss


def test_the_equity_series_and_attribution_match_the_stored_points(alice: Any, written: dict[str, Any]) -> None:
    pool = written["pool"]
    params = {"scope": "pool", "id": pool.pk, "since": (OPENED - timedelta(days=1)).isoformat()}
    body = get(alice, "api-analytics-equity", **params).json()
    assert body["basis"]["clock"] == "1m"  # the whole window is within the 7 days minute points are kept
    stored = list(
        EquityPoint.objects.filter(scope="pool", scope_id=pool.pk, resolution=body["basis"]["clock"])
        .order_by("at")
        .values_list("equity", flat=True)
    )
    assert [Decimal(point["equity"]) for point in body["points"]] == stored
    assert all(point["underwater"] <= 0 for point in body["points"])
    assert body["daily"] and {"day", "ret", "pnl"} <= set(body["daily"][0])

    attribution = get(alice, "api-analytics-attribution", **params).json()
    lines = {row["line"]: Decimal(row["usd"]) for row in attribution["lines"]}
    assert list(lines) == ["spread", "slippage", "fees", "funding", "swap", "fx"]
    assert sum(lines.values()) == Decimal(attribution["total"]) == A_SELL_PERP_CLOSED.expected.quantized().total
    assert attribution["holding_time"]["buckets"][0]["count"] == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"scope": "galaxy"}, "scope"),
        ({"scope": "pool"}, "id"),
        ({"scope": "pool", "id": "x1"}, "id"),
        ({"since": "last week"}, "since"),
        ({"until": "2026-13-40"}, "until"),
        ({"since": "2026-11-18T13:00:00Z", "until": "2026-11-18T12:00:00Z"}, "since"),
        ({"frequency": "1m"}, "frequency"),
        ({"annualisation_days": "0"}, "annualisation_days"),
        ({"annualisation_days": "x"}, "annualisation_days"),
    ],
)
def test_bad_parameters_are_400_naming_each(alice: Any, frozen_clock: Any, params: dict[str, str], field: str) -> None:
    for name in ("api-analytics-metrics", "api-analytics-equity", "api-analytics-attribution"):
        answer = get(alice, name, **params)
        assert answer.status_code == 400, (name, answer.content)
        assert field in answer.json() and answer.json()[field][0]


def test_another_desks_scope_is_a_404_and_the_roles_follow_the_matrix(
    alice: Any, bob: Any, cora: Any, charlie: Any, frozen_clock: Any
) -> None:
    account = VenueAccount.objects.create(tenant=charlie.tenant, owner=charlie.user, venue="simulated-perp", label="B")
    other = VenueAccount.objects.create(tenant=charlie.tenant, owner=charlie.user, venue="simulated-cfd", label="C")
    pool = AccountPool.objects.create(
        tenant=charlie.tenant, name="B", perp_account=account, cfd_account=other, perp_allocation=1, cfd_allocation=1
    )
    for scope, pk in (("pool", pool.pk), ("account", account.pk), ("strategy", 999_999)):
        assert get(alice, "api-analytics-metrics", scope=scope, id=pk).status_code == 404
    empty = get(bob, "api-analytics-metrics")
    assert empty.status_code == 200
    assert empty.json()["unavailable"] and empty.json()["twr"] is None and empty.json()["hedges"] == 0
    assert get(cora, "api-analytics-equity").status_code == 403


def test_figures_that_overflow_a_double_are_unavailable_not_an_error(alice: Any, frozen_clock: Any) -> None:
    # +20 % in two minutes: its annualised growth is beyond a double.
    for minute, equity in enumerate(("100", "110", "120")):
        EquityPoint.objects.create(
            tenant=alice.tenant, scope="desk", scope_id=0, resolution="1m", at=NOW - timedelta(minutes=3 - minute),
            equity=Decimal(equity), flows=Decimal(100),
        )  # fmt: skip
    answer = get(alice, "api-analytics-metrics", since=(NOW - timedelta(minutes=4)).isoformat())
    assert answer.status_code == 200
    assert "overflow" in answer.json()["unavailable"] and answer.json()["twr"] is None
    series = get(alice, "api-analytics-equity", since=(NOW - timedelta(minutes=4)).isoformat()).json()
    assert [point["equity"] for point in series["points"]] == ["100.00000000", "110.00000000", "120.00000000"]
