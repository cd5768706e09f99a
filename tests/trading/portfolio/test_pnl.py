"""The one money model end to end.

- The hand-computed hedges of tests/trading/domain/pnl_cases.py, written as orders, fills and carry entries, are
  booked (closed) and marked (open) to those figures, line by line, from the database records.
- For the same hedge, the runner (`hedge_unrealised_usd`, `strategy_realised_pnl`), the strategy status panel
  (selector and page), the hedge page and the API show the same figures: alice's strategy, read by alice and by
  bob (viewer); charlie (another tenant) gets 404 for the hedge and none of its figures.
- Realised totals are database aggregates over the hedges no longer live, exact and the same on SQLite and on
  PostgreSQL (this module runs on both: SQLite by default, PostgreSQL with DATABASE_URL).
- Paper carry comes from the domain's accruals: the pair's triple-swap day, the perp mark at the funding time, and
  every entry keeps the USDT/USD rate of its moment.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Membership
from quantarb import clock
from strategies.runner import MarketSnapshot, hedge_unrealised_usd, strategy_realised_pnl
from strategies.selectors import strategies_for, strategy_status
from strategies.templatetags.strategy_tags import money
from tests.helpers.books import EIGHT, hedge_of, store_marks
from tests.helpers.clients import obtain, tenant_client
from tests.trading.domain.pnl_cases import (
    A_SELL_PERP_CLOSED,
    B_BUY_PERP_CLOSED,
    C_SELL_PERP_OPEN,
    CASES,
    D_BUY_PERP_OPEN,
    Case,
)
from trading.choices import CarryKind, HedgeStatus
from trading.domain import pnl
from trading.domain.calendar import SessionView
from trading.domain.quotes import Quote
from trading.execution.services import carry_bookings
from trading.models import PNL_FIELDS, CarryEntry, Hedge, Order
from trading.portfolio import pnl as hedge_pnl
from trading.portfolio.housekeeping import book_carry

pytestmark = pytest.mark.django_db


# --- writing a case as the books hold it ------------------------------------------------------------------------
def snapshot_of(marks: pnl.Marks) -> MarketSnapshot:
    """The runner's market at the same marks."""
    ts = int(clock.now().timestamp() * 1000)
    return MarketSnapshot(
        perp=Quote.of("perp", marks.perp_bid, marks.perp_ask, ts),
        cfd=Quote.of("cfd", marks.cfd_bid, marks.cfd_ask, ts),
        usd_per_usdt=marks.usd_per_usdt,
        rate_ts_ms=None,
        session=SessionView(is_open=True),
    )


def annotated_realised(strategy: Any) -> Decimal | None:
    """The realised total the strategy list annotates (a database aggregate)."""
    membership = Membership.objects.filter(tenant=strategy.tenant).first()
    realised: Decimal | None = strategies_for(membership=membership).get(pk=strategy.pk).realised  # type: ignore[attr-defined]
    return realised


def eight(value: Decimal) -> str:
    """A figure as the API writes it (8 dp)."""
    return f"{value.quantize(EIGHT):f}"


def api_get(persona: Any, path: str, **params: Any) -> Any:
    return Client().get("/api/v1/" + path, params, HTTP_AUTHORIZATION=f"Bearer {obtain(persona)['access']}")


def cells(html: str, prefix: str) -> dict[str, str]:
    """The figures of a PnL table row: `data-testid="<prefix>-<line>">figure<`."""
    found = dict(re.findall(rf'data-testid="{prefix}-(\w+)">([^<]*)<', html))
    return {line: found[line] for line in (*pnl.LINES, "total")}


def shown(split: pnl.PnlSplit) -> dict[str, str]:
    """The figures a screen shows for a split: each line and the total to the cent."""
    return {**{line: money(value) for line, value in split.lines()}, "total": money(split.total)}


# --- hand-computed figures, from the books ---------------------------------------------------------------------
@pytest.mark.parametrize("case", [A_SELL_PERP_CLOSED, B_BUY_PERP_CLOSED], ids=lambda case: case.name)
def test_a_closed_hedge_books_the_hand_computed_split(strategy: Any, case: Case) -> None:
    hedge = hedge_of(strategy, case)
    assert hedge.booked_pnl == case.expected  # every line, exactly (the figures have ≤ 8 dp)
    assert hedge.pnl_total == case.total
    assert hedge.exit_usd_per_usdt == case.usd_per_usdt


