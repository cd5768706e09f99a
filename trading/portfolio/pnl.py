"""Hedges' PnL as every consumer reads it — the runner, the strategy status panel, hedge pages and the API — from
the one money model (trading/domain/pnl.py). Nothing here computes money: it loads the inputs and calls the domain.

- A hedge that is no longer live (closed, failed) shows the split *booked* when its legs went flat
  (`Hedge.pnl_<line>`, 8 dp, trading/execution/services.py `_book_pnl`): its realised PnL.
- A live hedge is *marked*: `pnl.mark_to_market` over its fills, fees and carry so far, its open legs at the touch
  and USDT at the rate of the marks (the runner's market snapshot, or for screens the pool's latest stored spread
  sample): its unrealised PnL, quantized once at 8 dp like a booked split.
- Realised totals are database aggregates of the booked fields over hedges that are no longer live (`MoneySum`,
  exact and equal on SQLite and PostgreSQL).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import reduce
from typing import Any

from django.db.models import DecimalField, F, Func, Q, QuerySet, Sum

from accounts.models import AccountPool
from trading.choices import LIVE_HEDGE_STATUSES, Leg, OrderSide
from trading.domain import pnl
from trading.execution.services import carry_bookings, pnl_fills
from trading.instruments import pair_id_for_pool
from trading.models import PNL_FIELDS, USD, Hedge, SpreadSample

LIVE = tuple(status.value for status in LIVE_HEDGE_STATUSES)
UNITS_PER_USD = 10**8  # 1 / pnl.MONEY_QUANTUM


# --- realised: database aggregates ---------------------------------------------------------------------------------
class MoneyUnits(Func):
    """An 8-dp money column in a form that sums exactly: the column itself on PostgreSQL (numeric); on SQLite, which
    stores decimals as doubles of 15 significant digits (exact for an 8-dp amount below 10^7 USD), whole units of
    1e-8 USD, which SQLite sums as exact 64-bit integers. Summed floats would leave residues (0.1 + 0.2 ≠ 0.3)."""

    template = "%(expressions)s"

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        template = f"CAST(ROUND(%(expressions)s * {UNITS_PER_USD}) AS INTEGER)"
        return self.as_sql(compiler, connection, template=template, **extra_context)


class MoneySum(Sum):
    """Σ over rows of one or more 8-dp money columns (added row by row), as a Decimal quantized to 8 dp — the same
    figure on SQLite and PostgreSQL (on SQLite while the sum stays below 10^7 USD: Django reads a SQLite aggregate
    at 15 significant digits). None over no rows (no `default=`: a Coalesce around it would lose the conversion
    from units below)."""

    def __init__(self, *columns: str, **extra: Any) -> None:
        if "default" in extra:
            raise TypeError("MoneySum takes no default: read None as no rows")
        units = reduce(operator.add, [MoneyUnits(F(column)) for column in columns])
        super().__init__(units, output_field=DecimalField(**USD), **extra)

    def get_db_converters(self, connection: Any) -> list[Any]:
        return [*super().get_db_converters(connection), self._to_usd]

    @staticmethod
    def _to_usd(value: Any, expression: Any, connection: Any) -> Decimal | None:
        if value is None:
            return None
        amount = Decimal(value)
        if connection.vendor == "sqlite":
            amount = amount / UNITS_PER_USD  # exact: a power of ten
        return amount.quantize(pnl.MONEY_QUANTUM)


def booked(hedges: QuerySet[Hedge]) -> QuerySet[Hedge]:
    """The hedges whose PnL is realised: no longer live, so their booked split is final."""
    return hedges.exclude(status__in=LIVE)


def realised_split(hedges: QuerySet[Hedge]) -> pnl.PnlSplit:
    """Σ of the booked splits of those of `hedges` no longer live, line by line, summed by the database."""
    row = booked(hedges).aggregate(**{line: MoneySum(name) for line, name in zip(pnl.LINES, PNL_FIELDS, strict=True)})
    return pnl.PnlSplit(*(row[line] if row[line] is not None else pnl.ZERO for line in pnl.LINES))


def realised_total(relation: str = "") -> MoneySum:
    """An annotation: the realised total over a related hedge set (e.g. `"hedges__"` on strategies), in the
    database. None when there is none."""
    columns = [f"{relation}{name}" for name in PNL_FIELDS]
    return MoneySum(*columns, filter=~Q(**{f"{relation}status__in": LIVE}))


# --- unrealised: a live hedge marked now ----------------------------------------------------------------------
@dataclass(frozen=True)
class StoredMarks:
    """The marks of a pool's pair as last stored (a spread sample), with when."""

    marks: pnl.Marks
    at: datetime


