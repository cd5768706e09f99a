"""Live records in the database: funding apportioned to the hedges that held the perp at each
funding time (closed ones included, idempotent, corrected when fills arrive late), a USDT fee on the CFD leg
converted at the fill's rate, and live fills on the hedge page, the fills table and the API, tenant by tenant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

import pytest

from accounts.models import AccountPool, VenueAccount
from tests.helpers.clients import Api, tenant_client
from trading.choices import Direction, HedgeStatus
from trading.domain.clientids import client_order_id
from trading.domain.orders import FillEvent
from trading.execution.services import order_record, rebook_pnl
from trading.models import CarryEntry, Fill, FundingPayment, Hedge, Order, RateTick, SourcePair
from trading.portfolio.housekeeping import book_carry

pytestmark = pytest.mark.django_db

T = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # a funding time
_fill_ids = count(700_000_001)


@pytest.fixture
def live_pool(alice: Any) -> AccountPool:
    from trading.models import Instrument, QuoteSource

    binance = VenueAccount.objects.create(
        tenant=alice.tenant, owner=alice.user, venue="binance-usdm", label="Binance", mode="live"
    )
    mt5 = VenueAccount.objects.create(
        tenant=alice.tenant, owner=alice.user, venue="bybit-mt5", label="MT5", mode="live"
    )
    perp = QuoteSource.objects.create(
        key="binance-xauusdt",
        venue="binance-usdm",
        instrument=Instrument.objects.get(venue="binance-usdm", symbol="XAUUSDT"),
        label="Binance",
    )
    cfd = QuoteSource.objects.create(
        key="mt5-xauusd-s",
        venue="bybit-mt5",
        instrument=Instrument.objects.get(venue="bybit-mt5", symbol="XAUUSD.s"),
        label="MT5",
    )
    SourcePair.objects.create(name="Live pair", perp_source=perp, cfd_source=cfd, rate_source="binance-usdcusdt")
    return AccountPool.objects.create(
        tenant=alice.tenant,
        name="Live pool",
        perp_account=binance,
        cfd_account=mt5,
        perp_allocation=Decimal(100_000),
        cfd_allocation=Decimal(100_000),
    )


def _order(hedge: Hedge, account: VenueAccount, leg: str, intent: str, side: str, oz: Decimal, price: Decimal,
           at: datetime | None, *, fee: Decimal = Decimal(0)) -> Order:  # fmt: skip
    """A filled order of the hedge; its one fill at `at` (None: the venue's cumulative only, no fill yet)."""
    order = Order.objects.create(
        tenant_id=hedge.tenant_id,
        hedge=hedge,
        account=account,
        leg=leg,
        intent=intent,
        attempt=1,
        client_order_id=client_order_id(hedge.tenant_id, hedge.pk, leg, intent, 1),
        side=side,
        kind="market",
        quantity=oz,
        status="filled",
        filled=oz,
        avg_price=price,
        venue_filled=oz,
        venue_avg_price=price,
        paper=False,
        usd_per_usdt=Decimal(1),
        created_at=(at or T) - timedelta(seconds=1),
        submitted_at=(at or T) - timedelta(seconds=1),
    )
    if at is not None:
        add_fill(order, at, fee=fee)
    return order


def add_fill(order: Order, at: datetime, *, fee: Decimal = Decimal(0)) -> Fill:
    assert order.avg_price is not None
    return Fill.objects.create(
        tenant_id=order.tenant_id,
        account_id=order.account_id,
        order=order,
        fill_id=str(next(_fill_ids)),
        quantity=order.quantity,
        price=order.avg_price,
        fee=fee,
        fee_currency="USDT" if order.leg == "perp" else "USD",
        source="answer",
        paper=False,
        at=at,
    )


def short_perp_hedge(pool: AccountPool, oz: str, opened: datetime, closed: datetime | None) -> Hedge:
    """A sell-perp hedge of `oz` ounces opened (both legs) at `opened`, closed at `closed` (None: still open)."""
    size = Decimal(oz)
    hedge = Hedge.objects.create(
        tenant_id=pool.tenant_id,
        pool=pool,
        direction=Direction.SELL_PERP,
        status=HedgeStatus.CLOSED if closed else HedgeStatus.OPEN,
        paper=False,
        size_oz=size,
        perp_oz=Decimal(0) if closed else -size,
        cfd_oz=Decimal(0) if closed else size,
        entry_usd_per_usdt=Decimal(1),
        planned_at=opened,
        opened_at=opened,
        closed_at=closed,
    )
    _order(hedge, pool.perp_account, "perp", "open", "sell", size, Decimal("4600.10"), opened)
    _order(hedge, pool.cfd_account, "cfd", "open", "buy", size, Decimal("4599.90"), opened)
    if closed:
        _order(hedge, pool.perp_account, "perp", "close", "buy", size, Decimal("4600.00"), closed)
        _order(hedge, pool.cfd_account, "cfd", "close", "sell", size, Decimal("4599.70"), closed)
        rebook_pnl(hedge_id=hedge.pk)
    hedge.refresh_from_db()
    return hedge


def pay(pool: AccountPool, venue_id: str, amount: str, at: datetime) -> FundingPayment:
    return FundingPayment.objects.create(
        tenant_id=pool.tenant_id,
        account=pool.perp_account,
        venue_id=venue_id,
        symbol="XAUUSDT",
        asset="USDT",
        amount=Decimal(amount),
        at=at,
    )


def funding_of(hedge: Hedge) -> list[tuple[str, Decimal]]:
    return list(CarryEntry.objects.filter(hedge=hedge, kind="funding").values_list("venue_ref", "amount"))


# --- funding ----------------------------------------------------------------------------------------------------
def test_funding_goes_to_the_hedges_that_held_the_perp_at_the_funding_time(live_pool: AccountPool) -> None:
    closed_after = short_perp_hedge(live_pool, "2", T - timedelta(hours=2), T + timedelta(hours=1))
    still_open = short_perp_hedge(live_pool, "1", T - timedelta(hours=1), None)
    opened_after = short_perp_hedge(live_pool, "3", T + timedelta(minutes=10), None)
    closed_before = short_perp_hedge(live_pool, "1", T - timedelta(hours=5), T - timedelta(hours=1))
    # The account was short 3 oz at 08:00: 3 · 4600.11 · 0.0001 received, booked by Binance a second later.
    pay(live_pool, "9001", "1.38003300", T + timedelta(seconds=1, milliseconds=200))

    book_carry(now=T + timedelta(hours=2))  # the job runs after the first hedge closed

    assert funding_of(closed_after) == [(f"binance-9001-h{closed_after.pk}", Decimal("0.92002200"))]
    assert funding_of(still_open) == [(f"binance-9001-h{still_open.pk}", Decimal("0.46001100"))]
    assert funding_of(opened_after) == [] and funding_of(closed_before) == []
    closed_after.refresh_from_db()
    assert closed_after.pnl_funding == Decimal("0.92002200")  # its split was booked again
    assert closed_after.pnl_total == (
        closed_after.pnl_spread + closed_after.pnl_fees + closed_after.pnl_funding + closed_after.pnl_swap
        + closed_after.pnl_fx
    )  # fmt: skip

    entries = list(CarryEntry.objects.order_by("pk").values_list("pk", "venue_ref", "amount"))
    book_carry(now=T + timedelta(hours=3))
    assert list(CarryEntry.objects.order_by("pk").values_list("pk", "venue_ref", "amount")) == entries  # idempotent


def test_a_payment_recorded_after_the_hedge_closed_rebooks_its_split(live_pool: AccountPool) -> None:
    hedge = short_perp_hedge(live_pool, "2", T - timedelta(hours=1), T + timedelta(minutes=5))
    before = hedge.pnl_total
    assert hedge.pnl_funding == 0
    book_carry(now=T + timedelta(minutes=10))  # no payment recorded yet
    pay(live_pool, "9002", "0.92002200", T)  # the account sync brings it a minute later
    book_carry(now=T + timedelta(minutes=11))
    hedge.refresh_from_db()
    assert hedge.pnl_funding == Decimal("0.92002200") and hedge.pnl_total == before + Decimal("0.92002200")


def test_shares_follow_fills_recorded_late(live_pool: AccountPool) -> None:
    first = short_perp_hedge(live_pool, "2", T - timedelta(hours=2), None)
    second = short_perp_hedge(live_pool, "1", T - timedelta(hours=2), None)
    pay(live_pool, "9003", "1.38003300", T)
    book_carry(now=T + timedelta(minutes=1))
    assert funding_of(second) == [(f"binance-9003-h{second.pk}", Decimal("0.46001100"))]

    # The second hedge's perp close at 07:50 is heard only now (its order answer was lost, the fill sync found it).
    close = _order(second, live_pool.perp_account, "perp", "close", "buy", Decimal(1), Decimal("4600.00"), None)
    add_fill(close, T - timedelta(minutes=10))
    book_carry(now=T + timedelta(minutes=2))
    assert funding_of(second) == []
    assert funding_of(first) == [(f"binance-9003-h{first.pk}", Decimal("1.38003300"))]


def test_hedges_on_both_sides_share_by_their_signed_positions(live_pool: AccountPool) -> None:
    short = short_perp_hedge(live_pool, "2", T - timedelta(hours=1), None)
    long = Hedge.objects.create(
        tenant_id=live_pool.tenant_id, pool=live_pool, direction=Direction.BUY_PERP, status=HedgeStatus.OPEN,
        paper=False, size_oz=Decimal(1), perp_oz=Decimal(1), cfd_oz=Decimal(-1), planned_at=T - timedelta(hours=1),
        opened_at=T - timedelta(hours=1),
    )  # fmt: skip
    _order(long, live_pool.perp_account, "perp", "open", "buy", Decimal(1), Decimal("4600.12"), T - timedelta(hours=1))
    pay(live_pool, "9004", "0.46001100", T)  # net short 1 oz receives
    book_carry(now=T + timedelta(minutes=1))
    assert funding_of(short) == [(f"binance-9004-h{short.pk}", Decimal("0.92002200"))]  # the short earned 2 oz's
    assert funding_of(long) == [(f"binance-9004-h{long.pk}", Decimal("-0.46001100"))]  # the long paid 1 oz's


def test_a_payment_no_hedge_explains_is_booked_unattributed_and_old_shares_are_replaced(
    live_pool: AccountPool,
) -> None:
    pay(live_pool, "9005", "-0.46001100", T - timedelta(hours=8))  # before any hedge of ours
    hedge = short_perp_hedge(live_pool, "1", T - timedelta(hours=1), None)
    pay(live_pool, "9006", "0.46001100", T + timedelta(hours=8))
    # What the earlier rule booked: the whole payment onto whichever hedge was open when the job ran.
    CarryEntry.objects.create(
        tenant_id=live_pool.tenant_id, account=live_pool.perp_account, hedge=hedge, kind="funding",
        amount=Decimal("-0.46001100"), currency="USDT", amount_usd=Decimal("-0.46001100"), venue_ref="binance-9005",
        paper=False, at=T - timedelta(hours=8),
    )  # fmt: skip
    book_carry(now=T + timedelta(hours=9))
    unattributed = CarryEntry.objects.get(venue_ref="binance-9005-unattributed")
    assert unattributed.hedge_id is None and unattributed.amount == Decimal("-0.46001100")
    assert funding_of(hedge) == [(f"binance-9006-h{hedge.pk}", Decimal("0.46001100"))]


# --- fees in another currency ---------------------------------------------------------------------------------
def test_a_usdt_fee_on_the_cfd_leg_is_booked_in_usd_at_the_fill_s_rate(live_pool: AccountPool) -> None:
    hedge = short_perp_hedge(live_pool, "1", T - timedelta(hours=1), None)
    order = Order.objects.get(hedge=hedge, leg="cfd", intent="open")
    Fill.objects.filter(order=order).delete()
    RateTick.objects.create(source="binance-usdcusdt", ts=T - timedelta(minutes=20), usd_per_usdt=Decimal("0.99940"))
    RateTick.objects.create(source="binance-usdcusdt", ts=T - timedelta(seconds=3), usd_per_usdt=Decimal("0.999650"))
    RateTick.objects.create(source="binance-usdcusdt", ts=T + timedelta(seconds=3), usd_per_usdt=Decimal("0.99990"))
    deal = FillEvent("1000002", Decimal(1), Decimal("4599.90"), Decimal("0.09"), "USDT", int(T.timestamp() * 1000))
    order_record(order=order, report=None, fills=[deal, deal], source="poll")  # heard twice: booked once
    (fill,) = Fill.objects.filter(order=order)
    assert (fill.fee, fill.fee_currency) == (Decimal("0.08996850"), "USD")  # 0.09 USDT × 0.99965
    assert (fill.venue_fee, fill.venue_fee_asset, fill.fee_rate) == (Decimal("0.09"), "USDT", Decimal("0.99965"))
    assert (fill.fee_rate_source, fill.fee_rate_at) == ("binance-usdcusdt", T - timedelta(seconds=3))


# --- the pages and the API ------------------------------------------------------------------------------------
def _bnb_fill(pool: AccountPool) -> tuple[Hedge, Fill]:
    hedge = short_perp_hedge(pool, "1", T - timedelta(hours=1), None)
    fill = Fill.objects.get(order__hedge=hedge, order__leg="perp")
    Fill.objects.filter(pk=fill.pk).update(
        fee=Decimal("2.07004599"), maker=False, venue_fee=Decimal("0.00338055"), venue_fee_asset="BNB",
        fee_rate=Decimal("612.34"), fee_rate_source="binance-usdm:BNBUSDT:1m-open",
        fee_rate_at=T - timedelta(minutes=1),
    )  # fmt: skip
    fill.refresh_from_db()
    return hedge, fill


def test_live_fills_show_on_the_hedge_page_and_the_fills_table(
    live_pool: AccountPool, alice: Any, bob: Any, charlie: Any
) -> None:
    hedge, fill = _bnb_fill(live_pool)
    page = tenant_client(bob).get(f"/trading/hedges/{hedge.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "No fills yet" not in html and fill.fill_id in html
    assert "0.00338055 BNB" in html and "612.34" in html and "binance-usdm:BNBUSDT:1m-open" in html
    table = tenant_client(bob).get("/trading/fills/").content.decode()
    assert fill.fill_id in table and "0.00338055 BNB" in table
    assert tenant_client(charlie).get(f"/trading/hedges/{hedge.pk}/").status_code == 404
    assert fill.fill_id not in tenant_client(charlie).get("/trading/fills/").content.decode()


def test_the_fills_api_reads_the_live_records(live_pool: AccountPool, bob: Any, charlie: Any) -> None:
    _hedge, fill = _bnb_fill(live_pool)
    rows = Api(bob).get("fills/").json()["results"]
    row = next(row for row in rows if row["fill_id"] == fill.fill_id)
    assert row["account"] == live_pool.perp_account_id and row["paper"] is False
    assert (row["fee"], row["fee_currency"], row["maker"]) == ("2.07004599", "USDT", False)
    assert (row["venue_fee"], row["venue_fee_asset"], row["fee_rate"], row["fee_rate_source"]) == (
        "0.00338055", "BNB", "612.34000000", "binance-usdm:BNBUSDT:1m-open",
    )  # fmt: skip
    assert Api(charlie).get("fills/").json()["count"] == 0