@pytest.mark.parametrize("case", [C_SELL_PERP_OPEN, D_BUY_PERP_OPEN], ids=lambda case: case.name)
def test_an_open_hedge_is_marked_to_the_hand_computed_split(strategy: Any, case: Case) -> None:
    hedge = hedge_of(strategy, case)
    assert case.marks is not None
    assert hedge_pnl.marked_split(hedge, case.marks) == case.expected
    # Nothing is booked while it is live: the booked fields stay zero.
    assert hedge.booked_pnl == pnl.PnlSplit()


def test_the_fee_already_paid_shows_before_the_close(strategy: Any, sim_pair: Any) -> None:
    # The reported case: a 0.92 USDT fee paid on opening showed as 0.00 until the close.
    hedge = hedge_of(strategy, C_SELL_PERP_OPEN)
    assert C_SELL_PERP_OPEN.marks is not None
    store_marks(sim_pair, C_SELL_PERP_OPEN.marks)
    status = strategy_status(strategy)
    assert status.unrealised.fees == Decimal("-0.969816")  # −(0.92 USDT · 0.9998 + 0.05 USD)
    assert money(status.unrealised.fees) == "-0.97"
    assert hedge_unrealised_usd(hedge, snapshot_of(C_SELL_PERP_OPEN.marks)) == Decimal("1.24022800")


# --- the same figures everywhere -----------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_runner_status_panel_hedge_page_and_api_show_the_same_figures(
    strategy: Any, sim_pair: Any, alice: Any, bob: Any, charlie: Any, case: Case
) -> None:
    hedge = hedge_of(strategy, case)
    marks = case.marks or C_SELL_PERP_OPEN.marks
    assert marks is not None
    store_marks(sim_pair, marks)
    expected = case.expected  # the hand-computed split, at 8 dp

    # The runner: what its stop loss (unrealised) and its loss limits (realised) compare.
    unrealised_usd = hedge_unrealised_usd(hedge, snapshot_of(marks))
    realised_usd = strategy_realised_pnl(strategy)
    # The status panel, as its selector builds it and as the page shows it.
    status = strategy_status(strategy)
    panel = tenant_client(alice).get(reverse("strategy_status", args=[strategy.pk])).content.decode()
    # The hedge page, for the owner and a viewer alike, and the hedges table.
    pages = [tenant_client(who).get(reverse("hedge", args=[hedge.pk])).content.decode() for who in (alice, bob)]
    table = tenant_client(bob).get(reverse("hedges")).content.decode()
    table_total = re.search(rf'data-testid="hedge-total-{hedge.pk}"[^>]*>([^<]*)<', table)
    # The API: the hedge record and the strategy.
    records = api_get(bob, "hedges/", strategy=strategy.pk).json()["results"]
    assert [record["id"] for record in records] == [hedge.pk]
    record = records[0]
    strategy_record = api_get(bob, f"strategies/{strategy.pk}/").json()

    if case.closing is None:
        assert unrealised_usd == case.total
        assert realised_usd == 0
        assert status.unrealised == expected and status.unrealised_known and status.realised == pnl.PnlSplit()
        assert cells(panel, "unrealised") == shown(expected)
        assert record["unrealised"] == {
            **{line: eight(value) for line, value in expected.lines()},
            "total": eight(case.total),
            "usd_per_usdt": f"{marks.usd_per_usdt:.6f}",
            "marked_at": record["unrealised"]["marked_at"],
        }
        assert all(record[name] == eight(Decimal(0)) for name in PNL_FIELDS)  # nothing booked yet
        assert strategy_record["realised"] == eight(Decimal(0))
    else:
        assert realised_usd == case.total  # (the runner marks only live hedges)
        assert status.realised == expected and status.unrealised == pnl.PnlSplit()
        assert cells(panel, "realised") == shown(expected)
        assert {name: record[name] for name in PNL_FIELDS} == {
            f"pnl_{line}": eight(value) for line, value in expected.lines()
        }
        assert record["pnl_total"] == eight(case.total) and record["unrealised"] is None
        assert strategy_record["realised"] == eight(case.total)
    for page in pages:
        assert cells(page, "pnl") == shown(expected)
    assert table_total is not None and table_total.group(1).strip() == money(case.total)
    # The CSV export: the same lines (a live hedge marked now, a settled one as booked).
    export = tenant_client(alice).get(reverse("hedges_export"))
    (row,) = csv.DictReader(io.StringIO(export.getvalue().decode("utf-8-sig")))
    columns = {
        "spread": "Spread capture (USD)",
        "fees": "Fees (USD)",
        "funding": "Funding (USD)",
        "swap": "Swap (USD)",
        "fx": "USDT/USD (USD)",
    }
    assert {line: Decimal(row[label]) for line, label in columns.items()} == dict(expected.lines())
    assert Decimal(row["Total (USD)"]) == case.total
    # Charlie, in another tenant, sees neither the hedge nor its figures.
    assert tenant_client(charlie).get(reverse("hedge", args=[hedge.pk])).status_code == 404
    assert api_get(charlie, "hedges/").json()["count"] == 0