def marks_of_sample(sample: SpreadSample) -> StoredMarks:
    return StoredMarks(
        pnl.Marks(
            usd_per_usdt=sample.usd_per_usdt,
            perp_bid=sample.perp_bid,
            perp_ask=sample.perp_ask,
            cfd_bid=sample.cfd_bid,
            cfd_ask=sample.cfd_ask,
        ),
        sample.ts,
    )


def latest_sample(pool: AccountPool) -> SpreadSample | None:
    """The pool's pair's latest spread sample (None: no pair, or nothing stored yet)."""
    pair_id = pair_id_for_pool(pool)
    if pair_id is None:
        return None
    return SpreadSample.objects.filter(pair_id=pair_id).order_by("-ts").first()


def latest_marks(pool: AccountPool) -> StoredMarks | None:
    """The pool's pair's latest spread sample: the touch and USDT/USD the pool's live hedges are marked at."""
    sample = latest_sample(pool)
    return None if sample is None else marks_of_sample(sample)


class PoolMarks:
    """Latest marks per pool, read once per request (a list of hedges shares them)."""

    def __init__(self) -> None:
        self._marks: dict[int, StoredMarks | None] = {}

    def of(self, pool: AccountPool) -> StoredMarks | None:
        if pool.pk not in self._marks:
            self._marks[pool.pk] = latest_marks(pool)
        return self._marks[pool.pk]


def marked_split(hedge: Hedge, marks: pnl.Marks) -> pnl.PnlSplit | None:
    """A live hedge's unrealised split at `marks`, booked at 8 dp: its fills (fees included) and carry so far, open
    legs closed at the touch. None when an execution has no price (a position adopted from a venue without one):
    such a hedge cannot be marked."""
    orders = list(hedge.orders.prefetch_related("fills"))
    fills = pnl_fills(orders, marks.usd_per_usdt)
    executed = (
        sum((_signed(o.side, o.filled) for o in orders if o.leg == Leg.PERP), pnl.ZERO),
        sum((_signed(o.side, o.filled) for o in orders if o.leg == Leg.CFD), pnl.ZERO),
    )
    if pnl.open_legs(fills) != executed:
        return None
    carry = carry_bookings(hedge, marks.usd_per_usdt)
    try:
        return pnl.mark_to_market(fills=fills, carry=carry, marks=marks).quantized()
    except ValueError:
        return None  # a flow in a currency not yet converted to USD or USDT


def _signed(side: str, quantity: Decimal) -> Decimal:
    return quantity if side == OrderSide.BUY else -quantity


# --- what a hedge shows --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HedgePnl:
    """What one hedge shows: its booked split when no longer live, else its split marked now (`split` None: no
    marks yet, or it cannot be marked)."""

    live: bool
    split: pnl.PnlSplit | None
    marked_at: datetime | None = None
    usd_per_usdt: Decimal | None = None


def hedge_pnl(hedge: Hedge, marks: PoolMarks | None = None) -> HedgePnl:
    if hedge.status not in LIVE:
        return HedgePnl(live=False, split=hedge.booked_pnl, usd_per_usdt=hedge.exit_usd_per_usdt)
    stored = (marks or PoolMarks()).of(hedge.pool)
    if stored is None:
        return HedgePnl(live=True, split=None)
    return HedgePnl(
        live=True,
        split=marked_split(hedge, stored.marks),
        marked_at=stored.at,
        usd_per_usdt=stored.marks.usd_per_usdt,
    )


def hedges_pnl(hedges: Iterable[Hedge]) -> list[tuple[Hedge, HedgePnl]]:
    """Each hedge with what it shows (a table of hedges: each pool's marks read once)."""
    marks = PoolMarks()
    return [(hedge, hedge_pnl(hedge, marks)) for hedge in hedges]
