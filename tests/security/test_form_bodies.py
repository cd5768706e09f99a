"""Bad input under the real server: a form body daphne's Twisted could not parse (an empty multipart, a
bad boundary) got a bare `400 Bad Request` with no content type and no message from Twisted itself, before Django
saw it (Schemathesis found it on four operations). `runplatform` now serves with daphne's request left without
Twisted's form parse, so Django parses the body once and answers it like any other (tests/security/test_bad_input.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

import daphne.server  # noqa: F401  (installs Twisted's asyncio reactor first, as `runplatform` does)
import pytest
from daphne import http_protocol
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport

from quantarb.management.commands.runplatform import leave_form_bodies_to_django

EMPTY_MULTIPART = (
    b"POST /api/v1/auth/token/refresh/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: multipart/form-data; boundary=c637e12e2b1a998d80d1b087531af51c\r\n"
    b"Content-Length: 38\r\n\r\n--c637e12e2b1a998d80d1b087531af51c--\r\n"
)


class StubServer:
    """The parts of `daphne.server.Server` an HTTP request calls: it records the application daphne would start."""

    root_path = ""
    request_buffer_size = 8192
    proxy_forwarded_address_header = None
    server_name = "daphne"

    def __init__(self) -> None:
        self.scopes: list[dict[str, Any]] = []
        self.queues: list[asyncio.Queue[dict[str, Any]]] = []

    def protocol_connected(self, protocol: Any) -> None:
        pass

    def protocol_disconnected(self, protocol: Any) -> None:
        pass

    def create_application(self, protocol: Any, scope: dict[str, Any]) -> asyncio.Queue[dict[str, Any]]:
        self.scopes.append(scope)
        self.queues.append(asyncio.Queue())
        return self.queues[-1]

    def log_action(self, *args: Any) -> None:
        pass


def _connect() -> tuple[StubServer, Any, Any]:
    """A daphne HTTP connection over a string transport: the stub server, the channel and the transport."""
    server = StubServer()
    peer = IPv4Address("TCP", "127.0.0.1", 50000)
    channel = http_protocol.HTTPFactory(server).buildProtocol(peer)
    transport: Any = StringTransport(peerAddress=peer, hostAddress=IPv4Address("TCP", "127.0.0.1", 8000))  # type: ignore[no-untyped-call]
    channel.makeConnection(transport)
    return server, channel, transport


def _serve(raw: bytes) -> tuple[StubServer, bytes]:
    server, channel, transport = _connect()
    channel.dataReceived(raw)
    return server, transport.value()


@pytest.fixture
def original_request() -> Any:
    saved = http_protocol.WebRequest
    yield saved
    http_protocol.WebRequest = saved


def test_an_unparsable_form_body_reaches_django(original_request: Any) -> None:
    leave_form_bodies_to_django()
    server, written = _serve(EMPTY_MULTIPART)
    assert written == b""  # Twisted answered nothing of its own
    assert [scope["method"] for scope in server.scopes] == ["POST"]
    assert server.queues[0].get_nowait()["body"] == b"--c637e12e2b1a998d80d1b087531af51c--\r\n"


def test_twisted_alone_answers_it_with_a_bare_400(original_request: Any) -> None:
    # Why the fix is there: daphne's own request lets Twisted refuse the body before the application runs.
    daphne_request = original_request
    while getattr(daphne_request, "leaves_form_bodies_to_django", False):
        daphne_request = daphne_request.__mro__[1]
    http_protocol.WebRequest = daphne_request
    server, written = _serve(EMPTY_MULTIPART)
    assert written.startswith(b"HTTP/1.1 400 Bad Request") and server.scopes == []


SMALL_GET = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def test_a_body_declared_beyond_the_limit_is_answered_413_and_never_read(original_request: Any, settings: Any) -> None:
    # A 2.4 MB body was spooled to a file, handed over in 8 KB messages and parsed by the application;
    # then, refused by size but read to its end, it still took the event loop while a client sent it again and
    # again. Now the answer goes out from the headers alone, and the body is never read.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    leave_form_bodies_to_django()
    head = b"POST /api/v1/strategies/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    server, channel, transport = _connect()
    channel.dataReceived(head + b"Content-Length: 5000000\r\n\r\n")

    answer, _, body = transport.value().partition(b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"Content-Type: application/json" in answer and b"Connection: close" in answer
    assert body == b'{"detail": "The request body is too large: at most 1000 bytes are accepted."}'
    assert transport.disconnecting  # closed without waiting for the body
    assert server.scopes == []  # the application never started


def test_a_modestly_oversized_body_is_dropped_to_its_end_then_the_connection_closes(
    original_request: Any, settings: Any
) -> None:
    # A client that reads only after sending everything still gets the 413 rather than a reset.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    leave_form_bodies_to_django()
    head = b"POST /api/v1/strategies/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    server, channel, transport = _connect()
    channel.dataReceived(head + b"Content-Length: 5000\r\n\r\n" + b"x" * 4000)

    assert transport.value().startswith(b"HTTP/1.1 413 ")
    assert not transport.disconnecting  # the rest of the body is still coming: read and dropped
    channel.dataReceived(b"x" * 1000 + SMALL_GET)
    assert transport.disconnecting
    assert server.scopes == []  # neither the refused request nor one pipelined after it reached the application


def test_a_chunked_body_growing_beyond_the_limit_is_answered_413(original_request: Any, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    leave_form_bodies_to_django()
    chunk = b"258\r\n" + b"x" * 600 + b"\r\n"
    raw = b"POST /members/ HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 2 + b"0\r\n\r\n"
    server, written = _serve(raw)

    assert written.startswith(b"HTTP/1.1 413 ")
    assert b"Content-Type: text/plain" in written and b"Connection: close" in written
    assert server.scopes == []


def test_a_body_within_the_limit_reaches_the_application_whole(original_request: Any, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    leave_form_bodies_to_django()
    head = b"POST /api/v1/strategies/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    server, written = _serve(head + b"Content-Length: 1000\r\n\r\n" + b"x" * 1000)

    assert written == b""
    assert server.queues[0].get_nowait()["body"] == b"x" * 1000
