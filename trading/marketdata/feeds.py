"""The feed manager: one `SourceHealth` per quote source, its state transitions logged (structlog) and its
counters and timings exported to Prometheus and, through the engine's heartbeat, to the dashboard's health strip.

A process holds one `FeedManager` per running pipeline (the engine's, or a `poll_feeds` round). How the figures
reach Prometheus (README, "Metrics"):
- the engine process serves its own managers on 127.0.0.1 (`runengine --metrics-port`, `FeedCollector`);
- the web process's `/metrics` reports every feed from its feeder's heartbeat (`HeartbeatFeedCollector`), with
  states and ages computed at scrape time — never a copy that went on saying *live* after its feeder moved on.
Either way the counters are kept in one place — `SourceHealth` — and states are judged when scraped.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import structlog
from prometheus_client import GCCollector, PlatformCollector, ProcessCollector, start_http_server
from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from mt5ops.metrics import TerminalCollector
from quantarb import clock
from trading.domain.feeds import FeedState, SourceHealth
from trading.models import Heartbeat

log = structlog.get_logger(__name__)

STATES = tuple(state.value for state in FeedState)


def now_ms() -> int:
    return int(clock.now().timestamp() * 1000)


@dataclass(eq=False)  # compared (and hashed, for the weak set) by identity
class FeedManager:
    """The sources one pipeline feeds. `health(key)` creates a source's record on first use."""

    stale_after_ms: int
    down_after_ms: int
    role: str = "engine"
    sources: dict[str, SourceHealth] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _live_managers.add(self)

    def health(self, source: str, *, stale_after_ms: int | None = None) -> SourceHealth:
        record = self.sources.get(source)
        if record is None:
            limit = stale_after_ms or self.stale_after_ms
            record = self.sources[source] = SourceHealth(
                source=source,
                stale_after_ms=limit,
                down_after_ms=max(self.down_after_ms, limit),
                started_ms=now_ms(),
                polled_only=self.role == "poller",
            )
        return record

    def evaluate(self, at_ms: int | None = None) -> list[tuple[str, FeedState, FeedState]]:
        """Recompute every source's state; log each change. Returns the changes (source, before, after)."""
        at = now_ms() if at_ms is None else at_ms
        changes = []
        for key, record in self.sources.items():
            before = record.state
            after = record.evaluate(at)
            if after is not before:
                changes.append((key, before, after))
                event = "feed state changed"
                fields = {
                    "source": key,
                    "from_state": before.value,
                    "to_state": after.value,
                    "mode": record.mode.value,
                    "quote_age_ms": record.quote_age_ms(at),
                    "drops": record.drops,
                    "reconnects": record.reconnects,
                }
                if after in (FeedState.STALE, FeedState.DOWN):
                    log.warning(event, error=record.last_error, **fields)
                else:
                    log.info(event, **fields)
        return changes

    def snapshot(self, at_ms: int | None = None) -> dict[str, dict[str, Any]]:
        at = now_ms() if at_ms is None else at_ms
        return {key: record.as_dict(at) for key, record in self.sources.items()}


# --- Prometheus --------------------------------------------------------------------------------------------------
_live_managers: weakref.WeakSet[FeedManager] = weakref.WeakSet()
_registered = threading.Lock()
_collector: FeedCollector | None = None


class _Families:
    """The feed metric families, filled source by source (the same names from every collector)."""

    def __init__(self) -> None:
        self.state = GaugeMetricFamily(
            "quantarb_feed_state", "1 for the source's current state, 0 for the others.", labels=["source", "state"]
        )
        self.age = GaugeMetricFamily(
            "quantarb_feed_quote_age_seconds", "Age of the source's last good quote (venue time).", labels=["source"]
        )
        self.polling = GaugeMetricFamily(
            "quantarb_feed_polling", "1 while REST polling stands in for the source's stream.", labels=["source"]
        )
        self.roundtrip = GaugeMetricFamily(
            "quantarb_feed_poll_roundtrip_seconds", "Round trip of the source's last REST poll.", labels=["source"]
        )
        self.counters = {
            name: CounterMetricFamily(f"quantarb_feed_{name}", text, labels=["source"])
            for name, text in (
                ("messages", "Stream messages received."),
                ("polls", "Quotes polled over REST."),
                ("poll_failures", "REST polls that failed."),
                ("drops", "Stream connections lost (or not opened)."),
                ("reconnects", "Streams back after a drop."),
                ("failovers", "Switches from the stream to REST polling."),
            )
        }

    def add(self, key: str, record: SourceHealth, at_ms: int) -> None:
        """One source, its state and quote age as of `at_ms` (the scrape), never as last evaluated."""
        current = record.state_at(at_ms).value
        for value in STATES:
            self.state.add_metric([key, value], 1.0 if current == value else 0.0)
        quote_age = record.quote_age_ms(at_ms)
        if quote_age is not None:
            self.age.add_metric([key], quote_age / 1000)
        self.polling.add_metric([key], 1.0 if record.mode.value == "poll" else 0.0)
        if record.roundtrip_ms is not None:
            self.roundtrip.add_metric([key], record.roundtrip_ms / 1000)
        for name, family in self.counters.items():
            family.add_metric([key], float(getattr(record, name)))

    def all(self) -> tuple[Metric, ...]:
        return (self.state, self.age, self.polling, self.roundtrip, *self.counters.values())


