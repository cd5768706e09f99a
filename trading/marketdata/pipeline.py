"""The market pipeline: feeds → validation → spread engine → store + live push, on asyncio.

One `MarketPipeline` runs inside the embedded platform process (and, in the services topology, inside
`runengine`). Per enabled source pair it owns a feed, a `SpreadEngine`, the CFD's session state and the
USDT/USD rate; samples go to the batched `MarketStore` and the latest state to the channel layer, at most
`push_hz` times a second per pair (one message per pair update, never one per browser).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from accounts.models import VenueAccount
from accounts.venue_kinds import Venue
from quantarb import clock
from quantarb.events import SpreadUpdate, pair_group
from quantarb.live import group_send
from trading.choices import RateSource
from trading.domain.calendar import SessionCalendar as DomainCalendar
from trading.domain.calendar import SessionStatus
from trading.domain.engine import SpreadEngine, SpreadSample
from trading.domain.fixed import price_decimal, rate_decimal
from trading.domain.quotes import Quote, QuoteValidator
from trading.marketdata.feeds import FeedManager
from trading.marketdata.live_state import RATE_STALE_AFTER_MS, pair_state, quote_state, sample_state
from trading.marketdata.store import MarketStore, close_interrupted_opportunities
from trading.models import Heartbeat, Instrument, QuoteSource, SourcePair
from trading.models import SpreadSample as StoredSample
from trading.reconciliation.venue_events import (
    Mt5ActivityWatcher,
    UserStreamWatcher,
    mt5_watched_accounts,
    watched_accounts,
)
from trading.venues.base import MergedFeed, QuoteFeed, RateObservation, closing_stream
from trading.venues.binance.gateway import RATE_SOURCE, SYMBOL, BinanceQuoteFeed, BinanceRateFeed, BinanceUsdmGateway
from trading.venues.mt5.gateway import ConnectingMt5Feed, terminal_gateway
from trading.venues.simulated import SimulatedFeed, SimulatedGoldMarket

log = logging.getLogger(__name__)
T = TypeVar("T")


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
    # The pair's configuration when it was loaded (`pair_fingerprint`): a different one restarts the pair.
    fingerprint: str = ""
    # Sources whose feeds report their own health (stream vs REST); the pipeline reports the others' quotes.
    self_reporting: set[str] = field(default_factory=set)
    last_quote_ms: dict[str, int] = field(default_factory=dict)
    last_sample: SpreadSample | None = None
    last_push_mono: float = 0.0
    dirty: bool = False

    def rate_problem(self, at_ms: int) -> str | None:
        """Why usd_per_usdt may not price now: "missing" (its source never answered), "stale" (it stopped
        answering), or None (fresh, or fixed by configuration)."""
        if self.rate_source == RateSource.FIXED:
            return None
        if self.rate_ts_ms is None:
            return "missing"
        return "stale" if at_ms - self.rate_ts_ms > RATE_STALE_AFTER_MS else None

    def state(self, at_ms: int) -> dict[str, Any]:
        """The JSON-ready state the dashboard renders (trading/marketdata/live_state.py). Without a usable rate the last
        edges are not current: none are shown, and the rate's problem says why."""
        engine = self.engine
        rate_problem = self.rate_problem(at_ms)
        sample = self.last_sample if rate_problem is None else None
        current = engine.tracker.current if rate_problem is None else None
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
            rate_problem=rate_problem,
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


def _healing(read: Callable[..., T]) -> Callable[..., T]:
    """`read`, closing its thread's database connection when it fails: a connection the server cut (a PostgreSQL
    restart) never heals by itself, and a connection belongs to the thread that opened it."""

    def call(*args: Any, **kwargs: Any) -> T:
        try:
            return read(*args, **kwargs)
        except Exception:
            with contextlib.suppress(Exception):
                connection.close()
            raise

    return call


