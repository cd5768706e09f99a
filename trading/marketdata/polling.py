"""`poll_feeds`: check that the streams are fresh and, where no engine streams, be the quote source.

Runs as a beat job (every few seconds) in the Celery worker — or in-process in the embedded mode. When the
engine's heartbeat is fresh it only records the freshness of every source; when the engine is away it polls
each pair's venues once (REST / `symbol_info_tick` snapshots) and runs the quotes through the same pipeline
code the engine uses: validation, spread engine, store and live push.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings

from quantarb import clock
from quantarb.events import pair_group
from quantarb.live import group_send
from trading.marketdata.feeds import FeedManager
from trading.marketdata.pipeline import MarketPipeline, load_runtimes, new_feed_manager, now_ms
from trading.models import Heartbeat

log = logging.getLogger(__name__)

ENGINE_AWAY_AFTER = timedelta(seconds=10)

# The sources this process polls, kept across rounds so their counters and states carry on (a worker lives long).
_poller_feeds: FeedManager | None = None


def poller_feeds() -> FeedManager:
    global _poller_feeds
    if _poller_feeds is None:
        _poller_feeds = new_feed_manager("poller")
    return _poller_feeds


def engine_is_streaming() -> bool:
    beat = Heartbeat.objects.filter(component="engine").first()
    return beat is not None and clock.now() - beat.beat_at <= ENGINE_AWAY_AFTER


def poll_feeds() -> dict[str, Any]:
    """One round: the freshness of each source, and a polled quote per source when no engine streams."""
    global _poller_feeds
    streaming = engine_is_streaming()
    polled = 0
    if streaming:
        # The engine feeds every source now: this process's record of them stops here, rather than lingering as a
        # copy that says *live* while it grows old (it starts afresh if the engine goes away again).
        _poller_feeds = None
    else:
        feeds = poller_feeds()
        pipeline = MarketPipeline(
            seed=settings.QUANTARB_SIM_SEED, demo_calendar=settings.QUANTARB_DEMO_CALENDAR, feeds=feeds
        )
        pipeline.runtimes = load_runtimes(pipeline.seed, pipeline.demo_calendar, feeds)
        at = now_ms()
        for runtime in pipeline.runtimes:
            feeds.health(runtime.engine.cfd_source).set_closed(not runtime.session.current(at).is_open)
            for event in runtime.feed.snapshot():
                pipeline.handle(runtime, event)
                polled += 1
            # A poll sees one instant: an opportunity it finds is recorded as that instant, not left open.
            seen = runtime.engine.tracker.interrupt(at)
            if seen is not None:
                pipeline.store.add_opportunity(runtime.pair_id, seen)
        pipeline.store.flush()
        at = now_ms()
        feeds.evaluate(at)
        for runtime in pipeline.runtimes:
            async_to_sync(group_send)(
                pair_group(runtime.pair_id),
                {"type": "spread.update", "pair_id": runtime.pair_id, "state": runtime.state(at)},
            )
        pipeline._beat_as("poller")
    summary = {"engine_streaming": streaming, "polled": polled}
    Heartbeat.objects.update_or_create(component="poll_feeds", defaults={"beat_at": clock.now(), "detail": summary})
    return summary
