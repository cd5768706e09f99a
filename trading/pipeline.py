"""The market pipeline: feeds → validation → spread engine → store + live push, on asyncio.

One `MarketPipeline` runs inside the embedded platform process (and, in the services topology, inside
`runengine`). Per enabled source pair it owns a feed, a `SpreadEngine`, the CFD's session state and the
USDT/USD rate; samples go to the batched `MarketStore` and the latest state to the channel layer, at most
`push_hz` times a second per pair (one message per pair update, never one per browser).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from quantarb import clock
from quantarb.events import SpreadUpdate, pair_group
from quantarb.live import group_send
from trading.choices import RateSource, Venue
from trading.domain.calendar import SessionCalendar as DomainCalendar
from trading.domain.calendar import SessionStatus, demo_always_open
from trading.domain.engine import SpreadEngine, SpreadSample
from trading.domain.fixed import price_decimal, rate_decimal
from trading.domain.quotes import Quote, QuoteValidator
from trading.venues.base import MergedFeed, QuoteFeed, RateObservation
from trading.venues.binance import RATE_SOURCE, SYMBOL, BinanceQuoteFeed, BinanceRateFeed, BinanceUsdmGateway
from trading.venues.simulated import SimulatedFeed, SimulatedGoldMarket

from .feeds import FeedManager
from .live_state import pair_state, quote_state, sample_state
from .models import Heartbeat, QuoteSource, SourcePair
from .models import SpreadSample as StoredSample
from .store import MarketStore, close_interrupted_opportunities
from .venue_events import Mt5ActivityWatcher, UserStreamWatcher, mt5_watched_accounts, watched_accounts

log = logging.getLogger(__name__)

# The USDT/USD rate is polled every few seconds: it is stale when no answer came for this long.
RATE_STALE_AFTER_MS = 15_000


def now_ms() -> int:
    return int(clock.now().timestamp() * 1000)


@dataclass
class SessionWatch:
    """The CFD session status, recomputed only when a boundary passes (status() is not for every tick)."""

    calendar: DomainCalendar
    status: SessionStatus | None = None
    valid_until_ms: int = 0

    def current(self, ts_ms: int) -> SessionStatus:
        if self.status is None or ts_ms >= self.valid_until_ms:
            self.status = self.calendar.status(clock.now())
            boundary = self.status.closes_at or self.status.opens_at
            self.valid_until_ms = int(boundary.timestamp() * 1000) if boundary else ts_ms + 60_000
            self.valid_until_ms = min(self.valid_until_ms, ts_ms + 60_000)
        return self.status


@dataclass
class PairRuntime:
    pair_id: int
    name: str
    perp_source_id: int
    cfd_source_id: int
    perp_label: str
    cfd_label: str
    perp_places: int
    cfd_places: int
    cfd_lot_ounces: Decimal
    exit_threshold: Decimal
    rate_source: str
    engine: SpreadEngine
    session: SessionWatch
    feed: QuoteFeed
    rate_ts_ms: int | None = None
    # Sources whose feeds report their own health (stream vs REST); the pipeline reports the others' quotes.
    self_reporting: set[str] = field(default_factory=set)
    last_quote_ms: dict[str, int] = field(default_factory=dict)
    last_sample: SpreadSample | None = None
    last_push_mono: float = 0.0
    dirty: bool = False

    def state(self, at_ms: int) -> dict[str, Any]:
        """The JSON-ready state the dashboard renders (trading/live_state.py)."""
        engine = self.engine
        sample = self.last_sample
        current = engine.tracker.current
        return pair_state(
            pair_id=self.pair_id,
            name=self.name,
            at_ms=at_ms,
            stale_after_ms=engine.validator.stale_after_ms,
            perp=_quote(engine.perp, self.perp_label, self.perp_places, self.last_quote_ms.get(engine.perp_source)),
            cfd=_quote(engine.cfd, self.cfd_label, self.cfd_places, self.last_quote_ms.get(engine.cfd_source)),
            cfd_lot_ounces=self.cfd_lot_ounces,
            session=self.session.current(at_ms),
            usd_per_usdt=rate_decimal(engine.rate),
            rate_ts_ms=self.rate_ts_ms,
            rate_source=self.rate_source,
            rate_assumed=self.rate_source == RateSource.FIXED,
            entry_threshold=engine.entry_threshold,
            exit_threshold=self.exit_threshold,
            dropped=engine.validator.dropped(),
            sample=None
            if sample is None
            else sample_state(
                ts_ms=sample.ts_ms,
                edges=sample.edges_usd,
                net=sample.net_usd,
                basis=sample.basis_usd,
                cfd_mid=price_decimal(sample.cfd.bid + sample.cfd.ask) / 2,
                basis_mean=sample.basis_mean,
                basis_std=sample.basis_std,
                zscore=sample.zscore,
            ),
            opportunity=None
            if current is None
            else {
                "direction": current.direction.value,
                "started_ms": current.started_ms,
                "peak": str(current.peak_usd),
            },
        )


def _quote(quote: Quote | None, label: str, places: int, received_ms: int | None) -> dict[str, Any]:
    if quote is None:
        return quote_state(label, places, None, None, received_ms)
    return quote_state(label, places, price_decimal(quote.bid), price_decimal(quote.ask), quote.ts_ms)


def stale_after_ms(source: QuoteSource) -> int:
    seconds = source.stale_after_s if source.stale_after_s is not None else settings.QUANTARB_STALE_AFTER_SECONDS
    return int(Decimal(str(seconds)) * 1000)


def new_feed_manager(role: str = "engine") -> FeedManager:
    return FeedManager(
        stale_after_ms=int(settings.QUANTARB_STALE_AFTER_SECONDS * 1000),
        down_after_ms=int(settings.QUANTARB_FEED_DOWN_AFTER_SECONDS * 1000),
        role=role,
    )


def binance_gateway(source: QuoteSource | None) -> BinanceUsdmGateway:
    """A public (keyless) gateway for a Binance source; `None`: Binance's own hosts (the rate of a pair whose perp
    leg is not on Binance)."""
    rest, ws = source.endpoints() if source is not None else (None, None)
    return BinanceUsdmGateway(rest_url=rest, ws_url=ws, source=source.key if source is not None else SYMBOL)


def _perp_feed(source: QuoteSource, feeds: FeedManager) -> QuoteFeed | None:
    """The feed of a perp leg that is not simulated, reporting to its source's health; None: no gateway yet."""
    if source.venue == Venue.BINANCE_USDM:
        health = feeds.health(source.key, stale_after_ms=stale_after_ms(source))
        return BinanceQuoteFeed(
            binance_gateway(source), health=health, poll_every_s=settings.QUANTARB_FEED_POLL_SECONDS
        )
    return None


