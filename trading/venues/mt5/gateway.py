"""The MT5 gateway: Bybit MT5 XAUUSD.s through one protocol, whatever reaches the terminal (VENUES.md).

Backends, chosen per terminal instance (`mt5ops.TerminalInstance.backend`):
- `native`: the MetaTrader5 package in this process (Windows only, imported lazily; one terminal per process,
  because the package talks to one terminal at a time);
- `rpyc`: an rpyc classic bridge to a Windows or Wine host running the package (`mt5_rpyc.py`; loopback or an
  SSH tunnel only — a classic server runs whatever its caller sends);
- `sim`: the simulated terminal of `mt5_sim.py`, priced by the simulated gold market.

Every backend is a `Mt5Transport`: it calls one package function and answers plain Python (structures as dicts,
sequences as tuples) together with `last_error()`. `Mt5Gateway` holds the logic on top, the same for all three:
symbol specs re-read when asked (brokers change them), ticks polled, the broker's server-time offset derived from
fresh ticks, orders sent with our `magic` and the client order id as `comment`, the filling mode taken from the
symbol's `filling_mode`, an ambiguous answer resolved by looking the order up (never by sending it again),
positions and deals polled so stop-outs and manual trades are seen, and every failure a classified `VenueError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, Protocol, TypeVar

from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_after_delay, wait_fixed

from quantarb import clock
from trading.domain.calendar import observed_server_offset
from trading.domain.quotes import Quote
from trading.venues.base import RateObservation
from trading.venues.errors import VenueError, VenueErrorKind
from trading.venues.mt5.rpyc_backend import RpycTransport
from trading.venues.mt5.sim import simulated_terminal

log = logging.getLogger(__name__)
T = TypeVar("T")

SYMBOL = "XAUUSD.s"
# Our orders carry this magic number; a position or deal with another magic was not placed by quantarb.
DEFAULT_MAGIC = 460_046
# Brokers refuse (rather than truncate) comments past ~27–31 characters: ours stay within 26.
COMMENT_MAX = 26
CLIENT_ORDER_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,26}$")

# The package's constants (MetaTrader5 5.0.x); the transports hand back raw values.
TRADE_ACTION_DEAL = 1
ORDER_TYPE_BUY, ORDER_TYPE_SELL = 0, 1
ORDER_FILLING_FOK, ORDER_FILLING_IOC, ORDER_FILLING_RETURN = 0, 1, 2
SYMBOL_FILLING_FOK, SYMBOL_FILLING_IOC = 1, 2
ORDER_TIME_GTC = 0
ORDER_STATE_FILLED, ORDER_STATE_PARTIAL = 4, 3
ORDER_STATES_DEAD = {2, 5, 6}  # canceled, rejected, expired
ACCOUNT_MARGIN_MODE_RETAIL_HEDGING = 2
ACCOUNT_STOPOUT_MODE_PERCENT = 0
SYMBOL_TRADE_MODE_DISABLED, SYMBOL_TRADE_MODE_CLOSEONLY = 0, 3
DEAL_ENTRY_IN, DEAL_ENTRY_OUT = 0, 1
DEAL_REASON_CLIENT, DEAL_REASON_MOBILE, DEAL_REASON_WEB, DEAL_REASON_SO = 0, 1, 2, 6
DEAL_TYPE_BUY, DEAL_TYPE_SELL, DEAL_TYPE_BALANCE = 0, 1, 2

# last_error() codes
RES_S_OK = 1
RES_E_INVALID_PARAMS = -2
RES_E_NOT_FOUND = -4
RES_E_AUTH_FAILED = -6
RES_E_AUTO_TRADING_DISABLED = -8
RES_E_INTERNAL_FAIL_TIMEOUT = -10005
_LOST_ANSWER_ERRORS = {-10001, -10002, RES_E_INTERNAL_FAIL_TIMEOUT}  # send/receive failed, IPC timeout
_UNREACHABLE_ERRORS = {-10000, -10001, -10002, -10003, -10004, RES_E_INTERNAL_FAIL_TIMEOUT}

# order_send retcodes
RETCODE_REQUOTE = 10004
RETCODE_REJECT = 10006
RETCODE_PLACED = 10008
RETCODE_DONE = 10009
RETCODE_DONE_PARTIAL = 10010
RETCODE_TIMEOUT = 10012
RETCODE_INVALID_VOLUME = 10014
RETCODE_TRADE_DISABLED = 10017
RETCODE_MARKET_CLOSED = 10018
RETCODE_NO_MONEY = 10019
RETCODE_PRICE_CHANGED = 10020
RETCODE_PRICE_OFF = 10021
RETCODE_TOO_MANY_REQUESTS = 10024
RETCODE_SERVER_DISABLES_AT = 10026
RETCODE_CLIENT_DISABLES_AT = 10027
RETCODE_INVALID_FILL = 10030
RETCODE_CONNECTION = 10031
RETCODE_POSITION_CLOSED = 10036
# Retcodes that say, by themselves, that the trade server (or the terminal) refused the request and executed
# nothing. Any other retcode than these and done (10009, 10010, 10008) — 10011 processing error, 10012 timeout,
# 10023 order state changed, one this list does not know — leaves the order unknown: it is looked up.
REFUSAL_RETCODES = frozenset(
    {
        RETCODE_REQUOTE,
        RETCODE_REJECT,
        10013,  # invalid request
        RETCODE_INVALID_VOLUME,
        10015,  # invalid price
        10016,  # invalid stops
        RETCODE_TRADE_DISABLED,
        RETCODE_MARKET_CLOSED,
        RETCODE_NO_MONEY,
        RETCODE_PRICE_CHANGED,
        RETCODE_PRICE_OFF,
        10022,  # invalid expiration
        RETCODE_TOO_MANY_REQUESTS,
        RETCODE_SERVER_DISABLES_AT,
        RETCODE_CLIENT_DISABLES_AT,
        10029,  # order or position frozen
        RETCODE_INVALID_FILL,
        RETCODE_CONNECTION,
        10033,  # pending orders limit
        10034,  # volume limit
        10035,  # invalid order type
        RETCODE_POSITION_CLOSED,
        10038,  # close volume exceeds the position
        10039,  # a close order for the position exists
        10040,  # positions limit
        10042,  # long only
        10043,  # short only
        10044,  # close only
        10045,  # FIFO rule
    }
)
# last_error() of an order_send that answered None, said by the package before anything reached the terminal:
# invalid arguments, AutoTrading off, not logged in.
_REFUSED_SEND_ERRORS = {RES_E_INVALID_PARAMS, RES_E_AUTO_TRADING_DISABLED, RES_E_AUTH_FAILED}
_RETCODE_ERRORS: dict[int, tuple[VenueErrorKind, str]] = {
    RETCODE_REQUOTE: (VenueErrorKind.PRICE_MOVED, "requote: the price moved; nothing was executed"),
    RETCODE_PRICE_CHANGED: (VenueErrorKind.PRICE_MOVED, "prices changed; nothing was executed"),
    RETCODE_PRICE_OFF: (VenueErrorKind.PRICE_MOVED, "no quotes to process the request"),
    RETCODE_INVALID_VOLUME: (VenueErrorKind.REJECTED, "invalid volume for the symbol's minimum and step"),
    RETCODE_MARKET_CLOSED: (VenueErrorKind.MARKET_CLOSED, "the market is closed"),
    RETCODE_NO_MONEY: (VenueErrorKind.NO_MONEY, "not enough free margin"),
    RETCODE_CLIENT_DISABLES_AT: (
        VenueErrorKind.TRADING_DISABLED,
        "AutoTrading is off in the terminal: switch on Algo Trading",
    ),
    RETCODE_SERVER_DISABLES_AT: (VenueErrorKind.TRADING_DISABLED, "the broker's server disabled automated trading"),
    RETCODE_TRADE_DISABLED: (VenueErrorKind.TRADING_DISABLED, "trading is disabled for this account or symbol"),
    RETCODE_INVALID_FILL: (VenueErrorKind.REJECTED, "the symbol does not support this filling mode"),
    RETCODE_REJECT: (VenueErrorKind.REJECTED, "the trade server rejected the request"),
    RETCODE_POSITION_CLOSED: (VenueErrorKind.REJECTED, "the position to close is already closed"),
    RETCODE_TOO_MANY_REQUESTS: (VenueErrorKind.RATE_LIMITED, "too many requests"),
    RETCODE_CONNECTION: (VenueErrorKind.UNREACHABLE, "the terminal has no connection to the trade server"),
}

Side = Literal["buy", "sell"]
Backend = Literal["native", "rpyc", "sim"]


# --- transports --------------------------------------------------------------------------------------------------
class Mt5Transport(Protocol):
    """One way of reaching a terminal. Answers are plain Python: a structure as a dict of its fields, a sequence as a
    tuple, with the terminal's `last_error()` of that call (RES_S_OK when it succeeded)."""

    description: str

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, tuple[int, str]]:
        """Call the package function `name`. Raises `VenueError` (UNREACHABLE, AMBIGUOUS) when the terminal could not
        be asked or its answer was lost."""
        ...

    def order_send(self, request: dict[str, Any]) -> tuple[Any, tuple[int, str]]:
        """`order_send` with the request dict built where the package runs."""
        ...

    def close(self) -> None: ...


