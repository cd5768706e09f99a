"""The MT5 bridge: an rpyc classic server for the Windows or Wine host that runs the MetaTrader 5 terminal and
the MetaTrader5 package (docs/connecting-mt5.md). Standard library and rpyc only; run it with the host's Python:

    python bridge.py --port 18812

It listens on 127.0.0.1 only, on purpose: an rpyc classic server executes whatever its caller sends. quantarb
reaches it through an SSH tunnel. TCP_NODELAY is set on every connection (without it each call that returns a
structure stalls ~40 ms on Nagle's algorithm).
"""

from __future__ import annotations

import argparse
import socket

import MetaTrader5  # noqa: F401 - fail here, at start, when the package is missing
from rpyc.core.service import SlaveService
from rpyc.utils.server import ThreadedServer


class NoDelayServer(ThreadedServer):  # type: ignore[misc]
    def _accept_method(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super()._accept_method(sock)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=18812)
    args = parser.parse_args()
    server = NoDelayServer(SlaveService, hostname="127.0.0.1", port=args.port, reuse_addr=True)
    print(f"MT5 bridge listening on 127.0.0.1:{server.port}", flush=True)
    server.start()


if __name__ == "__main__":
    main()
