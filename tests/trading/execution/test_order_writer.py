"""The runner's own order connection (trading/execution/order_writer.py) on PostgreSQL: it writes exactly the rows
Django's
path writes, refuses a stale quote and a taken-over lease without writing, replaces a lost connection before the
next decision, and stays out of the way where it must (inside a transaction of Django's, on SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, models
from psycopg.types.json import Jsonb

from strategies.services import lease_acquire, strategy_request
from tests.helpers.runners import db
from trading.choices import Leg, OrderKind, OrderSide
from trading.domain.calendar import SessionView
from trading.domain.quotes import Quote
from trading.execution import order_writer
from trading.execution.gate import StoredMarket
from trading.execution.leases import Lease, LeaseLost
from trading.execution.order_writer import OrderWriter, numbered
from trading.execution.services import LegOrder, StaleQuote, hedge_open, plan_hedge_open
from trading.models import Hedge, Order

APP_NAME = "quantarb-runner-orders"
TTL = timedelta(seconds=10)


def test_placeholders_are_numbered_once_and_only_plain_ones() -> None:
    assert numbered("SELECT %s::bigint, %s FROM t WHERE a = %s") == "SELECT $1::bigint, $2 FROM t WHERE a = $3"
    with pytest.raises(ValueError):
        numbered("SELECT %(name)s")
    with pytest.raises(ValueError):
        numbered("SELECT '100%%'")


@pytest.mark.django_db
def test_inside_a_transaction_of_djangos_the_runner_keeps_djangos_connection() -> None:
    # A test's transaction (like any atomic block) is invisible to another connection; SQLite has no such path.
    assert connection.in_atomic_block
    assert order_writer._connection_params() is None


# --- PostgreSQL only (services mode) ------------------------------------------------------------------------------
@pytest.fixture
def postgres_only(django_db_blocker: Any) -> Iterator[None]:
    """Skips on SQLite; afterwards ends any order connection a failed test left open (the test database must drop)."""
    if connection.vendor != "postgresql":
        pytest.skip("the runner's own order connection is PostgreSQL's (services mode)")
    yield
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s "
            "AND datname = current_database()",
            [APP_NAME],
        )


def on_postgres(test: Any) -> Any:
    for mark in (
        pytest.mark.services,
        pytest.mark.django_db(transaction=True, serialized_rollback=True),
        pytest.mark.usefixtures("thread_connections_closed", "postgres_only"),
    ):
        test = mark(test)
    return test


def open_kwargs(strategy: Any, lease: Lease | None, frozen_clock: Any, *, age_ms: int = 0) -> dict[str, Any]:
    quote_ts_ms = int(frozen_clock.now().timestamp() * 1000) - age_ms
    pool = strategy.pool
    common = {"quantity_oz": Decimal(1), "quote_ts_ms": quote_ts_ms, "usd_per_usdt": Decimal("0.9998")}
    return {
        "pool": pool,
        "direction": "sell_perp",
        "size_oz": Decimal(1),
        "max_quote_age_ms": 2_000,
        "market": StoredMarket(  # the quotes the legs are priced from, as the pre-trade gate reads them
            perp=Quote.of("perp", "4600.10", "4600.20", quote_ts_ms),
            cfd=Quote.of("cfd", "4599.80", "4600.05", quote_ts_ms),
            usd_per_usdt=Decimal("0.9998"),
            session=SessionView(is_open=True),
        ),
        "strategy": strategy,
        "version": strategy.current_version,
        "lease": lease,
        "reason": {"code": "entry_edge", "params": {"edge": "1.25"}},
        "entry_net_edge": Decimal("1.25"),
        "usd_per_usdt": Decimal("0.9998"),
        "perp": LegOrder(
            account=pool.perp_account,
            leg=Leg.PERP,
            side=OrderSide.SELL,
            kind=OrderKind.LIMIT_IOC,
            lots=None,
            limit_price=Decimal("4600.10"),
            deviation=None,
            **common,
        ),
        "cfd": LegOrder(
            account=pool.cfd_account,
            leg=Leg.CFD,
            side=OrderSide.BUY,
            kind=OrderKind.MARKET,
            lots=Decimal("0.01"),
            limit_price=None,
            deviation=20,
            **common,
        ),
    }


def leased(alice: Any, strategy: Any, runner_id: str = "r1") -> Lease:
    strategy_request(strategy=strategy, action="start", actor=alice.user)
    lease = lease_acquire(strategy_id=strategy.pk, runner_id=runner_id, ttl=TTL)
    assert lease is not None
    return lease


def stored(hedge_id: int) -> list[models.Model]:
    return [Hedge.objects.get(pk=hedge_id), *Order.objects.filter(hedge_id=hedge_id).order_by("leg")]


def fields_of(instance: models.Model, skip: set[str]) -> dict[str, Any]:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields if f.attname not in skip}


@pytest.mark.services
@pytest.mark.django_db
def test_values_are_what_djangos_own_preparation_sends(alice: Any, strategy: Any, frozen_clock: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the fenced insert is PostgreSQL's (services mode)")
    plan = plan_hedge_open(**open_kwargs(strategy, None, frozen_clock))
    _sql, params, written = plan.statement(10**9)
    hedge, orders = plan.instances(written)
    django: list[Any] = []
    for instance, with_pk in ((hedge, True), (orders[0], False), (orders[1], False)):
        fields = [f for f in instance._meta.concrete_fields if with_pk or not f.primary_key]
        django.extend((f, f.get_db_prep_save(f.pre_save(instance, add=True), connection)) for f in fields)
    assert len(params) == len(django)
    for mine, (field, theirs) in zip(params, django, strict=True):
        if isinstance(theirs, Jsonb):
            assert isinstance(mine, Jsonb) and mine.obj == theirs.obj, field.name
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            assert type(mine) is type(theirs), field.name  # a fresh timestamp at each call
        else:
            assert (mine, type(mine)) == (theirs, type(theirs)), field.name


@on_postgres
async def test_it_writes_the_rows_djangos_path_writes(alice: Any, strategy: Any, frozen_clock: Any) -> None:
    lease = await db(leased)(alice, strategy)
    writer = await OrderWriter.connect()
    assert writer is not None
    try:
        await writer.ready()
        hedge, perp, cfd = await writer.hedge_open(**open_kwargs(strategy, lease, frozen_clock))
    finally:
        await writer.close()
    theirs, _perp, _cfd = await db(hedge_open)(**open_kwargs(strategy, lease, frozen_clock))
    volatile = {"id", "hedge_id", "client_order_id", "planned_at", "updated_at", "created_at", "submitted_at"}
    ours_rows, their_rows = await db(stored)(hedge.pk), await db(stored)(theirs.pk)
    assert [fields_of(x, volatile) for x in ours_rows] == [fields_of(x, volatile) for x in their_rows]
    assert ours_rows[0].status == "opening" and {o.status for o in ours_rows[1:]} == {"submitting"}
    # The objects handed to the executor are the stored rows, ids and client ids included.
    assert {perp.pk: perp.client_order_id, cfd.pk: cfd.client_order_id} == {
        o.pk: o.client_order_id for o in ours_rows[1:]
    }


@on_postgres
async def test_a_stale_quote_or_a_taken_over_lease_writes_nothing(alice: Any, strategy: Any, frozen_clock: Any) -> None:
    lease = await db(leased)(alice, strategy, "engine-a")
    writer = await OrderWriter.connect()
    assert writer is not None
    try:
        with pytest.raises(StaleQuote):
            await writer.hedge_open(**open_kwargs(strategy, lease, frozen_clock, age_ms=2_001))
        frozen_clock.advance(TTL.total_seconds() + 1)  # engine-a froze past its lease; engine-b takes it over
        assert await db(lease_acquire)(strategy_id=strategy.pk, runner_id="engine-b", ttl=TTL) is not None
        with pytest.raises(LeaseLost):
            await writer.hedge_open(**open_kwargs(strategy, lease, frozen_clock))
    finally:
        await writer.close()
    assert await db(Hedge.objects.count)() == 0
    assert await db(Order.objects.count)() == 0


@on_postgres
async def test_a_lost_connection_is_replaced_before_the_next_decision(
    alice: Any, strategy: Any, frozen_clock: Any
) -> None:
    lease = await db(leased)(alice, strategy)
    writer = await OrderWriter.connect()
    assert writer is not None

    def terminate() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s "
                "AND datname = current_database()",
                [APP_NAME],
            )
            return int(cursor.fetchone()[0])

    try:
        await writer.ready()
        assert await db(terminate)() == 1  # as a PostgreSQL restart between two decisions would
        await writer.ready()  # the next step's check notices and reconnects, before any signal
        hedge, _perp, _cfd = await writer.hedge_open(**open_kwargs(strategy, lease, frozen_clock))
    finally:
        await writer.close()
    assert await db(Order.objects.filter(hedge_id=hedge.pk).count)() == 2
