"""Live fills from every source, once, and the carry inputs recorded — against the OUT-OF-PROCESS fakes (fake
Binance through the account's endpoint override, the MT5 bridge fake through the rpyc backend)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from accounts.models import Membership
from tests.helpers.runners import db
from tests.waiting import until_async
from trading.choices import FillSource
from trading.domain.clientids import client_order_id
from trading.execution.fills import sync_live_fills
from trading.execution.services import order_record
from trading.execution.venue_factory import execution_venues
from trading.marketdata.carry_inputs import record_carry_inputs
from trading.marketdata.selectors import funding_rate_history, swap_terms_history
from trading.models import Fill, FundingRateRecord, Order, PairAccess, SourcePair, SwapTermsRecord
from trading.reconciliation.venue_events import UserStreamWatcher

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("thread_connections_closed"),
    pytest.mark.timeout(120),
]


def _perp_order(setup: dict[str, Any], quantity: str = "2.000", side: str = "sell") -> Order:
    """One of our perp orders as the executor persists it before the send (no hedge needed for the fills)."""
    account = setup["binance"]
    return Order.objects.create(
        tenant_id=account.tenant_id,
        account=account,
        leg="perp",
        intent="open",
        attempt=1,
        client_order_id=client_order_id(account.tenant_id, 1, "perp", "open", 1),
        side=side,
        kind="market",
        quantity=Decimal(quantity),
        status="submitting",
        paper=False,
        created_at=datetime.now(UTC),
        submitted_at=datetime.now(UTC),
    )


async def test_a_trade_heard_on_the_stream_then_read_over_rest_is_one_fill_with_its_bnb_fee_converted(
    live_setup: dict[str, Any], binance_fake: Any
) -> None:
    order = await db(_perp_order)(live_setup)
    watcher = UserStreamWatcher(live_setup["binance"])
    watching = asyncio.ensure_future(watcher.run())
    venues = await db(execution_venues)(live_setup["pool"], 0, None)
    venue = venues[live_setup["binance"].pk]
    try:
        await until_async(
            lambda: asyncio.to_thread(lambda: binance_fake.state()["private_sockets"] >= 1),
            10,
            "the user-data stream open",
        )
        binance_fake.bnb_commission(count=1, price="598.77")
        # The order reaches the venue, its answer is not recorded yet: the stream is first.
        await venue.gateway.connect()
        await venue.gateway.place_order(client_order_id=order.client_order_id, side="sell", quantity=Decimal(2))

        async def streamed() -> list[Fill]:
            rows: list[Fill] = await db(lambda: list(Fill.objects.filter(order=order)))()
            return rows

        (fill,) = await until_async(streamed, 10, "the streamed fill")
        assert fill.source == FillSource.STREAM

        # Then the REST read (a lookup, as after a lost answer): the same trade, not booked twice.
        answer = await venue.lookup(order.client_order_id)
        assert [heard.fill_id for heard in answer.fills] == [fill.fill_id]
        await db(order_record)(order=order, report=answer.report, fills=list(answer.fills), source=FillSource.LOOKUP)
        (recorded,) = await db(lambda: list(Fill.objects.filter(order=order)))()
        (trade,) = binance_fake.records()["trades"]
        assert (recorded.pk, recorded.fill_id, recorded.source) == (fill.pk, str(trade["id"]), FillSource.STREAM)
        stored = await db(Order.objects.get)(pk=order.pk)
        assert (stored.status, stored.filled) == ("filled", Decimal(2))

        # Its commission was paid in BNB: booked in USDT with the rate, its source and its minute.
        minute = trade["time"] - trade["time"] % 60_000
        assert (recorded.venue_fee, recorded.venue_fee_asset, recorded.fee_rate) == (
            Decimal(trade["commission"]), "BNB", Decimal("598.77"),
        )  # fmt: skip
        assert recorded.fee_rate_source == "binance-usdm:BNBUSDT:1m-open"
        assert recorded.fee_rate_at == datetime.fromtimestamp(minute / 1000, UTC)
        assert (recorded.fee, recorded.fee_currency, recorded.maker) == (
            (Decimal(trade["commission"]) * Decimal("598.77")).quantize(Decimal("0.00000001")), "USDT", False,
        )  # fmt: skip
        assert watcher.fills == 1 and watcher.recorded == 0  # our own order: fills, no venue event
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
        await venue.gateway.close()


async def test_the_fill_sync_reads_the_fills_an_answer_missed(live_setup: dict[str, Any], binance_fake: Any) -> None:
    order = await db(_perp_order)(live_setup)
    venues = await db(execution_venues)(live_setup["pool"], 0, None)
    venue = venues[live_setup["binance"].pk]
    try:
        await venue.gateway.connect()
        state = await venue.gateway.place_order(client_order_id=order.client_order_id, side="sell", quantity=Decimal(2))
    finally:
        await venue.gateway.close()
    # The answer was recorded without its trades (their read timed out): the order is filled, its fills missing.
    from trading.venues.binance.orders import answer_of

    await db(order_record)(order=order, report=answer_of(state).report, fills=[], source=FillSource.ANSWER)
    assert await db(Fill.objects.filter(order=order).count)() == 0

    counts = await db(sync_live_fills)()
    assert counts == {"orders": 1, "fills": 1, "failed": 0}
    (fill,) = await db(lambda: list(Fill.objects.filter(order=order)))()
    (trade,) = binance_fake.records()["trades"]
    assert (fill.fill_id, fill.source, fill.fee) == (str(trade["id"]), FillSource.POLL, Decimal(trade["commission"]))
    assert await db(sync_live_fills)() == {"orders": 0, "fills": 0, "failed": 0}  # nothing missing any more


async def test_carry_inputs_are_recorded_once_per_funding_time_and_day(
    live_setup: dict[str, Any], binance_fake: Any, mt5_bridge: Any, alice: Any, charlie: Any
) -> None:
    mt5_bridge.terminal.qa_reset()
    pair = await db(SourcePair.objects.get)(name="Fake pair")
    await db(PairAccess.objects.create)(tenant=alice.tenant, pair=pair)
    binance_fake.config(funding_rate="-0.00012500", mark_price="4601.50")
    server_ms = binance_fake.records()["server_ms"]
    interval = 8 * 3_600_000
    binance_fake.advance((interval - server_ms % interval) / 1000 + interval / 1000 + 1)  # two funding times
    funding_times = [row["fundingTime"] for row in binance_fake.records()["funding_rates"]]
    assert len(funding_times) == 2

    first = await db(record_carry_inputs)()
    assert first == {"funding_rates": 2, "swap_terms": 1, "failed": 0}
    assert await db(record_carry_inputs)() == {"funding_rates": 0, "swap_terms": 0, "failed": 0}  # idempotent

    alice_member, charlie_member = await db(lambda: [Membership.objects.get(user=p.user) for p in (alice, charlie)])()
    rates = await db(lambda: list(funding_rate_history(membership=alice_member)))()
    assert [(int(row.funding_time.timestamp() * 1000), row.rate, row.mark_price) for row in rates] == [
        (at, Decimal("-0.000125"), Decimal("4601.5")) for at in funding_times
    ]
    (terms,) = await db(lambda: list(swap_terms_history(membership=alice_member)))()
    assert (terms.swap_mode, terms.swap_long, terms.swap_short, terms.swap_rollover3days) == (
        1, Decimal("-55.2"), Decimal("21.4"), 3,
    )  # fmt: skip
    assert (terms.point, terms.contract_size, terms.currency_profit) == (Decimal("0.01"), Decimal(100), "USD")
    assert terms.day == datetime.now(UTC).date()
    # Other tenants see the history of the pairs they are granted only.
    assert await db(lambda: funding_rate_history(membership=charlie_member).count())() == 0
    assert await db(lambda: swap_terms_history(membership=charlie_member).count())() == 0

    # The next funding time adds one row; the next day one more set of terms.
    binance_fake.advance(interval / 1000)
    assert (await db(record_carry_inputs)())["funding_rates"] == 1
    later = datetime.now(UTC) + timedelta(days=1)
    assert (await db(record_carry_inputs)(later))["swap_terms"] == 1
    assert await db(FundingRateRecord.objects.count)() == 3 and await db(SwapTermsRecord.objects.count)() == 2
