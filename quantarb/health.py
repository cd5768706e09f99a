"""Health lights, each computed from a measured age or round trip — never from a flag."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from channels.layers import get_channel_layer
from django.db import connection
from django.utils.translation import gettext_lazy as _

from quantarb import clock
from trading.marketdata.selectors import heartbeats

OK, WARN, FAIL, CLOSED = "ok", "warn", "fail", "closed"


@dataclass(frozen=True)
class Light:
    key: str
    label: str
    state: str
    age_s: float | None = None
    detail: str = ""


def _age_state(age: float | None, ok_within: float, warn_within: float) -> str:
    if age is None:
        return FAIL
    if age <= ok_within:
        return OK
    return WARN if age <= warn_within else FAIL


def database_roundtrip_ms() -> float | None:
    try:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return (time.perf_counter() - started) * 1000
    except Exception:
        connection.close()
        return None


async def channel_layer_roundtrip_ms(timeout: float = 2.0) -> float | None:
    """A message sent to a channel of this process and received back, in ms; None when the layer failed.

    The probe's channel is an ordinary process-specific channel ("specific.<process>!<id>", the layer's default),
    the same kind the fan-out hub receives on. channels_redis reads all of a process's specific channels through
    one receiver at a time, and that receiver pulls only its own channel's Redis list ("specific.<process>!"),
    buffering what it finds for the others: a probe channel with its own prefix ("probe.<process>!") sat in a list
    nobody read once the hub held the receiver, so after the first WebSocket connected every probe timed out and
    /readyz answered 503 while frames kept flowing.
    """
    layer = get_channel_layer()
    if layer is None:
        return None
    try:
        started = time.perf_counter()
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "probe"})
        await asyncio.wait_for(layer.receive(channel), timeout)
        return (time.perf_counter() - started) * 1000
    except Exception:
        return None


def _seconds_since(at: datetime | None, now: datetime) -> float | None:
    return None if at is None else max(0.0, (now - at).total_seconds())


def _milliseconds(ms: float | None) -> str:
    """A round trip for the strip, in the reader's language ("0.4 ms", "0.4 毫秒")."""
    return str(_("%(ms)s ms") % {"ms": f"{ms:.1f}"}) if ms else ""


# The feed manager's states as lights: stale is amber (REST polling stands in), down red, closed grey.
_FEED_LIGHT = {"live": OK, "connecting": WARN, "stale": WARN, "down": FAIL, "closed": CLOSED}


def _feed_detail(managed: dict[str, Any] | None) -> str:
    """The counters and timings of a managed source, for the light's tooltip."""
    if not managed:
        return ""
    parts = [
        str(_("REST polling")) if managed.get("mode") == "poll" else str(_("stream")),
        str(_("%(n)s messages") % {"n": managed.get("messages", 0)}),
        str(_("%(n)s polls") % {"n": managed.get("polls", 0)}),
        str(_("%(n)s drops") % {"n": managed.get("drops", 0)}),
        str(_("%(n)s reconnects") % {"n": managed.get("reconnects", 0)}),
    ]
    if managed.get("roundtrip_ms") is not None:
        parts.append(str(_("round trip %(ms)s ms") % {"ms": managed["roundtrip_ms"]}))
    return " · ".join(parts)


def health_lights(*, pairs: list[Any], stale_after_s: float, channel_ms: float | None) -> list[Light]:
    """`pairs`: the tenant's SourcePairs. Ages come from the components' heartbeats in the database."""
    now = clock.now()
    beats = heartbeats()
    lights: list[Light] = []
    engine = beats.get("engine")
    engine_age = _seconds_since(engine.beat_at if engine else None, now)
    # Quote times come from whichever streams: the engine, or poll_feeds where no engine runs.
    feeders = [beat for beat in (engine, beats.get("poller")) if beat is not None]
    feeder = max(feeders, key=lambda beat: beat.beat_at) if feeders else None
    feeder_age = _seconds_since(feeder.beat_at if feeder else None, now)
    pair_details = (feeder.detail or {}).get("pairs", {}) if feeder else {}
    # The feed manager's view of each source (trading/marketdata/feeds.py), while the feeder's heartbeat is recent.
    feed_states = (feeder.detail or {}).get("feeds", {}) if feeder and (feeder_age or 0) <= 10 else {}
    rate_sources: set[str] = set()
    for pair in pairs:
        detail = pair_details.get(str(pair.pk), {})
        sources = detail.get("sources", {})
        session = detail.get("session", "open")
        for source, is_cfd in ((pair.perp_source, False), (pair.cfd_source, True)):
            last_ms = sources.get(source.key)
            age = None if last_ms is None else max(0.0, now.timestamp() - last_ms / 1000)
            if feeder_age is not None and feeder_age > 10:
                age = None if age is None else max(age, feeder_age)
            closed = is_cfd and session != "open"
            state = CLOSED if closed else _age_state(age, stale_after_s, stale_after_s * 6)
            managed = feed_states.get(source.key)
            if managed is not None and not closed:
                state = _FEED_LIGHT.get(managed.get("state", ""), state)
            lights.append(Light(f"feed-{source.key}", source.label, state, age, _feed_detail(managed)))
        if pair.rate_source not in ("simulated", "fixed") and pair.rate_source not in rate_sources:
            rate_sources.add(pair.rate_source)
            managed = feed_states.get(pair.rate_source)
            quote_age = managed.get("quote_age_ms") if managed else None
            rate_age = None if quote_age is None else quote_age / 1000
            rate_state = _FEED_LIGHT.get(managed.get("state", ""), FAIL) if managed else FAIL
            lights.append(
                Light(f"feed-{pair.rate_source}", str(_("USDT/USD rate")), rate_state, rate_age, _feed_detail(managed))
            )
    lights.append(Light("engine", str(_("Engine")), _age_state(engine_age, 6, 20), engine_age))
    db_ms = database_roundtrip_ms()
    store = beats.get("store")
    store_age = _seconds_since(store.beat_at if store else None, now)
    db_state = FAIL if db_ms is None else _age_state(store_age, 5, 30)
    lights.append(Light("database", str(_("Database")), db_state, store_age, _milliseconds(db_ms)))
    channel_state = FAIL if channel_ms is None else (OK if channel_ms < 250 else WARN)
    lights.append(Light("channels", str(_("Channel layer")), channel_state, None, _milliseconds(channel_ms)))
    scheduler = beats.get("scheduler")
    scheduler_age = _seconds_since(scheduler.beat_at if scheduler else None, now)
    lights.append(Light("scheduler", str(_("Scheduler")), _age_state(scheduler_age, 15, 60), scheduler_age))
    return lights
