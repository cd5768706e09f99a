"""Every paginated table of the portal sorts on the server by each of its columns, both ways (`?sort=col`,
`?sort=-col`), keeping its filters; a sort it does not know is ignored (the default order), never a 500; the
pager, the HTMX refresh and the CSV export carry the sort along."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from tests.helpers.clients import tenant_client
from tests.helpers.desk import make_hedge

pytestmark = pytest.mark.django_db

BAD_SORTS = ["nope", "-", "--size", "-nope", "size;drop table", "x" * 500, "pk", "__class__", "-id,-pk", ""]


def tables() -> list[tuple[str, dict[str, Any]]]:
    """(URL name, its sort columns) for every server-sorted table."""
    from accounts.venue_views import ACCOUNT_SORTS, POOL_SORTS
    from accounts.views import MEMBER_SORTS
    from alerts.views import ALERT_SORTS, DELIVERY_SORTS
    from mt5ops.views import TERMINAL_SORTS
    from risk.views import HISTORY_SORTS, REPORT_SORTS
    from strategies.views import STRATEGY_SORTS
    from trading.desk.views import TABLES
    from trading.marketdata.views import OPPORTUNITY_SORTS

    return [
        *[(kind, spec["sorts"]) for kind, spec in TABLES.items()],
        ("strategies", STRATEGY_SORTS),
        ("risk", HISTORY_SORTS),
        ("reconciliation", REPORT_SORTS),
        ("alerts", ALERT_SORTS),
        ("alert_deliveries", DELIVERY_SORTS),
        ("venue_accounts", ACCOUNT_SORTS),
        ("terminals", TERMINAL_SORTS),
        ("pools", POOL_SORTS),
        ("members", MEMBER_SORTS),
        ("dashboard", OPPORTUNITY_SORTS),
        ("opportunities-table", OPPORTUNITY_SORTS),
    ]


@pytest.fixture
def records(desk: dict[str, Any], sim_pair: Any) -> dict[str, Any]:
    """The desk with rows in every table: hedges of two sizes, a closed one, a reset kill switch, a report, an
    alert, an opportunity, a position snapshot."""
    from alerts.services import alert_raise
    from quantarb import clock
    from risk.models import KillSwitch
    from trading.models import Opportunity, PositionSnapshot, ReconciliationReport

    strategy = desk["strategy"]
    big = make_hedge(strategy, status="closed")
    type(big).objects.filter(pk=big.pk).update(size_oz=Decimal("1E+6"), pnl_spread=Decimal("-46034150000"))
    now = clock.now()
    KillSwitch.objects.create(
        tenant=strategy.tenant, scope="tenant", trigger="manual", reason="drill", tripped_at=now, reset_at=now
    )
    ReconciliationReport.objects.create(
        tenant=strategy.tenant, pool=strategy.pool, trigger="manual", status="matched", started_at=now
    )
    PositionSnapshot.objects.create(
        tenant=strategy.tenant, account=strategy.pool.perp_account, pool=strategy.pool, at=now, ours_oz=Decimal(-1)
    )
    alert_raise(
        tenant=strategy.tenant, category="system", severity="warning", title="Feed stale", dedup_key="sort-test"
    )
    from alerts.models import Channel, Delivery
    from mt5ops.models import TerminalInstance

    channel = Channel.objects.create(tenant=strategy.tenant, name="Desk mail", kind="webhook", categories=["system"])
    Delivery.objects.create(tenant=strategy.tenant, channel=channel, status="sent", created_at=now)
    TerminalInstance.objects.create(tenant=strategy.tenant, label="Terminal A")
    Opportunity.objects.create(
        pair=sim_pair, direction="sell_perp", started_at=now, peak_net_edge=Decimal("0.8"), peak_at=now, threshold=1
    )
    return {**desk, "big": big}


@pytest.mark.parametrize(("name", "sorts"), tables(), ids=[name for name, _ in tables()])
def test_each_table_sorts_by_each_column_both_ways(records: dict[str, Any], alice: Any, name: str, sorts: Any) -> None:
    client = tenant_client(alice)
    url = reverse(name)
    headers = {"HX-Request": "true"} if name == "opportunities-table" else {}
    for key in sorts:
        for value in (key, f"-{key}"):
            response = client.get(url, {"sort": value}, headers=headers)
            assert response.status_code == 200, (name, value, response.status_code)
            page = response.content.decode()
            direction = "descending" if value.startswith("-") else "ascending"
            assert f'aria-sort="{direction}" data-sort-key="{key}"' in page, (name, value)


@pytest.mark.parametrize(("name", "sorts"), tables(), ids=[name for name, _ in tables()])
@pytest.mark.parametrize("bad", BAD_SORTS, ids=range(len(BAD_SORTS)))
def test_a_sort_the_table_does_not_know_is_ignored(
    records: dict[str, Any], alice: Any, name: str, sorts: Any, bad: str
) -> None:
    client = tenant_client(alice)
    response = client.get(reverse(name), {"sort": bad})
    assert response.status_code == 200, (name, bad)
    page = response.content.decode()
    assert 'aria-sort="ascending"' not in page and 'aria-sort="descending"' not in page  # the default order


def test_hedges_sort_by_size_and_by_total_and_keep_their_filters(records: dict[str, Any], alice: Any) -> None:
    client = tenant_client(alice)
    small, big = records["hedge"], records["big"]

    def order(**params: str) -> list[int]:
        page = client.get(reverse("hedges"), params).content.decode()
        return sorted((small.pk, big.pk), key=lambda pk: page.index(f'data-hedge="{pk}"'))

    assert order(sort="size") == [small.pk, big.pk]
    assert order(sort="-size") == [big.pk, small.pk]
    assert order(sort="total") == [big.pk, small.pk]  # -46 bn first
    page = client.get(reverse("hedges"), {"sort": "-size", "status": "closed"}).content.decode()
    assert f'data-hedge="{big.pk}"' in page and f'data-hedge="{small.pk}"' not in page
    # the refresh keeps filter and sort; the header link keeps the filter and flips the direction
    html = page.replace("&amp;", "&")
    assert "partial=rows&status=closed&sort=-size" in html
    assert 'href="?status=closed&sort=size"' in html
    # figures to the cent, quantities to the step, no exponent
    assert "-46,034,150,000.00" in page and "1,000,000.000" in page and "E+" not in page


def test_the_pager_and_the_export_carry_the_sort(records: dict[str, Any], alice: Any, monkeypatch: Any) -> None:
    import trading.desk.views as views

    monkeypatch.setattr(views, "PER_PAGE", 1)
    client = tenant_client(alice)
    page = client.get(reverse("orders"), {"sort": "-quantity", "leg": "perp"}).content.decode()
    assert "?leg=perp&sort=-quantity&page=2" in page.replace("&amp;", "&")
    export = client.get(reverse("hedges_export"), {"sort": "size"})
    body = b"".join(export.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    lines = body.strip().splitlines()
    assert lines[1].startswith(f"{records['hedge'].pk},") and lines[2].startswith(f"{records['big'].pk},")
    # labels, not codes; decimals as written
    assert "Sell perp" in body and "sell_perp" not in body and "E+" not in body


@pytest.mark.parametrize("kind", ["hedges", "orders", "fills", "positions"])
def test_sorting_holds_with_the_filters_that_join(records: dict[str, Any], alice: Any, kind: str) -> None:
    """The pool and leg filters join other tables (DISTINCT on PostgreSQL): every order by still works."""
    from trading.desk.views import TABLES

    client = tenant_client(alice)
    for key in TABLES[kind]["sorts"]:
        for value in (key, f"-{key}"):
            params = {"sort": value, "leg": "perp", "pool": str(records["pool"].pk)}
            assert client.get(reverse(kind), params).status_code == 200, (kind, value)
            export = client.get(reverse(f"{kind}_export"), params)
            assert export.status_code == 200 and b"".join(export.streaming_content)  # type: ignore[attr-defined]
