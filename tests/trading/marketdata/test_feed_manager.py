"""The feed manager against the out-of-process fake Binance: per-source states, failover from the book-ticker stream
to REST polling and back, counters, and the USDC/USDT usd_per_usdt source. Waits have stated deadlines; nothing
asserts speed beyond what the issue requires (a dropped stream back within 10 s)."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest
from prometheus_client import REGISTRY, generate_latest

from tests.fakes.fixtures import BinanceFake
from tests.waiting import until
from trading.domain.feeds import FeedMode, FeedState, SourceHealth
from trading.domain.quotes import Quote
from trading.marketdata.feeds import FeedManager
from trading.venues.base import RateObservation
from trading.venues.binance.gateway import (
    RATE_SOURCE,
    BinanceQuoteFeed,
    BinanceRateFeed,
    BinanceUsdmGateway,
    usd_per_usdt_from_book,
)

pytestmark = pytest.mark.timeout(90)

SOURCE = "binance-usdm:XAUUSDT"


# --- the states, on a clock we move by hand --------------------------------------------------------------------
def quote(ts_ms: int, bid: str = "4600.10") -> Quote:
    return Quote.of(SOURCE, Decimal(bid), Decimal(bid) + Decimal("0.02"), ts_ms)


def test_a_source_goes_connecting_live_stale_down_and_back() -> None:
    health = SourceHealth(SOURCE, stale_after_ms=2_000, down_after_ms=10_000, started_ms=0)
    assert health.evaluate(1_000) is FeedState.CONNECTING
    health.on_stream_quote(quote(1_500), 1_500)
    assert health.evaluate(3_000) is FeedState.LIVE
    health.on_drop(3_100, "unreachable")
    assert health.mode is FeedMode.POLL and health.drops == 1
    assert health.evaluate(3_400) is FeedState.CONNECTING  # within the limit: reconnecting, not yet stale
    assert health.evaluate(3_600) is FeedState.STALE  # 2.1 s since the last stream message
    health.on_poll(quote(4_000, "4601.00"), 4_000, roundtrip_ms=3.5)
    assert health.evaluate(12_000) is FeedState.STALE  # REST keeps a good quote within the down limit
    assert health.last_quote is not None and health.last_quote.bid_price == Decimal("4601.00")
    assert health.evaluate(14_100) is FeedState.DOWN  # nothing at all for more than 10 s
    health.on_stream_quote(quote(14_200), 14_200)
    assert health.evaluate(14_300) is FeedState.LIVE
    assert (health.reconnects, health.messages, health.polls, health.mode) == (1, 2, 1, FeedMode.STREAM)


def test_a_closed_market_is_closed_not_stale() -> None:
    health = SourceHealth(SOURCE, stale_after_ms=2_000, down_after_ms=10_000, started_ms=0)
    health.set_closed(True)
    assert health.evaluate(60_000) is FeedState.CLOSED
    health.set_closed(False)
    assert health.evaluate(60_000) is FeedState.DOWN


def test_state_changes_are_counted_and_exported_to_prometheus() -> None:
    manager = FeedManager(stale_after_ms=1_000, down_after_ms=5_000)
    health = manager.health("metrics-test-source")
    health.on_stream_quote(Quote.of("metrics-test-source", "1", "2", health.started_ms), health.started_ms)
    changes = manager.evaluate(health.started_ms + 10)
    assert changes == [("metrics-test-source", FeedState.CONNECTING, FeedState.LIVE)]
    text = generate_latest(REGISTRY).decode()
    assert 'quantarb_feed_state{source="metrics-test-source",state="live"} 1.0' in text
    assert 'quantarb_feed_messages_total{source="metrics-test-source"} 1.0' in text


# --- against the fake Binance -------------------------------------------------------------------------------------
def feed_for(fake: BinanceFake, stale_after_ms: int = 1_500) -> tuple[BinanceQuoteFeed, SourceHealth]:
    health = FeedManager(stale_after_ms=stale_after_ms, down_after_ms=30_000).health(SOURCE)
    gateway = BinanceUsdmGateway(rest_url=fake.rest_url, ws_url=fake.ws_url, throttle=False, timeout_ms=3_000)
    return BinanceQuoteFeed(gateway, health=health, retry_delay_s=0.3, poll_every_s=0.3), health


async def test_a_dropped_stream_goes_stale_then_polls_then_reconnects_and_resyncs(binance_fake: BinanceFake) -> None:
    feed, health = feed_for(binance_fake)
    seen: list[Quote] = []

    async def consume() -> None:
        async for event in feed.stream():
            assert isinstance(event, Quote)
            seen.append(event)

    consumer = asyncio.create_task(consume())
    try:
        await until(lambda: binance_fake.state()["public_sockets"] == 1, 10, "the stream subscribes")
        await until(lambda: binance_fake.state()["subscribed_sockets"] == 1, 5, "the SUBSCRIBE that follows the socket")
        binance_fake.set_book("4602.00", "4602.10")
        await until(lambda: health.evaluate(now_ms()) is FeedState.LIVE, 5, "live on the first message")

        # The venue drops every socket and refuses new ones for 3 s; the book moves meanwhile.
        binance_fake.control("drop", {"refuse_s": 3})
        dropped = time.monotonic()
        binance_fake.config(bid="4603.00", ask="4603.20")
        await until(lambda: health.drops >= 1, 5, "the drop is seen")
        assert health.evaluate(now_ms()) in (FeedState.CONNECTING, FeedState.LIVE)  # not stale before its limit
        await until(lambda: health.evaluate(now_ms()) is FeedState.STALE, 5, "stale once the limit passes")
        assert time.monotonic() - dropped >= 1.5 - 0.2  # the limit (1.5 s) passed first
        # Failover: REST polling carries the new level while the stream is down.
        await until(lambda: any(q.bid_price == Decimal("4603.00") for q in seen), 5, "a polled quote")
        assert health.mode is FeedMode.POLL and health.polls >= 1 and health.roundtrip_ms is not None

        # Once the venue accepts sockets again the feed resubscribes; the next book update arrives on the stream.
        async def publish_when_reconnected() -> None:
            while True:
                if binance_fake.state()["public_sockets"] == 1:
                    binance_fake.set_book("4604.00", "4604.10")
                await asyncio.sleep(0.2)  # the fake's publishing cadence

        publisher = asyncio.create_task(publish_when_reconnected())
        try:
            await until(lambda: health.mode is FeedMode.STREAM and health.reconnects >= 1, 10, "back on the stream")
        finally:
            publisher.cancel()
        assert time.monotonic() - dropped < 10  # reconnected and resynced within 10 s of the drop
        assert seen[-1].bid_price == Decimal("4604.00")
        assert health.evaluate(now_ms()) is FeedState.LIVE
        assert health.failovers >= 1 and health.last_quote is not None
    finally:
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
        await feed.gateway.close()


async def test_a_silent_stream_fails_over_to_rest_and_back(binance_fake: BinanceFake) -> None:
    """The socket stays open but nothing arrives (the book does not change): polling stands in after the limit,
    and the first stream message switches back."""
    feed, health = feed_for(binance_fake, stale_after_ms=1_000)
    seen: list[Quote] = []

    async def consume() -> None:
        async for event in feed.stream():
            assert isinstance(event, Quote)
            seen.append(event)

    consumer = asyncio.create_task(consume())
    try:
        await until(lambda: binance_fake.state()["public_sockets"] == 1, 10, "the stream subscribes")
        await until(lambda: health.mode is FeedMode.POLL and health.polls >= 2, 6, "polling while silent")
        assert health.drops == 0 and health.evaluate(now_ms()) is FeedState.STALE
        assert seen and seen[-1].bid_price == Decimal("4600.10")  # the REST book
        before = binance_fake.state()["requests"].get("GET /fapi/v1/ticker/bookTicker", 0)
        binance_fake.set_book("4605.00", "4605.05")
        await until(lambda: health.mode is FeedMode.STREAM, 5, "back to the stream")
        assert seen[-1].bid_price == Decimal("4605.00")
        await asyncio.sleep(0.5)  # longer than the poll interval, to prove no poll follows
        # Polling stopped with the stream back (at most one poll was already under way).
        assert binance_fake.state()["requests"].get("GET /fapi/v1/ticker/bookTicker", 0) <= before + 1
    finally:
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
        await feed.gateway.close()


def test_usd_per_usdt_is_one_over_the_usdc_usdt_mid() -> None:
    assert usd_per_usdt_from_book(Decimal("1.0003"), Decimal("1.0004")) == Decimal("0.999650")
    with pytest.raises(ValueError):
        usd_per_usdt_from_book(Decimal("1.0004"), Decimal("1.0003"))


async def test_the_rate_feed_reads_usdc_usdt_with_its_venue_time(binance_fake: BinanceFake) -> None:
    binance_fake.config(usdc_bid="1.0010", usdc_ask="1.0012")
    health = FeedManager(stale_after_ms=15_000, down_after_ms=30_000).health(RATE_SOURCE)
    gateway = BinanceUsdmGateway(rest_url=binance_fake.rest_url, ws_url=binance_fake.ws_url, throttle=False)
    feed = BinanceRateFeed(gateway, health=health, every_s=0.2)
    stream = feed.stream()
    try:
        first = await asyncio.wait_for(anext(stream), 5)
        assert isinstance(first, RateObservation)
        assert (first.usd_per_usdt, first.source) == (Decimal("0.998901"), RATE_SOURCE)
        assert abs(first.ts_ms - now_ms()) < 5_000  # the venue's time: its age is real
        assert health.evaluate(now_ms()) is FeedState.LIVE and health.quote_age_ms(now_ms()) is not None
        binance_fake.config(usdc_bid="0.9990", usdc_ask="0.9992")
        second = await asyncio.wait_for(anext(stream), 5)
        assert isinstance(second, RateObservation) and second.usd_per_usdt == Decimal("1.000901")
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
        await gateway.close()
    [polled] = BinanceRateFeed(
        BinanceUsdmGateway(rest_url=binance_fake.rest_url, ws_url=binance_fake.ws_url)
    ).snapshot()
    assert isinstance(polled, RateObservation) and polled.usd_per_usdt == Decimal("1.000901")


def now_ms() -> int:
    return int(time.time() * 1000)
