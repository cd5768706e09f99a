"""The `rpyc` backend of the MT5 gateway: the MetaTrader5 package on a Windows or Wine host, reached over an rpyc
classic bridge (docs/connecting-mt5.md).

Risk: an rpyc classic server executes whatever its caller sends, as the user running it. The bridge must listen on
the host's loopback only and be reached through an SSH tunnel (or run on the same machine); never on a network
address.

How the calls cross:
- On connecting, a few helper functions are defined on the far side (source text, so the two Python versions need
  not match; only the rpyc major version must). Each package call is then one round trip to `_quantarb_call`.
- Request dicts are built on the far side from plain pairs: a dict built here would arrive as a proxy, which the
  package's extension does not read (and the bridge fake refuses, as a real terminal would).
- Results are converted on the far side with `_asdict()` into tuples of plain values, which rpyc passes by value
  (a structure returned as is would come back as a proxy, costing a round trip per field).
- Times are passed as integer seconds (a datetime would cross as a proxy too).
- TCP_NODELAY on our socket (and on the bridge's, see the docs): without it a stock classic server stalls ~40 ms
  on every call returning a structure (Nagle).
- A call that does not answer within the timeout, or a dropped connection, is *ambiguous* for an order: the
  connection is discarded and the next call opens a fresh one.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

import rpyc
from rpyc.core.async_ import AsyncResultTimeout
from rpyc.core.stream import SocketStream
from rpyc.utils.factory import connect_stream

from quantarb import outbound
from trading.venues.errors import VenueError, VenueErrorKind

_STRUCT = "__mt5_struct__"

# Defined on the bridge's side once per connection.
BRIDGE_SOURCE = f'''
import MetaTrader5 as _quantarb_mt5

def _quantarb_plain(value):
    if hasattr(value, "_asdict"):
        return ("{_STRUCT}", tuple((key, _quantarb_plain(item)) for key, item in value._asdict().items()))
    if isinstance(value, (tuple, list)):
        return tuple(_quantarb_plain(item) for item in value)
    return value

def _quantarb_call(name, args, kwargs, request=None):
    function = getattr(_quantarb_mt5, name)
    if request is not None:
        result = function(dict(request))
    else:
        result = function(*args, **dict(kwargs))
    failed = result is None or result is False
    error = tuple(_quantarb_mt5.last_error()) if failed else (1, "Success")
    return _quantarb_plain(result), error
'''


def decode(value: Any) -> Any:
    """The far side's plain form back to dicts (structures) and tuples (sequences)."""
    if isinstance(value, tuple):
        if len(value) == 2 and value[0] == _STRUCT:
            return {key: decode(item) for key, item in value[1]}
        return tuple(decode(item) for item in value)
    return value


def _pairs(values: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    for name, value in values.items():
        if not isinstance(value, str | int | float | bool | type(None)):
            raise TypeError(f"{name}: only plain values cross the bridge by value, not {type(value).__name__}")
    return tuple(values.items())


class RpycTransport:
    """One connection to one bridge, opened on first use and reopened after a failure. Thread-safe."""

    def __init__(self, host: str, port: int, *, timeout_s: float = 10.0, connect_timeout_s: float = 3.0) -> None:
        self.host = host
        self.port = port
        self.description = f"rpyc bridge {host}:{port}"
        self._timeout_s = timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._conn: Any = None
        self._remote_call: Any = None
        self._lock = threading.Lock()

    def _connect(self) -> Any:
        """Open the connection and define the helpers on the far side.

        The host must be on the platform's list of MT5 bridges (quantarb/outbound.py); the socket connects to the
        address that was vetted. Every failure to reach a working bridge — refused, no route, silent, closed at
        once, not speaking rpyc — answers the same message after the same wait (the connect timeout), so a
        terminal's host and port cannot be used to tell open ports from closed ones.
        """
        try:
            rows = outbound.bridge_addresses(self.host, self.port)
        except outbound.DestinationRefused as exc:
            raise VenueError(VenueErrorKind.UNREACHABLE, str(exc)) from exc
        started = time.monotonic()
        conn: Any = None
        try:
            sock = outbound.connect_vetted(rows, self._connect_timeout_s)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            sock.settimeout(None)
            # The handshake and the helpers' definition get the connect timeout; calls get the call timeout.
            conn = connect_stream(
                SocketStream(sock),
                service=rpyc.MasterService,
                config={"sync_request_timeout": self._connect_timeout_s, "allow_public_attrs": False},
            )
            conn.execute(BRIDGE_SOURCE)
            conn._config["sync_request_timeout"] = self._timeout_s
        except ImportError as exc:
            conn.close()
            raise VenueError(
                VenueErrorKind.UNREACHABLE,
                f"the bridge at {self.host}:{self.port} answers, but its Python has no MetaTrader5 package ({exc})",
            ) from exc
        except Exception as exc:  # refused, unreachable, timed out, EOF, a protocol that is not rpyc's
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()
            time.sleep(max(0.0, self._connect_timeout_s - (time.monotonic() - started)))
            raise VenueError(VenueErrorKind.UNREACHABLE, f"no MT5 bridge answered at {self.host}:{self.port}") from exc
        self._conn = conn
        self._remote_call = conn.namespace["_quantarb_call"]
        return self._remote_call

    def _invoke(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], request: Any) -> Any:
        with self._lock:
            if self._conn is not None and not self._conn.closed:
                remote_call = self._remote_call
            else:
                try:
                    remote_call = self._connect()
                except VenueError as exc:
                    raise exc.not_sent() from exc  # no connection: the call never left
            try:
                return remote_call(name, args, _pairs(kwargs), request)
            except AsyncResultTimeout as exc:
                self._discard()
                raise VenueError(
                    VenueErrorKind.AMBIGUOUS,
                    f"{self.description} did not answer {name} within {self._timeout_s:g} s",
                ) from exc
            except (EOFError, OSError) as exc:
                self._discard()
                raise VenueError(
                    VenueErrorKind.AMBIGUOUS, f"{self.description} dropped the connection during {name} ({exc})"
                ) from exc

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, tuple[int, str]]:
        _pairs({str(i): arg for i, arg in enumerate(args)})
        result, error = self._invoke(name, args, kwargs, None)
        return decode(result), (int(error[0]), str(error[1]))

    def order_send(self, request: dict[str, Any]) -> tuple[Any, tuple[int, str]]:
        result, error = self._invoke("order_send", (), {}, _pairs(request))
        return decode(result), (int(error[0]), str(error[1]))

    def _discard(self) -> None:
        conn, self._conn, self._remote_call = self._conn, None, None
        if conn is not None:
            # Closing a broken connection may fail in any way; it is gone either way.
            with contextlib.suppress(Exception):
                conn.close()

    def close(self) -> None:
        with self._lock:
            self._discard()