class FeedCollector(Collector):
    """Reads every live manager's sources at scrape time: the process's own feeds (the engine's endpoint)."""

    def collect(self) -> Iterator[Metric]:
        at = now_ms()
        families = _Families()
        seen: set[str] = set()
        for manager in list(_live_managers):
            for key, record in list(manager.sources.items()):
                if key in seen:
                    continue  # the same source fed twice in one process (engine and a poll): report it once
                seen.add(key)
                families.add(key, record, at)
        yield from families.all()


# A feeder whose heartbeat is older than this no longer vouches for a market being closed (ARCHITECTURE: the
# poller takes over after the same 10 s).
FEEDER_AWAY_AFTER_MS = 10_000


class HeartbeatFeedCollector(Collector):
    """The feeds as their feeder — the engine, or the poller where no engine runs — last recorded them in its
    heartbeat, with every state and age computed at scrape time from the recorded times. This is what the web
    process's `/metrics` reports, in every topology: the engine's figures live in the engine process, and a copy
    kept in the web process (a poller's, say, after the engine took over) would only grow old while saying *live*.
    A feeder gone silent shows as its heartbeat's age and, by the same rules as in the engine, its sources turning
    stale and then down."""

    def collect(self) -> Iterator[Metric]:
        at = now_ms()
        families = _Families()
        feeder_age = GaugeMetricFamily(
            "quantarb_feeder_heartbeat_age_seconds",
            "Age of the feeder's last heartbeat (engine, or poller where no engine runs).",
            labels=["feeder"],
        )
        try:
            beats = list(Heartbeat.objects.filter(component__in=("engine", "poller")))
        except Exception:
            log.warning("metrics: heartbeats unreadable")
            beats = []
        for beat in beats:
            feeder_age.add_metric([beat.component], max(0.0, at / 1000 - beat.beat_at.timestamp()))
        if beats:
            feeder = max(beats, key=lambda beat: beat.beat_at)
            fresh = at - int(feeder.beat_at.timestamp() * 1000) <= FEEDER_AWAY_AFTER_MS
            for key, snapshot in sorted(((feeder.detail or {}).get("feeds") or {}).items()):
                families.add(key, SourceHealth.from_snapshot(key, snapshot, closed_known=fresh), at)
        yield from (*families.all(), feeder_age)


def web_registry() -> CollectorRegistry:
    """The registry the web process's `/metrics` serves: the feeds from their feeder's heartbeat (above), the MT5
    terminals' state, latency, tick age and restarts (mt5ops/metrics.py) and this process's own figures (CPU,
    memory, garbage collection)."""
    global _web_registry
    with _registered:
        if _web_registry is None:
            registry = CollectorRegistry()
            registry.register(HeartbeatFeedCollector())

            registry.register(TerminalCollector())  # MT5 terminals as their health job stored them
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
            GCCollector(registry=registry)
            _web_registry = registry
    return _web_registry


_web_registry: CollectorRegistry | None = None


def serve_metrics(port: int) -> None:
    """Serve the default registry on 127.0.0.1:`port` from a daemon thread (the engine process has no web)."""
    register_metrics()
    start_http_server(port, addr="127.0.0.1")


def register_metrics() -> None:
    """Register the collector with prometheus_client's default registry, once per process."""
    global _collector
    with _registered:
        if _collector is None:
            _collector = FeedCollector()
            REGISTRY.register(_collector)


register_metrics()
