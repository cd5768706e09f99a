"""Books written as the database holds them: spread samples at given marks, and the hand-computed hedges of
tests/trading/domain/pnl_cases.py as orders, fills and carry entries moved along by the execution service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from quantarb import clock
from tests.factories import FillFactory, OrderFactory
from tests.trading.domain.pnl_cases import Case
from trading.choices import HedgeStatus
from trading.domain import pnl
from trading.domain.orders import Leg
from trading.execution.services import hedge_sync
from trading.models import CarryEntry, Hedge, SpreadSample

EIGHT = Decimal("0.00000001")

# The `history` fixture's timeline (tests/desks.py): the frozen clock's now, and the opening of its hedges
# (`hedge_of` opens a case 9 h before now, books its carry at +8 h and closes it now).
NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
OPENED = NOW - timedelta(hours=9)


def store_marks(pair: Any, marks: pnl.Marks, ts: datetime | None = None) -> SpreadSample:
    """A stored spread sample of the pair at these marks (what the screens mark live hedges at)."""
    perp_usd_bid, perp_usd_ask = marks.perp_bid * marks.usd_per_usdt, marks.perp_ask * marks.usd_per_usdt
    return SpreadSample.objects.create(
        pair=pair,
        ts=ts or clock.now(),
        perp_bid=marks.perp_bid,
        perp_ask=marks.perp_ask,
        cfd_bid=marks.cfd_bid,
        cfd_ask=marks.cfd_ask,
        usd_per_usdt=marks.usd_per_usdt,
        edge_sell_perp=(perp_usd_bid - marks.cfd_ask).quantize(EIGHT),
        edge_buy_perp=(marks.cfd_bid - perp_usd_ask).quantize(EIGHT),
        net_sell_perp=(perp_usd_bid - marks.cfd_ask).quantize(EIGHT),
        net_buy_perp=(marks.cfd_bid - perp_usd_ask).quantize(EIGHT),
        basis=((perp_usd_bid + perp_usd_ask) / 2 - (marks.cfd_bid + marks.cfd_ask) / 2).quantize(EIGHT),
    )


def hedge_orders(hedge: Hedge, fills: tuple[pnl.PnlFill, ...], intent: str, at: datetime) -> None:
    """Each fill of the case as a filled IOC order of `hedge` on the pool's account of its leg, with its fill."""
    for fill in fills:
        leg = "perp" if fill.leg is Leg.PERP else "cfd"
        order = OrderFactory.create(
            hedge=hedge,
            leg=leg,
            intent=intent,
            client_order_id=f"qa-money-{hedge.pk}-{leg}-{intent}",
            side="buy" if fill.signed_oz > 0 else "sell",
            kind="limit_ioc",
            quantity=abs(fill.signed_oz),
            avg_price=fill.price,
            fee=fill.fee,
            fee_currency=fill.fee_currency,
            usd_per_usdt=fill.usd_per_usdt,
            created_at=at,
        )
        FillFactory.create(order=order, fee=fill.fee, fee_currency=fill.fee_currency)


def hedge_of(strategy: Any, case: Case) -> Hedge:
    """The case as our books hold it: its orders and fills, its carry entries, then the hedge moved along by the
    execution service (booked by it when its legs go flat)."""
    opened = clock.now() - timedelta(hours=9)
    hedge = Hedge.objects.create(
        tenant=strategy.tenant,
        pool=strategy.pool,
        strategy=strategy,
        direction=case.direction,
        status=HedgeStatus.OPENING,
        size_oz=abs(case.opening[0].signed_oz),
        entry_usd_per_usdt=case.opening[0].usd_per_usdt,
        planned_at=opened,
        opened_at=opened,
    )
    hedge_orders(hedge, case.opening, "open", opened)
    assert hedge_sync(hedge_id=hedge.pk).status == HedgeStatus.OPEN
    for number, booking in enumerate(case.carry):
        CarryEntry.objects.create(
            tenant_id=hedge.tenant_id,
            account=strategy.pool.perp_account if booking.kind is pnl.CarryKind.FUNDING else strategy.pool.cfd_account,
            hedge=hedge,
            kind=booking.kind.value,
            amount=booking.amount,
            currency=booking.currency,
            amount_usd=(booking.amount * (booking.usd_per_usdt if booking.currency == pnl.USDT else 1)).quantize(EIGHT),
            usd_per_usdt=booking.usd_per_usdt,
            venue_ref=f"qa-{hedge.pk}-{number}",
            paper=True,
            at=opened + timedelta(hours=8),
        )
    if case.closing is not None:
        Hedge.objects.filter(pk=hedge.pk).update(status=HedgeStatus.CLOSING)
        hedge_orders(hedge, case.closing, "close", opened + timedelta(hours=9))
        assert hedge_sync(hedge_id=hedge.pk).status == HedgeStatus.CLOSED
    return Hedge.objects.get(pk=hedge.pk)