def _cfd_feed(source: QuoteSource, market: SimulatedGoldMarket | None) -> QuoteFeed | None:
    """The feed of a CFD leg that is not simulated: an MT5 source is polled through its terminal instance, logged in
    with a live MT5 account of that terminal when there is one (else the terminal as it is logged in). None: the
    source names no terminal."""
    if source.venue != Venue.BYBIT_MT5 or source.terminal is None:
        return None

    account = mt5_account_for_source(source)
    credentials = (account.credentials or None) if account is not None else None
    return ConnectingMt5Feed(terminal_gateway(source.terminal, credentials), source.key)


def mt5_account_for_source(source: QuoteSource) -> Any:
    """The live MT5 account logged in on the terminal that reads an MT5 source (None: the source names no terminal,
    or no live account of that terminal is active or in error)."""
    if source.terminal_id is None:
        return None
    return (
        VenueAccount.objects.filter(
            venue=Venue.BYBIT_MT5, mode="live", terminal_id=source.terminal_id, status__in=["active", "error"]
        )
        .select_related("terminal")
        .order_by("pk")
        .first()
    )


def _enabled_pairs(pair_ids: Collection[int] | None = None) -> Any:
    pairs = (
        SourcePair.objects.filter(enabled=True)
        .select_related(
            "perp_source__instrument",
            "perp_source__terminal",
            "cfd_source__instrument__calendar",
            "cfd_source__terminal",
        )
        .prefetch_related("cfd_source__instrument__calendar__exceptions")
        .order_by("pk")
    )
    return pairs if pair_ids is None else pairs.filter(pk__in=pair_ids)


def _fields(row: Any, names: Collection[str] | None = None) -> tuple[Any, ...] | None:
    if row is None:
        return None
    return tuple(
        (f.attname, getattr(row, f.attname)) for f in row._meta.concrete_fields if names is None or f.name in names
    )


def pair_fingerprint(pair: SourcePair) -> str:
    """Everything a running pair was built from, as one digest: the pair, both sources, what the runtime reads of
    the instruments, the MT5 terminals and the CFD's calendar with its exceptions. Another digest: restart it."""
    calendar = pair.cfd_source.instrument.calendar
    parts = [
        _fields(pair),
        *(_fields(source) for source in (pair.perp_source, pair.cfd_source)),
        *(_fields(source.instrument, _INSTRUMENT_READ) for source in (pair.perp_source, pair.cfd_source)),
        *(_fields(source.terminal) for source in (pair.perp_source, pair.cfd_source)),
        _fields(calendar),
        None if calendar is None else sorted(_fields(row) or () for row in calendar.exceptions.all()),
    ]
    return hashlib.sha256(repr(parts).encode()).hexdigest()


# What a runtime reads of an instrument (its spec refreshes, e.g. `specs_read_at`, restart nothing).
_INSTRUMENT_READ = frozenset(f.name for f in Instrument._meta.concrete_fields) - {"specs_read_at"}


def pair_fingerprints() -> dict[int, str]:
    """The fingerprint of every enabled pair, by id: what the engine should be streaming right now."""
    return {pair.pk: pair_fingerprint(pair) for pair in _enabled_pairs()}