def _cfd_feed(source: QuoteSource, market: SimulatedGoldMarket | None) -> QuoteFeed | None:
    """The feed of a CFD leg that is not simulated: an MT5 source is polled through a terminal instance, with the
    login of a live account on it (the source's endpoint `terminal:<id>` names the terminal; empty: the first live
    MT5 account's). None when no such account exists."""
    if source.venue != Venue.BYBIT_MT5:
        return None
    from trading.venues.mt5 import ConnectingMt5Feed, gateway_for

    account = mt5_account_for_source(source)
    if account is None or account.terminal is None:
        return None
    return ConnectingMt5Feed(gateway_for(account.terminal, account.credentials or {}), source.key)


def mt5_account_for_source(source: QuoteSource) -> Any:
    """The live MT5 account whose terminal reads an MT5 source: on the terminal the source's endpoint
    `terminal:<id>` names, else the first live MT5 account's. None when there is none."""
    from accounts.models import VenueAccount

    accounts = VenueAccount.objects.filter(
        venue=Venue.BYBIT_MT5, mode="live", terminal__isnull=False, status__in=["active", "error"]
    ).select_related("terminal")
    if source.endpoint.startswith("terminal:"):
        accounts = accounts.filter(terminal_id=int(source.endpoint.split(":", 1)[1]))
    return accounts.order_by("pk").first()