def plain(value: Any) -> Any:
    """A package structure as a dict, a sequence as a tuple (recursively); other values as they are."""
    if hasattr(value, "_asdict"):
        return {key: plain(item) for key, item in value._asdict().items()}
    if isinstance(value, tuple | list):
        return tuple(plain(item) for item in value)
    return value


class ModuleTransport:
    """A MetaTrader5-shaped module in this process: the package itself (`native`) or a simulated terminal."""

    def __init__(self, module: Any, description: str) -> None:
        self.module = module
        self.description = description
        # The package is one global connection to one terminal: calls from several threads must not interleave
        # between a call and its last_error().
        self._lock = threading.Lock()

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, tuple[int, str]]:
        with self._lock:
            result = getattr(self.module, name)(*args, **kwargs)
            error = tuple(self.module.last_error()) if result is None or result is False else (RES_S_OK, "Success")
        return plain(result), (int(error[0]), str(error[1]))

    def order_send(self, request: dict[str, Any]) -> tuple[Any, tuple[int, str]]:
        return self.call("order_send", dict(request))

    def close(self) -> None:
        return None


def native_transport(terminal_path: str) -> ModuleTransport:
    """The MetaTrader5 package of this process. It exists for Windows only: elsewhere this is a clear error."""
    try:
        # optional Windows-only dependency (MetaTrader5, the `mt5` extra): elsewhere the error below says so
        import MetaTrader5
    except ImportError as exc:
        raise VenueError(
            VenueErrorKind.UNREACHABLE,
            "The MetaTrader5 package is not installed on this host (it is published for Windows only). "
            "From Linux, reach the terminal through the rpyc bridge backend.",
        ) from exc
    return ModuleTransport(MetaTrader5, f"native {terminal_path}")


def transport_for(
    backend: str,
    *,
    host: str = "",
    port: int | None = None,
    terminal_path: str = "",
    key: str = "default",
    timeout_s: float | None = None,
    connect_timeout_s: float | None = None,
) -> Mt5Transport:
    """The transport of a terminal instance's backend. `timeout_s`/`connect_timeout_s`: the rpyc bridge's request
    and connect timeouts (None: the transport's defaults; health checks ask for short ones)."""
    if backend == "native":
        return native_transport(terminal_path)
    if backend == "rpyc":
        if not host or not port:
            raise VenueError(VenueErrorKind.UNREACHABLE, "An rpyc terminal needs the bridge's host and port.")
        timeouts = {
            name: value
            for name, value in (("timeout_s", timeout_s), ("connect_timeout_s", connect_timeout_s))
            if value is not None
        }
        return RpycTransport(host, int(port), **timeouts)
    if backend == "sim":
        return ModuleTransport(simulated_terminal(key), "simulated terminal")
    raise VenueError(VenueErrorKind.UNREACHABLE, f"Unknown MT5 backend {backend!r}.")


