"""The engine follows the pairs without a restart: a new pair streams within seconds, a changed one
restarts, a removed or disabled one stops (its venue sessions closed); the demo's always-open calendar applies to a
simulated CFD only, never to a live one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings

from accounts.venue_kinds import Venue
from mt5ops.models import TerminalInstance
from tests.fakes.fixtures import BinanceFake
from tests.waiting import until
from trading.choices import RateSource
from trading.marketdata.pipeline import MarketPipeline, load_runtimes
from trading.marketdata.views import stored_state
from trading.models import Instrument, QuoteSource, SourcePair
from trading.venues.base import MergedFeed
from trading.venues.binance.gateway import BinanceQuoteFeed

pytestmark = [pytest.mark.timeout(120)]

SATURDAY = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


async def write(change: Callable[[], Any]) -> None:
    """A write beside the running engine. The in-memory SQLite of the tests locks whole tables between threads
    ("database table is locked"): try again until the engine's own writes let it through (PostgreSQL never needs
    this)."""
    from django.db import OperationalError

    deadline = time.monotonic() + 30
    while True:
        try:
            await sync_to_async(change)()
            return
        except OperationalError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


def runtime_of(pipeline: MarketPipeline, pair_id: int) -> Any:
    return next((runtime for runtime in pipeline.runtimes if runtime.pair_id == pair_id), None)


def fake_binance_pair(fake: BinanceFake, tenant: Any) -> SourcePair:
    """What a desk admin creates in the portal: a Binance source on the fake's endpoint, the platform's simulated CFD
    (fixed rate, so nothing waits for a rate source)."""
    perp = QuoteSource.objects.create(
        tenant=tenant,
        key="alpha-binance-fake",
        venue=Venue.BINANCE_USDM,
        endpoint=fake.rest_url,
        instrument=Instrument.objects.get(venue=Venue.BINANCE_USDM, symbol="XAUUSDT"),
        label="Binance (fake)",
    )
    cfd = QuoteSource.objects.get(key="simulated-cfd-xauusd-s")
    return SourcePair.objects.create(
        tenant=tenant, name="Live perp / sim CFD", perp_source=perp, cfd_source=cfd, rate_source=RateSource.FIXED
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("thread_connections_closed")
async def test_a_pair_created_while_the_engine_runs_streams_then_restarts_on_change_and_stops_when_disabled(
    binance_fake: BinanceFake, alice: Any, sim_pair: Any
) -> None:
    pipeline = MarketPipeline(
        seed=1, demo_calendar=True, push_hz=20, flush_every_s=0.2, heartbeat_every_s=0.3, watch_accounts=False
    )
    pipeline.reload_every_s = 0.2
    running = asyncio.create_task(pipeline.run())
    try:
        await until(lambda: runtime_of(pipeline, sim_pair.pk) is not None, 30, "the seeded pair streams")
        created: list[SourcePair] = []
        await write(lambda: created.append(fake_binance_pair(binance_fake, alice.tenant)))
        pair = created[0]

        # New: streamed within seconds, no restart.
        await until(lambda: runtime_of(pipeline, pair.pk) is not None, 30, "the new pair is picked up")
        await until(lambda: binance_fake.state()["public_sockets"] >= 1, 30, "the new pair's stream opens")
        binance_fake.set_book("4601.50", "4601.53")
        await until(
            lambda: runtime_of(pipeline, pair.pk).last_sample is not None, 30, "the new pair is priced from Binance"
        )
        first = runtime_of(pipeline, pair.pk)
        assert runtime_of(pipeline, sim_pair.pk) is not None  # the others never paused
        binance_feed = next(part for part in first.feed.feeds if isinstance(part, BinanceQuoteFeed))

        # Changed: restarted with the new settings.
        await write(lambda: SourcePair.objects.filter(pk=pair.pk).update(entry_threshold=Decimal("3.00")))
        await until(lambda: runtime_of(pipeline, pair.pk) not in (None, first), 30, "the changed pair restarts")
        assert runtime_of(pipeline, pair.pk).engine.entry_threshold == Decimal("3.00")
        # The old feed's ccxt session was closed as it stopped (none left for the garbage collector to warn about).
        session = binance_feed.gateway.exchange.session
        assert session is None or session.closed
        assert binance_feed.gateway.exchange.clients == {}  # its WebSocket too

        # Disabled: stopped, its feed task gone and its sources no longer reported.
        await write(lambda: SourcePair.objects.filter(pk=pair.pk).update(enabled=False))
        await until(lambda: runtime_of(pipeline, pair.pk) is None, 30, "the disabled pair stops")
        assert pair.pk not in pipeline.pair_tasks
        assert "alpha-binance-fake" not in pipeline.feeds.sources
        assert runtime_of(pipeline, sim_pair.pk) is not None

        # Removed: a deleted pair stops the same way (enabled again first, then deleted).
        await write(lambda: SourcePair.objects.filter(pk=pair.pk).update(enabled=True))
        await until(lambda: runtime_of(pipeline, pair.pk) is not None, 30, "the re-enabled pair streams")
        await write(lambda: SourcePair.objects.filter(pk=pair.pk).delete())
        await until(lambda: runtime_of(pipeline, pair.pk) is None, 30, "the deleted pair stops")
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    # Every feed closed its venue sessions on the way out.
    for runtime in pipeline.runtimes:
        if isinstance(runtime.feed, MergedFeed):
            for part in runtime.feed.feeds:
                if isinstance(part, BinanceQuoteFeed):
                    assert part.gateway.exchange.session is None or part.gateway.exchange.session.closed


@pytest.fixture
def mt5_pair(alice: Any, sim_pair: Any) -> SourcePair:
    """A live MT5 CFD source (a desk's terminal) paired with the simulated perp."""
    terminal = TerminalInstance.objects.create(tenant=alice.tenant, label="T1", backend="sim")
    cfd = QuoteSource.objects.create(
        tenant=alice.tenant,
        key="alpha-mt5",
        venue=Venue.BYBIT_MT5,
        instrument=Instrument.objects.get(venue=Venue.BYBIT_MT5, symbol="XAUUSD.s"),
        terminal=terminal,
        label="MT5 XAUUSD.s (T1)",
    )
    perp = QuoteSource.objects.get(key="simulated-perp-xauusdt")
    return SourcePair.objects.create(
        tenant=alice.tenant, name="Sim perp / MT5", perp_source=perp, cfd_source=cfd, rate_source=RateSource.FIXED
    )


@pytest.mark.django_db
def test_the_demo_calendar_opens_a_simulated_cfd_at_the_weekend_but_never_a_live_one(
    sim_pair: Any, mt5_pair: SourcePair, frozen_clock: Any, settings: Any
) -> None:
    frozen_clock.set(SATURDAY)
    runtimes = {runtime.pair_id: runtime for runtime in load_runtimes(seed=1, demo_calendar=True)}
    at = int(SATURDAY.timestamp() * 1000)

    simulated = runtimes[sim_pair.pk].session.current(at)
    live = runtimes[mt5_pair.pk].session.current(at)

    assert simulated.is_open and simulated.demo  # the embedded demo's market, open at any hour
    assert live.state == "weekend" and not live.demo  # the broker's calendar, whatever the demo does
    settings.QUANTARB_DEMO_CALENDAR = True
    assert stored_state(mt5_pair)["session"]["state"] == "weekend"  # the page load judges it the same way
    assert stored_state(sim_pair)["session"]["state"] == "open"


@pytest.mark.django_db
def test_an_mt5_source_reads_from_its_own_terminal(mt5_pair: SourcePair) -> None:
    from trading.venues.mt5.gateway import ConnectingMt5Feed
    from trading.venues.simulated import SimulatedFeed

    [runtime] = [r for r in load_runtimes(seed=1, demo_calendar=False) if r.pair_id == mt5_pair.pk]
    assert isinstance(runtime.feed, MergedFeed)
    [cfd_feed] = [part for part in runtime.feed.feeds if isinstance(part, ConnectingMt5Feed)]
    assert cfd_feed.feed.source == "alpha-mt5"
    # The simulated perp beside a live CFD is still fed (by the simulated market).
    [simulated] = [part for part in runtime.feed.feeds if isinstance(part, SimulatedFeed)]
    assert simulated.perp is True and simulated.cfd is False
    assert settings.QUANTARB_PAIR_RELOAD_SECONDS > 0