def load_runtimes(
    seed: int, demo_calendar: bool, feeds: FeedManager | None = None, pair_ids: Collection[int] | None = None
) -> list[PairRuntime]:
    """Build a runtime for every enabled pair (or the enabled ones of `pair_ids`) whose venues have a feed.

    Simulated pairs stream the simulated market as before. A Binance perp source is fed by `BinanceQuoteFeed`
    (public streams, no account; the source's endpoint override is honoured), a simulated CFD leg by the simulated
    market, an MT5 CFD leg by its terminal, and the USDT/USD rate by the pair's rate source (simulated, fixed, or
    Binance's USDC/USDT book). The demo's always-open calendar applies to a simulated CFD only; a live CFD keeps
    its broker's calendar (`QuoteSource.session_calendar`).
    """
    feeds = feeds or new_feed_manager()
    runtimes = []
    for pair in _enabled_pairs(pair_ids):
        perp, cfd = pair.perp_source, pair.cfd_source
        calendar = cfd.session_calendar(demo_calendar=demo_calendar)
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
            if simulated_perp or pair.rate_source == RateSource.SIMULATED:
                # The simulated market stands in for what is simulated beside a live CFD: the perp, the rate.
                parts.append(SimulatedFeed(market, perp=simulated_perp, cfd=False))
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
        else:
            engine.rate_usable = False  # until the rate source answers
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
                fingerprint=pair_fingerprint(pair),
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
    # Follow each live Binance account's user-data stream (venue-side fills: trading/reconciliation/venue_events.py).
    watch_accounts: bool = True
    watchers: list[UserStreamWatcher] = field(default_factory=list)
    mt5_watchers: list[Mt5ActivityWatcher] = field(default_factory=list)
    # How often the pairs are read again: a new pair streams, a changed one restarts, a removed or disabled one
    # stops, within about this long (no restart of the process).
    reload_every_s: float = field(default_factory=lambda: float(settings.QUANTARB_PAIR_RELOAD_SECONDS))
    pair_tasks: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    # Pairs that could not be built (no feed for a venue), with the fingerprint tried: retried once it changes.
    unbuildable: dict[int, str] = field(default_factory=dict)

    async def run(self) -> None:
        """Load the pairs, then run every feed, the flusher, the pusher, the heartbeat and the pair reload until
        cancelled; on the way out every feed is closed (its venue sessions with it) and the store flushed."""
        await self.sync_pairs()
        log.info("market pipeline: %d pair(s)", len(self.runtimes))
        tasks = []
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
            asyncio.create_task(self._reload_loop(), name="pair-reload"),
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            pair_tasks = list(self.pair_tasks.values())
            self.pair_tasks.clear()
            for task in pair_tasks:
                task.cancel()
            # Each feed closes its venue connections as its stream ends (ccxt sessions included).
            await asyncio.gather(*tasks, *pair_tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await sync_to_async(self.store.flush, thread_sensitive=False)()

    # -- the pairs, kept in step with the database -------------------------------------------------------------------
    async def _reload_loop(self) -> None:
        while True:
            await asyncio.sleep(self.reload_every_s)
            try:
                await self.sync_pairs()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("market pipeline: could not read the pairs; trying again")

    async def sync_pairs(self) -> None:
        """Stream what the database says: start new enabled pairs, restart changed ones, stop removed or disabled
        ones. Each pair's feed runs in its own task, so the others never pause."""
        wanted = await sync_to_async(_healing(pair_fingerprints), thread_sensitive=False)()
        running = {runtime.pair_id: runtime for runtime in self.runtimes}
        stop = [runtime for pair_id, runtime in running.items() if wanted.get(pair_id) != runtime.fingerprint]
        start = [
            pair_id
            for pair_id, fingerprint in wanted.items()
            if (pair_id not in running or running[pair_id].fingerprint != fingerprint)
            and self.unbuildable.get(pair_id) != fingerprint
        ]
        self.unbuildable = {pair_id: fp for pair_id, fp in self.unbuildable.items() if wanted.get(pair_id) == fp}
        if not stop and not start:
            return
        for runtime in stop:
            await self._stop(runtime)
        stopped = {runtime.pair_id for runtime in stop}
        # A new list, not the old one changed: readers (runners, the push loop) iterate it between awaits.
        self.runtimes = [runtime for runtime in self.runtimes if runtime.pair_id not in stopped]
        started = (
            await sync_to_async(_healing(load_runtimes), thread_sensitive=False)(
                self.seed, self.demo_calendar, self.feeds, pair_ids=start
            )
            if start
            else []
        )
        built = {runtime.pair_id for runtime in started}
        self.unbuildable.update({pair_id: wanted[pair_id] for pair_id in start if pair_id not in built})
        if started and not running:
            # An engine starting ends what a stopped one left open; later starts ended theirs themselves (`_stop`).
            await sync_to_async(close_interrupted_opportunities, thread_sensitive=False)(pair_ids=sorted(built))
        self.runtimes = [*self.runtimes, *started]
        for runtime in started:
            self.pair_tasks[runtime.pair_id] = asyncio.create_task(
                self._consume(runtime), name=f"feed-{runtime.pair_id}"
            )
        self._forget_unused_sources()
        if running:  # the first load is logged by `run`
            log.info(
                "market pipeline: pairs started %s, stopped %s",
                sorted(built),
                sorted(stopped - built),
                extra={"restarted": sorted(stopped & built)},
            )

    async def _stop(self, runtime: PairRuntime) -> None:
        """Stop one pair's feed (its venue connections close with it) and end its open opportunity."""
        task = self.pair_tasks.pop(runtime.pair_id, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        ended = runtime.engine.tracker.interrupt(now_ms())
        if ended is not None:
            self.store.add_opportunity(runtime.pair_id, ended)

    def _forget_unused_sources(self) -> None:
        """Drop the health of sources no running pair uses any more (they are not fed, so not stale either)."""
        used = {RATE_SOURCE for runtime in self.runtimes if runtime.rate_source == RateSource.BINANCE_USDC}
        for runtime in self.runtimes:
            used.update((runtime.engine.perp_source, runtime.engine.cfd_source))
        for key in set(self.feeds.sources) - used:
            del self.feeds.sources[key]

    async def _consume(self, runtime: PairRuntime) -> None:
        """Route every event of one pair's feed through its engine until cancelled; a bad event never stops it.
        The stream is closed whichever way it ends, so the feed's venue connections close with it."""
        while True:
            try:
                async with closing_stream(runtime.feed) as events:
                    async for event in events:
                        self.handle(runtime, event)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("feed of pair %s failed; restarting in 1 s", runtime.pair_id)
                await asyncio.sleep(1)

    def _check_rate(self, runtime: PairRuntime, at_ms: int) -> None:
        """Let the engine price only with a usable rate (fresh, or fixed); losing it ends the open opportunity."""
        usable = runtime.rate_problem(at_ms) is None
        if usable is not runtime.engine.rate_usable:
            ended = runtime.engine.set_rate_usable(usable, at_ms)
            if ended is not None:
                self.store.add_opportunity(runtime.pair_id, ended)
            runtime.dirty = True
            if not usable:
                log.warning(
                    "pair %s: usd_per_usdt from %s is %s; edges are not priced until it answers",
                    runtime.pair_id,
                    runtime.rate_source,
                    runtime.rate_problem(at_ms),
                )

    def handle(self, runtime: PairRuntime, event: Quote | RateObservation) -> None:
        received = now_ms()
        engine = runtime.engine
        if isinstance(event, RateObservation):
            if runtime.rate_source == event.source:
                engine.set_rate(event.usd_per_usdt)
                runtime.rate_ts_ms = event.ts_ms
                runtime.dirty = True
                self.store.add_rate(event.source, event.usd_per_usdt, event.ts_ms)
                self._check_rate(runtime, received)
            return
        if event.source not in runtime.self_reporting:
            self.feeds.health(event.source).on_stream_quote(event, received)
        session = runtime.session.current(received)
        closed = engine.set_cfd_open(session.is_open, received)
        if closed is not None:
            self.store.add_opportunity(runtime.pair_id, closed)
        # Without a usable usd_per_usdt the quote is still validated and kept (its feed is healthy: the fault is
        # the rate source's), but nothing is priced.
        self._check_rate(runtime, received)
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
                self._check_rate(runtime, at)
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
                    "rate_source": r.rate_source,
                    "rate_ts_ms": r.rate_ts_ms,
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
