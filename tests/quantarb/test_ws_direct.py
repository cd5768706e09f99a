"""The fan-out fast path (quantarb/ws_direct.py) against daphne's real WebSocket protocol and Twisted's TCP
transport: the same bytes as daphne's own send path, found only behind daphne's `send`, paused while the
socket has a backlog, silent once the socket is closing, and the order of bytes kept when it sends at once.
"""

from __future__ import annotations

import functools
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from twisted.internet import tcp
from twisted.internet.testing import MemoryReactor

from quantarb.ws_direct import SCOPE_KEY, DirectWriter, _write_now, daphne_protocol, direct_writer, prepare
from tests.daphne_sockets import StreamingProducer, frames, open_protocol

FRAME = '{"type":"spread","pair_id":1,"html":{"venues-1":"<div>4602.60 · 价格</div>"},"state":{"at_ms":1}}'


def daphne_send(protocol: Any) -> Any:
    """What daphne passes an application as `send` (daphne/server.py, `Server.create_application`)."""
    from daphne.server import Server

    server = Server(application=None, endpoints=["tcp:port=0:interface=127.0.0.1"])
    return functools.partial(server.handle_reply, protocol)


# --- the same frames ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [40, 2_000, 70_000], ids=["short", "16-bit length", "64-bit length"])
def test_it_writes_the_same_bytes_as_daphnes_own_send_path(size: int) -> None:
    text = (FRAME * (size // len(FRAME) + 1))[:size]
    asgi_protocol, asgi_transport = open_protocol()
    direct_protocol, direct_transport = open_protocol()

    asgi_protocol.handle_reply({"type": "websocket.send", "text": text})  # what an ASGI send ends in
    assert DirectWriter(direct_protocol).write(text)
    prepared_protocol, prepared_transport = open_protocol()
    assert DirectWriter(prepared_protocol).write_prepared(prepare(text))  # framed once for every socket

    assert direct_transport.value() == asgi_transport.value() == prepared_transport.value()
    assert frames(direct_transport) == [text]


def test_the_same_text_is_framed_once_for_every_socket() -> None:
    (first, first_transport), (second, second_transport) = open_protocol(), open_protocol()

    DirectWriter(first).write(FRAME)
    DirectWriter(second).write(FRAME)

    assert frames(first_transport) == frames(second_transport) == [FRAME]


# --- finding daphne's protocol --------------------------------------------------------------------------------
def test_it_finds_the_protocol_behind_the_send_daphne_gives_the_application() -> None:
    protocol, _ = open_protocol()

    assert daphne_protocol(daphne_send(protocol)) is protocol
    writer = direct_writer({SCOPE_KEY: daphne_send(protocol)})
    assert writer is not None and writer.protocol is protocol


async def _other_send(message: dict[str, Any]) -> None:
    pass


@pytest.mark.parametrize(
    "scope",
    [{}, {SCOPE_KEY: _other_send}, {SCOPE_KEY: functools.partial(_other_send)}],
    ids=["no send kept", "another server's send", "another partial"],
)
def test_there_is_no_fast_path_under_another_server(scope: dict[str, Any]) -> None:
    assert direct_writer(scope) is None


def test_there_is_no_fast_path_before_the_socket_is_open() -> None:
    protocol, _ = open_protocol()
    protocol.state = protocol.STATE_CONNECTING

    assert direct_writer({SCOPE_KEY: daphne_send(protocol)}) is None


# --- a slow socket, a closing socket ----------------------------------------------------------------------------
def test_it_takes_the_producer_place_and_passes_every_call_on_to_daphnes_http_channel() -> None:
    http_channel = StreamingProducer()
    protocol, transport = open_protocol(previous_producer=http_channel)
    drained: list[bool] = []

    writer = DirectWriter(protocol, on_drain=lambda: drained.append(True))
    transport.producer.pauseProducing()  # what Twisted does when the send buffer is over its size
    paused = writer.writable
    transport.producer.resumeProducing()  # ... and once it has drained

    assert transport.producer is writer
    assert (paused, writer.writable, drained) == (False, True, [True])
    assert http_channel.calls == ["pause", "resume"]  # reading still pauses with a full send buffer
    writer.close()
    assert transport.producer is http_channel


def test_a_closing_socket_is_written_nothing() -> None:
    protocol, transport = open_protocol()
    writer = DirectWriter(protocol)

    protocol.handle_reply({"type": "websocket.close", "code": 4403})  # the consumer closes the socket
    transport.clear()

    assert not writer.write(FRAME)
    assert transport.value() == b""
    assert not writer.open


def test_a_lost_connection_stops_the_writer() -> None:
    protocol, transport = open_protocol()
    writer = DirectWriter(protocol)

    writer.stopProducing()  # Twisted, when the connection is lost

    assert not writer.write(FRAME)
    assert transport.value() == b""


# --- sending at once on a TCP transport ---------------------------------------------------------------------------
@pytest.fixture
def tcp_pair() -> Iterator[tuple[Any, socket.socket]]:
    """A Twisted TCP transport on one end of a socket pair (no reactor runs: a fake one records writers)."""
    ours, peer = socket.socketpair()
    reactor: Any = MemoryReactor()  # type: ignore[no-untyped-call]
    transport: Any = tcp.Connection(ours, protocol=None, reactor=reactor)
    transport.connected = True
    yield transport, peer
    ours.close()
    peer.close()


def read_all(peer: socket.socket) -> bytes:
    peer.setblocking(False)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = peer.recv(1 << 20)
        except BlockingIOError:
            return b"".join(chunks)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def test_an_idle_transport_sends_at_once(tcp_pair: tuple[Any, socket.socket]) -> None:
    transport, peer = tcp_pair

    _write_now(transport, b"frame")

    assert read_all(peer) == b"frame"  # no reactor turn needed
    assert not transport.reactor.getWriters()


def test_bytes_waiting_in_the_transport_go_first(tcp_pair: tuple[Any, socket.socket]) -> None:
    transport, peer = tcp_pair
    transport.write(b"earlier ")  # buffered until the reactor says the socket is writable

    _write_now(transport, b"frame")
    before = read_all(peer)
    transport.doWrite()

    assert before == b""
    assert read_all(peer) == b"earlier frame"


def test_what_the_socket_does_not_take_is_queued_in_order(tcp_pair: tuple[Any, socket.socket]) -> None:
    transport, peer = tcp_pair
    big = bytes(range(256)) * 40_000  # ~10 MB: more than a socket buffer holds

    _write_now(transport, big)
    _write_now(transport, b"next")
    received = read_all(peer)
    while transport.dataBuffer or transport._tempDataBuffer:
        transport.doWrite()
        received += read_all(peer)

    assert received == big + b"next"
