"""MarketPipeline.handle over the simulated gold market, on the frozen clock and the CFD's real calendar.

The feed is driven by hand the way `SimulatedFeed.stream` drives it (perp every 250 ms, CFD every 500 ms while
its market is open, the USDT/USD rate every 5 s), so simulated hours take well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings

from accounts.venue_kinds import Venue
from quantarb import clock
from trading.choices import RateSource
from trading.domain.calendar import bybit_mt5_gold
from trading.domain.quotes import Quote
from trading.marketdata.pipeline import MarketPipeline, PairRuntime, load_runtimes, now_ms
from trading.models import Heartbeat, Instrument, QuoteSource, SourcePair
from trading.venues.base import RateObservation
from trading.venues.simulated import SimulatedFeed, SimulatedGoldMarket

pytestmark = pytest.mark.django_db

SATURDAY = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PERP_KEY, CFD_KEY = "simulated-perp-xauusdt", "simulated-cfd-xauusd-s"


@dataclass
class FeedRun:
    quotes: list[Quote] = field(default_factory=list)
    opened: int = 0


def simulated(runtime: PairRuntime) -> SimulatedGoldMarket:
    feed = runtime.feed
    assert isinstance(feed, SimulatedFeed)
    return feed.market


def run_feed(pipeline: MarketPipeline, runtime: PairRuntime, frozen: Any, seconds: float) -> FeedRun:
    """Advance the frozen clock and the market in 250 ms steps, handing every event to the pipeline."""
    market = simulated(runtime)
    run = FeedRun()
    for n in range(int(seconds / 0.25)):
        frozen.advance(0.25)
        ts = now_ms()
        market.advance(ts)
        if n % 20 == 0:
            pipeline.handle(runtime, RateObservation(market.usd_per_usdt(), ts))
        events = [market.perp_quote(ts)]
        if n % 2 == 0 and market.cfd_open(ts):
            events.append(market.cfd_quote(ts))
        for quote in events:
            before = runtime.engine.tracker.current
            pipeline.handle(runtime, quote)
            run.quotes.append(quote)
            current = runtime.engine.tracker.current
            if current is not None and current is not before:
                run.opened += 1
    return run


@pytest.fixture
def runtime(sim_pair: Any, frozen_clock: Any) -> PairRuntime:
    [only] = load_runtimes(seed=settings.QUANTARB_SIM_SEED, demo_calendar=False)
    return only


@pytest.fixture
def pipeline() -> MarketPipeline:
    return MarketPipeline(seed=settings.QUANTARB_SIM_SEED, demo_calendar=False)


def market(seed: int) -> SimulatedGoldMarket:
    return SimulatedGoldMarket(seed=seed, perp_source=PERP_KEY, cfd_source=CFD_KEY, calendar=bybit_mt5_gold())


# --- sessions -----------------------------------------------------------------------------------------------
def test_in_an_open_session_quotes_are_priced_into_samples(
    pipeline: MarketPipeline, runtime: PairRuntime, frozen_clock: Any
) -> None:
    run_feed(pipeline, runtime, frozen_clock, seconds=10)

    store = pipeline.store
    assert len(store.samples) > 20
    assert len(store.quotes) == 40 + 20
    assert len(store.rates) == 2
    state = runtime.state(now_ms())
    assert state["session"] == {
        "state": "open",
        "demo": False,
        "closes_at_ms": int(datetime(2026, 11, 18, 21, 59, tzinfo=UTC).timestamp() * 1000),  # 23:59 server, GMT+2
        "opens_at_ms": None,
    }
    assert state["sample"] is not None
    assert Decimal("4000") < Decimal(state["cfd"]["bid"]) < Decimal("5000")
    assert state["rate"]["assumed"] is False
    assert Decimal(state["rate"]["usd_per_usdt"]) == store.rates[-1][1]


def test_nothing_is_priced_before_the_first_usdt_rate(
    pipeline: MarketPipeline, runtime: PairRuntime, frozen_clock: Any
) -> None:
    market = simulated(runtime)
    ts = now_ms()
    market.advance(ts)

    pipeline.handle(runtime, market.perp_quote(ts))
    pipeline.handle(runtime, market.cfd_quote(ts))

    # The quotes are good and kept — their feeds are healthy; only the rate is missing, so nothing is priced.
    assert len(pipeline.store.quotes) == 2 and not pipeline.store.samples
    assert set(runtime.last_quote_ms) == {runtime.engine.perp_source, runtime.engine.cfd_source}
    state = runtime.state(ts)
    assert state["sample"] is None and state["rate"]["problem"] == "missing"


def test_a_stale_rate_stops_pricing_and_the_edges_are_not_shown_as_current(
    pipeline: MarketPipeline, runtime: PairRuntime, frozen_clock: Any
) -> None:
    market = simulated(runtime)
    ts = now_ms()
    market.advance(ts)
    pipeline.handle(runtime, RateObservation(market.usd_per_usdt(), ts))
    pipeline.handle(runtime, market.perp_quote(ts))
    pipeline.handle(runtime, market.cfd_quote(ts))
    assert runtime.state(ts)["sample"] is not None and len(pipeline.store.samples) == 1

    frozen_clock.advance(20)  # the rate source went quiet, the quote feeds did not
    later = now_ms()
    market.advance(later)
    pipeline.handle(runtime, market.perp_quote(later))
    pipeline.handle(runtime, market.cfd_quote(later))

    assert len(pipeline.store.samples) == 1  # nothing priced with a rate nobody vouches for
    assert len(pipeline.store.quotes) == 4
    state = runtime.state(later)
    assert state["sample"] is None and state["opportunity"] is None and state["rate"]["problem"] == "stale"
    pipeline.handle(runtime, RateObservation(market.usd_per_usdt(), later))
    pipeline.handle(runtime, market.cfd_quote(later))
    assert runtime.state(later)["rate"]["problem"] is None and len(pipeline.store.samples) == 2


def test_at_the_weekend_the_cfd_is_silent_and_nothing_is_priced(
    pipeline: MarketPipeline, sim_pair: Any, frozen_clock: Any
) -> None:
    frozen_clock.set(SATURDAY)
    [runtime] = load_runtimes(seed=settings.QUANTARB_SIM_SEED, demo_calendar=False)
    market = simulated(runtime)
    assert not market.cfd_open(now_ms())

    run = run_feed(pipeline, runtime, frozen_clock, seconds=10)
    ts = now_ms()
    pipeline.handle(runtime, market.cfd_quote(ts))  # a quote delivered anyway must not price anything

    assert {quote.source for quote in run.quotes} == {PERP_KEY}  # the perp trades 24/7
    assert len(pipeline.store.quotes) == len(run.quotes)
    assert len(pipeline.store.samples) == 0
    state = runtime.state(ts)
    assert state["sample"] is None
    assert state["cfd"]["bid"] is None
    # Monday 01:00 server time is Sunday 23:00 UTC in winter (GMT+2).
    assert state["session"]["state"] == "weekend"
    assert state["session"]["opens_at_ms"] == int(datetime(2026, 11, 22, 23, 0, tzinfo=UTC).timestamp() * 1000)


def test_the_friday_close_ends_an_open_opportunity(pipeline: MarketPipeline, sim_pair: Any, frozen_clock: Any) -> None:
    frozen_clock.set(datetime(2026, 11, 20, 21, 58, 50, tzinfo=UTC))  # ten seconds before the weekend
    [runtime] = load_runtimes(seed=settings.QUANTARB_SIM_SEED, demo_calendar=False)
    ts = now_ms()
    pipeline.handle(runtime, RateObservation(Decimal("0.999600"), ts))
    pipeline.handle(runtime, Quote.of(PERP_KEY, "4612.00", "4612.02", ts))
    pipeline.handle(runtime, Quote.of(CFD_KEY, "4600.00", "4600.25", ts))
    opened = runtime.engine.tracker.current
    assert opened is not None

    frozen_clock.advance(20)
    pipeline.handle(runtime, Quote.of(PERP_KEY, "4612.00", "4612.02", now_ms()))

    assert runtime.engine.tracker.current is None
    assert opened.ended_ms == now_ms()
    assert [o for _pair, o in pipeline.store.opportunities] == [opened, opened]  # opened, then ended
    assert runtime.state(now_ms())["session"]["state"] == "weekend"


# --- invalid quotes -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("bid", "ask", "age_ms"),
    [("4601.00", "4600.00", 0), ("4600.00", "4600.00", 0), ("0", "4600.00", 0), ("4600.00", "4600.30", 6_000)],
    ids=["crossed", "locked", "non-positive", "stale"],
)
def test_an_invalid_quote_never_produces_a_sample(
    pipeline: MarketPipeline, runtime: PairRuntime, frozen_clock: Any, bid: str, ask: str, age_ms: int
) -> None:
    ts = now_ms()
    pipeline.handle(runtime, RateObservation(Decimal("0.999600"), ts))
    pipeline.handle(runtime, Quote.of(PERP_KEY, "4602.60", "4602.62", ts))

    pipeline.handle(runtime, Quote.of(CFD_KEY, bid, ask, ts - age_ms))

    assert len(pipeline.store.samples) == 0
    assert [quote.source for _id, quote, _received in pipeline.store.quotes] == [PERP_KEY]
    assert runtime.state(ts)["dropped"] == 1
    assert CFD_KEY not in runtime.last_quote_ms


# --- runtimes -----------------------------------------------------------------------------------------------
def test_a_pair_on_a_fixed_rate_prices_at_once_and_says_the_rate_is_assumed(
    pipeline: MarketPipeline, sim_pair: Any, frozen_clock: Any
) -> None:
    SourcePair.objects.filter(pk=sim_pair.pk).update(
        rate_source=RateSource.FIXED, fixed_usd_per_usdt=Decimal("1.000000")
    )
    [runtime] = load_runtimes(seed=1, demo_calendar=False)
    ts = now_ms()

    pipeline.handle(runtime, Quote.of(PERP_KEY, "4600.60", "4600.62", ts))
    pipeline.handle(runtime, Quote.of(CFD_KEY, "4600.00", "4600.25", ts))

    [(_pair_id, sample)] = pipeline.store.samples
    assert sample.edges_usd.sell_perp == Decimal("0.35")  # 4600.60 × 1.0 − 4600.25
    assert runtime.state(ts)["rate"] == {
        "usd_per_usdt": "1.000000",
        "short": "1.0",  # the dashboard says "fixed 1.0 (assumption)"
        "ts_ms": ts,
        "assumed": True,
        "source": "fixed",
        "problem": None,  # a fixed rate never goes stale
    }


def test_pairs_without_a_simulated_feed_are_not_streamed(sim_pair: Any, frozen_clock: Any) -> None:
    binance = QuoteSource.objects.create(
        key="binance-xauusdt",
        venue=Venue.BINANCE_USDM,
        instrument=Instrument.objects.get(venue=Venue.BINANCE_USDM),
        label="Binance XAUUSDT",
    )
    bybit = QuoteSource.objects.create(
        key="bybit-xauusd-s",
        venue=Venue.BYBIT_MT5,
        instrument=Instrument.objects.get(venue=Venue.BYBIT_MT5),
        label="Bybit XAUUSD.s",
    )
    SourcePair.objects.create(name="live", perp_source=binance, cfd_source=bybit)
    SourcePair.objects.create(name="disabled", perp_source=binance, cfd_source=sim_pair.cfd_source, enabled=False)

    runtimes = load_runtimes(seed=1, demo_calendar=False)

    assert [r.pair_id for r in runtimes] == [sim_pair.pk]


def test_the_demo_calendar_keeps_the_cfd_open_at_the_weekend(sim_pair: Any, frozen_clock: Any) -> None:
    frozen_clock.set(SATURDAY)

    [runtime] = load_runtimes(seed=1, demo_calendar=True)

    assert simulated(runtime).cfd_open(now_ms())
    assert runtime.state(now_ms())["session"]["demo"] is True


def test_the_engine_heartbeat_records_each_sources_last_quote_and_the_session(
    pipeline: MarketPipeline, runtime: PairRuntime, frozen_clock: Any
) -> None:
    run_feed(pipeline, runtime, frozen_clock, seconds=3)
    pipeline.runtimes = [runtime]

    pipeline._beat()

    beat = Heartbeat.objects.get(component="engine")
    assert beat.beat_at == clock.now()
    detail = beat.detail["pairs"][str(runtime.pair_id)]
    assert detail["session"] == "open"
    assert set(detail["sources"]) == {PERP_KEY, CFD_KEY}
    assert max(detail["sources"].values()) == now_ms()
    assert beat.detail["pending"] == pipeline.store.pending()


# --- the simulated market -----------------------------------------------------------------------------------
def quotes_of(sim: SimulatedGoldMarket, start_ms: int, steps: int) -> list[Quote]:
    quotes = []
    for n in range(steps):
        ts = start_ms + n * 250
        sim.advance(ts)
        quotes += [sim.perp_quote(ts), sim.cfd_quote(ts)]
    return quotes


def test_the_simulator_is_deterministic_for_a_seed(frozen_clock: Any) -> None:
    start = now_ms()

    first, again, other = (quotes_of(market(seed), start, 400) for seed in (42, 42, 43))

    assert first == again
    assert first != other


def test_the_simulated_spreads_are_realistic(frozen_clock: Any) -> None:
    quotes = quotes_of(market(settings.QUANTARB_SIM_SEED), now_ms(), 2_000)

    cfd_spreads = {q.spread_price for q in quotes if q.source == CFD_KEY}
    perp_spreads = {q.spread_price for q in quotes if q.source == PERP_KEY}
    assert min(cfd_spreads) >= Decimal("0.20")
    assert max(cfd_spreads) <= Decimal("0.35")
    assert len(cfd_spreads) > 10  # it varies across the range, not one fixed spread
    assert perp_spreads <= {Decimal("0.01"), Decimal("0.02"), Decimal("0.03"), Decimal("0.05")}
    assert all(q.bid % 1_000_000 == 0 for q in quotes)  # whole cents: the venues' tick


def test_two_simulated_hours_bring_opportunities_at_the_seeded_pairs_costs(
    pipeline: MarketPipeline, runtime: PairRuntime, frozen_clock: Any, sim_pair: Any
) -> None:
    run = run_feed(pipeline, runtime, frozen_clock, seconds=2 * 3600)

    assert run.opened >= 1
    recorded = [o for _pair, o in pipeline.store.opportunities]
    assert recorded
    threshold = sim_pair.entry_threshold
    assert all(o.threshold_usd == threshold and o.peak_usd >= threshold for o in recorded)
    # A dislocation clears the costs for a while, not for ever.
    entry_units = runtime.engine.tracker.entry_threshold
    priced = [max(s.net_sell_perp, s.net_buy_perp) for _pair, s in pipeline.store.samples]
    assert sum(1 for edge in priced if edge >= entry_units) < len(priced) / 2
    assert clock.now() - timedelta(hours=2) == datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
