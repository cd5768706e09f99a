"""The dashboard's spreads socket as the tests open it (a pytest plugin registered in tests/conftest.py): request
headers with a persona's session cookie, the personas' headers and the state of alpha's pair as fixtures, and
helpers to open a socket, wrap a state in the push the pipeline sends and read what a socket was sent."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

ORIGIN = (b"origin", b"http://127.0.0.1")
Headers = list[tuple[bytes, bytes]]


def headers_for(user: Any, origin: tuple[bytes, bytes] | None = ORIGIN) -> Headers:
    client = Client()
    client.force_login(user)
    cookie = (b"cookie", f"sessionid={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode())
    return [cookie] if origin is None else [origin, cookie]


@pytest.fixture
def alice_headers(alice: Any) -> Headers:
    return headers_for(alice.user)


@pytest.fixture
def bob_headers(bob: Any) -> Headers:
    return headers_for(bob.user)


@pytest.fixture
def charlie_headers(charlie: Any) -> Headers:
    return headers_for(charlie.user)


@pytest.fixture
def pair_state(alpha_pair: Any, frozen_clock: Any) -> Callable[[int], dict[str, Any]]:
    """`state(at_ms)` of alpha's pair as the pipeline pushes it, after one priced tick."""
    from trading.domain.quotes import Quote
    from trading.marketdata.pipeline import MarketPipeline, load_runtimes, now_ms
    from trading.venues.base import RateObservation

    [runtime] = load_runtimes(seed=settings.QUANTARB_SIM_SEED, demo_calendar=False)
    pipeline = MarketPipeline()
    ts = now_ms()
    pipeline.handle(runtime, RateObservation(Decimal("0.999600"), ts))
    pipeline.handle(runtime, Quote.of("simulated-perp-xauusdt", "4602.60", "4602.62", ts))
    pipeline.handle(runtime, Quote.of("simulated-cfd-xauusd-s", "4600.10", "4600.35", ts))
    assert runtime.last_sample is not None
    return runtime.state


def update(state: dict[str, Any]) -> dict[str, Any]:
    return {"type": "spread.update", "pair_id": state["pair_id"], "state": state}


async def open_socket(headers: Headers) -> tuple[WebsocketCommunicator, bool]:
    from quantarb.asgi import application

    socket = WebsocketCommunicator(application, "/ws/spreads/", headers=headers)
    connected, _ = await socket.connect(timeout=3)
    return socket, connected


async def drain(socket: WebsocketCommunicator, quiet_s: float = 0.4) -> list[dict[str, Any]]:
    frames = []
    while not await socket.receive_nothing(timeout=quiet_s):
        frames.append(await socket.receive_json_from())
    return frames
