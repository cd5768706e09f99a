"""Drawdown, daily PnL and loss streak of risk/metrics.py on the portfolio's stored equity series and closed hedges
(the `history` fixture of tests/desks.py: a deposit, a hedge opened 9 h before NOW and closed at NOW)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

import pytest

from risk.domain.limits import Metric, Scope, ScopeKind
from risk.metrics import desk_risk
from tests.helpers.books import NOW, OPENED
from trading.domain import performance
from trading.models import EquityPoint, Hedge
from trading.portfolio.equity import equity_write

pytestmark = pytest.mark.django_db


def test_drawdown_daily_pnl_and_streak_from_the_stored_series(alice: Any, history: Any) -> None:
    equity_write(tenant=alice.tenant, since=NOW.replace(hour=0) - timedelta(hours=2), until=NOW, resolution="1h")
    equity_write(tenant=alice.tenant, since=OPENED - timedelta(hours=1), until=NOW, resolution="1m")
    desk = desk_risk(alice.tenant.pk, now=NOW)
    rows = list(
        EquityPoint.objects.filter(tenant=alice.tenant, scope="desk", resolution="1h")
        .order_by("at")
        .values_list("at", "equity", "flows")
    )
    series = performance.EquitySeries.from_points([(at, e) for at, e, _ in rows], performance.Frequency.HOUR)
    flows = [performance.CashFlow(b[0], b[2] - a[2]) for a, b in pairwise(rows) if b[2] != a[2]]
    report = performance.performance(series, flows, frequency=performance.Frequency.HOUR)
    drawdown = desk.performance.drawdown
    assert drawdown is not None
    assert float(drawdown.current_pct) == pytest.approx(-report.current_drawdown * 100, abs=1e-4)
    assert float(drawdown.max_pct) == pytest.approx(-report.max_drawdown * 100, abs=1e-4)
    # Today's PnL: the latest minute point less the 00:00 point, less the flows between.
    start = EquityPoint.objects.get(tenant=alice.tenant, scope="desk", resolution="1h", at=NOW.replace(hour=0))
    end = EquityPoint.objects.filter(tenant=alice.tenant, scope="desk", resolution="1m").order_by("-at").first()
    assert end is not None
    assert desk.performance.daily_pnl_usd == end.equity - start.equity - (end.flows - start.flows)
    loss = desk.values[(Metric.DAILY_LOSS_USD, Scope(ScopeKind.DESK, alice.tenant.pk))]
    assert loss == max(-(desk.performance.daily_pnl_usd or Decimal(0)), Decimal(0))
    closed = list(Hedge.objects.filter(tenant=alice.tenant, status="closed"))
    expected_streak = 1 if closed and closed[-1].pnl_total < 0 else 0
    assert desk.performance.loss_streak == expected_streak