def test_the_panel_sums_realised_and_unrealised_over_the_strategys_hedges(strategy: Any, sim_pair: Any) -> None:
    for case in CASES:
        hedge_of(strategy, case)
    assert C_SELL_PERP_OPEN.marks is not None and D_BUY_PERP_OPEN.marks is not None
    # One pool, one mark: both open hedges are marked at the same (D's) quotes.
    store_marks(sim_pair, D_BUY_PERP_OPEN.marks)
    status = strategy_status(strategy)
    assert status.realised == A_SELL_PERP_CLOSED.expected + B_BUY_PERP_CLOSED.expected
    assert status.realised.total == Decimal("0.5255115") + Decimal("-0.4920948")
    open_hedges = Hedge.objects.filter(strategy=strategy, status=HedgeStatus.OPEN)
    marked = [hedge_pnl.marked_split(hedge, D_BUY_PERP_OPEN.marks) for hedge in open_hedges]
    assert status.unrealised == marked[0] + marked[1]  # type: ignore[operator]
    assert status.total == status.realised + status.unrealised
    assert strategy_realised_pnl(strategy) == status.realised.total
    assert annotated_realised(strategy) == status.realised.total


# --- realised totals in the database ------------------------------------------------------------------------------
# Amounts a double cannot hold: summed as floats they leave residues in the last places (0.1 + 0.2 ≠ 0.3).
AWKWARD = ["0.10000000", "0.20000000", "-0.30000000", "1234567.12345678", "2345678.87654321", "-0.00000001"]


def test_realised_totals_are_exact_database_aggregates(strategy: Any) -> None:
    now = clock.now()
    booked = []
    for number in range(60):
        values = [Decimal(AWKWARD[(number + line) % len(AWKWARD)]) / (1 + line) for line in range(5)]
        values = [value.quantize(EIGHT) for value in values]
        status = HedgeStatus.CLOSED if number % 3 else HedgeStatus.FAILED
        Hedge.objects.create(
            tenant=strategy.tenant,
            pool=strategy.pool,
            strategy=strategy,
            direction="sell_perp",
            status=status,
            size_oz=Decimal(1),
            planned_at=now,
            **dict(zip(PNL_FIELDS, values, strict=True)),
        )
        booked.append(values)
    # A live hedge's fields are not realised (here: left over from a moment its legs were flat).
    Hedge.objects.create(
        tenant=strategy.tenant,
        pool=strategy.pool,
        strategy=strategy,
        direction="sell_perp",
        status=HedgeStatus.OPEN,
        size_oz=Decimal(1),
        planned_at=now,
        pnl_spread=Decimal("999.99"),
    )
    lines = [sum((values[line] for values in booked), Decimal(0)) for line in range(5)]
    split = hedge_pnl.realised_split(Hedge.objects.filter(strategy=strategy))
    assert [value for _line, value in split.lines()] == lines
    assert all(value.as_tuple().exponent == -8 for _line, value in split.lines())  # quantized
    total = sum(lines, Decimal(0))
    assert split.total == total == strategy_realised_pnl(strategy)
    annotated = annotated_realised(strategy)
    assert annotated == total and str(annotated) == f"{total:f}"


