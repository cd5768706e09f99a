"""Binance USDⓈ-M (XAUUSDT perpetual) through ccxt's async `binanceusdm` (VENUES.md has the venue facts).

- Endpoint override: every URL in `exchange.urls['api']` (REST and WebSocket, every Binance host) is rewritten to
  the given bases, keeping its path, so nothing can leave for another host. Tests reach their fake Binance this
  way, through the product's own path.
- Errors are classified by Binance's code in the answer (`VenueError`), never by ccxt's exception class.
- Orders are created, looked up and cancelled by our client order id. A timeout, a dropped connection or a 5xx
  on a create is *unknown*: the order is looked up by client id before anything is sent again.
- 429/418 start a back-off for as long as `Retry-After` says; no request is sent until it ends.
- Only idempotent reads are retried (tenacity, with jitter); writes never are, except through the lookup above.
- Credentials are handed to ccxt and nowhere else; ccxt's debug log (which prints request headers) is muted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import aiohttp
import ccxt
import ccxt.pro as ccxtpro
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from quantarb import clock, outbound
from trading.domain import fees as fee_rules
from trading.domain.feeds import FeedMode, SourceHealth
from trading.domain.margin import LeverageBracket, MarginError, brackets_from_wire
from trading.domain.orders import FillEvent
from trading.domain.quotes import Quote
from trading.venues.backoff import BACKOFFS, account_key
from trading.venues.base import RateObservation
from trading.venues.errors import VenueError, VenueErrorKind

log = logging.getLogger(__name__)

# ccxt logs every request's headers (the API key among them) at DEBUG: keep its logger above that, always.
_CCXT_LOG = logging.getLogger("trading.venues.binance.gateway.ccxt")
_CCXT_LOG.setLevel(logging.WARNING)

SYMBOL = "XAU/USDT:USDT"
MARKET_ID = "XAUUSDT"
CLIENT_ORDER_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
_BINANCE_CODE = re.compile(r'"code"\s*:\s*(-?\d+)')
_HTTP_STATUS = re.compile(r"\b(418|429)\b")

_AUTH_CODES = {-2014, -2015, -1022, -1102, -2008}
_UNKNOWN_ORDER_CODES = {-2013, -2011}
_RATE_CODES = {-1003, -1015}
# Codes with which Binance says it does not know what became of the request ("Send status unknown; execution
# status unknown", an internal error): never a refusal, the order is looked up.
_UNKNOWN_OUTCOME_CODES = {-1000, -1001, -1006, -1007}

T = TypeVar("T")
Side = Literal["buy", "sell"]


# --- endpoint override -----------------------------------------------------------------------------------------
def rewrite_endpoints(urls: Any, *, rest_url: str, ws_url: str) -> Any:
    """`urls` (ccxt's `urls['api']`, nested) with every URL's scheme and host replaced by `rest_url` (http/https
    URLs) or `ws_url` (ws/wss URLs); paths and queries are kept."""
    if isinstance(urls, dict):
        return {name: rewrite_endpoints(value, rest_url=rest_url, ws_url=ws_url) for name, value in urls.items()}
    if isinstance(urls, str) and "://" in urls:
        parts = urlsplit(urls)
        base = ws_url if parts.scheme in ("ws", "wss") else rest_url
        return base.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
    return urls


def exchange_config(*, api_key: str | None, api_secret: str | None, timeout_ms: int) -> dict[str, Any]:
    config: dict[str, Any] = {
        "enableRateLimit": True,
        "timeout": timeout_ms,
        "enableLastResponseHeaders": True,
        "options": {
            # Currencies come from api.binance.com (sapi) when keys are set: never needed for futures.
            "fetchCurrencies": False,
            "defaultType": "swap",
            # Time is synced explicitly (`sync_time`) so a -1021 can be reported as a clock problem.
            "adjustForTimeDifference": False,
            "recvWindow": 5000,
        },
    }
    if api_key:
        config["apiKey"] = api_key
    if api_secret:
        config["secret"] = api_secret
    return config


# --- results ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ContractSpec:
    """What sizing needs, read from `exchangeInfo` (never hard-coded)."""

    symbol: str
    market_id: str
    contract_type: str
    contract_size: Decimal
    tick_size: Decimal
    step_size: Decimal
    min_quantity: Decimal
    min_notional: Decimal


@dataclass(frozen=True, slots=True)
class Fees:
    maker: Decimal
    taker: Decimal


@dataclass(frozen=True, slots=True)
class FundingInfo:
    rate: Decimal
    mark_price: Decimal
    index_price: Decimal
    next_funding_ms: int
    interval_hours: int | None


@dataclass(frozen=True, slots=True)
class PositionInfo:
    """The XAUUSDT position as `/fapi/v3/positionRisk` gives it: the venue's own liquidation price, the position's
    maintenance margin and its ADL quantile (0–4, higher: nearer the front of the auto-deleverage queue)."""

    quantity: Decimal  # signed ounces: > 0 long, < 0 short
    entry_price: Decimal
    mark_price: Decimal
    liquidation_price: Decimal | None
    maint_margin: Decimal | None = None
    adl_quantile: int | None = None


@dataclass(frozen=True, slots=True)
class AccountState:
    """The USDT side of a USDⓈ-M account (`/fapi/v3/account`)."""

    wallet: Decimal
    margin_balance: Decimal  # wallet + unrealised PnL: the equity
    available: Decimal
    initial_margin: Decimal  # margin in use
    maint_margin: Decimal
    # The account's total maintenance margin (`totalMaintMargin`; USDT in single-asset mode), None if not sent.
    total_maint_margin: Decimal | None = None


@dataclass(frozen=True, slots=True)
class AccountBrackets:
    """The account's own leverage brackets for XAUUSDT (`GET /fapi/v1/leverageBracket?symbol=XAUUSDT`), validated;
    `notional_coef` is Binance's multiplier of the symbol's default brackets, sent only when the account's differ."""

    brackets: tuple[LeverageBracket, ...]
    notional_coef: Decimal | None


@dataclass(frozen=True, slots=True)
class SymbolSettings:
    """How the account is set up for XAUUSDT (`/fapi/v1/symbolConfig`, `/fapi/v1/positionSide/dual`)."""

    hedge_mode: bool
    margin_type: str  # "cross" or "isolated"
    leverage: int


@dataclass(frozen=True, slots=True)
class FundingPaymentRow:
    venue_id: str  # Binance's tranId
    symbol: str
    asset: str
    amount: Decimal  # < 0 paid, > 0 received
    ts_ms: int


@dataclass(frozen=True, slots=True)
class OrderState:
    client_order_id: str
    venue_order_id: str
    status: str  # Binance's own: NEW, PARTIALLY_FILLED, FILLED, CANCELED, EXPIRED, REJECTED
    side: Side
    order_type: str  # LIMIT, MARKET, LIQUIDATION, ADL…
    quantity: Decimal
    filled: Decimal
    average_price: Decimal | None
    price: Decimal | None
    updated_ms: int | None

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")

    @property
    def venue_initiated(self) -> bool:
        """A fill the venue made on its own: liquidation or auto-deleverage (handled as a legged hedge)."""
        return self.order_type in ("LIQUIDATION", "ADL") or self.client_order_id.startswith(("autoclose-", "adl_"))


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return Decimal(str(value))


def order_from_binance(raw: dict[str, Any]) -> OrderState:
    """An order from Binance's REST answer (`/fapi/v1/order`) or a user-stream `o` object (one-letter keys)."""
    if "clientOrderId" in raw:
        average = _decimal(raw.get("avgPrice"))
        price = _decimal(raw.get("price"))
        return OrderState(
            client_order_id=str(raw["clientOrderId"]),
            venue_order_id=str(raw["orderId"]),
            status=str(raw["status"]),
            side="buy" if raw["side"] == "BUY" else "sell",
            order_type=str(raw.get("origType") or raw.get("type")),
            quantity=Decimal(str(raw["origQty"])),
            filled=Decimal(str(raw["executedQty"])),
            average_price=average if average else None,
            price=price if price else None,
            updated_ms=raw.get("updateTime"),
        )
    average = _decimal(raw.get("ap"))
    price = _decimal(raw.get("p"))
    return OrderState(
        client_order_id=str(raw["c"]),
        venue_order_id=str(raw["i"]),
        status=str(raw["X"]),
        side="buy" if raw["S"] == "BUY" else "sell",
        order_type=str(raw.get("ot") or raw.get("o")),
        quantity=Decimal(str(raw["q"])),
        filled=Decimal(str(raw["z"])),
        average_price=average if average else None,
        price=price if price else None,
        updated_ms=raw.get("T"),
    )


@dataclass(frozen=True, slots=True)
class FundingRateRow:
    """One settled funding (`GET /fapi/v1/fundingRate`): the rate of `funding_ms` and the mark price charged on."""

    funding_ms: int
    rate: Decimal
    mark_price: Decimal | None


def trade_fill(raw: dict[str, Any]) -> FillEvent:
    """A fill from one of Binance's trades, its fee as charged (in `fee_currency`, the commission asset): a
    `GET /fapi/v1/userTrades` row (`id`, `qty`, `price`, `commission`, `commissionAsset`, `maker`, `realizedPnl`,
    `time`) or a user-stream ORDER_TRADE_UPDATE `o` object (trade id `t`, last filled quantity `l` and price `L`,
    commission `n` in `N` — absent when none was charged —, maker `m`, realised profit `rp`, trade time `T`). The
    commission is positive when paid (negative: a rebate)."""
    if "orderId" in raw:
        return FillEvent(
            fill_id=str(raw["id"]),
            quantity=Decimal(str(raw["qty"])),
            price=Decimal(str(raw["price"])),
            fee=Decimal(str(raw.get("commission") or 0)),
            fee_currency=str(raw.get("commissionAsset") or "USDT"),
            ts_ms=int(raw["time"]),
            maker=bool(raw["maker"]) if "maker" in raw else None,
            realized_pnl=_decimal(raw.get("realizedPnl")),
        )
    return FillEvent(
        fill_id=str(raw["t"]),
        quantity=Decimal(str(raw["l"])),
        price=Decimal(str(raw["L"])),
        fee=Decimal(str(raw.get("n") or 0)),
        fee_currency=str(raw.get("N") or "USDT"),
        ts_ms=int(raw["T"]),
        maker=bool(raw["m"]) if "m" in raw else None,
        realized_pnl=_decimal(raw.get("rp")),
    )


def is_trade_update(raw: dict[str, Any]) -> bool:
    """An ORDER_TRADE_UPDATE `o` object that reports a trade (execution type TRADE with a filled quantity)."""
    return str(raw.get("x", "")) == "TRADE" and Decimal(str(raw.get("l") or 0)) > 0 and bool(raw.get("t"))


def fee_rate_source(asset: str) -> str:
    """The name of the rate a fee in `asset` is converted with: the open of the 1-minute USDⓈ-M kline of
    `<asset>USDT` in which the fill happened (final as soon as the minute starts, never later than the fill)."""
    return f"binance-usdm:{asset}USDT:1m-open"


def quote_from_book_ticker(source: str, info: dict[str, Any], fallback_ms: int) -> Quote:
    """A `Quote` from a book ticker: a stream `@bookTicker` event (one-letter keys) or a REST
    `/fapi/v1/ticker/bookTicker` answer, stamped with the venue's transaction time (else `fallback_ms`)."""
    bid = info.get("b", info.get("bidPrice"))
    ask = info.get("a", info.get("askPrice"))
    ts = info.get("T") or info.get("E") or info.get("time") or fallback_ms
    return Quote.of(source, Decimal(str(bid)), Decimal(str(ask)), int(ts))


# --- error classification --------------------------------------------------------------------------------------
def binance_code(text: str) -> int | None:
    match = _BINANCE_CODE.search(text)
    return int(match.group(1)) if match else None


def classify(exc: BaseException, *, write: bool, retry_after_s: float | None = None) -> VenueError:
    """A ccxt failure as a `VenueError`, decided by Binance's code in the answer first, then by what happened on
    the wire. `write`: the request may have changed state at the venue (an order), so a lost answer is ambiguous.
    `refused` is set from Binance's code alone (or a 429 / 418 status): the venue answered and executed nothing."""
    if isinstance(exc, VenueError):
        return exc
    text = str(exc)
    code = binance_code(text)
    if code in _UNKNOWN_OUTCOME_CODES:
        return VenueError(
            VenueErrorKind.AMBIGUOUS,
            f"Binance does not know the request's outcome ({code}): {_venue_message(text)}",
            code=code,
        )
    refused = code is not None
    if code == -4411:
        return VenueError(
            VenueErrorKind.AGREEMENT,
            "Binance refuses orders on XAUUSDT until this account signs the TradFi-Perps agreement (-4411). "
            "Sign it once in the Binance app or web (Futures → TradFi perpetuals), or through "
            "POST /fapi/v1/stock/contract, then test again.",
            code=code,
            refused=refused,
        )
    if code == -4116:  # the venue holds an order with this id already: not a refusal, look it up
        return VenueError(VenueErrorKind.DUPLICATE_CLIENT_ID, "ClientOrderId is duplicated (-4116).", code=code)
    if code == -1021:
        return VenueError(
            VenueErrorKind.CLOCK,
            "Binance says our clock is outside its receive window (-1021): the server time was re-synced; check "
            "this host's clock (NTP) if it happens again.",
            code=code,
            refused=refused,
        )
    if code in _UNKNOWN_ORDER_CODES:
        return VenueError(
            VenueErrorKind.UNKNOWN_ORDER, f"Binance knows no such order ({code}).", code=code, refused=refused
        )
    if code in _AUTH_CODES or (code is not None and -2015 <= code <= -2014):
        return VenueError(
            VenueErrorKind.AUTH,
            f"Binance refused the API key ({code}): check the key and secret, that futures trading is enabled "
            "for the key, and that this server's IP is whitelisted.",
            code=code,
            refused=refused,
        )
    if code in _RATE_CODES or isinstance(exc, ccxt.DDoSProtection) or _is_rate_status(exc, text):
        wait = retry_after_s if retry_after_s is not None else 60.0
        return VenueError(
            VenueErrorKind.RATE_LIMITED,
            f"Binance rate limit: backing off for {wait:g} s as told (Retry-After).",
            code=code,
            retry_after_s=wait,
            refused=True,  # a 429 / 418 is answered instead of processing the request
        )
    if code is not None:
        return VenueError(
            VenueErrorKind.REJECTED,
            f"Binance refused the request ({code}): {_venue_message(text)}",
            code=code,
            refused=True,
        )
    if isinstance(exc, ccxt.RequestTimeout):
        return VenueError(VenueErrorKind.AMBIGUOUS, "Binance did not answer in time.")
    if isinstance(exc, ccxt.NetworkError):
        if _never_connected(exc):
            return VenueError(
                VenueErrorKind.UNREACHABLE, "Binance is unreachable (no connection could be made).", sent=False
            )
        kind = VenueErrorKind.AMBIGUOUS if write else VenueErrorKind.UNREACHABLE
        return VenueError(kind, "The connection to Binance failed before an answer arrived.")
    if isinstance(exc, ccxt.ExchangeError) and _never_connected(exc):
        return VenueError(
            VenueErrorKind.UNREACHABLE, "Binance is unreachable (no connection could be made).", sent=False
        )
    if isinstance(exc, ccxt.ExchangeError) and write:
        return VenueError(VenueErrorKind.AMBIGUOUS, f"Binance answered without a usable result: {type(exc).__name__}")
    return VenueError(VenueErrorKind.REJECTED, f"Binance request failed: {type(exc).__name__}")


def _is_rate_status(exc: BaseException, text: str) -> bool:
    return isinstance(exc, ccxt.ExchangeError) and bool(_HTTP_STATUS.search(text.split("{", 1)[0]))


def _never_connected(exc: BaseException) -> bool:
    cause: BaseException | None = exc.__cause__
    while cause is not None:
        name = type(cause).__name__
        if name in ("ClientConnectorError", "ClientConnectorCertificateError", "gaierror", "ConnectionRefusedError"):
            return True
        cause = cause.__cause__
    return False


def _venue_message(text: str) -> str:
    return venue_message(text) or "no message"


def venue_message(text: str) -> str | None:
    """Binance's own words in an error answer (its `msg`), or None when it sent none."""
    match = re.search(r'"msg"\s*:\s*"([^"]*)"', text)
    return match.group(1) if match else None


class _BinanceUsdm(ccxtpro.binanceusdm):  # type: ignore[misc]
    """ccxt's USDⓈ-M client, remembering the method of its last REST request too (ccxt keeps only the URL), so a
    failure can name the endpoint it came from."""

    last_request_method: str | None = None

    def set_last_request(self, request: dict[str, Any]) -> None:
        super().set_last_request(request)
        self.last_request_method = request.get("method")


def _retryable_read(exc: BaseException) -> bool:
    return isinstance(exc, VenueError) and exc.kind in (VenueErrorKind.UNREACHABLE, VenueErrorKind.AMBIGUOUS)


# --- the gateway -----------------------------------------------------------------------------------------------
@dataclass
class BinanceUsdmGateway:
    """One connection to Binance USDⓈ-M for XAUUSDT: market data, account, orders and the user-data stream.

    Call `connect()` (syncs the server time, loads the market) before anything else and `close()` at the end.
    `source` is the quote source key quotes are stamped with.
    """

    api_key: str | None = None
    api_secret: str | None = field(default=None, repr=False)
    rest_url: str | None = None
    ws_url: str | None = None
    source: str = "binance-usdm:XAUUSDT"
    timeout_ms: int = 10_000
    read_attempts: int = 3
    throttle: bool = True  # ccxt's client-side request pacing (by Binance's published weights)
    testnet: bool = False  # Binance's futures testnet (ccxt sandbox mode); never with an endpoint override
    monotonic: Callable[[], float] = time.monotonic
    exchange: Any = field(init=False, repr=False)
    spec: ContractSpec | None = field(init=False, default=None)
    used_weight_1m: int | None = field(init=False, default=None)
    # The account's back-off, shared with every other gateway of it in this process (trading/venues/backoff.py).
    backoff_key: str = ""
    _prices: dict[tuple[str, int], Decimal] = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.backoff_key:
            endpoint = self.rest_url or ("testnet" if self.testnet else None)
            self.backoff_key = account_key("binance-usdm", endpoint, self.api_key)
        self.exchange = _BinanceUsdm(
            exchange_config(api_key=self.api_key, api_secret=self.api_secret, timeout_ms=self.timeout_ms)
        )
        self.exchange.logger = _CCXT_LOG
        self.exchange.enableRateLimit = self.throttle
        if self.testnet:
            if self.rest_url or self.ws_url:
                raise ValueError("Binance's testnet and an endpoint override exclude each other")
            self.exchange.set_sandbox_mode(True)
        if self.rest_url or self.ws_url:
            self.exchange.urls["api"] = rewrite_endpoints(
                self.exchange.urls["api"],
                rest_url=self.rest_url or "http://127.0.0.1:9",
                ws_url=self.ws_url or "ws://127.0.0.1:9",
            )
            _guard_sessions(self.exchange)

    async def __aenter__(self) -> BinanceUsdmGateway:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> ContractSpec:
        """Sync the server time (signed requests carry it in `timestamp`) and resolve XAUUSDT."""
        if self.api_key:
            await self.sync_time()
        return await self.load_spec()

    async def close(self) -> None:
        await self.exchange.close()

    # -- plumbing
    @property
    def backoff_remaining_s(self) -> float:
        return BACKOFFS.remaining(self.backoff_key, now=self.monotonic())

    async def _send(self, call: Callable[[], Awaitable[T]], *, write: bool) -> T:
        """One request, unless a rate-limit back-off runs (then nothing is sent). Failures come out classified."""
        remaining = self.backoff_remaining_s
        if remaining > 0:
            raise VenueError(
                VenueErrorKind.RATE_LIMITED,
                f"Backing off from Binance for another {remaining:.1f} s (rate limit): nothing was sent.",
                retry_after_s=remaining,
                sent=False,
            )
        self.exchange.last_request_url = self.exchange.last_request_method = None
        try:
            result = await call()
        except Exception as exc:
            error = classify(exc, write=write, retry_after_s=self._retry_after())
            error.endpoint = error.endpoint or self._last_endpoint()
            if error.code is not None and error.venue_message is None:
                error.venue_message = venue_message(str(exc))
            if error.kind == VenueErrorKind.RATE_LIMITED and error.retry_after_s:
                BACKOFFS.hold(self.backoff_key, error.retry_after_s, now=self.monotonic())
                log.warning("binance rate limited", extra={"retry_after_s": error.retry_after_s, "code": error.code})
            if error.kind == VenueErrorKind.CLOCK:
                await self._resync_quietly()
            raise error from exc
        self._track_weight()
        return result

    async def _read(self, call: Callable[[], Awaitable[T]]) -> T:
        """An idempotent read, retried with jittered exponential waits on network failures only."""
        retrying = AsyncRetrying(
            retry=retry_if_exception(_retryable_read),
            stop=stop_after_attempt(self.read_attempts),
            wait=wait_random_exponential(multiplier=0.1, max=2),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._send(call, write=False)
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    def _last_endpoint(self) -> str | None:
        """The last REST request as "METHOD /path" (no query: it carries the signature), or None (none was sent)."""
        url = getattr(self.exchange, "last_request_url", None)
        if not url:
            return None
        method = getattr(self.exchange, "last_request_method", None)
        path = urlsplit(str(url)).path
        return f"{method} {path}" if method else path

    def _headers(self) -> dict[str, str]:
        headers = getattr(self.exchange, "last_response_headers", None) or {}
        return {str(name).lower(): str(value) for name, value in headers.items()}

    def _retry_after(self) -> float | None:
        value = self._headers().get("retry-after")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None

    def _track_weight(self) -> None:
        value = self._headers().get("x-mbx-used-weight-1m")
        if value and value.isdigit():
            self.used_weight_1m = int(value)

    async def _resync_quietly(self) -> None:
        try:
            await self.exchange.load_time_difference()
        except Exception:
            log.warning("binance time re-sync failed")

    # -- time and market
    async def sync_time(self) -> int:
        """Measure the venue's clock against ours (ccxt adds the difference to every signed `timestamp`)."""
        difference: int = await self._read(self.exchange.load_time_difference)
        return difference

    async def load_spec(self) -> ContractSpec:
        markets = await self._read(self.exchange.load_markets)
        market = markets.get(SYMBOL)
        if market is None:
            raise VenueError(VenueErrorKind.MARKET, f"Binance lists no {SYMBOL} ({MARKET_ID}).")
        if not (market.get("swap") and market.get("linear") and market.get("settle") == "USDT"):
            # ccxt calls XAUUSDT a swap only because of its delivery date 4133404800000 (VENUES.md): anything
            # else means the listing changed and nothing here may assume a perpetual.
            raise VenueError(
                VenueErrorKind.MARKET,
                f"{MARKET_ID} is no longer listed as a USDT-margined perpetual (contractType "
                f"{market['info'].get('contractType')}, deliveryDate {market['info'].get('deliveryDate')}).",
            )
        filters = {entry["filterType"]: entry for entry in market["info"].get("filters", [])}
        notional = filters.get("MIN_NOTIONAL", {})
        self.spec = ContractSpec(
            symbol=SYMBOL,
            market_id=str(market["id"]),
            contract_type=str(market["info"].get("contractType")),
            contract_size=Decimal(str(market.get("contractSize") or 1)),
            tick_size=Decimal(filters["PRICE_FILTER"]["tickSize"]),
            step_size=Decimal(filters["LOT_SIZE"]["stepSize"]),
            min_quantity=Decimal(filters["LOT_SIZE"]["minQty"]),
            min_notional=Decimal(str(notional.get("notional") or notional.get("minNotional") or 0)),
        )
        return self.spec

    # -- market data
    async def watch_quote(self) -> Quote:
        """The next book-ticker update from the stream (`@bookTicker`; ccxt's ticker stream has no bid/ask)."""
        tickers = await self._send(lambda: self.exchange.watch_bids_asks([SYMBOL]), write=False)
        return self._quote(tickers[SYMBOL]["info"])

    async def fetch_quote(self) -> Quote:
        """The best bid and ask now, over REST (`/fapi/v1/ticker/bookTicker`): the stream's fallback."""
        tickers = await self._read(lambda: self.exchange.fetch_bids_asks([SYMBOL]))
        return self._quote(tickers[SYMBOL]["info"])

    def _quote(self, info: dict[str, Any]) -> Quote:
        return quote_from_book_ticker(self.source, info, self.exchange.milliseconds())

    async def fetch_order_book(self, depth: int = 5) -> dict[str, list[tuple[Decimal, Decimal]]]:
        book = await self._read(lambda: self.exchange.fetch_order_book(SYMBOL, depth))
        return {
            side: [(Decimal(str(price)), Decimal(str(size))) for price, size, *_ in book[side][:depth]]
            for side in ("bids", "asks")
        }

    async def fetch_funding(self) -> FundingInfo:
        raw = await self._read(lambda: self.exchange.fapiPublicGetPremiumIndex({"symbol": MARKET_ID}))
        interval: int | None = None
        try:
            infos = await self._read(self.exchange.fapiPublicGetFundingInfo)
            interval = next((int(row["fundingIntervalHours"]) for row in infos if row["symbol"] == MARKET_ID), None)
        except VenueError as exc:
            if exc.kind == VenueErrorKind.RATE_LIMITED:
                raise
        return FundingInfo(
            rate=Decimal(raw["lastFundingRate"]),
            mark_price=Decimal(raw["markPrice"]),
            index_price=Decimal(raw["indexPrice"]),
            next_funding_ms=int(raw["nextFundingTime"]),
            interval_hours=interval,
        )

    # -- account
    async def fetch_fees(self) -> Fees:
        raw = await self._read(lambda: self.exchange.fapiPrivateGetCommissionRate({"symbol": MARKET_ID}))
        return Fees(maker=Decimal(raw["makerCommissionRate"]), taker=Decimal(raw["takerCommissionRate"]))

    async def fetch_usdt_balance(self) -> dict[str, Decimal]:
        balance = await self._read(self.exchange.fetch_balance)
        usdt = next((row for row in balance["info"].get("assets", []) if row.get("asset") == "USDT"), None)
        if usdt is None:
            return {"wallet": Decimal(0), "margin": Decimal(0), "available": Decimal(0)}
        return {
            "wallet": Decimal(usdt["walletBalance"]),
            "margin": Decimal(usdt["marginBalance"]),
            "available": Decimal(usdt["availableBalance"]),
        }

    async def fetch_account(self) -> AccountState:
        balance = await self._read(self.exchange.fetch_balance)
        usdt = next((row for row in balance["info"].get("assets", []) if row.get("asset") == "USDT"), None)
        if usdt is None:
            zero = Decimal(0)
            return AccountState(zero, zero, zero, zero, zero)
        return AccountState(
            wallet=Decimal(usdt["walletBalance"]),
            margin_balance=Decimal(usdt["marginBalance"]),
            available=Decimal(usdt["availableBalance"]),
            initial_margin=Decimal(usdt.get("initialMargin") or 0),
            maint_margin=Decimal(usdt.get("maintMargin") or 0),
            total_maint_margin=_decimal(balance["info"].get("totalMaintMargin")),
        )

    async def fetch_leverage_brackets(self) -> AccountBrackets:
        """The account's own XAUUSDT brackets (signed `GET /fapi/v1/leverageBracket?symbol=XAUUSDT`: one entry
        with a symbol, a list of entries without). An answer that is not a valid bracket table is a MARKET error
        naming the endpoint, so the caller can keep what it had."""
        raw = await self._read(lambda: self.exchange.fapiPrivateGetLeverageBracket({"symbol": MARKET_ID}))
        entries = raw if isinstance(raw, list) else [raw]
        entry = next((e for e in entries if isinstance(e, dict) and e.get("symbol") == MARKET_ID), None)
        try:
            if entry is None:
                raise MarginError(f"no entry for {MARKET_ID}")
            brackets = brackets_from_wire(entry)
            coef = entry.get("notionalCoef")
            notional_coef = None if coef is None else Decimal(str(coef))
        except (MarginError, ArithmeticError) as exc:
            raise VenueError(
                VenueErrorKind.MARKET,
                f"Binance's leverage brackets for {MARKET_ID} are not usable: {exc}",
                endpoint="GET /fapi/v1/leverageBracket",
            ) from exc
        return AccountBrackets(brackets, notional_coef)

    async def fetch_symbol_settings(self) -> SymbolSettings:
        """Position mode, margin type and leverage as the account has them for XAUUSDT."""
        hedge_mode = await self.fetch_hedge_mode()
        rows = await self._read(lambda: self.exchange.fapiPrivateGetSymbolConfig({"symbol": MARKET_ID}))
        row = next((entry for entry in rows if entry.get("symbol") == MARKET_ID), None)
        if row is None:
            raise VenueError(VenueErrorKind.MARKET, f"Binance returned no settings for {MARKET_ID}.")
        margin = str(row.get("marginType", "")).lower()
        return SymbolSettings(
            hedge_mode=hedge_mode,
            margin_type="cross" if margin in ("crossed", "cross") else "isolated",
            leverage=int(row["leverage"]),
        )

    async def fetch_funding_income(self, since_ms: int | None = None) -> list[FundingPaymentRow]:
        """Funding actually booked on the account (`/fapi/v1/income?incomeType=FUNDING_FEE`), oldest first, with
        Binance's transaction id so each is recorded once."""
        return await self.fetch_income("FUNDING_FEE", since_ms, symbol=MARKET_ID)

    async def fetch_transfer_income(self, since_ms: int | None = None) -> list[FundingPaymentRow]:
        """Money moved into (> 0) or out of (< 0) the futures wallet (`/fapi/v1/income?incomeType=TRANSFER`, of no
        symbol): the account's external cash flows, oldest first, each with Binance's transaction id."""
        return await self.fetch_income("TRANSFER", since_ms)

    async def fetch_income(
        self, income_type: str, since_ms: int | None = None, *, symbol: str | None = None
    ) -> list[FundingPaymentRow]:
        """One type of the account's income history (`GET /fapi/v1/income`), up to 1,000 rows from `since_ms`,
        oldest first."""
        params: dict[str, Any] = {"incomeType": income_type, "limit": 1000}
        if symbol is not None:
            params["symbol"] = symbol
        if since_ms is not None:
            params["startTime"] = since_ms
        rows = await self._read(lambda: self.exchange.fapiPrivateGetIncome(params))
        payments = [
            FundingPaymentRow(
                venue_id=str(row.get("tranId") or f"{row['time']}:{row['income']}"),
                symbol=str(row.get("symbol") or symbol or ""),
                asset=str(row.get("asset") or "USDT"),
                amount=Decimal(str(row["income"])),
                ts_ms=int(row["time"]),
            )
            for row in rows
            if row.get("incomeType", income_type) == income_type
        ]
        return sorted(payments, key=lambda payment: payment.ts_ms)

    async def fetch_funding_rate_history(self, since_ms: int | None = None, limit: int = 1000) -> list[FundingRateRow]:
        """Settled funding rates of XAUUSDT from `since_ms` (`GET /fapi/v1/fundingRate`; without a start, the most
        recent `limit`), oldest first."""
        params: dict[str, Any] = {"symbol": MARKET_ID, "limit": limit}
        if since_ms is not None:
            params["startTime"] = since_ms
        rows = await self._read(lambda: self.exchange.fapiPublicGetFundingRate(params))
        history = [
            FundingRateRow(
                funding_ms=int(row["fundingTime"]),
                rate=Decimal(str(row["fundingRate"])),
                mark_price=_decimal(row.get("markPrice")) or None,
            )
            for row in rows
            if row.get("symbol", MARKET_ID) == MARKET_ID
        ]
        return sorted(history, key=lambda row: row.funding_ms)

    # -- fills and fees
    async def fetch_order_fills(self, venue_order_id: str) -> list[FillEvent]:
        """The trades of one order (`GET /fapi/v1/userTrades?symbol=XAUUSDT&orderId=…`) as fills, each fee in USDT
        (converted with `convert_fees` when Binance charged another asset)."""
        rows = await self._read(
            lambda: self.exchange.fapiPrivateGetUserTrades({"symbol": MARKET_ID, "orderId": venue_order_id})
        )
        fills = [trade_fill(row) for row in rows if str(row.get("orderId")) == str(venue_order_id)]
        return await self.convert_fees(fills)

    async def convert_fees(self, fills: list[FillEvent]) -> list[FillEvent]:
        """Each fill with its fee in USDT: a commission in another asset (BNB) is converted at the open of the
        1-minute `<asset>USDT` kline of the fill, and the conversion is kept on the fill. Raises VenueError when a
        rate cannot be read (the fill is then left for a later sync, never booked unconverted)."""
        out = []
        for fill in fills:
            if fill.fee_currency == fee_rules.USDT:
                out.append(fill)
                continue
            rate, rate_ms = await self.price_at(fill.fee_currency, fill.ts_ms)
            fee, conversion = fee_rules.converted_fee(
                fill.fee, fill.fee_currency, rate=rate, source=fee_rate_source(fill.fee_currency), ts_ms=rate_ms
            )
            out.append(
                FillEvent(
                    fill_id=fill.fill_id,
                    quantity=fill.quantity,
                    price=fill.price,
                    fee=fee,
                    fee_currency=fee_rules.USDT,
                    ts_ms=fill.ts_ms,
                    maker=fill.maker,
                    conversion=conversion,
                    realized_pnl=fill.realized_pnl,
                    swap=fill.swap,
                )
            )
        return out

    async def price_at(self, asset: str, ts_ms: int) -> tuple[Decimal, int]:
        """USDT per one `asset` at `ts_ms`: the open of the USDⓈ-M `<asset>USDT` 1-minute kline containing it
        (`GET /fapi/v1/klines`), and that kline's open time. Remembered per minute."""
        minute = ts_ms - ts_ms % 60_000
        key = (asset, minute)
        if key not in self._prices:
            symbol = f"{asset}USDT"
            rows = await self._read(
                lambda: self.exchange.fapiPublicGetKlines(
                    {"symbol": symbol, "interval": "1m", "startTime": minute, "limit": 1}
                )
            )
            if not rows or int(rows[0][0]) != minute:
                raise VenueError(VenueErrorKind.MARKET, f"Binance has no {symbol} price for the minute of {ts_ms}.")
            price = Decimal(str(rows[0][1]))
            if price <= 0:
                raise VenueError(VenueErrorKind.MARKET, f"Binance gave {symbol} a price of {price}.")
            self._prices[key] = price
        return self._prices[key], minute

    async def fetch_position(self) -> PositionInfo:
        """The XAUUSDT position (`GET /fapi/v3/positionRisk?symbol=XAUUSDT`: a row only while there is a position or
        an open order). Asked directly: ccxt's `fetch_positions` first loads every symbol's leverage brackets
        (`/fapi/v1/leverageBracket` without a symbol) on each new client, for figures we do not use."""
        rows = await self._read(lambda: self.exchange.fapiPrivateV3GetPositionRisk({"symbol": MARKET_ID}))
        row = next((r for r in rows if isinstance(r, dict) and r.get("symbol") == MARKET_ID), None)
        if row is None:
            return PositionInfo(Decimal(0), Decimal(0), Decimal(0), None)
        liquidation = Decimal(row["liquidationPrice"])
        adl = str(row.get("adl", ""))  # v3 sends a number (ccxt's notes show it as a string: both are read)
        return PositionInfo(
            quantity=Decimal(row["positionAmt"]),
            entry_price=Decimal(row["entryPrice"]),
            mark_price=Decimal(row["markPrice"]),
            liquidation_price=liquidation if liquidation else None,
            maint_margin=_decimal(row.get("maintMargin")),
            adl_quantile=int(adl) if adl.isdigit() else None,
        )

    async def fetch_hedge_mode(self) -> bool:
        """True when the account is in hedge (dual-side) mode; quantarb expects one-way (False)."""
        raw = await self._read(self.exchange.fapiPrivateGetPositionSideDual)
        return bool(raw["dualSidePosition"])

    async def fetch_funding_payments(self, since_ms: int | None = None) -> list[tuple[int, Decimal]]:
        """Funding actually paid (< 0) or received (> 0), as (time ms, USDT), from `/fapi/v1/income`."""
        params: dict[str, Any] = {"incomeType": "FUNDING_FEE", "symbol": MARKET_ID}
        if since_ms is not None:
            params["startTime"] = since_ms
        rows = await self._read(lambda: self.exchange.fapiPrivateGetIncome(params))
        return [(int(row["time"]), Decimal(row["income"])) for row in rows]

    async def sign_tradfi_agreement(self) -> None:
        """Sign the TradFi-Perps agreement (`POST /fapi/v1/stock/contract`); ccxt's ready-made method sends GET."""
        await self._send(lambda: self.exchange.request("stock/contract", ["fapiPrivate"], "POST", {}), write=True)

    async def test_order(self) -> None:
        """Validate (never place) a minimum-size limit buy 10 % under the bid with `POST /fapi/v1/order/test`: it
        proves the key may trade and surfaces `-4411` when the TradFi-Perps agreement is unsigned. (Whether the
        venue's test endpoint applies the agreement check is unconfirmed; a real order would answer it.)"""
        spec = self.spec or await self.load_spec()
        quote = await self.fetch_quote()
        price = (quote.bid_price * Decimal("0.9") / spec.tick_size).to_integral_value() * spec.tick_size
        steps = max(spec.min_quantity, spec.min_notional / price) / spec.step_size
        quantity = steps.to_integral_value(rounding=ROUND_CEILING) * spec.step_size
        params = {
            "symbol": spec.market_id,
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": format(quantity.normalize(), "f"),  # "4000", never "4E+3"
            "price": format(price.normalize(), "f"),
        }
        await self._send(lambda: self.exchange.fapiPrivatePostOrderTest(params), write=False)

    # -- orders (by client order id)
    async def place_order(
        self,
        *,
        client_order_id: str,
        side: Side,
        quantity: Decimal,
        price: Decimal | None = None,
        reduce_only: bool = False,
        time_in_force: str | None = None,
        max_sends: int = 2,
    ) -> OrderState:
        """Place an order under `client_order_id` (a market order when `price` is None) and return what the venue
        holds under that id. Preconditions: the id is new for this account, the quantity a multiple of the step.

        An answer lost in a timeout, a dropped connection or a 5xx is *unknown*: the order is looked up by client
        id and only sent again (with the same id) when the venue has none. A `-4116` answer means the venue holds
        the id already: that order is returned. At most `max_sends` creates are sent.
        """
        if not CLIENT_ORDER_ID.match(client_order_id):
            raise ValueError(f"client order id {client_order_id!r} does not fit Binance's [.A-Z:/a-z0-9_-]{{1,36}}")
        if self.spec is not None and quantity % self.spec.step_size != 0:
            raise ValueError(f"quantity {quantity} is not a multiple of the step {self.spec.step_size}")
        params: dict[str, Any] = {"newClientOrderId": client_order_id}
        if reduce_only:
            params["reduceOnly"] = True
        if time_in_force is not None and price is not None:
            params["timeInForce"] = time_in_force  # "IOC": what does not fill at once expires
        order_type = "market" if price is None else "limit"
        last_error: VenueError | None = None
        went_out = False  # a create under this id may have reached the venue: nothing after it is "not sent"
        try:
            for _ in range(max_sends):
                try:
                    created = await self._send(
                        lambda: self.exchange.create_order(
                            SYMBOL, order_type, side, str(quantity), None if price is None else str(price), params
                        ),
                        write=True,
                    )
                    return order_from_binance(created["info"])
                except VenueError as exc:
                    went_out = went_out or exc.sent
                    if exc.kind == VenueErrorKind.DUPLICATE_CLIENT_ID:
                        existing = await self.lookup_order(client_order_id)
                        if existing is not None:
                            return existing
                        raise
                    if exc.kind != VenueErrorKind.AMBIGUOUS:
                        raise
                    last_error = exc
                    log.warning("binance order answer lost, looking it up", extra={"client_order_id": client_order_id})
                existing = await self.lookup_order(client_order_id)
                if existing is not None:
                    return existing
            raise VenueError(
                VenueErrorKind.AMBIGUOUS,
                f"Order {client_order_id} is still unknown after {max_sends} sends and lookups: {last_error}",
            )
        except VenueError as exc:
            if exc.sent or not went_out:
                raise
            # E.g. the lookup after a lost answer met a back-off: the order may exist all the same.
            raise VenueError(
                VenueErrorKind.AMBIGUOUS,
                f"Order {client_order_id} may have reached Binance; its outcome is not known yet: {exc}",
                retry_after_s=exc.retry_after_s,
            ) from exc

    async def lookup_order(self, client_order_id: str) -> OrderState | None:
        """The order the venue holds under `client_order_id`, or None when it holds none (`-2013`)."""
        try:
            raw = await self._read(
                lambda: self.exchange.fetch_order(None, SYMBOL, {"origClientOrderId": client_order_id})
            )
        except VenueError as exc:
            if exc.kind == VenueErrorKind.UNKNOWN_ORDER:
                return None
            raise
        return order_from_binance(raw["info"])

    async def fetch_open_orders(self) -> list[OrderState]:
        """Every order still working on XAUUSDT for this account (ours and anyone else's)."""
        raw = await self._read(lambda: self.exchange.fetch_open_orders(SYMBOL))
        return [order_from_binance(order["info"]) for order in raw]

    async def cancel_order(self, client_order_id: str) -> OrderState:
        """Cancel by client id. An order that is already closed is returned as it is; an unknown id raises
        `UNKNOWN_ORDER`."""
        try:
            raw = await self._send(
                lambda: self.exchange.cancel_order(None, SYMBOL, {"origClientOrderId": client_order_id}), write=True
            )
            return order_from_binance(raw["info"])
        except VenueError as exc:
            if exc.kind not in (VenueErrorKind.UNKNOWN_ORDER, VenueErrorKind.AMBIGUOUS):
                raise
        existing = await self.lookup_order(client_order_id)
        if existing is None:
            raise VenueError(VenueErrorKind.UNKNOWN_ORDER, f"Binance knows no order {client_order_id}.", code=-2013)
        return existing

    # -- user-data stream
    async def watch_order_events(self) -> list[tuple[OrderState, dict[str, Any]]]:
        """Like `watch_order_updates`, with each update's raw `o` object (execution type `x`, last fill `l`/`L`,
        trade id `t`), which the venue-event recorder needs."""
        orders = await self._send(lambda: self.exchange.watch_orders(SYMBOL), write=False)
        return [(order_from_binance(order["info"]), dict(order["info"])) for order in orders]

    async def watch_order_updates(self) -> list[OrderState]:
        """The next batch of ORDER_TRADE_UPDATE events from the user-data stream (listen key with keep-alive, both
        managed by ccxt), including the venue's own liquidation and auto-deleverage orders."""
        orders = await self._send(lambda: self.exchange.watch_orders(SYMBOL), write=False)
        return [order_from_binance(order["info"]) for order in orders]


# --- the quote feed --------------------------------------------------------------------------------------------
def _now_ms() -> int:
    return int(clock.now().timestamp() * 1000)


def _guard_sessions(exchange: Any) -> None:
    """An endpoint override is a destination a tenant chose: ccxt's HTTP and WebSocket session for it resolves
    through the outbound-address policy (quantarb/outbound.py), so every connection goes to a vetted address."""
    ccxt_open = exchange.open

    def open_guarded(lazy: bool = False) -> Any:
        if exchange.own_session and exchange.session is None:
            if exchange.ssl_context is None:
                exchange.ssl_context = ssl.create_default_context() if exchange.verify else exchange.verify
            exchange.tcp_connector = aiohttp.TCPConnector(
                ssl=exchange.ssl_context, resolver=outbound.guarded_resolver(), enable_cleanup_closed=True
            )
            exchange.session = aiohttp.ClientSession(connector=exchange.tcp_connector)
        return ccxt_open(lazy)

    exchange.open = open_guarded


def _guard_if(endpoint: str | None) -> Any:
    """ccxt's synchronous client (requests) through the outbound-address policy when the endpoint is an override."""
    return outbound.guarded() if endpoint else contextlib.nullcontext()


def _rest_client(rest_url: str | None, ws_url: str | None, testnet: bool = False) -> Any:
    """ccxt's synchronous `binanceusdm` without keys, for one-off public polls (`poll_feeds`)."""
    client = ccxt.binanceusdm(exchange_config(api_key=None, api_secret=None, timeout_ms=5_000))
    client.logger = _CCXT_LOG
    if testnet:
        client.set_sandbox_mode(True)
    if rest_url or ws_url:
        client.urls["api"] = rewrite_endpoints(
            client.urls["api"], rest_url=rest_url or "http://127.0.0.1:9", ws_url=ws_url or "ws://127.0.0.1:9"
        )
    return client


@dataclass
class BinanceQuoteFeed:
    """`QuoteFeed` for the pipeline: the book-ticker stream, with REST polling standing in while it is down.

    - The stream feeds the source while it delivers. When it breaks (or stays silent for longer than the source's
      stale limit) the feed *fails over*: it polls `/fapi/v1/ticker/bookTicker` every `poll_every_s` while it
      reconnects the stream with growing waits (`retry_delay_s` … `max_retry_delay_s`, or `Retry-After`). The first
      stream message after that switches it back. Each step is reported to `health` (trading/domain/feeds.py).
    - `snapshot()` is one synchronous REST poll with ccxt's synchronous client, for `poll_feeds` where no engine
      streams.
    """

    gateway: BinanceUsdmGateway
    health: SourceHealth | None = None
    retry_delay_s: float = 0.5
    max_retry_delay_s: float = 5.0
    poll_every_s: float = 1.0
    monotonic: Callable[[], float] = time.monotonic
    _rest: Any = field(init=False, default=None, repr=False)

    def _health(self) -> SourceHealth:
        if self.health is None:
            limit = 5_000
            self.health = SourceHealth(
                source=self.gateway.source, stale_after_ms=limit, down_after_ms=6 * limit, started_ms=_now_ms()
            )
        return self.health

    async def stream(self) -> AsyncIterator[Quote | RateObservation]:
        health = self._health()
        stale_after_s = health.stale_after_ms / 1000
        delay = self.retry_delay_s
        pending: asyncio.Future[Quote] | None = None
        reconnect_at = next_poll_at = 0.0
        last_stream = self.monotonic()
        try:
            while True:
                now = self.monotonic()
                if self.gateway.spec is None and now >= reconnect_at:
                    try:
                        await self.gateway.connect()
                    except VenueError as exc:
                        health.on_drop(_now_ms(), exc.kind.value)
                        reconnect_at = self.monotonic() + (exc.retry_after_s or delay)
                        delay = min(delay * 2, self.max_retry_delay_s)
                if self.gateway.spec is not None and pending is None and now >= reconnect_at:
                    pending = asyncio.ensure_future(self.gateway.watch_quote())
                if health.mode is FeedMode.POLL and now >= next_poll_at:
                    next_poll_at = now + self.poll_every_s
                    polled = await self._poll()
                    if polled is not None:
                        yield polled
                    continue
                deadlines = [next_poll_at if health.mode is FeedMode.POLL else last_stream + stale_after_s]
                if pending is None:
                    deadlines.append(reconnect_at)
                timeout = max(0.01, min(deadlines) - self.monotonic())
                if pending is None:
                    await asyncio.sleep(timeout)
                    continue
                done, _ = await asyncio.wait({pending}, timeout=timeout)
                if not done:
                    if health.mode is FeedMode.STREAM and self.monotonic() - last_stream >= stale_after_s:
                        log.warning("binance quote stream silent, polling REST", extra={"source": health.source})
                        health.on_silence()
                        next_poll_at = self.monotonic()
                    continue
                finished, pending = pending, None
                try:
                    quote = finished.result()
                except VenueError as exc:
                    log.warning("binance quote stream interrupted", extra={"kind": exc.kind.value})
                    health.on_drop(_now_ms(), exc.kind.value)
                    reconnect_at = self.monotonic() + (exc.retry_after_s or delay)
                    delay = min(delay * 2, self.max_retry_delay_s)
                    next_poll_at = min(next_poll_at, self.monotonic())
                    continue
                delay = self.retry_delay_s
                last_stream = self.monotonic()
                health.on_stream_quote(quote, _now_ms())
                yield quote
        finally:
            if pending is not None:
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending
            await _close_quietly(self.gateway)

    async def _poll(self) -> Quote | None:
        health = self._health()
        started = time.perf_counter()
        try:
            quote = await self.gateway.fetch_quote()
        except VenueError as exc:
            health.on_poll_failed(exc.kind.value, (time.perf_counter() - started) * 1000)
            return None
        health.on_poll(quote, _now_ms(), (time.perf_counter() - started) * 1000)
        return quote

    def snapshot(self) -> list[Quote | RateObservation]:
        if self._rest is None:
            self._rest = _rest_client(self.gateway.rest_url, self.gateway.ws_url, self.gateway.testnet)
        health = self._health()
        started = time.perf_counter()
        try:
            with _guard_if(self.gateway.rest_url):
                raw = self._rest.fapiPublicGetTickerBookTicker({"symbol": MARKET_ID})
        except Exception as exc:
            kind = classify(exc, write=False).kind.value
            health.on_poll_failed(kind, (time.perf_counter() - started) * 1000)
            log.warning("binance quote poll failed", extra={"kind": kind})
            return []
        quote = self.gateway._quote(raw)
        health.on_poll(quote, _now_ms(), (time.perf_counter() - started) * 1000)
        return [quote]


async def _close_quietly(gateway: BinanceUsdmGateway) -> None:
    """Close a feed's gateway as its stream ends (cancelled, failed or done): ccxt's HTTP session and sockets go with
    it, whichever way the stream ended. Bounded, so a half-open socket cannot hold a shutdown up; a gateway used
    again later opens a new session by itself."""
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(gateway.close()), 5)
    gateway.spec = None  # a stream started again connects afresh (market, then a new session)


# --- usd_per_usdt ----------------------------------------------------------------------------------------------
RATE_MARKET_ID = "USDCUSDT"
RATE_SOURCE = "binance-usdcusdt"


def usd_per_usdt_from_book(bid: Decimal, ask: Decimal) -> Decimal:
    """USD per USDT from the USDC/USDT book (USDT per USDC), taking one USDC as one US dollar: 1 / mid, 6 dp."""
    if bid <= 0 or ask <= 0 or bid > ask:
        raise ValueError(f"unusable USDC/USDT book {bid}/{ask}")
    return (2 / (bid + ask)).quantize(Decimal("0.000001"))


@dataclass
class BinanceRateFeed:
    """usd_per_usdt from Binance USDⓈ-M's USDCUSDT book ticker, polled over REST every `every_s` (one USDC taken as
    one USD: the assumption is USDC's, not USDT's). Observations carry the venue's time, so their age is real."""

    gateway: BinanceUsdmGateway
    health: SourceHealth | None = None
    every_s: float = 2.0
    _rest: Any = field(init=False, default=None, repr=False)

    async def stream(self) -> AsyncIterator[Quote | RateObservation]:
        try:
            while True:
                observation = await self._poll_async()
                if observation is not None:
                    yield observation
                await asyncio.sleep(self.every_s)
        finally:
            await _close_quietly(self.gateway)

    async def _poll_async(self) -> RateObservation | None:
        started = time.perf_counter()
        try:
            raw = await self.gateway._read(
                lambda: self.gateway.exchange.fapiPublicGetTickerBookTicker({"symbol": RATE_MARKET_ID})
            )
            observation = self._observation(raw)
        except (VenueError, ValueError, KeyError) as exc:
            self._failed(exc, started)
            return None
        self._observed(observation, started)
        return observation

    def snapshot(self) -> list[Quote | RateObservation]:
        if self._rest is None:
            self._rest = _rest_client(self.gateway.rest_url, self.gateway.ws_url, self.gateway.testnet)
        started = time.perf_counter()
        try:
            with _guard_if(self.gateway.rest_url):
                raw = self._rest.fapiPublicGetTickerBookTicker({"symbol": RATE_MARKET_ID})
            observation = self._observation(raw)
        except Exception as exc:
            self._failed(exc, started)
            return []
        self._observed(observation, started)
        return [observation]

    def _observation(self, raw: dict[str, Any]) -> RateObservation:
        bid, ask = Decimal(str(raw["bidPrice"])), Decimal(str(raw["askPrice"]))
        ts = int(raw.get("time") or _now_ms())
        return RateObservation(usd_per_usdt_from_book(bid, ask), ts, RATE_SOURCE)

    def _observed(self, observation: RateObservation, started: float) -> None:
        if self.health is not None:
            self.health.on_rate(observation.ts_ms, _now_ms(), (time.perf_counter() - started) * 1000)

    def _failed(self, exc: BaseException, started: float) -> None:
        kind = classify(exc, write=False).kind.value if not isinstance(exc, ValueError | KeyError) else "bad_answer"
        log.warning("binance usd_per_usdt poll failed", extra={"kind": kind})
        if self.health is not None:
            self.health.on_drop(_now_ms(), kind)
            self.health.on_poll_failed(kind, (time.perf_counter() - started) * 1000)