def load_runtimes(seed: int, demo_calendar: bool, feeds: FeedManager | None = None) -> list[PairRuntime]:
    """Build a runtime for every enabled pair whose venues have a feed.

    Simulated pairs stream the simulated market as before. A Binance perp source is fed by `BinanceQuoteFeed`
    (public streams, no account; the source's endpoint override is honoured), a simulated CFD leg by the simulated
    market, and the USDT/USD rate by the pair's rate source (simulated, fixed, or Binance's USDC/USDT book).
    """
    feeds = feeds or new_feed_manager()
    runtimes = []
    pairs = SourcePair.objects.filter(enabled=True).select_related(
        "perp_source__instrument", "cfd_source__instrument__calendar"
    )
    for pair in pairs:
        perp, cfd = pair.perp_source, pair.cfd_source
        instrument_calendar = cfd.instrument.calendar
        calendar = (
            demo_always_open() if demo_calendar or instrument_calendar is None else instrument_calendar.to_domain()
        )
        market = SimulatedGoldMarket(seed=seed + pair.pk, perp_source=perp.key, cfd_source=cfd.key, calendar=calendar)
        parts: list[QuoteFeed] = []
        self_reporting: set[str] = set()
        simulated_perp = perp.venue == Venue.SIMULATED_PERP
        if not simulated_perp:
            perp_feed = _perp_feed(perp, feeds)
            if perp_feed is None:
                log.warning("pair %s: no live gateway for %s yet, not streamed", pair, perp.venue)
                continue
            parts.append(perp_feed)
            self_reporting.add(perp.key)
        if cfd.venue == Venue.SIMULATED_CFD:
            parts.append(SimulatedFeed(market, perp=simulated_perp))
        else:
            cfd_feed = _cfd_feed(cfd, market)
            if cfd_feed is None:
                log.warning("pair %s: no live gateway for %s yet, not streamed", pair, cfd.venue)
                continue
            parts.append(cfd_feed)
            if pair.rate_source == RateSource.SIMULATED:
                parts.append(SimulatedFeed(market, perp=False, cfd=False))
        if pair.rate_source == RateSource.BINANCE_USDC:
            rate_health = feeds.health(RATE_SOURCE, stale_after_ms=RATE_STALE_AFTER_MS)
            gateway = binance_gateway(perp if perp.venue == Venue.BINANCE_USDM else None)
            gateway.source = RATE_SOURCE
            parts.append(BinanceRateFeed(gateway, health=rate_health))
            self_reporting.add(RATE_SOURCE)
        engine = SpreadEngine(
            perp_source=perp.key,
            cfd_source=cfd.key,
            costs=pair.cost_model(),
            entry_threshold=pair.entry_threshold,
            exit_threshold=pair.exit_threshold,
            validator=QuoteValidator(stale_after_ms=int(settings.QUANTARB_STALE_AFTER_SECONDS * 1000)),
        )
        if pair.rate_source == RateSource.FIXED:
            engine.set_rate(pair.fixed_usd_per_usdt)
        last = StoredSample.objects.filter(pair=pair).order_by("-ts", "-pk").first()
        if last is not None:
            # Carry on from the stored market, so a restart (or a poll) does not jump back to the seed's start.
            market.gold = float((last.cfd_bid + last.cfd_ask) / 2)
            market.basis = float(last.basis)
        for source in (perp, cfd):
            feeds.health(source.key, stale_after_ms=stale_after_ms(source))
        runtimes.append(
            PairRuntime(
                pair_id=pair.pk,
                name=pair.name,
                perp_source_id=perp.pk,
                cfd_source_id=cfd.pk,
                perp_label=perp.label,
                cfd_label=cfd.label,
                perp_places=perp.instrument.price_places,
                cfd_places=cfd.instrument.price_places,
                cfd_lot_ounces=cfd.instrument.contract_size,
                exit_threshold=pair.exit_threshold,
                rate_source=pair.rate_source,
                engine=engine,
                session=SessionWatch(calendar),
                feed=parts[0] if len(parts) == 1 else MergedFeed(parts),
                rate_ts_ms=now_ms() if pair.rate_source == RateSource.FIXED else None,
                self_reporting=self_reporting,
            )
        )
    return runtimes


