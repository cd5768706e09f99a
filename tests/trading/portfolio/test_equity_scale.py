"""The minute equity job at scale: a desk of many pools, each with a strategy, a closed hedge and
one still open (marked at its pair's stored marks), and months of closed history. A run of the beat job reads the
desk in a fixed number of queries — not one or more per pool, per hedge or per account — and writes every scope's
point. The measured figures are printed (`-s`) for the note."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AccountPool, VenueAccount
from trading.models import EquityPoint, Fill, Hedge, Order, PairAccess, SpreadSample

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(600)]
NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
PRICE = Decimal("4000")


def build_desk(persona: Any, pair: Any, pools: int, closed_per_pool: int = 1) -> dict[str, int]:
    """`pools` pools of two paper accounts, a strategy each, `closed_per_pool` closed hedges (opened and closed
    over the past months) and one hedge open since yesterday, with its orders and fills; marks every minute of the
    past hour. Rows in bulk: the books as the execution service leaves them."""
    from strategies.models import Strategy

    tenant = persona.tenant
    PairAccess.objects.get_or_create(tenant=tenant, pair=pair)
    accounts = VenueAccount.objects.bulk_create(
        VenueAccount(tenant=tenant, owner=persona.user, venue=venue, label=f"{venue} {n}", mode="paper")
        for n in range(pools)
        for venue in ("simulated-perp", "simulated-cfd")
    )
    books = AccountPool.objects.bulk_create(
        AccountPool(
            tenant=tenant,
            name=f"Pool {n}",
            perp_account=accounts[2 * n],
            cfd_account=accounts[2 * n + 1],
            perp_allocation=1,
            cfd_allocation=1,
        )
        for n in range(pools)
    )
    strategies = Strategy.objects.bulk_create(
        Strategy(tenant=tenant, name=f"Basis {n}", pool=pool, mode="paper") for n, pool in enumerate(books)
    )
    hedges: list[tuple[Hedge, datetime, datetime | None]] = []
    for pool, strategy in zip(books, strategies, strict=True):
        for k in range(closed_per_pool):
            opened = NOW - timedelta(days=90) + timedelta(hours=k)
            hedges.append((Hedge(tenant=tenant, pool=pool, strategy=strategy, direction="sell_perp", status="closed",
                                 size_oz=1, entry_usd_per_usdt=1, exit_usd_per_usdt=1, planned_at=opened,
                                 opened_at=opened, closed_at=opened + timedelta(minutes=30)),
                           opened, opened + timedelta(minutes=30)))  # fmt: skip
        opened = NOW - timedelta(days=1)
        hedges.append((Hedge(tenant=tenant, pool=pool, strategy=strategy, direction="sell_perp", status="open",
                             size_oz=1, perp_oz=-1, cfd_oz=1, entry_usd_per_usdt=1, planned_at=opened,
                             opened_at=opened), opened, None))  # fmt: skip
    made = Hedge.objects.bulk_create(hedge for hedge, _o, _c in hedges)
    orders, fills = [], []
    for hedge, (_h, opened, closed) in zip(made, hedges, strict=True):
        pool = hedge.pool
        legs = [("perp", pool.perp_account_id, "sell", "open", opened), ("cfd", pool.cfd_account_id, "buy", "open",
                opened)]  # fmt: skip
        if closed is not None:
            legs += [("perp", pool.perp_account_id, "buy", "close", closed),
                     ("cfd", pool.cfd_account_id, "sell", "close", closed)]  # fmt: skip
        for leg, account_id, side, intent, at in legs:
            orders.append(Order(tenant=tenant, hedge=hedge, account_id=account_id, strategy_id=hedge.strategy_id,
                                leg=leg, intent=intent, client_order_id=f"scale-{hedge.pk}-{leg}-{intent}", side=side,
                                kind="limit_ioc", quantity=1, status="filled", filled=1, avg_price=PRICE,
                                fee=Decimal("0.1"), fee_currency="USDT" if leg == "perp" else "USD",
                                usd_per_usdt=1, created_at=at))  # fmt: skip
    Order.objects.bulk_create(orders)
    for order in orders:
        at = order.created_at
        price = PRICE + (1 if order.side == "sell" else 0)
        fills.append(Fill(tenant=tenant, account_id=order.account_id, order=order, fill_id=f"F{order.pk}",
                          quantity=1, price=price, fee=order.fee, fee_currency=order.fee_currency, source="paper",
                          at=at))  # fmt: skip
    Fill.objects.bulk_create(fills)
    if SpreadSample.objects.filter(pair=pair).exists():
        return {"pools": pools, "hedges": len(made), "accounts": len(accounts)}
    SpreadSample.objects.bulk_create(
        SpreadSample(
            pair=pair,
            ts=NOW - timedelta(minutes=m),
            perp_bid=PRICE + m,
            perp_ask=PRICE + m + 1,
            cfd_bid=PRICE,
            cfd_ask=PRICE + 1,
            usd_per_usdt=Decimal("0.9995"),
            edge_sell_perp=0,
            edge_buy_perp=0,
            net_sell_perp=0,
            net_buy_perp=0,
            basis=0,
        )
        for m in range(60)
    )
    return {"pools": pools, "hedges": len(made), "accounts": len(accounts)}


def one_run(moment: datetime) -> tuple[int, float, dict[str, int]]:
    from trading.portfolio.equity import equity_record

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        counts = equity_record(moment)
        elapsed = time.perf_counter() - started
    import os

    if os.environ.get("QA_SCALE_PROFILE"):
        for query in queries.captured_queries:
            print(query["time"], query["sql"][:160])
    return len(queries.captured_queries), elapsed, counts


def measure(persona: Any, pair: Any, pools: int, closed_per_pool: int, at: datetime) -> dict[str, Any]:
    desk = build_desk(persona, pair, pools, closed_per_pool)
    one_run(at)  # the first run writes the settled minute and hour
    queries, elapsed, counts = one_run(at + timedelta(minutes=1))  # a steady run: the next minute
    figures = {**desk, "queries": queries, "seconds": round(elapsed, 3), "points": counts["points"]}
    print(f"equity job at scale: {figures}")
    return figures


def test_a_minute_run_reads_a_desk_of_many_pools_in_a_bounded_number_of_queries(
    alice: Any, charlie: Any, sim_pair: Any
) -> None:
    small = measure(charlie, sim_pair, pools=5, closed_per_pool=1, at=NOW)
    later = NOW + timedelta(minutes=10)
    large = measure(alice, sim_pair, pools=200, closed_per_pool=3, at=later)

    # Every scope of both desks got its point of the minute: desk, pools, strategies, accounts.
    assert small["points"] == (1 + 5 + 5 + 10) + 1  # and alice's desk, empty then
    assert large["points"] == (1 + 200 + 200 + 400) + (1 + 5 + 5 + 10)
    minute = later + timedelta(minutes=1) - timedelta(minutes=2)
    open_marked = EquityPoint.objects.filter(tenant=alice.tenant, resolution="1m", at=minute, scope="pool")
    assert open_marked.count() == 200 and set(open_marked.values_list("open_hedges", flat=True)) == {1}
    # Queries do not grow with pools, hedges or accounts: a desk of 200 pools (800 hedges, 400 accounts) beside a
    # desk of 5 takes no more than the two desks took when the large one was empty — about 20 a desk (the desk's
    # last points and late flows, its hedges with orders, fills and carry, pools, accounts, strategies, flows,
    # instruments, pairs, each pair's marks, one batched upsert). Before the marks were read per pair, 1,058.
    assert large["queries"] <= small["queries"] <= 60, (small, large)
