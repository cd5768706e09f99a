"""The MT5 bridge: an rpyc classic server for the Windows or Wine host that runs the MetaTrader 5 terminal and
the MetaTrader5 package (docs/connecting-mt5.md, docs/operating-mt5.md). Standard library and rpyc only; run it
with the host's Python, one bridge per terminal, each on its own port:

    python bridge.py --port 18812

- It listens on 127.0.0.1 only, on purpose: an rpyc classic server executes whatever its caller sends. quantarb
  reaches it through an SSH tunnel (or TLS terminated on the host); never open its port on a network.
- One bridge serves one terminal: the MetaTrader5 package is one connection to one terminal per process, so two
  terminals driven from one bridge would cross-wire (a call meant for one reaching the other).
- Requests are served one at a time: the package keeps one `last_error()` per process, so a call and the
  `last_error()` read after it must not interleave with another client's calls (the engine, the health check and
  the balance sync each have their own connection).
- TCP_NODELAY is set on every connection (without it each call that returns a structure stalls ~40 ms on Nagle's
  algorithm).

It prints `LISTENING 127.0.0.1 <port>` once it accepts connections.
"""

from __future__ import annotations

import argparse
import socket
import threading
from typing import Any

import MetaTrader5  # noqa: F401 - fail here, at start, when the package is missing
from rpyc.core.protocol import Connection
from rpyc.core.service import SlaveService
from rpyc.utils.server import ThreadedServer

LOOPBACK = "127.0.0.1"

# Held while one request is served, whichever connection it came on. Re-entrant: a request that calls back into
# its client serves that client's nested requests on the same thread.
TERMINAL_LOCK = threading.RLock()


class SerialConnection(Connection):  # type: ignore[misc]
    def _dispatch_request(self, seq: Any, raw_args: Any) -> None:
        with TERMINAL_LOCK:
            super()._dispatch_request(seq, raw_args)


class SerialSlaveService(SlaveService):  # type: ignore[misc]
    """The classic service, its requests served one at a time across connections."""

    __slots__ = ()
    _protocol = SerialConnection


class NoDelayServer(ThreadedServer):  # type: ignore[misc]
    def _accept_method(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super()._accept_method(sock)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=18812, help="the loopback port (0: any free port)")
    args = parser.parse_args(argv)
    server = NoDelayServer(SerialSlaveService, hostname=LOOPBACK, port=args.port, reuse_addr=True)
    server._listen()  # listen before announcing the port (start() would only listen then)
    print(f"LISTENING {server.host} {server.port}", flush=True)
    server.start()


if __name__ == "__main__":
    main()
