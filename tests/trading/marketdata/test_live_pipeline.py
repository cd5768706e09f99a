"""A pair whose perp source is a Binance endpoint, in the engine pipeline and in `poll_feeds`, against the
out-of-process fake Binance: the perp leg from its book-ticker stream (REST when polled), the CFD leg from the
simulated market, usd_per_usdt from the fake's USDC/USDT book, per-source feed states in the heartbeat."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from accounts.venue_kinds import Venue
from tests.fakes.fixtures import BinanceFake
from tests.waiting import until_async
from trading.choices import RateSource
from trading.marketdata.pipeline import MarketPipeline, load_runtimes
from trading.marketdata.polling import poll_feeds
from trading.models import Heartbeat, Instrument, QuoteSource, QuoteTick, RateTick, SourcePair
from trading.venues.base import MergedFeed
from trading.venues.binance.gateway import RATE_SOURCE, BinanceQuoteFeed, BinanceRateFeed
from trading.venues.simulated import SimulatedFeed

pytestmark = [pytest.mark.timeout(90)]


def binance_pair(fake: BinanceFake, *, rate_source: str = RateSource.BINANCE_USDC) -> SourcePair:
    """The fake as a quote source: its base URL is the source's endpoint (the WebSocket base is derived)."""
    perp = QuoteSource.objects.create(
        key="binance-fake-xauusdt",
        venue=Venue.BINANCE_USDM,
        endpoint=fake.rest_url,
        instrument=Instrument.objects.get(venue=Venue.BINANCE_USDM, symbol="XAUUSDT"),
        label="Binance XAUUSDT (fake)",
        stale_after_s=Decimal("2"),
    )
    cfd = QuoteSource.objects.get_or_create(
        key="simulated-cfd-xauusd-s",
        defaults={
            "venue": Venue.SIMULATED_CFD,
            "instrument": Instrument.objects.get(venue=Venue.SIMULATED_CFD, symbol="XAUUSD.s"),
            "label": "MT5 XAUUSD.s (sim)",
        },
    )[0]
    return SourcePair.objects.create(name="Binance fake / sim CFD", perp_source=perp, cfd_source=cfd,
                                     rate_source=rate_source)  # fmt: skip


@pytest.mark.django_db
def test_a_binance_perp_source_is_fed_by_the_binance_feed_and_simulated_pairs_stay_as_they_are(
    binance_fake: BinanceFake, sim_pair: Any
) -> None:
    pair = binance_pair(binance_fake)
    runtimes = {runtime.pair_id: runtime for runtime in load_runtimes(seed=1, demo_calendar=True)}
    assert isinstance(runtimes[sim_pair.pk].feed, SimulatedFeed)  # unchanged
    merged = runtimes[pair.pk].feed
    assert isinstance(merged, MergedFeed)
    binance, simulated, rate = merged.feeds
    assert isinstance(binance, BinanceQuoteFeed) and isinstance(rate, BinanceRateFeed)
    assert isinstance(simulated, SimulatedFeed) and simulated.perp is False
    assert (binance.gateway.rest_url, binance.gateway.ws_url) == (binance_fake.rest_url, binance_fake.ws_url)
    assert binance.gateway.api_key is None  # public streams need no account
    assert binance.health is not None and binance.health.stale_after_ms == 2_000  # the source's own limit
    assert runtimes[pair.pk].self_reporting == {"binance-fake-xauusdt", RATE_SOURCE}


@pytest.mark.django_db
def test_poll_feeds_polls_binance_over_rest_with_the_rate_first(binance_fake: BinanceFake, frozen_clock: Any) -> None:
    binance_fake.config(usdc_bid="1.0003", usdc_ask="1.0004")
    pair = binance_pair(binance_fake)
    # The fake stamps quotes with its own (real) time: move the pinned clock there, so they are fresh.
    frozen_clock.set(datetime.now(UTC))
    summary = poll_feeds()
    assert summary["engine_streaming"] is False and summary["polled"] >= 3
    tick = QuoteTick.objects.filter(source=pair.perp_source).get()
    assert (tick.bid, tick.ask) == (Decimal("4600.10"), Decimal("4600.12"))
    rate = RateTick.objects.filter(source=RateSource.BINANCE_USDC).get()
    assert rate.usd_per_usdt == Decimal("0.999650")
    feeds = Heartbeat.objects.get(component="poller").detail["feeds"]
    assert feeds["binance-fake-xauusdt"]["mode"] == "poll" and feeds["binance-fake-xauusdt"]["polls"] == 1
    assert feeds[RATE_SOURCE]["quote_age_ms"] is not None


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("thread_connections_closed")
async def test_the_engine_streams_binance_prices_with_the_usdc_rate_and_reports_feed_states(
    binance_fake: BinanceFake,
) -> None:
    binance_fake.config(usdc_bid="1.0003", usdc_ask="1.0004")
    pair = await sync_to_async(binance_pair)(binance_fake)
    pipeline = MarketPipeline(seed=1, demo_calendar=True, push_hz=20, flush_every_s=0.2, heartbeat_every_s=0.3)
    running = asyncio.create_task(pipeline.run())
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if binance_fake.state()["public_sockets"] >= 1:
                binance_fake.set_book("4601.50", "4601.53")
            runtime = next((r for r in pipeline.runtimes if r.pair_id == pair.pk), None)
            perp = runtime.engine.perp if runtime is not None else None
            if (
                runtime is not None
                and runtime.last_sample is not None
                and perp
                and perp.bid_price == Decimal("4601.50")
            ):
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError("no sample priced from the streamed Binance book within 15 s")
        state = runtime.state(int(time.time() * 1000))
        assert state["rate"]["usd_per_usdt"] == "0.999650" and state["rate"]["source"] == RateSource.BINANCE_USDC
        assert state["rate"]["ts_ms"] is not None and state["rate"]["assumed"] is False

        def beat_with_every_feed() -> Heartbeat | None:
            beat = Heartbeat.objects.filter(component="engine").first()
            feeds = beat.detail.get("feeds", {}) if beat is not None else {}
            names = ("binance-fake-xauusdt", "simulated-cfd-xauusd-s", RATE_SOURCE)
            return beat if all(feeds.get(name, {}).get("state") == "live" for name in names) else None

        beat = await until_async(sync_to_async(beat_with_every_feed), 5, "a heartbeat with the feed states")
        feeds = beat.detail["feeds"]
        assert feeds["binance-fake-xauusdt"]["state"] == "live" and feeds["binance-fake-xauusdt"]["messages"] >= 1
        assert feeds["simulated-cfd-xauusd-s"]["state"] == "live"
        assert feeds[RATE_SOURCE]["state"] == "live"
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        for runtime in pipeline.runtimes:
            if isinstance(runtime.feed, MergedFeed):
                for part in runtime.feed.feeds:
                    if isinstance(part, BinanceQuoteFeed | BinanceRateFeed):
                        await part.gateway.close()
