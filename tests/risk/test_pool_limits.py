"""The risk centre's pool table against the limits (risk/pool_limits.py, templates/risk/_centre.html): each figure a
limit covers shows its level as a colour and a word, the limit named in the title; the pool's own limit replaces the
desk's on a metric, a strategy's applies to its pool; a recorded level is shown as recorded, a limit not evaluated
yet is read against the figure by the domain's `evaluate`; another desk's limits never show; the pool's summary is
its worst level and sorts; a bounded number of queries whatever the number of pools."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from quantarb import clock
from risk.domain.limits import LimitLevel
from risk.metrics import desk_risk
from risk.models import RiskLimit, RiskLimitState
from risk.pool_limits import pool_limits
from tests.helpers.clients import tenant_client
from tests.risk import factories as f

pytestmark = pytest.mark.django_db


def limit(
    tenant: Any,
    metric: str,
    *,
    warning: str | None,
    breach: str | None,
    name: str = "",
    enabled: bool = True,
    **scope: Any,
) -> RiskLimit:
    """A limit of `tenant` on `metric`, of the desk, or of the pool=, strategy= or account= given."""
    return RiskLimit.objects.create(
        tenant=tenant,
        name=name,
        scope_kind=next(iter(scope), "desk"),
        metric=metric,
        warning_level=None if warning is None else Decimal(warning),
        breach_level=None if breach is None else Decimal(breach),
        enabled=enabled,
        **scope,
    )


@pytest.fixture
def desk(alice: Any, charlie: Any, alpha_pair: Any, frozen_clock: Any) -> dict[str, Any]:
    """Alpha: P1 short 40 oz on the perp (40 oz unhedged), P2 flat; a strategy on P1. Bravo: a pool and limits."""
    from strategies.models import Strategy

    now = clock.now()
    p1 = f.pool(alice.tenant, alice.user, "P1")
    p2 = f.pool(alice.tenant, alice.user, "P2")
    f.sample(alpha_pair, now - timedelta(seconds=5), perp="2500", cfd="2499")
    f.snapshot(p1.perp_account, now, currency="USDT", balance="5000", equity="5000", quantity="-40", entry="2500")
    strategy = Strategy.objects.create(tenant=alice.tenant, name="S1", pool=p1)
    bravo_pool = f.pool(charlie.tenant, charlie.user, "Bravo pool")
    return {"p1": p1, "p2": p2, "strategy": strategy, "bravo_pool": bravo_pool}


def test_each_figure_takes_the_limits_that_apply_to_its_pool(alice: Any, charlie: Any, desk: dict[str, Any]) -> None:
    p1, p2 = desk["p1"], desk["p2"]
    own = limit(alice.tenant, "unhedged_oz", warning="10", breach="50", pool=p1)  # 40 oz: warning
    desks = limit(alice.tenant, "unhedged_oz", warning="1", breach="5")  # P1 has its own; P2 (0 oz): ok
    streak = limit(alice.tenant, "loss_streak", warning="2", breach="3", strategy=desk["strategy"])
    RiskLimitState.objects.create(  # recorded at a breach: shown as recorded (the streak on the page is 0)
        limit=streak, tenant=alice.tenant, level="breach", value=Decimal(4), evaluated_at=clock.now()
    )
    limit(charlie.tenant, "unhedged_oz", warning="1", breach="2")  # bravo's desk: never alpha's
    limit(charlie.tenant, "unhedged_oz", warning="1", breach="2", pool=desk["bravo_pool"])
    limit(alice.tenant, "liquidation_distance_pct", warning="30", breach="20", pool=p2, enabled=False)  # holds nothing

    marks = pool_limits(desk_risk(alice.tenant.pk))

    first, second = marks[p1.pk], marks[p2.pk]
    assert first.net is not None and [m.limit_id for m in first.net.marks] == [own.pk]
    assert first.net.level is LimitLevel.WARNING and first.net.badge == "bg-yellow-lt" and first.net.word == "Warning"
    assert not first.net.marks[0].recorded and first.net.marks[0].value == Decimal(40)
    assert first.drawdown is not None and first.drawdown.level is LimitLevel.BREACH and first.drawdown.marks[0].recorded
    assert first.drawdown.badge == "bg-red-lt" and first.drawdown.word == "Breach"
    assert first.liquidation is None and first.mt5 is None and first.usdt is None
    assert first.summary is not None and first.summary.level is LimitLevel.BREACH and first.summary.rank == 3
    assert second.net is not None and [m.limit_id for m in second.net.marks] == [desks.pk]
    assert second.net.level is LimitLevel.OK and second.net.badge == "bg-green-lt" and second.net.word == "OK"
    assert "the desk's limit, against this pool's figure" in second.net.title
    assert second.drawdown is None and second.liquidation is None  # the strategy runs on P1; the P2 limit is off
    assert second.summary is not None and second.summary.rank == 1
    assert "warning at 10, breach at 50; value 40" in first.net.title


def test_the_page_colours_each_cell_with_a_word_and_names_the_limit(
    alice: Any, charlie: Any, desk: dict[str, Any]
) -> None:
    p1, p2 = desk["p1"], desk["p2"]
    limit(alice.tenant, "unhedged_oz", warning="10", breach="50", pool=p1, name="Gold unhedged")
    limit(alice.tenant, "gross_notional_usd", warning="1000000", breach="2000000")
    limit(charlie.tenant, "unhedged_oz", warning="1", breach="2", name="Bravo secret limit")

    for url in (reverse("risk"), reverse("risk_figures")):
        page = tenant_client(alice).get(url)
        assert page.status_code == 200
        html = page.content.decode()
        row1 = re.search(rf'<tr data-pool="{p1.pk}".*?</tr>', html, re.S)
        row2 = re.search(rf'<tr data-pool="{p2.pk}".*?</tr>', html, re.S)
        assert row1 is not None and row2 is not None
        one, two = row1.group(0), row2.group(0)
        assert 'data-limit-level="warning"' in one.split("<td", 3)[3]  # the net figure's cell (after pool, state)
        assert '<span class="badge bg-yellow-lt qa-limit" data-level="warning"' in one and ">Warning</span>" in one
        assert "Gold unhedged (at most) — warning at 10, breach at 50; value 40" in one
        assert '<td data-sort="2" data-testid="pool-state"><span class="badge bg-yellow-lt"' in one  # worst: warning
        assert '<span class="badge bg-green-lt qa-limit" data-level="ok"' in two and ">OK</span>" in two
        assert '<td data-sort="1" data-testid="pool-state">' in two
        assert "Bravo secret limit" not in html and "Bravo pool" not in html
    RiskLimit.objects.filter(tenant=alice.tenant).delete()
    html = tenant_client(alice).get(reverse("risk_figures")).content.decode()
    assert "qa-limit" not in html and '<td data-sort="0" data-testid="pool-state">' in html
    assert "No limit covers this pool." in html


def test_the_words_are_translated(alice: Any, desk: dict[str, Any]) -> None:
    limit(alice.tenant, "unhedged_oz", warning="10", breach="50", pool=desk["p1"])
    alice.user.language = "zh-hans"
    alice.user.save(update_fields=["language"])
    html = tenant_client(alice).get(reverse("risk_figures")).content.decode()
    assert ">Warning</span>" not in html and ">警告</span>" in html
    assert "（上限）— 预警 10，突破 50；当前值 40" in html  # the limit in the title, in Chinese
    assert ">状态</th>" in html  # the state column's header


def test_the_figures_fragment_is_for_readers_of_trading_data(cora: Any, desk: dict[str, Any]) -> None:
    assert tenant_client(cora).get(reverse("risk_figures")).status_code == 403


def test_many_pools_in_a_bounded_number_of_queries(
    alice: Any, alpha_pair: Any, frozen_clock: Any, django_assert_max_num_queries: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import AccountPool, VenueAccount
    from strategies.models import Strategy

    accounts = VenueAccount.objects.bulk_create(
        VenueAccount(tenant=alice.tenant, owner=alice.user, venue=venue, label=f"{venue} {n}", mode="paper")
        for n in range(120)
        for venue in ("simulated-perp", "simulated-cfd")
    )
    pools = AccountPool.objects.bulk_create(
        AccountPool(tenant=alice.tenant, name=f"Pool {n}", perp_account=accounts[2 * n],
                    cfd_account=accounts[2 * n + 1], perp_allocation=Decimal(1000), cfd_allocation=Decimal(1000))
        for n in range(120)
    )  # fmt: skip
    strategies = Strategy.objects.bulk_create(
        Strategy(tenant=alice.tenant, name=f"S{n}", pool=pool) for n, pool in enumerate(pools)
    )
    f.sample(alpha_pair, clock.now(), perp="2500", cfd="2500")
    RiskLimit.objects.bulk_create(
        [RiskLimit(tenant=alice.tenant, scope_kind="pool", pool=pool, metric="unhedged_oz",
                   warning_level=Decimal(1), breach_level=Decimal(2)) for pool in pools]
        + [RiskLimit(tenant=alice.tenant, scope_kind="strategy", strategy=s, metric="loss_streak",
                     warning_level=Decimal(2), breach_level=Decimal(3)) for s in strategies]
        + [RiskLimit(tenant=alice.tenant, scope_kind="account", account=a, metric="mt5_margin_level_pct",
                     warning_level=Decimal(200), breach_level=Decimal(100)) for a in accounts[1::2]]
        + [RiskLimit(tenant=alice.tenant, scope_kind="desk", metric="drawdown_pct", warning_level=Decimal(5),
                     breach_level=Decimal(10))]
    )  # fmt: skip
    RiskLimitState.objects.bulk_create(
        RiskLimitState(limit=row, tenant=alice.tenant, level="warning", value=Decimal(1), evaluated_at=clock.now())
        for row in RiskLimit.objects.filter(scope_kind="pool")[:60]
    )
    client = tenant_client(alice)
    client.get(reverse("risk_figures"))  # sessions, permissions: warmed
    with django_assert_max_num_queries(45), CaptureQueriesContext(connection) as queries:
        html = client.get(reverse("risk_figures")).content.decode()
    assert html.count('data-testid="pool-state"><span class="badge') == 120
    AccountPool.objects.filter(pk__in=[pool.pk for pool in pools[60:]]).update(enabled=False)
    with CaptureQueriesContext(connection) as fewer:
        client.get(reverse("risk_figures"))
    assert len(fewer.captured_queries) == len(queries.captured_queries)  # not one more per pool
