"""A fake MT5 bridge: an rpyc classic server process, on 127.0.0.1 only, whose `MetaTrader5` module is a simulated
terminal (trading/venues/mt5/sim.py) — what a Windows or Wine host running the real package behind the bridge
looks like to quantarb's `rpyc` backend.

Like the real thing: structures are named tuples with `_asdict()`; `order_send` reads a real dict only, so a dict
built on the client's side (an rpyc proxy) is refused with last_error -2; times are the broker's server time.
Tests script it over a second rpyc connection through the module's `qa_*` functions (configure, arm faults —
retcodes, a lost answer, a stalled answer, a hung terminal —, close the market, stop the account out, trade by
hand).

Run: `python -m tests.fakes.mt5_bridge --port 0` prints `LISTENING <port>` once it accepts connections.
"""

from __future__ import annotations

import argparse
import socket
import sys
from typing import Any

from rpyc.core.service import SlaveService
from rpyc.utils.server import ThreadedServer

from trading.venues.mt5.sim import SimulatedMetaTrader5


class NoDelayServer(ThreadedServer):  # type: ignore[misc]
    """A classic server with TCP_NODELAY on every accepted socket (what the docs ask of a real bridge)."""

    def _accept_method(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super()._accept_method(sock)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    sys.modules["MetaTrader5"] = SimulatedMetaTrader5()  # type: ignore[assignment,unused-ignore]
    server: Any = NoDelayServer(
        SlaveService,
        hostname="127.0.0.1",
        port=args.port,
        reuse_addr=True,
        protocol_config={"sync_request_timeout": 60},
    )
    server._listen()  # listen before announcing the port (start() would listen only then)
    print(f"LISTENING {server.port}", flush=True)
    server.start()


if __name__ == "__main__":
    main()
