"""A strategy runner's own PostgreSQL connection for the one write between a signal and its orders on the wire.

`execution.hedge_open` persists a new hedge and both its orders, fenced by the runner's lease, as one statement
(`execution.fenced_insert`) inside a Django transaction: a hop to the database thread, a round trip for the hedge id,
the statement parsed and planned every time (Django binds parameters on the client), a COMMIT round trip and a hop
back. The writer makes the same write from the event loop on an async psycopg connection in autocommit mode: the
statement is prepared once per connection and is its own transaction — committed durably before the call returns
(`synchronous_commit` is left as the server has it) — and hedge ids are drawn from the sequence ahead of time, before
the decision. Rows, fence, the pre-trade gate's check and errors (StaleQuote, OrderRefused, LeaseLost) are the ORM
path's, from the same functions (`plan_hedge_open`).

Only on PostgreSQL, only when enabled (`QUANTARB_RUNNER_ORDER_CONNECTION`) and only outside a transaction of
Django's: another connection cannot see a test's uncommitted rows, so `OrderWriter.connect` answers None there and
the runner keeps `hedge_open`.
"""

from __future__ import annotations

import collections
import itertools
import logging
import re
from typing import Any

import psycopg
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from trading.execution.gate import gate_state
from trading.execution.services import mark_inserted, plan_hedge_open
from trading.models import Hedge, Order

log = logging.getLogger(__name__)

_DRAW_IDS = "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)"
_NUMBERED: dict[str, str] = {}


def numbered(sql: str) -> str:
    """`%s` placeholders as PostgreSQL's own `$1, $2, …`, for a raw cursor: psycopg then sends the text as it is
    instead of re-parsing it on every call (it caches its parse only for short statements with few parameters,
    and this one has about a hundred). Our statements hold no literal `%`."""
    if sql not in _NUMBERED:
        if "%%" in sql or re.search(r"%[^s]", sql):
            raise ValueError("only %s placeholders can be numbered")
        counter = itertools.count(1)
        _NUMBERED[sql] = re.sub(r"%s", lambda _match: f"${next(counter)}", sql)
    return _NUMBERED[sql]


def _connection_params() -> dict[str, Any] | None:
    """Django's own connection parameters for a second connection, or None where the writer must not be used."""
    if not settings.QUANTARB_RUNNER_ORDER_CONNECTION or connection.vendor != "postgresql":
        return None
    if connection.in_atomic_block:
        return None
    params: dict[str, Any] = connection.get_connection_params()
    params.pop("cursor_factory", None)  # Django's cursor classes are synchronous; psycopg's async cursor is used
    params.setdefault("application_name", "quantarb-runner-orders")
    # Django turns prepared statements off (None) for the sake of connection poolers; that also makes psycopg ignore
    # `prepare=True`. This connection is direct and prepares its statements (psycopg's default threshold).
    params.pop("prepare_threshold", None)
    return params


class OrderWriter:
    """Writes new hedges for one runner. Not shared between runners: one connection, used by one task at a time."""

    RESERVE = 8  # hedge ids drawn ahead; topped up when half are used

    def __init__(self, params: dict[str, Any]) -> None:
        self._params = params
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._ids: collections.deque[int] = collections.deque()

    @classmethod
    async def connect(cls) -> OrderWriter | None:
        params = await sync_to_async(_connection_params, thread_sensitive=True)()
        if params is None:
            return None
        writer = cls(params)
        await writer._connection()
        return writer

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            if self._conn is not None:
                await self._conn.close()
            self._conn = await psycopg.AsyncConnection.connect(autocommit=True, **self._params)
            self._ids.clear()  # ids drawn on a lost connection are simply gaps in the sequence
        return self._conn

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def ready(self) -> None:
        """Before each decision, off the signal-to-wire path: the connection answers (a lost one — say, after a
        PostgreSQL restart — is replaced here, not found at the write) and hedge ids are drawn ahead."""
        try:
            await self._touch()
        except psycopg.OperationalError as exc:
            log.warning("runner order connection: %s; reconnecting", exc)
            await self._touch()

    async def _touch(self) -> None:
        conn = await self._connection()
        if len(self._ids) > self.RESERVE // 2:
            await conn.execute("SELECT 1")
        else:
            await self.reserve_ids()

    async def reserve_ids(self) -> None:
        conn = await self._connection()
        cursor = await conn.execute(_DRAW_IDS, [Hedge._meta.db_table, self.RESERVE - len(self._ids)])
        self._ids.extend(row[0] for row in await cursor.fetchall())

    async def hedge_open(self, **kwargs: Any) -> tuple[Hedge, Order, Order]:
        """`execution.hedge_open` for a runner (no actor, no audit entry): the same checks — the pre-trade gate's
        among them, on the state the runner read before its decision (`gate_state`) — rows and fence."""
        if kwargs.get("gate_state") is None:
            strategy = kwargs.get("strategy")
            kwargs["gate_state"] = await sync_to_async(gate_state, thread_sensitive=True)(
                pool=kwargs["pool"], strategy_id=strategy.pk if strategy is not None else None
            )
        plan = plan_hedge_open(**kwargs)
        conn = await self._connection()
        if not self._ids:
            await self.reserve_ids()  # only if no decision step drew them ahead
        sql, params, written = plan.statement(self._ids.popleft())
        cursor = psycopg.AsyncRawCursor(conn)
        await cursor.execute(numbered(sql), params, prepare=True)
        hedge, orders = plan.instances(written)
        perp, cfd = mark_inserted(hedge, orders, await cursor.fetchall(), plan.lease)
        return hedge, perp, cfd
