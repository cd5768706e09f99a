"""WebSocket /ws/spreads/ through the real ASGI application (origin check, session auth, routing).

Permission is decided at the handshake; a member gets the tenant's pairs from the first moment, coalesced
to the latest state when updates outrun the socket. Updates are sent the way the pipeline sends them:
`quantarb.live.group_send` to `quantarb.events.pair_group(pair_id)` with a real `PairRuntime.state()`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from accounts.choices import UserStatus
from accounts.models import User
from quantarb.events import pair_group
from quantarb.fanout import get_hub
from quantarb.live import group_send
from tests.sockets import ORIGIN, Headers, drain, headers_for, open_socket, update
from tests.waiting import until
from trading.marketdata import consumers
from trading.marketdata.pipeline import MarketPipeline, now_ms

# Sockets run the consumer's database work in other threads: the data must be committed to be seen.
pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("thread_connections_closed"),
]


# --- the handshake ------------------------------------------------------------------------------------------
async def test_an_anonymous_socket_is_refused_at_the_handshake(alpha_pair: Any) -> None:
    socket, connected = await open_socket([ORIGIN])

    assert not connected
    assert await socket.receive_nothing(timeout=0.2)  # not even a hello


@pytest.mark.parametrize("origin", [(b"origin", b"https://evil.example"), None], ids=["foreign", "missing"])
async def test_a_foreign_or_missing_origin_is_refused(alice: Any, alpha_pair: Any, origin: Any) -> None:
    headers = await sync_to_async(headers_for)(alice.user, origin)

    socket, connected = await open_socket(headers)

    assert not connected
    assert await socket.receive_nothing(timeout=0.2)


async def test_a_user_without_a_tenant_is_refused(alpha_pair: Any) -> None:
    def loner_headers() -> Headers:
        return headers_for(User.objects.create_user(username="dave", password="correct horse battery staple 1"))

    socket, connected = await open_socket(await sync_to_async(loner_headers)())

    assert not connected
    assert await socket.receive_nothing(timeout=0.2)


async def test_a_suspended_member_is_refused(bob: Any, alpha_pair: Any) -> None:
    def suspended_headers() -> Headers:
        headers = headers_for(bob.user)
        User.objects.filter(pk=bob.user.pk).update(status=UserStatus.SUSPENDED)
        return headers

    socket, connected = await open_socket(await sync_to_async(suspended_headers)())

    assert not connected
    assert await socket.receive_nothing(timeout=0.2)


# --- updates ------------------------------------------------------------------------------------------------
async def test_a_member_receives_updates_as_soon_as_connected(
    alice_headers: Headers, alpha_pair: Any, pair_state: Callable[[int], dict[str, Any]]
) -> None:
    socket, connected = await open_socket(alice_headers)
    assert connected
    hello = await socket.receive_json_from(timeout=2)
    state = pair_state(now_ms())

    # No subscribe message: being a member of the tenant is enough.
    assert await group_send(pair_group(alpha_pair.pk), update(state))
    frame = await socket.receive_json_from(timeout=2)

    assert (hello["type"], hello["pairs"]) == ("hello", [alpha_pair.pk])
    assert (frame["type"], frame["pair_id"]) == ("spread", alpha_pair.pk)
    assert set(frame["html"]) == {f"venues-{alpha_pair.pk}", f"edges-{alpha_pair.pk}"}
    assert "4602.60" in frame["html"][f"venues-{alpha_pair.pk}"]
    assert frame["state"]["at_ms"] == state["at_ms"]
    assert frame["state"]["session"]["state"] == "open"
    assert frame["point"]["basis"] == float(state["sample"]["basis"])
    await socket.disconnect()


async def test_another_tenant_never_receives_the_pairs_updates(
    charlie_headers: Headers, alpha_pair: Any, pair_state: Callable[[int], dict[str, Any]]
) -> None:
    socket, connected = await open_socket(charlie_headers)
    assert connected
    hello = await socket.receive_json_from(timeout=2)

    await socket.send_json_to({"type": "subscribe", "pair_id": alpha_pair.pk})  # asking does not help
    assert await group_send(pair_group(alpha_pair.pk), update(pair_state(now_ms())))

    assert hello["pairs"] == []
    assert await socket.receive_nothing(timeout=0.5)
    await socket.disconnect()


async def test_a_burst_is_coalesced_to_the_latest_state(
    alice_headers: Headers, alpha_pair: Any, pair_state: Callable[[int], dict[str, Any]]
) -> None:
    socket, connected = await open_socket(alice_headers)
    assert connected
    await socket.receive_json_from(timeout=2)  # hello
    start = now_ms()

    for n in range(50):  # the client reads nothing meanwhile
        assert await group_send(pair_group(alpha_pair.pk), update(pair_state(start + n)))
    frames = await drain(socket)

    spreads = [frame for frame in frames if frame["type"] == "spread"]
    assert 1 <= len(spreads) <= 10  # far fewer frames than updates
    assert spreads[-1]["state"]["at_ms"] == start + 49
    await socket.disconnect()


async def test_an_idle_socket_gets_heartbeats(
    alice_headers: Headers, alpha_pair: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consumers, "HEARTBEAT_SECONDS", 0.1)
    socket, connected = await open_socket(alice_headers)
    assert connected
    await socket.receive_json_from(timeout=2)  # hello

    frame = await socket.receive_json_from(timeout=2)

    assert frame["type"] == "heartbeat"
    assert isinstance(frame["ts_ms"], int)
    await socket.disconnect()


async def test_a_ping_gets_a_pong(alice_headers: Headers, alpha_pair: Any) -> None:
    socket, connected = await open_socket(alice_headers)
    assert connected
    await socket.receive_json_from(timeout=2)  # hello

    await socket.send_json_to({"type": "ping"})

    assert (await socket.receive_json_from(timeout=2))["type"] == "pong"
    await socket.disconnect()


async def test_the_running_pipeline_pushes_the_simulated_market_to_the_socket(
    alice_headers: Headers, alpha_pair: Any
) -> None:
    """The whole path on the real clock: simulated feed → engine → push loop → channel layer → this socket."""
    socket, connected = await open_socket(alice_headers)
    assert connected
    await socket.receive_json_from(timeout=2)  # hello
    pipeline = MarketPipeline(seed=1, demo_calendar=True, push_hz=20, flush_every_s=0.2)
    running = asyncio.create_task(pipeline.run())
    try:
        frame = await socket.receive_json_from(timeout=5)
        while frame["type"] != "spread" or frame["point"] is None:
            frame = await socket.receive_json_from(timeout=5)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)

    assert frame["pair_id"] == alpha_pair.pk
    assert frame["state"]["session"]["demo"] is True
    assert pipeline.pushes >= 1
    assert pipeline.push_failures == 0
    await socket.disconnect()


# --- access changes -----------------------------------------------------------------------------------------
async def test_a_socket_closes_when_its_user_loses_the_tenant(bob: Any, bob_headers: Headers, alpha_pair: Any) -> None:
    from accounts.models import Membership
    from accounts.services import access_changed

    socket, connected = await open_socket(bob_headers)
    assert connected
    await socket.receive_json_from(timeout=2)

    def revoke() -> None:
        Membership.objects.filter(user=bob.user).delete()
        access_changed(user_ids=[bob.user.pk])  # outside a transaction: sent at once

    await sync_to_async(revoke)()
    closed = await socket.receive_output(timeout=3)

    assert closed == {"type": "websocket.close", "code": 4403}


async def test_a_socket_stops_receiving_a_pair_revoked_from_its_tenant(
    alice_headers: Headers, alpha_pair: Any, pair_state: Callable[[int], dict[str, Any]]
) -> None:
    from accounts.services import access_changed
    from trading.models import PairAccess

    socket, connected = await open_socket(alice_headers)
    assert connected
    await socket.receive_json_from(timeout=2)
    state = pair_state(now_ms())

    def revoke() -> None:
        PairAccess.objects.filter(pair=alpha_pair).delete()
        access_changed(user_ids=[User.objects.get(username="alice").pk])

    await sync_to_async(revoke)()
    await until(lambda: not get_hub().subscribers.get(pair_group(alpha_pair.pk)), 5, "the socket leaves the pair")
    assert await group_send(pair_group(alpha_pair.pk), update(state))

    # The socket stays open (alice is still a member) but alpha's pair is no longer hers to watch.
    assert await socket.receive_nothing(timeout=0.5)
    await socket.disconnect()


# --- fan-out --------------------------------------------------------------------------------------------------
async def test_the_channel_layer_carries_one_message_per_update_whatever_the_number_of_sockets(
    alice_headers: Headers, alpha_pair: Any, pair_state: Callable[[int], dict[str, Any]]
) -> None:
    from quantarb.fanout import get_hub

    sockets = []
    for _ in range(25):
        socket, connected = await open_socket(alice_headers)
        assert connected
        await socket.receive_json_from(timeout=2)
        sockets.append(socket)
    hub = get_hub()
    received_before = hub.received

    assert await group_send(pair_group(alpha_pair.pk), update(pair_state(now_ms())))
    frames = [await socket.receive_json_from(timeout=3) for socket in sockets]

    # One channel-layer message reached this process; the hub handed it to every local socket.
    assert hub.received - received_before == 1
    assert {frame["type"] for frame in frames} == {"spread"}
    for socket in sockets:
        await socket.disconnect()
    assert not hub.subscribers.get(pair_group(alpha_pair.pk))


# --- the fast path (frames written straight to daphne's protocol, quantarb/ws_direct.py) -------------------------
class FastPath:
    """Gives every socket the consumer opens a direct writer on a real daphne protocol (in memory), as
    `direct_writer` does under daphne; the test communicator still carries the handshake and control frames."""

    def __init__(self) -> None:
        self.sockets: list[tuple[Any, Any]] = []  # (writer, transport), in the order the sockets opened

    def __call__(self, scope: dict[str, Any], on_drain: Callable[[], None] | None = None) -> Any:
        from quantarb.ws_direct import DirectWriter
        from tests.daphne_sockets import open_protocol

        protocol, transport = open_protocol()
        writer = DirectWriter(protocol, on_drain)
        self.sockets.append((writer, transport))
        return writer

    def spreads(self, index: int) -> list[dict[str, Any]]:
        from tests.daphne_sockets import frames

        return [json.loads(text) for text in frames(self.sockets[index][1])]


@pytest.fixture
def fast_path(monkeypatch: pytest.MonkeyPatch) -> FastPath:
    fast = FastPath()
    monkeypatch.setattr(consumers, "direct_writer", fast)
    return fast


async def test_the_fast_path_writes_the_frames_the_fallback_sends(
    alice_headers: Headers,
    alpha_pair: Any,
    pair_state: Callable[[int], dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fallback, connected = await open_socket(alice_headers)
    assert connected
    await fallback.receive_json_from(timeout=2)  # hello
    fast = FastPath()
    monkeypatch.setattr(consumers, "direct_writer", fast)
    direct, connected = await open_socket(alice_headers)
    assert connected
    await direct.receive_json_from(timeout=2)  # hello

    assert await group_send(pair_group(alpha_pair.pk), update(pair_state(now_ms())))
    sent = await fallback.receive_json_from(timeout=2)
    # The hello counts against the rate ceiling: the frame goes out on the ceiling's timer.
    await until(lambda: fast.spreads(0), 5, "the spread frame on the fast path")

    assert fast.spreads(0) == [sent]
    assert await direct.receive_nothing(timeout=0.2)  # spread frames do not take the ASGI send
    await fallback.disconnect()
    await direct.disconnect()


async def test_a_slow_socket_is_coalesced_on_the_fast_path_and_never_holds_up_the_others(
    alice_headers: Headers,
    alpha_pair: Any,
    pair_state: Callable[[int], dict[str, Any]],
    fast_path: FastPath,
    settings: Any,
) -> None:
    settings.QUANTARB_PUSH_MAX_HZ = 1000  # no rate ceiling in the way: only the slow socket coalesces
    sockets = []
    for _ in range(2):
        socket, connected = await open_socket(alice_headers)
        assert connected
        await socket.receive_json_from(timeout=2)
        sockets.append(socket)
    (_, slow_transport), _ = fast_path.sockets
    start = now_ms()

    async def until_received(index: int, count: int) -> None:
        """Wait (up to 10 s, failing after) until socket `index` has `count` spread frames: with Redis, updates
        arrive over pub/sub a moment after they are sent (and only once the hub's subscription is live)."""
        await until(
            lambda: len(fast_path.spreads(index)) >= count, 10, f"socket {index}: {count} spread frames", every_s=0.01
        )

    assert await group_send(pair_group(alpha_pair.pk), update(pair_state(start - 1)))
    await until_received(0, 1)
    await until_received(1, 1)
    slow_transport.producer.pauseProducing()  # Twisted: more than its buffer size waits for this socket
    for n in range(5):
        assert await group_send(pair_group(alpha_pair.pk), update(pair_state(start + n)))
        await asyncio.sleep(0.01)  # the updates arrive apart in time, as a market's do
    await until_received(1, 6)
    while_slow = fast_path.spreads(0)[1:]
    slow_transport.producer.resumeProducing()  # ... and it has drained

    assert while_slow == []
    assert [f["state"]["at_ms"] for f in fast_path.spreads(1)] == [start - 1] + [start + n for n in range(5)]
    assert [f["state"]["at_ms"] for f in fast_path.spreads(0)] == [start - 1, start + 4]  # only the latest state
    for socket in sockets:
        await socket.disconnect()


async def test_a_burst_is_coalesced_to_the_latest_state_on_the_fast_path(
    alice_headers: Headers, alpha_pair: Any, pair_state: Callable[[int], dict[str, Any]], fast_path: FastPath
) -> None:
    socket, connected = await open_socket(alice_headers)
    assert connected
    await socket.receive_json_from(timeout=2)
    start = now_ms()

    for n in range(50):
        assert await group_send(pair_group(alpha_pair.pk), update(pair_state(start + n)))
    await until(  # the rate ceiling's timer writes the last one
        lambda: fast_path.spreads(0) and fast_path.spreads(0)[-1]["state"]["at_ms"] == start + 49,
        5,
        "the burst's last state on the fast path",
    )

    spreads = fast_path.spreads(0)
    assert 1 <= len(spreads) <= 10
    assert spreads[-1]["state"]["at_ms"] == start + 49
    await socket.disconnect()


async def test_a_revoked_pair_stops_reaching_the_socket_on_the_fast_path(
    alice_headers: Headers, alpha_pair: Any, pair_state: Callable[[int], dict[str, Any]], fast_path: FastPath
) -> None:
    from accounts.services import access_changed
    from trading.models import PairAccess

    socket, connected = await open_socket(alice_headers)
    assert connected
    await socket.receive_json_from(timeout=2)
    assert await group_send(pair_group(alpha_pair.pk), update(pair_state(now_ms())))
    await until(lambda: fast_path.spreads(0), 5, "the push before the revocation")  # on the rate ceiling's timer
    before = len(fast_path.spreads(0))

    def revoke() -> None:
        PairAccess.objects.filter(pair=alpha_pair).delete()
        access_changed(user_ids=[User.objects.get(username="alice").pk])

    await sync_to_async(revoke)()
    await until(lambda: not get_hub().subscribers.get(pair_group(alpha_pair.pk)), 5, "the socket leaves the pair")
    assert await group_send(pair_group(alpha_pair.pk), update(pair_state(now_ms() + 1)))
    await asyncio.sleep(0.3)  # time for a push to arrive, to prove none does

    assert before == 1
    assert len(fast_path.spreads(0)) == 1  # nothing after the revocation
    assert await socket.receive_nothing(timeout=0.2)  # and the socket stays open
    await socket.disconnect()


async def test_a_socket_whose_user_loses_the_tenant_is_closed_and_written_nothing_more(
    bob: Any, bob_headers: Headers, alpha_pair: Any, pair_state: Callable[[int], dict[str, Any]], fast_path: FastPath
) -> None:
    from accounts.models import Membership
    from accounts.services import access_changed

    socket, connected = await open_socket(bob_headers)
    assert connected
    await socket.receive_json_from(timeout=2)

    def revoke() -> None:
        Membership.objects.filter(user=bob.user).delete()
        access_changed(user_ids=[bob.user.pk])

    await sync_to_async(revoke)()
    closed = await socket.receive_output(timeout=3)
    ((writer, _transport),) = fast_path.sockets
    writer.protocol.handle_reply(closed)  # what daphne does with the consumer's close: autobahn starts closing
    assert await group_send(pair_group(alpha_pair.pk), update(pair_state(now_ms())))
    await asyncio.sleep(0.2)  # time for a push to arrive, to prove none does

    assert closed == {"type": "websocket.close", "code": 4403}
    assert fast_path.spreads(0) == []


async def test_an_idle_socket_gets_heartbeats_on_the_fast_path(
    alice_headers: Headers, alpha_pair: Any, fast_path: FastPath, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consumers, "HEARTBEAT_SECONDS", 0.1)
    socket, connected = await open_socket(alice_headers)
    assert connected
    await socket.receive_json_from(timeout=2)  # hello

    frame = await socket.receive_json_from(timeout=2)  # heartbeats keep the ordinary send

    assert frame["type"] == "heartbeat"
    assert fast_path.spreads(0) == []
    await socket.disconnect()