# --- results -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TerminalStatus:
    connected: bool  # the terminal is connected to the broker's trade server
    trade_allowed: bool  # AutoTrading (Algo Trading) is on
    ping_ms: Decimal  # last round trip terminal ↔ trade server
    build: int
    company: str
    name: str


@dataclass(frozen=True, slots=True)
class AccountState:
    login: int
    server: str
    currency: str
    balance: Decimal
    equity: Decimal
    margin: Decimal
    margin_free: Decimal
    margin_level: Decimal | None  # percent; None when no margin is in use
    leverage: int
    hedging: bool  # margin_mode RETAIL_HEDGING (netting folds every order into one position per symbol)
    trade_allowed: bool  # the account may trade
    expert_allowed: bool  # the account may trade through experts / the API
    stop_out_level: Decimal  # margin_so_so
    stop_out_in_percent: bool  # margin_so_mode: percent of margin (else money)
    margin_call_level: Decimal


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """What sizing and costs need, read from `symbol_info` each time it is asked (never stored as truth)."""

    symbol: str
    digits: int
    point: Decimal
    contract_size: Decimal  # ounces per lot
    volume_min: Decimal
    volume_step: Decimal
    volume_max: Decimal
    filling_mode: int  # bitmask: 1 FOK, 2 IOC
    trade_mode: int
    swap_mode: int
    swap_long: Decimal
    swap_short: Decimal
    swap_rollover3days: int  # weekday charged three nights (0 = Sunday … 6 = Saturday)
    currency_profit: str
    currency_margin: str

    @property
    def ounce_step(self) -> Decimal:
        return self.volume_step * self.contract_size


@dataclass(frozen=True, slots=True)
class Mt5Tick:
    bid: Decimal
    ask: Decimal
    server_time_ms: int  # the broker's server time, as the terminal reports it
    at: datetime | None  # the same instant in UTC, when the server's offset is known


@dataclass(frozen=True, slots=True)
class MarketState:
    open: bool
    reason: Literal["open", "no_fresh_tick", "trade_mode", "retcode"]
    last_tick_age_s: float | None


@dataclass(frozen=True, slots=True)
class OrderRequest:
    client_order_id: str
    side: Side
    volume: Decimal  # lots
    price: Decimal | None = None  # the price we expect; with `deviation` the terminal requotes beyond it
    deviation: int = 20  # points
    position: int | None = None  # the ticket to close (hedging accounts)


@dataclass(frozen=True, slots=True)
class OrderResult:
    client_order_id: str
    status: Literal["filled", "partial", "placed", "rejected"]
    retcode: int | None  # None when the order was found by lookup
    order_ticket: int
    deal_ticket: int | None
    position_ticket: int | None
    volume: Decimal  # lots filled
    price: Decimal | None  # average fill price
    resolved_by_lookup: bool = False
    deals: tuple[Mt5Deal, ...] = ()  # the order's deals, when they could be read with the answer


@dataclass(frozen=True, slots=True)
class Mt5Position:
    ticket: int
    side: Side
    volume: Decimal
    price_open: Decimal
    price_current: Decimal
    profit: Decimal
    swap: Decimal
    magic: int
    comment: str
    opened_server_ms: int
    ours: bool  # opened by quantarb (our magic)


@dataclass(frozen=True, slots=True)
class Mt5Deal:
    ticket: int
    order_ticket: int
    position_ticket: int
    side: Side | None  # None for balance, credit and other non-trade deals
    entry: int  # 0 in, 1 out, 2 in/out, 3 out by
    reason: int
    volume: Decimal
    price: Decimal
    profit: Decimal
    swap: Decimal
    commission: Decimal
    fee: Decimal
    magic: int
    comment: str
    server_time_ms: int
    at: datetime | None
    ours: bool

    @property
    def stop_out(self) -> bool:
        return self.reason == DEAL_REASON_SO

    @property
    def manual(self) -> bool:
        """Placed by hand in a terminal (desktop, mobile, web), not through the API."""
        return self.reason in (DEAL_REASON_CLIENT, DEAL_REASON_MOBILE, DEAL_REASON_WEB) and not self.ours


@dataclass(frozen=True, slots=True)
class BalanceDeal:
    """A balance operation of the account (`DEAL_TYPE_BALANCE`: a deposit > 0 or a withdrawal < 0), in the account's
    currency."""

    ticket: int
    amount: Decimal
    comment: str
    server_time_ms: int
    at: datetime | None


@dataclass(frozen=True, slots=True)
class Activity:
    positions: tuple[Mt5Position, ...]
    deals: tuple[Mt5Deal, ...]

    @property
    def foreign_deals(self) -> tuple[Mt5Deal, ...]:
        """Deals quantarb did not place: stop-outs, manual trades, another program's orders."""
        return tuple(deal for deal in self.deals if not deal.ours or deal.stop_out)


_EIGHT_DP = Decimal("0.00000001")  # prices and money
_LOTS_DP = Decimal("0.01")


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


def _money(value: Any) -> Decimal:
    """Prices and money from the package's floats, exact to 8 dp."""
    return Decimal(str(value)).quantize(_EIGHT_DP)


