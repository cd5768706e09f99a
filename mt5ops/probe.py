"""One readiness probe of one terminal: what `mt5ops.domain.classify` needs, read through the MT5
gateway's transport with timeouts short enough that a fault is seen within 15 s.

The probe asks, each call one round trip, timed: `initialize(timeout=)` (attach to the terminal as it is — never
with credentials: a probe must not log the terminal in, or it would hide a lost or wrong login), `terminal_info`
(connected, `trade_allowed`, `tradeapi_disabled`, build, ping), `account_info` (login, server, the account's trade
flags), `symbol_select` + `symbol_info_tick` of the hedge symbol (its last tick's age, during its session by the
symbol's calendar). A call that failed stops the probe with its `last_error()`; a bridge that does not answer
(refused, silent: the connect timeout) or a call without an answer (the request timeout) is a fact of its own.

Timeouts: connect 1.5 s, request 1.5 s, `initialize` 1.2 s (the package's default is 60 s). rpyc 6 gives up on an
unanswered request after up to twice its `sync_request_timeout` (measured: 2.0 s for 1 s, 5.0 s for 2.5 s), so a
probe takes at most ~3 s whatever the fault, and with a check every 5 s two failing probes — `down` — come within
15 s of the fault.

This module does no database work: `ProbeTarget` carries what the caller read (thread-safe: the check job probes
its terminals in parallel).
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from quantarb import clock
from trading.domain.calendar import SessionCalendar
from trading.venues.errors import VenueError, VenueErrorKind
from trading.venues.mt5.gateway import Mt5Transport, transport_for

from .domain.classify import ProbeFacts

CONNECT_TIMEOUT_S = 1.5
REQUEST_TIMEOUT_S = 1.5
INITIALIZE_TIMEOUT_MS = 1_200
MS = Decimal("0.001")


@dataclass(frozen=True)
class ProbeTarget:
    """What the probe needs of a terminal, read beforehand."""

    terminal_id: int
    backend: str
    host: str
    port: int | None
    terminal_path: str
    symbol: str
    calendar: SessionCalendar
    expected_login: int | None = None
    expected_server: str | None = None
    last_order_retcode: int | None = None


@dataclass
class ProbeResult:
    facts: ProbeFacts
    rtts_ms: list[float] = field(default_factory=list)
    build: int | None = None
    ping_ms: Decimal | None = None
    error_code: int | None = None
    error: str = ""
    duration_ms: float = 0.0

    def percentile(self, q: float) -> Decimal | None:
        """The q-th percentile (0–100) of this probe's round trips, nearest rank."""
        if not self.rtts_ms:
            return None
        ordered = sorted(self.rtts_ms)
        rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
        return Decimal(str(ordered[rank])).quantize(MS)

    @property
    def p50(self) -> Decimal | None:
        if not self.rtts_ms:
            return None
        return Decimal(str(statistics.median(self.rtts_ms))).quantize(MS)

    @property
    def p99(self) -> Decimal | None:
        return self.percentile(99)


TransportFactory = Callable[[ProbeTarget], Mt5Transport]


def default_transport(target: ProbeTarget) -> Mt5Transport:
    return transport_for(
        target.backend,
        host=target.host,
        port=target.port,
        terminal_path=target.terminal_path,
        key=f"terminal:{target.terminal_id}",
        timeout_s=REQUEST_TIMEOUT_S,
        connect_timeout_s=CONNECT_TIMEOUT_S,
    )


class _Stop(Exception):
    """A call failed: the facts so far are the probe's."""


def probe(target: ProbeTarget, *, transport_factory: TransportFactory = default_transport) -> ProbeResult:
    """Probe `target` now; never raises for the terminal's faults (they are the result)."""
    at = clock.now()
    started = time.perf_counter()
    status = target.calendar.status(at)
    facts: dict[str, Any] = {
        "at": at,
        "expected_login": target.expected_login,
        "expected_server": target.expected_server or None,
        "last_order_retcode": target.last_order_retcode,
        "session_open": status.is_open,
        "session_opened_at": status.opened_at,
    }
    result = ProbeResult(facts=ProbeFacts(at=at))
    transport: Mt5Transport | None = None

    def ask(name: str, *args: Any, **kwargs: Any) -> Any:
        assert transport is not None
        begun = time.perf_counter()
        answer, (code, message) = transport.call(name, *args, **kwargs)
        result.rtts_ms.append((time.perf_counter() - begun) * 1000)
        if answer is None or answer is False:
            facts["last_error_code"] = code
            if result.error_code is None:  # the first failure explains the rest
                result.error_code, result.error = code, f"{name}: {message} ({code})"[:500]
            raise _Stop
        return answer

    try:
        transport = transport_factory(target)
        args = (target.terminal_path,) if target.terminal_path and target.backend != "sim" else ()
        ask("initialize", *args, timeout=INITIALIZE_TIMEOUT_MS)
        info = ask("terminal_info")
        facts["terminal_connected"] = bool(info.get("connected"))
        facts["terminal_trade_allowed"] = bool(info.get("trade_allowed"))
        facts["tradeapi_disabled"] = bool(info.get("tradeapi_disabled"))
        result.build = int(info["build"]) if info.get("build") is not None else None
        if info.get("ping_last") is not None:
            result.ping_ms = (Decimal(str(info["ping_last"])) / 1000).quantize(MS)
        try:
            account = ask("account_info")
        except _Stop:
            # No account answered: the terminal is logged in to none (classified as not logged in when a login
            # is expected); the tick is still worth reading.
            facts["account_login"] = None
            if result.error_code in _IPC_CODES:
                raise
        else:
            facts["account_login"] = int(account.get("login") or 0)
            facts["account_server"] = str(account.get("server") or "")
            facts["account_trade_allowed"] = bool(account.get("trade_allowed"))
            facts["account_trade_expert"] = bool(account.get("trade_expert"))
        ask("symbol_select", target.symbol, True)
        tick = ask("symbol_info_tick", target.symbol)
        server_ms = int(tick.get("time_msc") or 0)
        if server_ms:
            server_utc = datetime.fromtimestamp(server_ms / 1000, UTC)
            facts["last_tick_at"] = server_utc - target.calendar.server_offset(at)
    except _Stop:
        pass
    except VenueError as exc:
        if exc.code is not None:
            facts["last_error_code"] = exc.code
        elif exc.kind is VenueErrorKind.AMBIGUOUS:
            facts["answered"] = False  # the bridge took the call, no answer came within the request timeout
        else:
            facts["bridge_reachable"] = False
        result.error_code, result.error = exc.code, str(exc)[:500]
    finally:
        if transport is not None:
            with contextlib.suppress(Exception):  # closing a broken connection may fail in any way; it is gone
                transport.close()
    result.facts = ProbeFacts(**facts)
    result.duration_ms = (time.perf_counter() - started) * 1000
    return result


# IPC failures: the terminal itself is not usable, nothing after them is worth asking.
_IPC_CODES = frozenset({-10000, -10001, -10002, -10003, -10004, -10005})


def tick_age(result: ProbeResult) -> timedelta | None:
    facts = result.facts
    if facts.last_tick_at is None:
        return None
    return max(timedelta(0), facts.at - facts.last_tick_at)