@dataclass
class MarketPipeline:
    seed: int = 0
    demo_calendar: bool = True
    push_hz: float = 10.0
    flush_every_s: float = 1.0
    heartbeat_every_s: float = 2.0
    store: MarketStore = field(default_factory=MarketStore)
    feeds: FeedManager = field(default_factory=new_feed_manager)
    runtimes: list[PairRuntime] = field(default_factory=list)
    pushes: int = 0
    push_failures: int = 0
    # Follow each live Binance account's user-data stream (venue-side fills: trading/venue_events.py).
    watch_accounts: bool = True
    watchers: list[UserStreamWatcher] = field(default_factory=list)
    mt5_watchers: list[Mt5ActivityWatcher] = field(default_factory=list)

    async def run(self) -> None:
        """Load the pairs, then run every feed, the flusher, the pusher and the heartbeat until cancelled."""
        self.runtimes = await sync_to_async(load_runtimes, thread_sensitive=False)(
            self.seed, self.demo_calendar, self.feeds
        )
        await sync_to_async(close_interrupted_opportunities, thread_sensitive=False)(
            pair_ids=[runtime.pair_id for runtime in self.runtimes]
        )
        log.info("market pipeline: %d pair(s)", len(self.runtimes))
        tasks = [
            asyncio.create_task(self._consume(runtime), name=f"feed-{runtime.pair_id}") for runtime in self.runtimes
        ]
        if self.watch_accounts:
            accounts = await sync_to_async(watched_accounts, thread_sensitive=False)()
            self.watchers = [UserStreamWatcher(account) for account in accounts]
            tasks += [
                asyncio.create_task(watcher.run(), name=f"user-stream-{watcher.account.pk}")
                for watcher in self.watchers
            ]
            mt5_accounts = await sync_to_async(mt5_watched_accounts, thread_sensitive=False)()
            self.mt5_watchers = [Mt5ActivityWatcher(account) for account in mt5_accounts]
            tasks += [
                asyncio.create_task(watcher.run(), name=f"mt5-activity-{watcher.account.pk}")
                for watcher in self.mt5_watchers
            ]
        tasks += [
            asyncio.create_task(self._flush_loop(), name="store-flush"),
            asyncio.create_task(self._push_loop(), name="live-push"),
            asyncio.create_task(self._heartbeat_loop(), name="engine-heartbeat"),
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            with contextlib.suppress(Exception):
                await sync_to_async(self.store.flush, thread_sensitive=False)()

    async def _consume(self, runtime: PairRuntime) -> None:
        """Route every event of one pair's feed through its engine, forever; a bad event never stops it."""
        while True:
            try:
                async for event in runtime.feed.stream():
                    self.handle(runtime, event)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("feed of pair %s failed; restarting in 1 s", runtime.pair_id)
                await asyncio.sleep(1)

    def handle(self, runtime: PairRuntime, event: Quote | RateObservation) -> None:
        received = now_ms()
        engine = runtime.engine
        if isinstance(event, RateObservation):
            if runtime.rate_source == event.source:
                engine.set_rate(event.usd_per_usdt)
                runtime.rate_ts_ms = event.ts_ms
                runtime.dirty = True
                self.store.add_rate(event.source, event.usd_per_usdt, event.ts_ms)
            return
        if event.source not in runtime.self_reporting:
            self.feeds.health(event.source).on_stream_quote(event, received)
        session = runtime.session.current(received)
        closed = engine.set_cfd_open(session.is_open, received)
        if closed is not None:
            self.store.add_opportunity(runtime.pair_id, closed)
        if runtime.rate_ts_ms is None:
            return  # no usd_per_usdt yet: nothing may be priced
        result = engine.on_quote(event, received)
        runtime.dirty = True
        if result.verdict != "ok":
            return
        runtime.last_quote_ms[event.source] = event.ts_ms
        source_id = runtime.perp_source_id if event.source == engine.perp_source else runtime.cfd_source_id
        self.store.add_quote(source_id, event, received)
        if result.closed is not None:
            self.store.add_opportunity(runtime.pair_id, result.closed)
        if result.opened is not None:
            self.store.add_opportunity(runtime.pair_id, result.opened)
        if result.sample is not None:
            runtime.last_sample = result.sample
            self.store.add_sample(runtime.pair_id, result.sample)

    async def _flush_loop(self) -> None:
        flush = sync_to_async(self.store.flush, thread_sensitive=False)
        while True:
            await asyncio.sleep(self.flush_every_s)
            await flush()

    async def _push_loop(self) -> None:
        """Push each changed pair at most `push_hz` a second, and every pair at least once a second."""
        interval = 1 / self.push_hz
        while True:
            await asyncio.sleep(interval)
            mono = time.monotonic()
            at = now_ms()
            for runtime in self.runtimes:
                self.feeds.health(runtime.engine.cfd_source).set_closed(not runtime.session.current(at).is_open)
            self.feeds.evaluate(at)
            for runtime in self.runtimes:
                silenced = runtime.engine.check_fresh(at)
                if silenced is not None:
                    self.store.add_opportunity(runtime.pair_id, silenced)
                    runtime.dirty = True
                if not runtime.dirty and mono - runtime.last_push_mono < 1.0:
                    continue
                runtime.dirty = False
                runtime.last_push_mono = mono
                message: SpreadUpdate = {
                    "type": "spread.update",
                    "pair_id": runtime.pair_id,
                    "state": runtime.state(at),
                }
                if await group_send(pair_group(runtime.pair_id), dict(message)):
                    self.pushes += 1
                else:
                    self.push_failures += 1

    async def _heartbeat_loop(self) -> None:
        beat = sync_to_async(self._beat, thread_sensitive=False)
        while True:
            with contextlib.suppress(Exception):
                await beat()
            await asyncio.sleep(self.heartbeat_every_s)

    def _beat(self) -> None:
        try:
            self._beat_as("engine")
        except Exception:
            # A connection the server cut (a PostgreSQL restart) never heals by itself: Django only reconnects
            # a closed one. Close this thread's, so its next heartbeat reconnects (as the store's flush does).
            connection.close()
            raise

    def _beat_as(self, component: str) -> None:
        """Record this pipeline's liveness and per-source quote times (the health lights read them)."""
        at = now_ms()
        detail = {
            "pairs": {
                str(r.pair_id): {
                    "sources": r.last_quote_ms,
                    "session": r.session.current(at).state.value,
                    "dropped": r.engine.validator.dropped(),
                }
                for r in self.runtimes
            },
            "feeds": self.feeds.snapshot(at),
            "pending": self.store.pending(),
            "lost": self.store.lost,
            "user_streams": {str(w.account.pk): {"recorded": w.recorded} for w in self.watchers},
            "pushes": self.pushes,
            "push_failures": self.push_failures,
            "store_error": self.store.last_error,
        }
        Heartbeat.objects.update_or_create(component=component, defaults={"beat_at": clock.now(), "detail": detail})
