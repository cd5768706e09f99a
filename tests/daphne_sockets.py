"""daphne's own WebSocket protocol on an in-memory Twisted transport, for the fast-path tests (no reactor runs).

`open_protocol()` builds a `daphne.ws_protocol.WebSocketProtocol` with daphne's factory and the options
daphne's server sets, completes a real handshake on a `StringTransport` and accepts it the way daphne does
when the application sends `websocket.accept`. `frames(transport)` decodes the server-to-client frames
written so far (RFC 6455: unmasked, single-frame text messages).
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from typing import Any

import daphne.server  # noqa: F401  (installs Twisted's asyncio reactor first, as `runplatform` does)
from daphne.ws_protocol import WebSocketFactory
from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import IPushProducer
from twisted.internet.testing import StringTransport
from zope.interface import implementer


class StubServer:
    """The parts of `daphne.server.Server` that `WebSocketProtocol` calls during a handshake."""

    root_path = ""
    proxy_forwarded_address_header = None

    def __init__(self) -> None:
        self.connections: dict[Any, dict[str, Any]] = {}

    def protocol_connected(self, protocol: Any) -> None:
        self.connections[protocol] = {}

    def protocol_disconnected(self, protocol: Any) -> None:
        self.connections[protocol]["disconnected"] = True

    def create_application(self, protocol: Any, scope: dict[str, Any]) -> asyncio.Queue[dict[str, Any]]:
        return asyncio.Queue()

    def log_action(self, *args: Any) -> None:
        pass


@implementer(IPushProducer)
class StreamingProducer:
    """Stands for daphne's upgraded HTTP channel, which stays the transport's producer after the upgrade."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def pauseProducing(self) -> None:  # Twisted's IPushProducer
        self.calls.append("pause")

    def resumeProducing(self) -> None:
        self.calls.append("resume")

    def stopProducing(self) -> None:
        self.calls.append("stop")


def open_protocol(previous_producer: Any = None) -> tuple[Any, Any]:
    """An open daphne WebSocketProtocol and its transport (cleared of the handshake's bytes)."""
    factory = WebSocketFactory(StubServer(), server="daphne")
    factory.setProtocolOptions(allowNullOrigin=True)
    peer = IPv4Address("TCP", "127.0.0.1", 50000)
    protocol = factory.buildProtocol(peer)
    protocol._raw_query_string = b""  # daphne's HTTP protocol sets it before handing the connection over
    transport: Any = StringTransport(peerAddress=peer, hostAddress=IPv4Address("TCP", "127.0.0.1", 8000))  # type: ignore[no-untyped-call]
    if previous_producer is not None:
        transport.registerProducer(previous_producer, True)
    protocol.makeConnection(transport)
    key = base64.b64encode(os.urandom(16))
    protocol.dataReceived(
        b"GET /ws/spreads/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    protocol.handle_reply({"type": "websocket.accept"})
    assert protocol.state == protocol.STATE_OPEN
    transport.clear()
    return protocol, transport


def frames(transport: Any) -> list[str]:
    """The text frames written to `transport`, in order; a close frame is skipped, anything else fails."""
    data = transport.value()
    texts = []
    while data:
        first, second = data[0], data[1]
        assert first in (0x81, 0x88), f"neither a final text frame nor a close frame: {first:#x}"
        assert not second & 0x80, "a server frame is never masked"
        length, offset = second & 0x7F, 2
        if length == 126:
            (length,), offset = struct.unpack("!H", data[2:4]), 4
        elif length == 127:
            (length,), offset = struct.unpack("!Q", data[2:10]), 10
        if first == 0x81:
            texts.append(data[offset : offset + length].decode("utf-8"))
        data = data[offset + length :]
    return texts