def test_a_strategy_without_settled_hedges_has_no_realised_total(strategy: Any) -> None:
    assert annotated_realised(strategy) is None
    assert hedge_pnl.realised_split(Hedge.objects.filter(strategy=strategy)) == pnl.PnlSplit()
    assert strategy_realised_pnl(strategy) == 0


# --- paper carry from the domain's accruals ------------------------------------------------------------------------
def paper_hedge(strategy: Any, opened: datetime) -> Hedge:
    """Short 2 oz perp (sold at 4600) against long 2 oz CFD, open since `opened`."""
    hedge = Hedge.objects.create(
        tenant=strategy.tenant,
        pool=strategy.pool,
        strategy=strategy,
        direction="sell_perp",
        status=HedgeStatus.OPEN,
        paper=True,
        size_oz=Decimal(2),
        perp_oz=Decimal(-2),
        cfd_oz=Decimal(2),
        entry_usd_per_usdt=Decimal("0.9996"),
        planned_at=opened,
        opened_at=opened,
    )
    Order.objects.create(
        tenant_id=hedge.tenant_id, hedge=hedge, account=strategy.pool.perp_account, leg="perp", intent="open",
        client_order_id=f"qa-carry-{hedge.pk}", side="sell", kind="limit_ioc", quantity=Decimal(2), status="filled",
        filled=Decimal(2), avg_price=Decimal("4600"), created_at=opened,
    )  # fmt: skip
    return hedge


def test_paper_swap_is_tripled_on_the_pairs_triple_day(strategy: Any, sim_pair: Any) -> None:
    sim_pair.swap_rollover3days = 5  # this broker charges the weekend on Friday's rollover, not Wednesday's
    sim_pair.save()
    opened = datetime(2026, 11, 18, 7, 0, tzinfo=UTC)  # Wednesday
    hedge = paper_hedge(strategy, opened)
    book_carry(datetime(2026, 11, 21, 0, 0, tzinfo=UTC))  # rollovers Wed, Thu, Fri 22:00 UTC (US winter time)
    swaps = CarryEntry.objects.filter(hedge=hedge, kind=CarryKind.SWAP).order_by("at")
    per_night = 2 * sim_pair.swap_long_per_oz_night  # long 2 oz CFD
    assert [(entry.at.weekday(), entry.amount) for entry in swaps] == [
        (2, per_night),
        (3, per_night),
        (4, 3 * per_night),
    ]
    assert all(entry.currency == "USD" and entry.amount_usd == entry.amount for entry in swaps)


def test_paper_funding_uses_the_perp_mark_and_rate_at_the_funding_time(strategy: Any, sim_pair: Any) -> None:
    opened = datetime(2026, 11, 18, 7, 0, tzinfo=UTC)
    hedge = paper_hedge(strategy, opened)
    at_eight = pnl.Marks(
        Decimal("0.9997"), Decimal("4610.00"), Decimal("4610.20"), Decimal("4608.00"), Decimal("4608.40")
    )
    store_marks(sim_pair, at_eight, ts=datetime(2026, 11, 18, 7, 59, 58, tzinfo=UTC))
    book_carry(datetime(2026, 11, 18, 9, 0, tzinfo=UTC))
    entry = CarryEntry.objects.get(hedge=hedge, kind=CarryKind.FUNDING)
    # The short receives 2 oz · the perp mark then (mid 4610.10) · the pair's rate, in USDT at that moment's rate.
    assert entry.amount == (2 * Decimal("4610.10") * sim_pair.funding_rate).quantize(EIGHT)
    assert entry.currency == "USDT" and entry.usd_per_usdt == Decimal("0.999700")
    assert entry.amount_usd == (entry.amount * Decimal("0.9997")).quantize(EIGHT)
    # The split takes the entry at its own rate; its move to the valuation rate is USDT/USD.
    [booking] = carry_bookings(hedge, Decimal(1))
    assert booking.usd_per_usdt == Decimal("0.9997")