def _lots(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(_LOTS_DP)


def _side(order_type: int) -> Side:
    return "buy" if order_type == ORDER_TYPE_BUY else "sell"


def error_from_last_error(code: int, message: str, *, doing: str) -> VenueError:
    """`last_error()` as a classified error."""
    if code == RES_E_AUTH_FAILED:
        return VenueError(VenueErrorKind.AUTH, f"MT5 refused the login while {doing} ({code}: {message})", code=code)
    if code in _UNREACHABLE_ERRORS:
        what = "did not answer in time (IPC timeout)" if code == RES_E_INTERNAL_FAIL_TIMEOUT else "is not reachable"
        return VenueError(
            VenueErrorKind.UNREACHABLE, f"the terminal {what} while {doing} ({code}: {message})", code=code
        )
    if code == RES_E_NOT_FOUND:
        return VenueError(VenueErrorKind.MARKET, f"not found while {doing} ({code}: {message})", code=code)
    if code == RES_E_AUTO_TRADING_DISABLED:
        return VenueError(VenueErrorKind.TRADING_DISABLED, f"AutoTrading is off ({code}: {message})", code=code)
    return VenueError(VenueErrorKind.REJECTED, f"the terminal refused {doing} ({code}: {message})", code=code)


def error_from_retcode(retcode: int, comment: str = "") -> VenueError:
    """An `order_send` retcode other than done as a classified error: `refused` when the retcode alone says
    nothing was executed (`REFUSAL_RETCODES`), else ambiguous — the order is looked up."""
    refused = retcode in REFUSAL_RETCODES
    default = (
        (VenueErrorKind.REJECTED, "the order was rejected")
        if refused
        else (
            VenueErrorKind.AMBIGUOUS,
            "the trade server's answer does not say whether the order executed",
        )
    )
    kind, text = _RETCODE_ERRORS.get(retcode, default)
    detail = f" — {comment}" if comment else ""
    return VenueError(kind, f"MT5 retcode {retcode}: {text}{detail}", code=retcode, refused=refused)


def is_read_hiccup(exc: BaseException) -> bool:
    """A read the terminal did not answer (IPC timeout, a send or receive that failed, a bridge that timed out or
    dropped): safe to ask again, reads change nothing."""
    if not isinstance(exc, VenueError):
        return False
    return exc.code in _LOST_ANSWER_ERRORS or (exc.kind is VenueErrorKind.AMBIGUOUS and exc.code is None)


def choose_filling(filling_mode: int) -> int:
    """The order filling for a symbol's `filling_mode` bitmask: fill-or-kill when allowed (a hedge leg is all or
    nothing), else immediate-or-cancel, else return (exchange execution). Sending none means FOK, which IOC-only
    brokers refuse with 10030."""
    if filling_mode & SYMBOL_FILLING_FOK:
        return ORDER_FILLING_FOK
    if filling_mode & SYMBOL_FILLING_IOC:
        return ORDER_FILLING_IOC
    return ORDER_FILLING_RETURN


def check_client_order_id(client_order_id: str) -> None:
    if not CLIENT_ORDER_ID.match(client_order_id):
        raise VenueError(
            VenueErrorKind.REJECTED,
            f"client order id {client_order_id!r} does not fit an MT5 comment (1–{COMMENT_MAX} characters of "
            "letters, digits, '_.:-')",
        )


# --- the gateway -------------------------------------------------------------------------------------------------
class Mt5Gateway:
    """One terminal, one account, one symbol. Synchronous, like the package; run it in a worker thread from async
    code (`asyncio.to_thread`)."""

    def __init__(
        self,
        transport: Mt5Transport,
        *,
        login: int | None = None,
        password: str | None = None,
        server: str | None = None,
        terminal_path: str = "",
        symbol: str = SYMBOL,
        magic: int = DEFAULT_MAGIC,
        timeout_ms: int = 10_000,
        lookup_attempts: int = 5,
        lookup_interval_s: float = 0.5,
        lookback: timedelta = timedelta(days=3),
        stale_after_s: float = 60.0,
        read_retry_s: float = 2.0,
        read_retry_attempts: int = 5,
        read_retry_wait_s: float = 0.1,
    ) -> None:
        self.transport = transport
        self.symbol = symbol
        self.magic = magic
        self._login = login
        self._password = password
        self._server = server
        self._terminal_path = terminal_path
        self._timeout_ms = timeout_ms
        self._lookup_attempts = lookup_attempts
        self._lookup_interval_s = lookup_interval_s
        self._lookback = lookback
        self._stale_after_s = stale_after_s
        self._read_retry_s = read_retry_s
        self._read_retry_attempts = read_retry_attempts
        self._read_retry_wait_s = read_retry_wait_s
        self._offset: timedelta | None = None
        self._last_tick_ms: int | None = None
        self._closed_retcode_at: float | None = None

    def __repr__(self) -> str:
        # never the password
        return f"Mt5Gateway({self.transport.description}, login={self._login}, symbol={self.symbol})"

    # --- plumbing -----------------------------------------------------------------------------------------------
    def _ask(self, name: str, *args: Any, doing: str, **kwargs: Any) -> Any:
        result, (code, message) = self.transport.call(name, *args, **kwargs)
        if result is None or result is False:
            raise error_from_last_error(code, message, doing=doing)
        return result

    def read_before_order(self, read: Callable[[], T]) -> T:
        """A read an order depends on (`symbol_spec`, `tick`, `positions`), asked again on an IPC timeout or a lost
        answer within a short budget (`read_retry_s`, at most `read_retry_attempts` asks): one hiccup of the
        terminal must not cost the order. Other failures, and the last hiccup, are raised as they are."""
        retrying = Retrying(
            retry=retry_if_exception(is_read_hiccup),
            stop=stop_after_delay(self._read_retry_s) | stop_after_attempt(self._read_retry_attempts),
            wait=wait_fixed(self._read_retry_wait_s),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                return read()
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    # --- connection ---------------------------------------------------------------------------------------------
    def connect(self) -> TerminalStatus:
        """initialize (with the account's login when given) and select the symbol."""
        kwargs: dict[str, Any] = {"timeout": self._timeout_ms}
        if self._login is not None:
            kwargs.update(login=int(self._login), password=self._password or "", server=self._server or "")
        args = (self._terminal_path,) if self._terminal_path else ()
        self._ask("initialize", *args, doing="initializing the terminal", **kwargs)
        return self.terminal_status()

    def login(self) -> None:
        if self._login is None:
            return
        self._ask(
            "login",
            int(self._login),
            password=self._password or "",
            server=self._server or "",
            timeout=self._timeout_ms,
            doing="logging in",
        )

    def close(self) -> None:
        """Drop our connection. The terminal is left running and logged in: on a bridge or in a process it serves
        every user of the terminal, and `shutdown()` would cut them all off."""
        self.transport.close()

    def shutdown(self) -> None:
        """Shut the package's connection to the terminal down (before restarting a terminal)."""
        self._ask("shutdown", doing="shutting down")

    def __enter__(self) -> Mt5Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- terminal and account -----------------------------------------------------------------------------------
    def terminal_status(self) -> TerminalStatus:
        info = self._ask("terminal_info", doing="reading the terminal's state")
        return TerminalStatus(
            connected=bool(info["connected"]),
            trade_allowed=bool(info["trade_allowed"]),
            ping_ms=(_dec(info["ping_last"]) / 1000).quantize(Decimal("0.001")),
            build=int(info["build"]),
            company=str(info["company"]),
            name=str(info["name"]),
        )

    def account(self) -> AccountState:
        info = self._ask("account_info", doing="reading the account")
        margin = _money(info["margin"])
        return AccountState(
            login=int(info["login"]),
            server=str(info["server"]),
            currency=str(info["currency"]),
            balance=_money(info["balance"]),
            equity=_money(info["equity"]),
            margin=margin,
            margin_free=_money(info["margin_free"]),
            margin_level=_money(info["margin_level"]) if margin else None,
            leverage=int(info["leverage"]),
            hedging=int(info["margin_mode"]) == ACCOUNT_MARGIN_MODE_RETAIL_HEDGING,
            trade_allowed=bool(info["trade_allowed"]),
            expert_allowed=bool(info["trade_expert"]),
            stop_out_level=_money(info["margin_so_so"]),
            stop_out_in_percent=int(info["margin_so_mode"]) == ACCOUNT_STOPOUT_MODE_PERCENT,
            margin_call_level=_money(info["margin_so_call"]),
        )

    # --- market data --------------------------------------------------------------------------------------------
    def symbol_spec(self) -> SymbolSpec:
        try:
            self._ask("symbol_select", self.symbol, True, doing=f"selecting {self.symbol}")
            info = self._ask("symbol_info", self.symbol, doing=f"reading {self.symbol}")
        except VenueError as exc:
            if exc.kind in (VenueErrorKind.MARKET, VenueErrorKind.REJECTED):
                raise VenueError(VenueErrorKind.MARKET, f"the terminal has no symbol {self.symbol} ({exc})") from exc
            raise
        return SymbolSpec(
            symbol=str(info["name"]),
            digits=int(info["digits"]),
            point=_dec(info["point"]),
            contract_size=_dec(info["trade_contract_size"]),
            volume_min=_dec(info["volume_min"]),
            volume_step=_dec(info["volume_step"]),
            volume_max=_dec(info["volume_max"]),
            filling_mode=int(info["filling_mode"]),
            trade_mode=int(info["trade_mode"]),
            swap_mode=int(info["swap_mode"]),
            swap_long=_dec(info["swap_long"]),
            swap_short=_dec(info["swap_short"]),
            swap_rollover3days=int(info["swap_rollover3days"]),
            currency_profit=str(info["currency_profit"]),
            currency_margin=str(info["currency_margin"]),
        )

    def tick(self) -> Mt5Tick:
        """The symbol's last tick. A tick whose time moved since the previous poll is fresh: it refreshes the
        server's UTC offset (which changes twice a year with US daylight saving)."""
        raw = self._ask("symbol_info_tick", self.symbol, doing=f"reading {self.symbol}'s tick")
        server_ms = int(raw["time_msc"])
        if self._last_tick_ms is not None and server_ms != self._last_tick_ms:
            observed = observed_server_offset(
                datetime.fromtimestamp(server_ms / 1000, UTC).replace(tzinfo=None), clock.now()
            )
            if abs(observed) <= timedelta(hours=14):
                self._offset = observed
        self._last_tick_ms = server_ms
        at = None
        if self._offset is not None:
            at = datetime.fromtimestamp(server_ms / 1000, UTC) - self._offset
        return Mt5Tick(_money(raw["bid"]), _money(raw["ask"]), server_ms, at)

    def margin_for(self, side: Side, volume: Decimal, price: Decimal) -> Decimal:
        """The margin `volume` lots bought or sold at `price` need, in the account's currency, as the terminal
        computes it (`order_calc_margin`: the symbol's calc mode, margin rates and the account's leverage)."""
        action = ORDER_TYPE_BUY if side == "buy" else ORDER_TYPE_SELL
        raw = self._ask(
            "order_calc_margin",
            action,
            self.symbol,
            float(volume),
            float(price),
            doing=f"computing the margin of {volume} lots of {self.symbol}",
        )
        return _money(raw)

    def server_offset(self, *, polls: int = 10, interval_s: float = 0.2) -> timedelta | None:
        """The broker server's UTC offset, derived from a fresh tick (one whose time moves while we watch),
        rounded to 15 minutes. None when no tick moved within the polls: the market is closed or silent."""
        for attempt in range(polls):
            self.tick()
            if self._offset is not None:
                return self._offset
            if attempt + 1 < polls:
                time.sleep(interval_s)
        return None

    @property
    def known_offset(self) -> timedelta | None:
        return self._offset

    def to_utc(self, server_ms: int) -> datetime | None:
        if self._offset is None:
            return None
        return datetime.fromtimestamp(server_ms / 1000, UTC) - self._offset

    def market_state(self, *, polls: int = 10, interval_s: float = 0.2) -> MarketState:
        """Open when the symbol trades in full and ticks arrive. The Python API has no session-hours call: a
        closed market shows as a tick that stops moving, and as retcode 10018 on an order."""
        spec = self.symbol_spec()
        if spec.trade_mode in (SYMBOL_TRADE_MODE_DISABLED, SYMBOL_TRADE_MODE_CLOSEONLY):
            return MarketState(False, "trade_mode", None)
        previous = self._last_tick_ms
        moved = False
        tick = self.tick()
        for _ in range(polls - 1):
            if previous is not None and tick.server_time_ms != previous:
                moved = True
                break
            previous = tick.server_time_ms
            time.sleep(interval_s)
            tick = self.tick()
        age = (clock.now() - tick.at).total_seconds() if tick.at is not None else None
        if not moved and (age is None or age > self._stale_after_s):
            return MarketState(False, "no_fresh_tick", age)
        self._closed_retcode_at = None
        return MarketState(True, "open", age)

    # --- orders -------------------------------------------------------------------------------------------------
    def build_request(self, order: OrderRequest, spec: SymbolSpec) -> dict[str, Any]:
        """The `order_send` request: plain values only (floats, ints, strings) so it can be rebuilt on a bridge's
        far side."""
        check_client_order_id(order.client_order_id)
        if order.volume < spec.volume_min or order.volume > spec.volume_max:
            raise VenueError(
                VenueErrorKind.REJECTED,
                f"volume {order.volume} lots is outside {spec.volume_min}–{spec.volume_max}",
                code=RETCODE_INVALID_VOLUME,
            )
        if (order.volume - spec.volume_min) % spec.volume_step:
            raise VenueError(
                VenueErrorKind.REJECTED,
                f"volume {order.volume} lots is not a multiple of the step {spec.volume_step}",
                code=RETCODE_INVALID_VOLUME,
            )
        request: dict[str, Any] = {
            "action": TRADE_ACTION_DEAL,
            "symbol": self.symbol,
            "volume": float(order.volume),
            "type": ORDER_TYPE_BUY if order.side == "buy" else ORDER_TYPE_SELL,
            "deviation": int(order.deviation),
            "magic": int(self.magic),
            "comment": order.client_order_id,
            "type_time": ORDER_TIME_GTC,
            "type_filling": choose_filling(spec.filling_mode),
        }
        if order.price is not None:
            request["price"] = float(order.price)
        if order.position is not None:
            request["position"] = int(order.position)
        return request

    def place_order(
        self, order: OrderRequest, *, look_up_first: bool = False, spec: SymbolSpec | None = None
    ) -> OrderResult:
        """Send a market order. A lost or timed-out answer is resolved by looking the order up by its comment; it is
        never sent again here. `look_up_first` (for a caller retrying an attempt whose outcome it does not know)
        returns the order already at the venue instead of sending. `spec`: the symbol as the caller just read it
        (else it is read here: brokers change specs).

        Raises `VenueError`: `sent` False when it failed before `order_send` (nothing reached the terminal),
        `refused` when the retcode says nothing was executed, else the order's outcome is unknown."""
        try:
            if look_up_first:
                found = self.read_before_order(lambda: self.find_order(order.client_order_id))
                if found is not None:
                    return found
            spec = spec or self.read_before_order(self.symbol_spec)
            request = self.build_request(order, spec)
        except VenueError as exc:
            raise exc.not_sent() from exc
        try:
            answer, (code, message) = self.transport.order_send(request)
        except VenueError as exc:
            if not exc.sent or exc.kind is not VenueErrorKind.AMBIGUOUS:
                raise
            return self._resolve_lost(order, str(exc))
        if answer is None:
            if code in _LOST_ANSWER_ERRORS:
                return self._resolve_lost(order, f"{code}: {message}")
            error = error_from_last_error(code, message, doing="sending the order")
            error.refused = code in _REFUSED_SEND_ERRORS
            raise error
        retcode = int(answer["retcode"])
        if retcode == RETCODE_TIMEOUT:
            return self._resolve_lost(order, "retcode 10012 (request timed out)")
        if retcode == RETCODE_MARKET_CLOSED:
            self._closed_retcode_at = clock.monotonic()
        if retcode not in (RETCODE_DONE, RETCODE_DONE_PARTIAL, RETCODE_PLACED):
            raise error_from_retcode(retcode, str(answer.get("comment", "")))
        deal = int(answer["deal"]) or None
        order_ticket = int(answer["order"])
        deals = self._deals_quietly(order_ticket) if deal is not None else ()
        position = order.position
        if position is None and deals:
            position = deals[0].position_ticket
        return OrderResult(
            client_order_id=order.client_order_id,
            status={RETCODE_DONE: "filled", RETCODE_DONE_PARTIAL: "partial"}.get(retcode, "placed"),  # type: ignore[arg-type]
            retcode=retcode,
            order_ticket=order_ticket,
            deal_ticket=deal,
            position_ticket=position,
            volume=_lots(answer["volume"]),
            price=_money(answer["price"]) if answer["price"] else None,
            deals=deals,
        )

    def close_position(self, position: Mt5Position, client_order_id: str, *, deviation: int = 20) -> OrderResult:
        """Close a position (hedging accounts: by its ticket) with an opposite market order."""
        side: Side = "sell" if position.side == "buy" else "buy"
        return self.place_order(
            OrderRequest(client_order_id, side, position.volume, deviation=deviation, position=position.ticket)
        )

    def _deals_quietly(self, order_ticket: int) -> tuple[Mt5Deal, ...]:
        """The order's deals read with its answer; none when the read fails (the order is executed whatever this
        read says: its deals are read again by lookup or the fill sync)."""
        try:
            return self.order_deals(order_ticket)
        except VenueError as exc:
            log.warning("deals of MT5 order %s not read: %s", order_ticket, exc)
            return ()

    def order_deals(self, order_ticket: int, *, client_order_id: str | None = None) -> tuple[Mt5Deal, ...]:
        """The deals of one order: `history_deals_get(ticket=<order ticket>)` (the deals whose DEAL_ORDER is it).
        When the terminal answers none and the client id is given, the history over a padded server-time window is
        searched for deals of that order ticket, or with our magic and the client id as comment (a terminal whose
        history is not synchronised yet answers the ticket query empty; brokers may rewrite comments, never the
        order ticket)."""
        rows = [
            row
            for row in self._ask_rows("history_deals_get", ticket=int(order_ticket), doing="reading the order's deals")
            if int(row["order"]) == int(order_ticket)
        ]
        if not rows and client_order_id is not None:
            start, end = self._window()
            rows = [
                row
                for row in self._ask_rows("history_deals_get", start, end, doing="reading the deals")
                if int(row["order"]) == int(order_ticket)
                or (row["comment"] == client_order_id and int(row["magic"]) == self.magic)
            ]
        return tuple(self.deal_of(row) for row in rows if row["symbol"] == self.symbol)

    def deal_of(self, row: dict[str, Any]) -> Mt5Deal:
        """A `history_deals_get` row as a deal (money to 8 dp, lots to 2, times in server ms and UTC when the
        server's offset is known)."""
        deal_type = int(row["type"])
        return Mt5Deal(
            ticket=int(row["ticket"]),
            order_ticket=int(row["order"]),
            position_ticket=int(row["position_id"]),
            side=_side(deal_type) if deal_type in (DEAL_TYPE_BUY, DEAL_TYPE_SELL) else None,
            entry=int(row["entry"]),
            reason=int(row["reason"]),
            volume=_lots(row["volume"]),
            price=_money(row["price"]),
            profit=_money(row["profit"]),
            swap=_money(row["swap"]),
            commission=_money(row["commission"]),
            fee=_money(row["fee"]),
            magic=int(row["magic"]),
            comment=str(row["comment"]),
            server_time_ms=int(row["time_msc"]),
            at=self.to_utc(int(row["time_msc"])),
            ours=int(row["magic"]) == self.magic,
        )

    def _resolve_lost(self, order: OrderRequest, why: str) -> OrderResult:
        for attempt in range(self._lookup_attempts):
            try:
                found = self.find_order(order.client_order_id)
            except VenueError:
                found = None
            if found is not None:
                return found
            if attempt + 1 < self._lookup_attempts:
                time.sleep(self._lookup_interval_s)
        raise VenueError(
            VenueErrorKind.AMBIGUOUS,
            f"the answer to order {order.client_order_id} was lost ({why}) and the order is not found at the venue "
            "yet: look it up again before any resend",
        )

    def _window(self) -> tuple[int, int]:
        """A history window in server seconds wide enough whatever the server's offset (±14 h)."""
        now = int(clock.now().timestamp())
        margin = 14 * 3600
        return now - int(self._lookback.total_seconds()) - margin, now + margin + 86_400

    def find_order(self, client_order_id: str) -> OrderResult | None:
        """Our order with this client order id (its comment and our magic), from the open orders, the order history
        and the deals; None when the venue has no such order."""
        check_client_order_id(client_order_id)
        start, end = self._window()

        def mine(row: dict[str, Any]) -> bool:
            return bool(row["comment"] == client_order_id and int(row["magic"]) == self.magic)

        pending = [row for row in self._ask_rows("orders_get", doing="reading open orders") if mine(row)]
        history = [
            row
            for row in self._ask_rows("history_orders_get", start, end, doing="reading the order history")
            if mine(row)
        ]
        tickets = {int(row["ticket"]) for row in pending + history}
        # A deal is the order's by its order ticket even when the broker rewrote the deal's comment.
        deals = [
            row
            for row in self._ask_rows("history_deals_get", start, end, doing="reading the deals")
            if (mine(row) or int(row["order"]) in tickets) and row["symbol"] == self.symbol
        ]
        orders = pending + history
        if not orders and not deals:
            return None
        volume = sum((_dec(deal["volume"]) for deal in deals), Decimal(0))
        price = (
            sum((_dec(deal["volume"]) * _dec(deal["price"]) for deal in deals), Decimal(0)) / volume if volume else None
        )
        order_row = orders[0] if orders else None
        requested = _dec(order_row["volume_initial"]) if order_row else volume
        state = int(order_row["state"]) if order_row else ORDER_STATE_FILLED
        status: Literal["filled", "partial", "placed", "rejected"]
        if volume and volume >= requested:
            status = "filled"
        elif volume:
            status = "partial"
        elif state in ORDER_STATES_DEAD:
            status = "rejected"
        else:
            status = "placed"
        return OrderResult(
            client_order_id=client_order_id,
            status=status,
            retcode=None,
            order_ticket=int(order_row["ticket"]) if order_row else int(deals[0]["order"]),
            deal_ticket=int(deals[-1]["ticket"]) if deals else None,
            position_ticket=int(deals[-1]["position_id"]) if deals else None,
            volume=_lots(volume),
            price=price.quantize(_EIGHT_DP) if price is not None else None,
            resolved_by_lookup=True,
            deals=tuple(self.deal_of(row) for row in deals),
        )

    def _ask_rows(self, name: str, *args: Any, doing: str, **kwargs: Any) -> tuple[dict[str, Any], ...]:
        """A history or list call: an empty answer is no rows (the package answers None or () for none, with
        last_error OK)."""
        result, (code, message) = self.transport.call(name, *args, **kwargs)
        if result is None:
            if code == RES_S_OK:
                return ()
            raise error_from_last_error(code, message, doing=doing)
        return tuple(result)

    # --- positions and deals ------------------------------------------------------------------------------------
    def positions(self) -> tuple[Mt5Position, ...]:
        rows = self._ask_rows("positions_get", doing="reading positions")
        return tuple(
            Mt5Position(
                ticket=int(row["ticket"]),
                side=_side(int(row["type"])),
                volume=_lots(row["volume"]),
                price_open=_money(row["price_open"]),
                price_current=_money(row["price_current"]),
                profit=_money(row["profit"]),
                swap=_money(row["swap"]),
                magic=int(row["magic"]),
                comment=str(row["comment"]),
                opened_server_ms=int(row["time_msc"]),
                ours=int(row["magic"]) == self.magic,
            )
            for row in rows
            if row["symbol"] == self.symbol
        )

    def activity_since(self, since: datetime) -> Activity:
        """Open positions and the deals since `since` (UTC), ours and foreign (stop-outs, manual trades), so that a
        poll every few seconds sees every change the venue made on its own."""
        # Unknown offset: a window that covers any server offset, filtered exactly below once the offset is known.
        offset = self._offset if self._offset is not None else timedelta(hours=-14)
        start = int((since + offset).timestamp())
        end = int(clock.now().timestamp()) + 14 * 3600 + 86_400
        deals = []
        for row in self._ask_rows("history_deals_get", start, end, doing="reading the deals"):
            deal = self.deal_of(row)
            if deal.at is not None and deal.at < since:
                continue
            deals.append(deal)
        return Activity(self.positions(), tuple(deals))

    def balance_deals(self, since: datetime) -> tuple[BalanceDeal, ...]:
        """The account's deposits and withdrawals (`history_deals_get`, deals of type DEAL_TYPE_BALANCE) since
        `since` (UTC), oldest first. Their times are in UTC once the server's offset is known; until then the
        window covers any offset and the server's own time is kept."""
        offset = self._offset if self._offset is not None else timedelta(hours=-14)
        start = int((since + offset).timestamp())
        end = int(clock.now().timestamp()) + 14 * 3600 + 86_400
        rows = self._ask_rows("history_deals_get", start, end, doing="reading the balance deals")
        deals = [
            BalanceDeal(
                ticket=int(row["ticket"]),
                amount=_money(row["profit"]),
                comment=str(row["comment"]),
                server_time_ms=int(row["time_msc"]),
                at=self.to_utc(int(row["time_msc"])),
            )
            for row in rows
            if int(row["type"]) == DEAL_TYPE_BALANCE
        ]
        return tuple(sorted((d for d in deals if d.at is None or d.at >= since), key=lambda d: d.server_time_ms))


# --- quotes ------------------------------------------------------------------------------------------------------
class Mt5QuoteFeed:
    """Quotes of one MT5 source by polling `symbol_info_tick`: only ticks that moved, timestamped in UTC through the
    derived server offset (a tick that never moves is a closed market, and yields nothing)."""

    def __init__(self, gateway: Mt5Gateway, source: str, *, every_s: float = 0.25) -> None:
        self.gateway = gateway
        self.source = source
        self.every_s = every_s
        self._last_ms: int | None = None

    def _quote(self) -> Quote | None:
        tick = self.gateway.tick()
        if tick.at is None or tick.server_time_ms == self._last_ms:
            return None
        self._last_ms = tick.server_time_ms
        return Quote.of(self.source, tick.bid, tick.ask, int(tick.at.timestamp() * 1000))

    def snapshot(self) -> list[Quote | RateObservation]:
        quote = self._quote()
        return [quote] if quote is not None else []

    async def stream(self) -> AsyncIterator[Quote | RateObservation]:
        while True:
            quote = await asyncio.to_thread(self._quote)
            if quote is not None:
                yield quote
            await asyncio.sleep(self.every_s)


# --- from a terminal instance ------------------------------------------------------------------------------------
def terminal_gateway(terminal: Any, credentials: dict[str, Any] | None = None, **options: Any) -> Mt5Gateway:
    """The gateway of a terminal instance (anything with `backend`, `host`, `bridge_port`, `terminal_path`, `pk`)
    logged in with an account's MT5 credentials (`login`, `password`, `server`)."""
    transport = transport_for(
        str(terminal.backend),
        host=str(terminal.host or ""),
        port=terminal.bridge_port,
        terminal_path=str(terminal.terminal_path or ""),
        key=f"terminal:{terminal.pk}",
    )
    credentials = credentials or {}
    login = credentials.get("login")
    return Mt5Gateway(
        transport,
        login=int(login) if login else None,
        password=credentials.get("password"),
        server=credentials.get("server"),
        terminal_path=str(terminal.terminal_path or "") if terminal.backend != "sim" else "",
        **options,
    )


@contextmanager
def connected(terminal: Any, credentials: dict[str, Any] | None = None, **options: Any) -> Iterator[Mt5Gateway]:
    """A connected gateway, shut down on exit."""
    gateway = terminal_gateway(terminal, credentials, **options)
    try:
        gateway.connect()
        yield gateway
    finally:
        gateway.close()


class ConnectingMt5Feed:
    """An `Mt5QuoteFeed` that connects its terminal (and derives the broker's server offset) in a worker thread
    before its first quote, and reconnects after a failure, so the engine's loop never blocks on the terminal."""

    def __init__(self, gateway: Mt5Gateway, source: str, *, every_s: float = 0.25, retry_s: float = 2.0) -> None:
        self.feed = Mt5QuoteFeed(gateway, source, every_s=every_s)
        self.retry_s = retry_s
        self._ready = False

    def _connect(self) -> None:
        self.feed.gateway.connect()
        self.feed.gateway.server_offset()
        self._ready = True

    def snapshot(self) -> list[Quote | RateObservation]:
        if not self._ready:
            self._connect()
        return self.feed.snapshot()

    async def stream(self) -> AsyncIterator[Quote | RateObservation]:
        try:
            while True:
                try:
                    if not self._ready:
                        await asyncio.to_thread(self._connect)
                    async for event in self.feed.stream():
                        yield event
                except VenueError as exc:
                    self._ready = False
                    log.warning("MT5 feed %s: %s; reconnecting in %.0f s", self.feed.source, exc, self.retry_s)
                    await asyncio.sleep(self.retry_s)
        finally:
            # Our connection to the bridge only: the terminal stays up for its other users.
            self._ready = False
            with contextlib.suppress(Exception):
                self.feed.gateway.close()
