"""Fast path of the live push: ready-made WebSocket frames written straight to daphne's socket protocol.

Under daphne, every frame an ASGI application sends takes the per-socket path `send` coroutine → Channels'
session wrapper → daphne's `Server.handle_reply` → `WebSocketProtocol.handle_reply` → autobahn's `sendMessage`
(UTF-8 encoding, framing) → the Twisted transport: about 200 µs of CPU per frame (bench/ws_fanout.py), ten
times a bare `websockets` broadcast. A spread frame is the same bytes for every socket that reads its language,
so this module frames it once per process (autobahn's `prepareMessage`, the library's own broadcast API) and
hands the bytes to each socket's protocol with `sendPreparedMessage`, synchronously, with no coroutine.

How a socket reaches its protocol: daphne gives each application instance `send =
functools.partial(server.handle_reply, protocol)` (daphne/server.py, `Server.create_application`).
`CaptureSend`, the outermost WebSocket middleware (quantarb/asgi.py), keeps that callable in the scope, and
`direct_writer(scope)` recognises it. Under any other server (Channels' test communicator, uvicorn, a future
daphne that wraps `send` differently) it returns None and the consumer keeps the ordinary ASGI `send`.

A slow socket is found with Twisted's producer/consumer API: the writer registers as the transport's streaming
producer, Twisted calls `pauseProducing` when more than its buffer size (64 KiB) is waiting for the socket and
`resumeProducing` once that has drained. While paused the writer refuses frames, so the consumer keeps only
the latest state (coalescing) and writes it on resume.

Only spread frames go this way. The handshake, `accept`, `close`, heartbeats and replies to the browser still
use the ASGI `send` (and so the session middleware); a frame is written only while autobahn says the socket is
open. Frames written this way are not in autobahn's traffic statistics (daphne does not read them).
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any

from autobahn.websocket.protocol import PreparedMessage
from daphne.ws_protocol import WebSocketProtocol
from twisted.internet import tcp
from twisted.internet.interfaces import IPushProducer

log = logging.getLogger(__name__)

SCOPE_KEY = "quantarb.asgi_send"


class CaptureSend:
    """ASGI middleware: keep the server's own `send` in the scope (`SCOPE_KEY`), before any wrapper."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        return await self.inner({**scope, SCOPE_KEY: send}, receive, send)


class PreparedFrames:
    """One framed copy of each text frame: `frame(text)` returns the autobahn `PreparedMessage` for it.

    Keyed by the frame's text, which the consumer already caches per update and language (so a thousand
    sockets reading the same update hash and frame the same string once). Bounded: cleared when it grows.
    """

    def __init__(self, limit: int = 256) -> None:
        self.limit = limit
        self._prepared: dict[str, Any] = {}

    def frame(self, text: str, factory: Any) -> Any:
        prepared = self._prepared.get(text)
        if prepared is None:
            if len(self._prepared) >= self.limit:
                self._prepared.clear()
            prepared = self._prepared[text] = factory.prepareMessage(text.encode("utf-8"), isBinary=False)
        return prepared


_frames = PreparedFrames()


def prepare(text: str) -> Any:
    """The framed text frame for `DirectWriter.write_prepared` (server frames are never masked, so one framing
    serves every socket of every daphne factory)."""
    return PreparedMessage(text.encode("utf-8"), False, False, False)


