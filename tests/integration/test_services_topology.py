"""The services topology end to end (ARCHITECTURE.md "Processes and data flow").

`runengine`, daphne, a Celery worker and Celery beat run as four separate processes on PostgreSQL (a fresh,
uniquely named database on the DATABASE_URL server) and Redis (the REDIS_URL server, db 13, held exclusively
for the test and cleared before and after). A quote the simulated venue emits reaches a logged-in WebSocket
client and the database — the very same quote, matched by its venue time — and a beat job runs on schedule in
the worker.

Skipped unless the services mode is selected (DATABASE_URL on PostgreSQL and REDIS_URL); with
QUANTARB_REQUIRE_SERVICES=1 a missing service fails instead.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from .harness import Stack, Topology, dedicated_redis_db, fresh_database, now_ms, services_urls, wait_until

pytestmark = [pytest.mark.services, pytest.mark.timeout(180), pytest.mark.xdist_group("processes")]  # tests/conftest.py


def test_a_simulated_quote_reaches_a_websocket_and_the_database_and_beat_runs_jobs_in_the_worker(
    stack: Stack,
) -> None:
    database_server, redis_url = services_urls()
    database_url = stack.enter(fresh_database(database_server))
    topology = Topology(stack, database_url, stack.enter(dedicated_redis_db(redis_url)))
    sql = topology.sql
    topology.prepare_database()
    timings: dict[str, Any] = {}

    started_ms = now_ms()
    topology.start("worker", "beat", "engine", "web")
    timings["processes_up_s"] = (now_ms() - started_ms) / 1000
    client = topology.client()
    hello = wait_until("the WebSocket says hello", client.hello, 10)
    assert hello.data["pairs"], "demo-trader's tenant sees no pair"
    pair_id = hello.data["pairs"][0]
    perp_source_id, cfd_source_id = sql.rows(
        "SELECT perp_source_id, cfd_source_id FROM trading_sourcepair WHERE id = %s", (pair_id,)
    )[0]

    # A quote the simulated venue emitted reaches the browser, pushed engine → Redis → daphne's hub → socket.
    def spread_with_quotes() -> Any:
        return next(
            (f for f in client.spreads(produced_after_ms=started_ms) if f.data["state"].get("perp_ts_ms")), None
        )

    frame = wait_until("a spread frame with a perp quote reaches the WebSocket client", spread_with_quotes, 30)
    timings["first_spread_frame_s"] = (frame.received_ms - started_ms) / 1000
    assert frame.data["pair_id"] == pair_id
    assert frame.data["html"], "the frame carries no rendered partials"
    perp_ms, cfd_ms = frame.data["state"]["perp_ts_ms"], frame.data["state"]["cfd_ts_ms"]

    # ... and the same quotes (venue time and source) reach the database through the store's COPY.
    def stored(source_id: int, ts_ms: int) -> bool:
        return bool(
            sql.value(
                "SELECT count(*) FROM trading_quotetick WHERE source_id = %s "
                "AND round(extract(epoch FROM ts) * 1000)::bigint = %s",
                (source_id, ts_ms),
            )
        )

    wait_until(
        f"the perp quote of that frame ({perp_ms}) is a QuoteTick row", lambda: stored(perp_source_id, perp_ms), 10
    )
    if cfd_ms:
        wait_until(
            f"the CFD quote of that frame ({cfd_ms}) is a QuoteTick row", lambda: stored(cfd_source_id, cfd_ms), 10
        )
    wait_until("SpreadSample rows of the pair are stored", lambda: sql.spread_samples_since(pair_id, started_ms), 10)
    timings["quote_in_database_s"] = (now_ms() - frame.received_ms) / 1000

    # A beat job runs on schedule in the worker: beat sends scheduler_heartbeat every 5 s, the worker writes it.
    def beat_after(after_ms: int) -> int | None:
        at = sql.heartbeat_ms("scheduler")
        return at if at is not None and at > after_ms else None

    first = wait_until("the worker ran scheduler_heartbeat (Heartbeat 'scheduler')", lambda: beat_after(started_ms), 40)
    second = wait_until("the 'scheduler' heartbeat advanced (the next scheduled run)", lambda: beat_after(first), 15)
    timings["first_beat_job_s"] = (first - started_ms) / 1000
    timings["beat_interval_s"] = (second - first) / 1000
    assert 2.0 <= timings["beat_interval_s"] <= 10.0, "scheduler_heartbeat is scheduled every 5 s"
    worker_log = topology.services["worker"].output()
    # The worker logs the task's receipt; its success is the heartbeat row above (celery.app.trace logs only
    # failures, quantarb/settings/base.py).
    assert "Task quantarb.tasks.scheduler_heartbeat[" in worker_log and "received" in worker_log, worker_log[-2000:]
    assert "Sending due task scheduler-heartbeat" in topology.services["beat"].output()
    # poll_feeds ran in the worker too and saw the engine streaming (so it did not poll a second quote source).
    wait_until(
        "poll_feeds ran in the worker and saw the engine streaming",
        lambda: sql.heartbeat_detail("poll_feeds").get("engine_streaming") is True,
        15,
    )
    assert client.connects == 1 and not client.drops, f"the socket dropped: {client.drops}"
    topology.assert_running()
    print("\nservices topology timings " + json.dumps(timings))
