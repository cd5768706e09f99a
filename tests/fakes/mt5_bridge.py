"""A fake MT5 bridge: an rpyc classic server process, on 127.0.0.1 only, whose `MetaTrader5` module is a simulated
terminal (trading/venues/mt5/sim.py) — what a Windows or Wine host running the real package behind the bridge
looks like to quantarb's `rpyc` backend.

Like the real thing: structures are named tuples with `_asdict()`; `order_send` reads a real dict only, so a dict
built on the client's side (an rpyc proxy) is refused with last_error -2; times are the broker's server time.
Tests script it over a second rpyc connection through the module's `qa_*` functions (configure, arm faults —
retcodes, a lost answer, a stalled answer, a hung terminal —, close the market, stop the account out, trade by
hand).

The terminal's own failures as they show in the field (`FieldTerminal.qa_fault`), each cleared by what
clears it on a real terminal:
- `hang`: every call blocks (the terminal froze: a dialog on screen, a stuck update); no answer comes within any
  client's request timeout. Cleared by restarting the terminal.
- `ipc_timeout` (`qa_arm("ipc_timeout", count)`, the simulator's): calls answer None with -10005; a count of -1
  lasts until the terminal restarts, a positive count clears by itself (a transient hiccup a reconnect rides out).
- `logged_out`: the terminal lost its login (a changed password, the server dropped it): `terminal_info` says not
  connected, `account_info` answers None. Cleared by a `login` with the account's credentials, or a restart (the
  terminal logs in with its saved account).
- `disconnected`: logged in but not connected to the trade server. Cleared by a `login` or a restart.
- `ticks_frozen`: the symbol's tick stops moving while the session is open (a stale feed). Cleared by a `login`
  (a new connection to the trade server) or a restart.
- `tradeapi_disabled`, `expert_disabled`: the terminal's "Disable automatic trading via external Python API"
  option; the account may not trade through experts. Cleared by an operator (`qa_fault(name, False)`).
- `qa_switch_login(login)`: someone logged the terminal in to another account (wrong account): a `login` with the
  right credentials puts it back.
- AutoTrading off: `qa_configure(terminal_trade_allowed=False)` (the simulator's), an operator's button.
- The terminal process: once a terminal registered its process (`qa_terminal_started(pid)`, which the stand-in
  terminal started by the supervisor agent calls), every call fails with -10003 while that process is not
  running — a stopped or crashed terminal64.exe; a new start registers again and clears the terminal's failures.
- `stale_state`: what the terminal keeps on disk is broken, so a new terminal process comes up with the old one's
  failures (VENUES.md: terminals that cannot restart because of stale state); cleared by an operator.
- Bridge down: stop the fake's process (and start it again on the same port).

Run: `python -m tests.fakes.mt5_bridge --port 0` prints `LISTENING <port>` once it accepts connections.
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
from typing import Any

from rpyc.core.service import SlaveService
from rpyc.utils.server import ThreadedServer

from trading.venues.mt5.sim import RES_E_FAIL, SimulatedMetaTrader5

RES_E_INTERNAL_FAIL_INIT = -10003
FIELD_FAULTS = (
    "hang",
    "logged_out",
    "disconnected",
    "ticks_frozen",
    "tradeapi_disabled",
    "expert_disabled",
    "stale_state",
)
# The package's functions a client calls (what the faults apply to); `last_error` and the `qa_*` functions never
# block.
API = (
    "initialize",
    "login",
    "shutdown",
    "terminal_info",
    "account_info",
    "symbol_select",
    "symbol_info",
    "symbol_info_tick",
    "order_calc_margin",
    "order_send",
    "orders_get",
    "history_orders_get",
    "history_deals_get",
    "positions_get",
)
HANG_LIMIT_S = 300.0  # a hung call gives up after this (the test is long over)


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat_file:
            stat = stat_file.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


class FieldTerminal(SimulatedMetaTrader5):
    """The simulated terminal with the failures terminals show in the field (the module's docstring)."""

    def qa_reset(self) -> None:
        super().qa_reset()
        with self._lock:
            self._field: dict[str, bool] = dict.fromkeys(FIELD_FAULTS, False)
            self._released = threading.Event()
            self._released.set()
            self._terminal_pid: int | None = None
            self._frozen_tick: Any = None
            self._server: str | None = None  # the trade server of the last login (account_info reports it)
            self.qa_starts = 0

    def qa_fault(self, name: str, on: bool = True) -> None:
        if name not in FIELD_FAULTS:
            raise ValueError(f"unknown fault {name!r}")
        with self._lock:
            self._field[name] = bool(on)
            if name == "hang":
                (self._released.clear if on else self._released.set)()
            if name == "ticks_frozen":
                self._frozen_tick = self._last_tick if on else None

    def qa_switch_login(self, login: int, server: str | None = None) -> None:
        """Someone logged the terminal in to another account (on another server, when given)."""
        with self._lock:
            self._login = int(login)
            if server is not None:
                self._server = server

    def qa_terminal_started(self, pid: int) -> None:
        """A terminal process started (the agent's stand-in calls this): it is the terminal's process from now
        on, and a fresh terminal has none of the old one's failures; clients must initialize again."""
        with self._lock:
            self._terminal_pid = int(pid)
            self.qa_starts += 1
            if self._field["stale_state"]:
                return
            for name in ("hang", "logged_out", "disconnected", "ticks_frozen"):
                self._field[name] = False
            self._frozen_tick = None
            self._faults = [fault for fault in self._faults if fault["fault"] != "ipc_timeout"]
            self._hung_calls = 0
            self._initialized = False
            self._released.set()

    def qa_field(self) -> tuple[tuple[str, Any], ...]:
        with self._lock:
            return (*tuple(self._field.items()), ("terminal_pid", self._terminal_pid), ("starts", self.qa_starts))

    # --- the faults, in front of the simulator's functions ------------------------------------------------------
    def _gate(self, name: str) -> tuple[bool, Any]:
        """(blocked, answer): whether a fault answers the call instead of the terminal."""
        if not self._released.is_set():
            self._released.wait(HANG_LIMIT_S)
        with self._lock:
            if self._terminal_pid is not None and not _pid_alive(self._terminal_pid):
                self._error = (RES_E_INTERNAL_FAIL_INIT, "IPC initialize failed, MetaTrader 5 x64 not found")
                return True, (False if name in ("initialize", "login", "symbol_select", "shutdown") else None)
            if self._field["logged_out"] and name not in (
                "initialize",
                "login",
                "shutdown",
                "terminal_info",
                "symbol_select",
            ):
                if name == "symbol_info_tick" and self._last_tick is not None:
                    return True, self._ok(self._last_tick)  # the terminal still shows the last tick it had
                self._error = (RES_E_FAIL, "Terminal: Call failed")
                return True, None
        return False, None

    def login(self, login: int, password: str | None = None, server: str | None = None, timeout: int = 60_000) -> bool:
        blocked, answer = self._gate("login")
        if blocked:
            return bool(answer)
        done = super().login(login, password=password, server=server, timeout=timeout)
        if done:
            with self._lock:
                self._server = server or self._server
                for name in ("logged_out", "disconnected", "ticks_frozen"):
                    self._field[name] = False
                self._frozen_tick = None
        return done

    def terminal_info(self) -> Any:
        blocked, answer = self._gate("terminal_info")
        if blocked:
            return answer
        info = super().terminal_info()
        if info is None:
            return None
        with self._lock:
            connected = not (self._field["logged_out"] or self._field["disconnected"])
            return info._replace(connected=connected, tradeapi_disabled=self._field["tradeapi_disabled"])

    def account_info(self) -> Any:
        blocked, answer = self._gate("account_info")
        if blocked:
            return answer
        info = super().account_info()
        if info is None:
            return None
        with self._lock:
            return info._replace(trade_expert=not self._field["expert_disabled"], server=self._server or info.server)

    def _tick(self) -> Any:
        frozen = getattr(self, "_frozen_tick", None)
        if frozen is not None:
            return frozen
        return super()._tick()


def _gated(name: str) -> Any:
    def method(self: FieldTerminal, *args: Any, **kwargs: Any) -> Any:
        blocked, answer = self._gate(name)
        if blocked:
            return answer
        return getattr(SimulatedMetaTrader5, name)(self, *args, **kwargs)

    method.__name__ = name
    return method


for _name in API:
    if _name not in ("login", "terminal_info", "account_info"):
        setattr(FieldTerminal, _name, _gated(_name))


class NoDelayServer(ThreadedServer):  # type: ignore[misc]
    """A classic server with TCP_NODELAY on every accepted socket (what the docs ask of a real bridge)."""

    def _accept_method(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super()._accept_method(sock)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    sys.modules["MetaTrader5"] = FieldTerminal()  # type: ignore[assignment,unused-ignore]
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