class DirectWriter:
    """Writes text frames to one daphne socket without the ASGI send path; tells when the socket drains.

    Call on the event loop that runs daphne (the reactor's loop). `on_drain` is called when a socket that
    had fallen behind has sent its backlog (Twisted's `resumeProducing`).

    The writer is the transport's streaming producer. A transport holds one producer, and after the upgrade
    to a WebSocket daphne's HTTP channel still holds it (Twisted's `HTTPChannel` stops reading a connection
    whose send buffer is full); the writer takes its place and passes every call on to it, so that
    behaviour is unchanged, and gives the place back when it closes before the connection does.
    """

    def __init__(self, protocol: Any, on_drain: Callable[[], None] | None = None) -> None:
        self.protocol = protocol
        self.on_drain = on_drain
        self.stopped = False
        self.frames_written = 0
        transport = protocol.transport
        self._previous = getattr(transport, "producer", None)
        if self._previous is not None:
            if not IPushProducer.providedBy(self._previous):
                raise RuntimeError(f"the transport's producer is not a push producer ({self._previous!r})")
            transport.unregisterProducer()
        self.paused = bool(getattr(transport, "producerPaused", False))
        protocol.registerProducer(self, True)
        self._plain_tcp = transport if _is_plain_tcp(transport) else None

    @property
    def writable(self) -> bool:
        """The socket is open and keeps up: a frame written now goes out without building a backlog."""
        return not (self.paused or self.stopped) and self.protocol.state == self.protocol.STATE_OPEN

    @property
    def open(self) -> bool:
        return not self.stopped and self.protocol.state == self.protocol.STATE_OPEN

    def write(self, text: str) -> bool:
        """Write one text frame now. False (nothing written) when the socket is no longer open."""
        return self.write_prepared(_frames.frame(text, self.protocol.factory))

    def write_prepared(self, prepared: Any) -> bool:
        """Write a frame `prepare(text)` made once for every socket. False when the socket is no longer open.

        This runs once per socket per update: `_write_now` is inlined for the common case (a plain TCP
        transport with nothing buffered, which takes the whole frame)."""
        protocol = self.protocol
        if self.stopped or protocol.state != protocol.STATE_OPEN:
            return False
        transport = self._plain_tcp
        if transport is None or protocol.websocket_extensions_in_use or protocol.send_queue:
            protocol.sendPreparedMessage(prepared)
        else:
            data = prepared.payloadHybi
            if transport.dataBuffer or transport._tempDataBuffer or transport.disconnecting or not transport.connected:
                _write_now(transport, data)
            else:
                try:
                    sent = transport.socket.send(data)
                except OSError:  # as in `_write_now`
                    sent = 0
                if sent != len(data):
                    transport.write(data[sent:])
        self.frames_written += 1
        return True

    def close(self) -> None:
        """Stop writing; give the transport's producer place back if the connection is still up."""
        if self.stopped:
            return
        self.stopped = True
        transport = self.protocol.transport
        if transport is not None and getattr(transport, "producer", None) is self:
            transport.unregisterProducer()
            if self._previous is not None:
                transport.registerProducer(self._previous, True)

    # --- twisted.internet.interfaces.IPushProducer -----------------------------------------------------
    def pauseProducing(self) -> None:
        self.paused = True
        if self._previous is not None:
            self._previous.pauseProducing()

    def resumeProducing(self) -> None:
        self.paused = False
        if self._previous is not None:
            self._previous.resumeProducing()
        if self.on_drain is not None and not self.stopped:
            self.on_drain()

    def stopProducing(self) -> None:
        self.stopped = True
        if self._previous is not None:
            self._previous.stopProducing()


def _is_plain_tcp(transport: Any) -> bool:
    return isinstance(transport, tcp.Connection) and not transport.TLS


def _write_now(transport: Any, data: bytes) -> None:
    """`transport.write(data)`, but sent at once when nothing is waiting to be sent before it.

    Twisted's `write` only buffers: it asks the reactor to watch the socket for writability (an epoll_ctl),
    sends on the next loop turn from `doWrite`, then stops watching (another epoll_ctl). For a frame that
    fits the socket buffer that is three system calls and a loop turn instead of one `send`; asyncio's own
    transports (the bare `websockets` server) try the `send` first, and so does this. What the socket does
    not take goes to `write`, after nothing, so the order of the bytes is kept.

    Twisted has no public "nothing is buffered" test: a `FileDescriptor` keeps unsent bytes in `dataBuffer`
    and `_tempDataBuffer` (twisted/internet/abstract.py); tests/quantarb/test_ws_direct.py checks the order
    of bytes against the installed Twisted. The send is the one `tcp.Connection.writeSomeData` makes (without
    its two Python frames: this runs once per socket per update): a full socket buffer sends nothing, and any
    other error means the connection is lost — `write` then queues the bytes, and Twisted's next `doWrite`
    meets the same error and closes the connection its usual way.
    """
    if (
        not transport.dataBuffer
        and not transport._tempDataBuffer
        and transport.connected
        and not transport.disconnecting
    ):
        try:
            sent = transport.socket.send(data)
        except OSError:  # EWOULDBLOCK / ENOBUFS (nothing taken), EINTR, or a lost connection
            sent = 0
        if sent == len(data):
            return
        data = data[sent:]
    transport.write(data)


def daphne_protocol(send: Any) -> Any | None:
    """The daphne `WebSocketProtocol` behind a server-given ASGI `send`, or None when it is not daphne's."""
    server_module = sys.modules.get("daphne.server")  # not imported: daphne is not the server (and importing
    if server_module is None:  # it would install Twisted's reactor)
        return None
    if not isinstance(send, functools.partial) or len(send.args) != 1 or send.keywords:
        return None
    if getattr(send.func, "__func__", None) is not server_module.Server.handle_reply:
        return None

    protocol = send.args[0]
    return protocol if isinstance(protocol, WebSocketProtocol) else None


def direct_writer(scope: dict[str, Any], on_drain: Callable[[], None] | None = None) -> DirectWriter | None:
    """A DirectWriter for this socket, or None when the fast path is not available (the caller keeps the
    ASGI `send`). Call after `accept()`: autobahn opens the socket when daphne handles the accept."""
    protocol = daphne_protocol(scope.get(SCOPE_KEY))
    if protocol is None or protocol.state != protocol.STATE_OPEN:
        return None
    try:
        return DirectWriter(protocol, on_drain)
    except RuntimeError as exc:  # another producer holds the transport: keep the ordinary path
        log.warning("no direct frames for %r: %s", protocol, exc)
        return None
