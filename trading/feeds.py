"""The feed manager: one `SourceHealth` per quote source, its state transitions logged (structlog) and its
counters and timings exported to Prometheus and, through the engine's heartbeat, to the dashboard's health strip.

A process holds one `FeedManager` per running pipeline (the engine's, or a `poll_feeds` round). Metrics are read
from the managers alive in the process when Prometheus scrapes (a custom collector), so the counters are kept in
one place — `SourceHealth` — and never twice.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import structlog
from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from quantarb import clock
from trading.domain.feeds import FeedState, SourceHealth

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


class FeedCollector(Collector):
    """Reads every live manager's sources at scrape time."""

    def collect(self) -> Iterator[Metric]:
        at = now_ms()
        state = GaugeMetricFamily(
            "quantarb_feed_state", "1 for the source's current state, 0 for the others.", labels=["source", "state"]
        )
        age = GaugeMetricFamily(
            "quantarb_feed_quote_age_seconds", "Age of the source's last good quote (venue time).", labels=["source"]
        )
        polling = GaugeMetricFamily(
            "quantarb_feed_polling", "1 while REST polling stands in for the source's stream.", labels=["source"]
        )
        roundtrip = GaugeMetricFamily(
            "quantarb_feed_poll_roundtrip_seconds", "Round trip of the source's last REST poll.", labels=["source"]
        )
        counters = {
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
        seen: set[str] = set()
        for manager in list(_live_managers):
            for key, record in list(manager.sources.items()):
                if key in seen:
                    continue  # the same source fed twice in one process (engine and a poll): report it once
                seen.add(key)
                for value in STATES:
                    state.add_metric([key, value], 1.0 if record.state.value == value else 0.0)
                quote_age = record.quote_age_ms(at)
                if quote_age is not None:
                    age.add_metric([key], quote_age / 1000)
                polling.add_metric([key], 1.0 if record.mode.value == "poll" else 0.0)
                if record.roundtrip_ms is not None:
                    roundtrip.add_metric([key], record.roundtrip_ms / 1000)
                for name, family in counters.items():
                    family.add_metric([key], float(getattr(record, name)))
        yield from (state, age, polling, roundtrip, *counters.values())


def serve_metrics(port: int) -> None:
    """Serve the default registry on 127.0.0.1:`port` from a daemon thread (the engine process has no web)."""
    from prometheus_client import start_http_server

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
