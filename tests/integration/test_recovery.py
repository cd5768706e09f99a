"""Recovery of the services topology.

Restarts happen on PRIVATE server instances started by the test (redis-server on 6390, a PostgreSQL cluster
initdb'ed into a temp dir on 5433; other free ports when those are taken) — never the machine's shared ones.

- Redis restart: dashboards receive live updates again within 15 s of Redis being back (the socket to daphne
  stays up; the client would reconnect if it dropped), and the worker runs beat jobs again.
- PostgreSQL restart: the engine keeps pushing live data while the database is down, buffers its rows, and
  ingest resumes within 30 s of the database being back.

Skipped unless the services mode is selected (DATABASE_URL on PostgreSQL and REDIS_URL), or when redis-server
or the PostgreSQL server binaries are missing; with QUANTARB_REQUIRE_SERVICES=1 those fail instead.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from .harness import (
    DEMO_USER,
    Frame,
    LiveClient,
    PrivatePostgres,
    PrivateRedis,
    Stack,
    Topology,
    fresh_database,
    now_ms,
    services_urls,
    wait_until,
)

pytestmark = [pytest.mark.services, pytest.mark.timeout(180), pytest.mark.xdist_group("processes")]  # tests/conftest.py

REDIS_OUTAGE_S = 3.0
POSTGRES_OUTAGE_S = 5.0
DASHBOARD_RECOVERY_S = 15.0  # browsers receive updates within 15 s of Redis being back
INGEST_RECOVERY_S = 30.0  # ingest resumes within 30 s of PostgreSQL being back


def first_spread(client: LiveClient, produced_after_ms: int) -> Frame | None:
    return next(iter(client.spreads(produced_after_ms=produced_after_ms)), None)


def send_alerts_changed(topology: Topology, redis_url: str) -> int:
    """What the worker sends when the tenant's alerts change (alerts/services.py): an `alerts.changed` control
    message to demo-trader's user group over the default channel layer (spread updates take Redis pub/sub,
    quantarb/live.py). Returns the time it was sent."""
    from channels_redis.core import RedisChannelLayer

    user_id, tenant_id = topology.sql.rows(
        "SELECT u.id, m.tenant_id FROM accounts_user u JOIN accounts_membership m ON m.user_id = u.id "
        "WHERE u.username = %s",
        (DEMO_USER,),
    )[0]

    async def send() -> None:
        layer = RedisChannelLayer(hosts=[redis_url])
        try:
            await layer.group_send(
                f"user.{user_id}", {"type": "alerts.changed", "user_id": user_id, "tenant_id": tenant_id}
            )
        finally:
            await layer.close_pools()

    sent_ms = now_ms()
    asyncio.run(send())
    return sent_ms


def alerts_changed_after(client: LiveClient, after_ms: int) -> Frame | None:
    return next((f for f in client.snapshot() if f.kind == "alerts.changed" and f.received_ms >= after_ms), None)


def beat_after(topology: Topology, after_ms: int) -> int | None:
    at = topology.sql.heartbeat_ms("scheduler")
    return at if at is not None and at > after_ms else None


def test_after_a_redis_restart_dashboards_receive_updates_and_the_worker_runs_beat_jobs(stack: Stack) -> None:
    database_server, _ = services_urls()
    redis = PrivateRedis(stack, preferred_port=6390)
    redis.start()
    database_url = stack.enter(fresh_database(database_server))
    topology = Topology(stack, database_url, redis.url(0))
    topology.prepare_database()
    started_ms = now_ms()
    topology.start("worker", "beat", "engine", "web")
    client = topology.client()
    wait_until("live updates before the restart", lambda: first_spread(client, started_ms), 30)
    wait_until("a beat job ran in the worker before the restart", lambda: beat_after(topology, started_ms), 40)
    sent_ms = send_alerts_changed(topology, redis.url(0))
    wait_until("a control message reaches the dashboard", lambda: alerts_changed_after(client, sent_ms), 10)

    redis.kill()
    down_ms = now_ms()
    time.sleep(REDIS_OUTAGE_S)  # hold the outage open
    topology.assert_running()
    back_ms = redis.start()

    frame = wait_until(
        f"a spread frame the engine produced after Redis came back reaches the client within {DASHBOARD_RECOVERY_S} s",
        lambda: first_spread(client, back_ms),
        DASHBOARD_RECOVERY_S,
    )
    beat = wait_until(
        "the worker runs a beat job (scheduler_heartbeat) again after Redis came back",
        lambda: beat_after(topology, back_ms),
        30,
    )

    # Control messages (membership, role and alert changes) come back too, on their own layer: one is sent
    # every second (those sent before the hub has rejoined its groups are dropped, as Redis forgot them) until
    # one arrives. Every alerts.changed frame received after Redis came back was sent after it.
    def control_after_restart() -> Frame | None:
        send_alerts_changed(topology, redis.url(0))
        return alerts_changed_after(client, back_ms)

    control = wait_until(
        f"a control message sent after Redis came back reaches the dashboard within {DASHBOARD_RECOVERY_S} s",
        control_after_restart,
        DASHBOARD_RECOVERY_S,
        interval=1.0,
    )
    # Every process survived the outage, and the socket to daphne never dropped (the
    # hub in daphne lost Redis, not the browser).
    topology.assert_running()
    assert client.connects == 1 and not client.drops, f"the dashboard's socket dropped: {client.drops}"
    timings: dict[str, Any] = {
        "outage_s": (back_ms - down_ms) / 1000,
        "dashboard_recovery_s": (frame.received_ms - back_ms) / 1000,
        "beat_job_recovery_s": (beat - back_ms) / 1000,
        "control_message_recovery_s": (control.received_ms - back_ms) / 1000,
        "hub_reconnects_logged": topology.services["web"].output().count("fan-out hub lost the channel layer"),
    }
    print("\nredis restart " + json.dumps(timings))


def test_after_a_postgresql_restart_ingest_resumes_and_live_push_never_stops(stack: Stack) -> None:
    services_urls()  # the services mode; the database and Redis of this test are private, though
    postgres = PrivatePostgres(stack, preferred_port=5433)
    redis = PrivateRedis(stack, preferred_port=6390)
    postgres.init()
    postgres.start()
    redis.start()
    topology = Topology(stack, postgres.create_database("quantarb"), redis.url(0))
    sql = topology.sql
    topology.prepare_database()
    started_ms = now_ms()
    topology.start("engine", "web")
    client = topology.client()
    wait_until("live updates before the restart", lambda: first_spread(client, started_ms), 30)
    wait_until("quotes are stored before the restart", lambda: sql.quote_ticks_since(started_ms), 15)

    down_ms = postgres.stop("fast")  # every connection cut, like a crash of the server process
    during = wait_until(
        "the engine keeps pushing live data while PostgreSQL is down",
        lambda: first_spread(client, down_ms),
        POSTGRES_OUTAGE_S,
    )
    time.sleep(max(0.0, POSTGRES_OUTAGE_S - (now_ms() - down_ms) / 1000))  # hold the outage open
    assert first_spread(client, now_ms() - 1500) is not None, "live push stopped during the outage"
    back_ms = postgres.start()

    wait_until(
        f"new QuoteTick rows are ingested within {INGEST_RECOVERY_S} s of PostgreSQL being back",
        lambda: sql.quote_ticks_since(back_ms),
        INGEST_RECOVERY_S,
        0.1,
    )
    ingest_recovery_s = (now_ms() - back_ms) / 1000
    # The bounded buffer held what arrived during the outage: those quotes are stored too, nothing was lost.
    held = sql.value(
        "SELECT count(*) FROM trading_quotetick WHERE received_at > to_timestamp(%s / 1000.0) "
        "AND received_at < to_timestamp(%s / 1000.0)",
        (down_ms + 500, back_ms - 500),
    )
    assert held > 0, "the quotes received during the outage were not written after it"
    # The engine's own heartbeat resumes too (poll_feeds reads it to decide whether the engine streams).
    engine_beat = wait_until(
        "the engine's heartbeat is written again", lambda: (sql.heartbeat_ms("engine") or 0) > back_ms, 15
    )
    assert engine_beat
    store = wait_until(
        "the store reports what it wrote and lost",
        lambda: (d := sql.heartbeat_detail("store")) and d.get("written", 0) > 0 and d,
        15,
    )
    assert store["lost"] == 0, f"rows were lost although the buffer holds far more than {POSTGRES_OUTAGE_S} s: {store}"
    topology.assert_running()
    assert client.connects == 1 and not client.drops, f"the dashboard's socket dropped: {client.drops}"
    timings = {
        "outage_s": (back_ms - down_ms) / 1000,
        "push_during_outage_after_s": (during.received_ms - down_ms) / 1000,
        "ingest_recovery_s": ingest_recovery_s,
        "rows_held_through_outage": held,
        "postgres_port": postgres.port,
    }
    print("\npostgresql restart " + json.dumps(timings))
