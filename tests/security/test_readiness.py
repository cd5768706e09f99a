"""`/readyz` and the health lights tell the truth, and a database outage answers 503.

After the first WebSocket connected, the fan-out hub held channels_redis' receiver for this process, and the
readiness probe — on a channel of its own prefix — was never read: every probe answered 503 ("channel layer
failed") while frames kept flowing. During a database outage pages and the API answered 500 with a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

import pytest
from django.db import OperationalError
from django.test import Client

from quantarb.health import channel_layer_roundtrip_ms
from tests.waiting import until

REQUIRE_SERVICES = os.environ.get("QUANTARB_REQUIRE_SERVICES") == "1"


def _redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        if REQUIRE_SERVICES:
            pytest.fail("REDIS_URL must be set in the services mode")
        pytest.skip("REDIS_URL is not set")
    return url


async def _probe_while_a_hub_receives(layer: Any, monkeypatch: Any) -> float | None:
    """What a web process does once a socket connected: the hub waits on its channel (quantarb/fanout.py)."""
    hub_channel = await layer.new_channel()
    hub = asyncio.create_task(layer.receive(hub_channel))

    def receiving() -> bool:
        """The hub is inside receive(): holding the Redis layer's process-wide receiver, or on its in-memory queue."""
        if hasattr(layer, "receive_lock"):
            return layer.receive_lock is not None and layer.receive_lock.locked()
        return hub_channel in layer.channels

    await until(receiving, 5, "the hub receives")
    try:
        monkeypatch.setattr("quantarb.health.get_channel_layer", lambda: layer)
        return await channel_layer_roundtrip_ms(timeout=2.0)
    finally:
        hub.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await hub


@pytest.mark.services
def test_the_probe_answers_while_the_hub_receives_on_redis(monkeypatch: Any) -> None:
    from channels_redis.core import RedisChannelLayer

    async def run() -> float | None:
        layer = RedisChannelLayer(hosts=[_redis_url()], prefix="quantarb-readiness-test")
        try:
            return await _probe_while_a_hub_receives(layer, monkeypatch)
        finally:
            await layer.flush()
            await layer.close_pools()

    assert asyncio.run(run()) is not None


def test_the_probe_answers_while_the_hub_receives_in_memory(monkeypatch: Any) -> None:
    from channels.layers import InMemoryChannelLayer

    assert asyncio.run(_probe_while_a_hub_receives(InMemoryChannelLayer(), monkeypatch)) is not None


# --- a database outage -------------------------------------------------------------------------------------
def _refuse(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    raise OperationalError("connection to server at 127.0.0.1, port 5432 failed: Connection refused")


@contextlib.contextmanager
def database_down() -> Any:
    from django.db import connection

    with connection.execute_wrapper(_refuse):
        yield


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/members/", "/strategies/", "/api/v1/me/", "/api/v1/market/spreads/latest/"])
def test_pages_and_the_api_answer_503_during_a_database_outage(alice: Any, path: str) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(alice.user)
    with database_down():
        response = client.get(path)
    assert response.status_code == 503
    assert response["Retry-After"]
    text = response.content.decode()
    assert "database is unavailable" in text
    assert "Traceback" not in text and "OperationalError" not in text
    if path.startswith("/api/"):
        assert response.json() == {"detail": "The database is unavailable at the moment. Try again in a few seconds."}


@pytest.mark.django_db
def test_a_token_request_answers_503_during_a_database_outage(alice: Any) -> None:
    client = Client(raise_request_exception=False)
    with database_down():
        response = client.post(
            "/api/v1/auth/token/",
            {"username": "alice", "password": alice.password},
            content_type="application/json",
        )
    assert response.status_code == 503


@pytest.mark.django_db
def test_readyz_answers_503_during_a_database_outage() -> None:
    with database_down():
        response = Client(raise_request_exception=False).get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["ok"] is False


@pytest.mark.django_db
def test_other_errors_still_answer_500_without_a_traceback(alice: Any, monkeypatch: Any) -> None:
    from accounts.api import views

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(views.MeView, "get", broken)
    client = Client(raise_request_exception=False)
    client.force_login(alice.user)
    response = client.get("/api/v1/me/")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error."}
