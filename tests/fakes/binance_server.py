"""An out-of-process fake of Binance USDⓈ-M futures, speaking its wire format for what ccxt `binanceusdm` calls.

Run it as `python -m tests.fakes.binance_server [--port N]`: it listens on 127.0.0.1 (HTTP and WebSocket on the
same port) and prints `LISTENING <port>` once it accepts connections. The `binance_fake` fixture
(tests/fakes/fixtures.py) starts it and points a gateway at it through the product's endpoint override.

What it serves (REST under `/fapi/...`, streams under `/{public,market,private}/ws[/<n>]`):
- market data: exchangeInfo (XAUUSDT as a `TRADIFI_PERPETUAL` with delivery date 4133404800000), time, depth,
  bookTicker, premiumIndex, fundingInfo; `@bookTicker` pushes to subscribed sockets;
- account: commissionRate, balance (v2) and account (v2/v3), positionRisk (v2 with leverage and margin type; v3
  with margins and the ADL quantile, only while there is a position or an open order), leverageBracket (the
  account's brackets, configurable; the maintenance margins served are computed from them),
  positionSide/dual, income (FUNDING_FEE booked to whoever holds the position at each funding time, every
  `funding_interval_hours` on the venue's clock: `−position · mark · rate`), userTrades (every trade with its
  commission — in USDT, or in BNB while armed —, maker flag and realised profit), listenKey (POST/PUT/DELETE), the
  TradFi agreement (`POST /fapi/v1/stock/contract`); public fundingRate history and BNBUSDT 1-minute klines;
- orders: POST/GET/DELETE `/fapi/v1/order` by `orderId` or client id; a reused `newClientOrderId` answers HTTP 400
  `-4116` (for any earlier order, or only for open ones: `duplicate_policy`).
Signed endpoints check the API key (`-2014`/`-2015`), the signature (`-1102` missing, `-1022` wrong, HMAC-SHA256 of
the query or body as sent) and the timestamp against `recvWindow` (`-1021`).

The control API under `/_control/` (never counted as venue requests) lets tests script it: move the venue's clock
forward across funding times (`clock`), make commissions be paid in BNB (`bnb_commission`), read the venue's own
records (`records`: trades, incomes, funding rates), set the book (and push it), arm faults (429/418 with
Retry-After, `-1021`, an order answer that times out or whose connection drops after the order was accepted, slow
`userTrades` answers, any endpoint answering a given Binance error code and message), drop every socket, push
user-data events (ORDER_TRADE_UPDATE, ACCOUNT_UPDATE, a liquidation), read the orders and the request log.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import re
import secrets
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

SYMBOL = "XAUUSDT"
PERPETUAL_DELIVERY_DATE = 4133404800000
TICK = Decimal("0.01")
STEP = Decimal("0.001")
MIN_QTY = Decimal("0.001")
MIN_NOTIONAL = Decimal("5")
CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
DEFAULT_KEY = "FakeKey" + "0" * 57
DEFAULT_SECRET = "FakeSecret" + "1" * 54


# The account's XAUUSDT leverage brackets as `GET /fapi/v1/leverageBracket` sends them (JSON numbers); the venue's
# maintenance margin of a position is notional × maintMarginRatio − cum of the bracket holding its notional.
DEFAULT_BRACKETS: list[dict[str, Any]] = [
    {
        "bracket": 1,
        "initialLeverage": 50,
        "notionalCap": 100000,
        "notionalFloor": 0,
        "maintMarginRatio": 0.01,
        "cum": 0.0,
    },
    {
        "bracket": 2,
        "initialLeverage": 20,
        "notionalCap": 1000000,
        "notionalFloor": 100000,
        "maintMarginRatio": 0.025,
        "cum": 1500.0,
    },
]


def now_ms() -> int:
    return int(time.time() * 1000)


def binance_error(code: int, msg: str, status: int = 400, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"code": code, "msg": msg}, status=status, headers=headers)


@dataclass
class Faults:
    rate_limit_count: int = 0
    rate_limit_status: int = 429
    rate_limit_retry_after: int = 1
    clock_error_count: int = 0
    order_timeout_count: int = 0
    order_timeout_s: float = 5.0
    order_drop_after_accept_count: int = 0
    order_drop_before_accept_count: int = 0
    order_error_after_accept_count: int = 0
    order_reject_count: int = 0  # -2019 margin is insufficient: nothing placed
    order_partial_count: int = 0  # the next orders fill only `order_partial_ratio` of their quantity (IOC rest expires)
    order_partial_ratio: Decimal = Decimal("0.5")
    trades_slow_count: int = 0  # the next `userTrades` answers come after `trades_slow_s` (a loaded venue)
    trades_slow_s: float = 5.0
    refuse_ws_until: float = 0.0
    # Binance's error answer ({"code", "msg"} with its HTTP status) for the next requests to one endpoint.
    endpoint_errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class FakeBinance:
    api_keys: dict[str, str] = field(default_factory=lambda: {DEFAULT_KEY: DEFAULT_SECRET})
    server_offset_ms: int = 0
    delivery_date: int = PERPETUAL_DELIVERY_DATE
    contract_type: str = "TRADIFI_PERPETUAL"
    bid: Decimal = Decimal("4600.10")
    ask: Decimal = Decimal("4600.12")
    bid_qty: Decimal = Decimal("12.345")
    ask_qty: Decimal = Decimal("8.901")
    book_update_id: int = 1
    mark_price: Decimal = Decimal("4600.11")
    index_price: Decimal = Decimal("4599.90")
    funding_rate: Decimal = Decimal("0.00010000")
    funding_interval_hours: int = 8
    maker_fee: Decimal = Decimal("0.000200")
    taker_fee: Decimal = Decimal("0.000500")
    wallet_balance: Decimal = Decimal("10000.00000000")
    position_amt: Decimal = Decimal("0")
    entry_price: Decimal = Decimal("0")
    liquidation_price: Decimal = Decimal("0")
    dual_side: bool = False
    leverage: int = 20
    # The account's brackets (`leverageBracket`, and what its maintenance margin is computed with); `notional_coef`
    # is sent only when set (Binance: "only appears when user's symbol bracket is adjusted").
    brackets: list[dict[str, Any]] = field(default_factory=lambda: [dict(row) for row in DEFAULT_BRACKETS])
    notional_coef: str | None = None
    adl_quantile: int = 1  # the position's ADL queue quantile, 0–4 (`adl` of positionRisk v3, `adlQuantile`)
    # When set, `leverageBracket` answers this verbatim (a test scripting a broken answer; margins stay computed
    # from `brackets`).
    leverage_bracket_answer: Any = None
    margin_type: str = "cross"
    # USDCUSDT book (USDT per USDC): the usd_per_usdt source reads 1 / mid
    usdc_bid: Decimal = Decimal("1.0003")
    usdc_ask: Decimal = Decimal("1.0004")
    tradfi_signed: bool = True
    duplicate_policy: str = "any"  # "any": every earlier id is refused; "open": only ids of open orders
    orders: list[dict[str, Any]] = field(default_factory=list)
    incomes: list[dict[str, Any]] = field(default_factory=list)
    # Every trade of the account, as `GET /fapi/v1/userTrades` serves it (the venue's own record of fills).
    trades: list[dict[str, Any]] = field(default_factory=list)
    # Every settled funding time, as `GET /fapi/v1/fundingRate` serves it.
    funding_history: list[dict[str, Any]] = field(default_factory=list)
    # Funding times up to this one are settled (FUNDING_FEE booked to whoever held the position then).
    funding_settled_ms: int = 0
    # The next `bnb_fee_count` trades (-1: every one) pay their commission in BNB, at `bnb_price` USDT per BNB with
    # `bnb_discount` off (Binance's BNB fee discount), converted at the price of the trade's minute.
    bnb_fee_count: int = 0
    bnb_price: Decimal = Decimal("612.34")
    bnb_discount: Decimal = Decimal("0.9")
    bnb_prices: dict[int, Decimal] = field(default_factory=dict)
    # Each fill of an order is split into this many trades (several trade ids per order, as a book walk gives).
    trades_per_fill: int = 1
    faults: Faults = field(default_factory=Faults)
    requests: list[tuple[float, str, str]] = field(default_factory=list)
    listen_keys: set[str] = field(default_factory=set)
    public_sockets: dict[web.WebSocketResponse, set[str]] = field(default_factory=dict)
    private_sockets: dict[web.WebSocketResponse, str] = field(default_factory=dict)
    order_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(8_000_000_001))
    trade_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(700_000_001))
    income_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(9_100_000_001))

    def __post_init__(self) -> None:
        self.funding_settled_ms = self.last_funding_ms(self.server_ms())

    # -- helpers
    def server_ms(self) -> int:
        return now_ms() + self.server_offset_ms

    def by_client_id(self, client_id: str) -> dict[str, Any] | None:
        for order in reversed(self.orders):
            if order["clientOrderId"] == client_id:
                return order
        return None

    def maint_margin(self, notional: Decimal) -> Decimal:
        """The maintenance margin of a position of this notional (USDT) by the account's brackets."""
        notional = abs(notional)
        if notional == 0:
            return Decimal(0)
        for row in self.brackets:
            if Decimal(str(row["notionalFloor"])) <= notional <= Decimal(str(row["notionalCap"])):
                return notional * Decimal(str(row["maintMarginRatio"])) - Decimal(str(row["cum"]))
        last = self.brackets[-1]
        return notional * Decimal(str(last["maintMarginRatio"])) - Decimal(str(last["cum"]))

    def position_json(self, version: int = 3) -> dict[str, Any]:
        """One row of `/fapi/v3/positionRisk` (version 3: margins, `adl`, bid/ask notional, no leverage or margin
        type) or `/fapi/v2/positionRisk` (version 2: leverage, margin type, max notional; no margins, no `adl`)."""
        notional = self.position_amt * self.mark_price
        common = {
            "symbol": SYMBOL,
            "positionSide": "BOTH",
            "positionAmt": str(self.position_amt),
            "entryPrice": str(self.entry_price),
            "breakEvenPrice": str(self.entry_price),
            "markPrice": str(self.mark_price),
            "unRealizedProfit": str((self.mark_price - self.entry_price) * self.position_amt),
            "liquidationPrice": str(self.liquidation_price),
            "isolatedMargin": "0",
            "notional": str(notional),
            "isolatedWallet": "0",
            "updateTime": self.server_ms(),
        }
        if version == 2:
            return common | {
                "leverage": str(self.leverage),
                "marginType": self.margin_type,
                "isAutoAddMargin": "false",
                "maxNotionalValue": "1000000",
            }
        return common | {
            "marginAsset": "USDT",
            "initialMargin": str(abs(notional) / self.leverage),
            "maintMargin": str(self.maint_margin(notional)),
            "positionInitialMargin": str(abs(notional) / self.leverage),
            "openOrderInitialMargin": "0",
            "adl": self.adl_quantile,
            "bidNotional": "0",
            "askNotional": "0",
        }

    def asset_json(self) -> dict[str, Any]:
        unrealised = (self.mark_price - self.entry_price) * self.position_amt
        notional = abs(self.position_amt * self.mark_price)
        return {
            "asset": "USDT",
            "walletBalance": str(self.wallet_balance),
            "unrealizedProfit": str(unrealised),
            "marginBalance": str(self.wallet_balance + unrealised),
            "maintMargin": str(self.maint_margin(notional)),
            "initialMargin": str(notional / self.leverage),
            "positionInitialMargin": str(notional / self.leverage),
            "openOrderInitialMargin": "0",
            "crossWalletBalance": str(self.wallet_balance),
            "crossUnPnl": str(unrealised),
            "availableBalance": str(self.wallet_balance),
            "maxWithdrawAmount": str(self.wallet_balance),
            "marginAvailable": True,
            "updateTime": self.server_ms(),
        }

    def book_ticker_event(self) -> dict[str, Any]:
        ts = self.server_ms()
        return {
            "e": "bookTicker",
            "u": self.book_update_id,
            "E": ts,
            "T": ts,
            "s": SYMBOL,
            "b": str(self.bid),
            "B": str(self.bid_qty),
            "a": str(self.ask),
            "A": str(self.ask_qty),
        }

    async def push_public(self, stream: str, payload: dict[str, Any]) -> int:
        sent = 0
        for socket, streams in list(self.public_sockets.items()):
            if stream in streams and not socket.closed:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await socket.send_str(json.dumps(payload))
                    sent += 1
        return sent

    async def push_private(self, payload: dict[str, Any]) -> int:
        sent = 0
        for socket in list(self.private_sockets):
            if not socket.closed:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await socket.send_str(json.dumps(payload))
                    sent += 1
        return sent

    def order_update_event(
        self, order: dict[str, Any], *, execution: str, last_qty: Decimal, trade: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """An ORDER_TRADE_UPDATE: with `trade`, the TRADE event of that trade (last filled quantity and price, its
        commission `n` in `N`, trade id `t`, maker `m`, realised profit `rp`, the cumulative `z` up to it)."""
        ts = self.server_ms() if trade is None else int(trade["time"])
        event = {
            "e": "ORDER_TRADE_UPDATE",
            "E": ts,
            "T": ts,
            "o": {
                "s": SYMBOL,
                "c": order["clientOrderId"],
                "S": order["side"],
                "o": order["type"],
                "f": order["timeInForce"],
                "q": order["origQty"],
                "p": order["price"],
                "ap": order["avgPrice"],
                "sp": "0",
                "x": execution,
                "X": order["status"],
                "i": order["orderId"],
                "l": str(last_qty),
                "z": order["executedQty"],
                "L": order["avgPrice"] if last_qty else "0",
                "N": "USDT",
                "n": "0",
                "T": ts,
                "t": next(self.order_ids) if last_qty else 0,
                "b": "0",
                "a": "0",
                "m": False,
                "R": order["reduceOnly"],
                "wt": "CONTRACT_PRICE",
                "ot": order["type"],
                "ps": "BOTH",
                "cp": False,
                "rp": "0",
                "pP": False,
                "si": 0,
                "ss": 0,
                "V": "EXPIRE_MAKER",
                "pm": "NONE",
                "gtd": 0,
            },
        }
        body: dict[str, Any] = event["o"]
        if trade is None:
            # Binance pushes no commission fields when none was charged.
            del body["n"], body["N"]
            body["t"] = 0
            return event
        body.update(
            l=trade["qty"],
            L=trade["price"],
            n=trade["commission"],
            N=trade["commissionAsset"],
            t=trade["id"],
            m=trade["maker"],
            rp=trade["realizedPnl"],
            z=trade["_cumulative"],
            X="FILLED" if Decimal(trade["_cumulative"]) == Decimal(order["origQty"]) else "PARTIALLY_FILLED",
        )
        return event

    def funding_update_event(self, income: dict[str, Any]) -> dict[str, Any]:
        """ACCOUNT_UPDATE with reason FUNDING_FEE: the wallet balance after a funding payment (cross margin)."""
        ts = int(income["time"])
        return {
            "e": "ACCOUNT_UPDATE",
            "E": ts,
            "T": ts,
            "a": {
                "m": "FUNDING_FEE",
                "B": [{"a": "USDT", "wb": str(self.wallet_balance), "cw": str(self.wallet_balance),
                       "bc": income["income"]}],
                "P": [],
            },
        }  # fmt: skip

    def account_update_event(self, reason: str) -> dict[str, Any]:
        ts = self.server_ms()
        unrealised = (self.mark_price - self.entry_price) * self.position_amt
        return {
            "e": "ACCOUNT_UPDATE",
            "E": ts,
            "T": ts,
            "a": {
                "m": reason,
                "B": [{"a": "USDT", "wb": str(self.wallet_balance), "cw": str(self.wallet_balance), "bc": "0"}],
                "P": [
                    {
                        "s": SYMBOL,
                        "pa": str(self.position_amt),
                        "ep": str(self.entry_price),
                        "bep": str(self.entry_price),
                        "cr": "0",
                        "up": str(unrealised),
                        "mt": "cross",
                        "iw": "0",
                        "ps": "BOTH",
                    }
                ],
            },
        }

    def execute(
        self, order: dict[str, Any], quantity: Decimal, price: Decimal, *, maker: bool = False
    ) -> list[dict[str, Any]]:
        """Fill `quantity` of `order` at `price` as `trades_per_fill` trades (whole steps): each is recorded with
        its commission (taker or maker rate of its notional, in USDT or — while armed — in BNB) and realised profit,
        and moves the position and the wallet. Returns the trades."""
        parts = max(1, min(self.trades_per_fill, int(quantity / STEP)))
        base = (quantity / parts // STEP) * STEP
        sizes = [base] * (parts - 1) + [quantity - base * (parts - 1)]
        cumulative = Decimal(0)
        trades = []
        for size in sizes:
            cumulative += size
            trades.append(self.trade(order, size, price, maker=maker, cumulative=cumulative))
        return trades

    def trade(
        self, order: dict[str, Any], qty: Decimal, price: Decimal, *, maker: bool, cumulative: Decimal
    ) -> dict[str, Any]:
        ts = self.server_ms()
        side = order["side"]
        notional = qty * price
        commission = (notional * (self.maker_fee if maker else self.taker_fee)).quantize(Decimal("0.00000001"))
        asset = "USDT"
        if self.bnb_fee_count != 0:
            if self.bnb_fee_count > 0:
                self.bnb_fee_count -= 1
            asset = "BNB"
            commission = (commission * self.bnb_discount / self.bnb_price_at(ts)).quantize(Decimal("0.00000001"))
        realized = self.apply_fill(side, qty, price)
        self.wallet_balance += realized - (commission if asset == "USDT" else 0)
        trade = {
            "symbol": SYMBOL,
            "id": next(self.trade_ids),
            "orderId": order["orderId"],
            "side": side,
            "price": str(price),
            "qty": str(qty),
            "realizedPnl": str(realized.quantize(Decimal("0.00000001"))),
            "quoteQty": str(notional),
            "commission": str(commission),
            "commissionAsset": asset,
            "time": ts,
            "positionSide": "BOTH",
            "buyer": side == "BUY",
            "maker": maker,
            "_cumulative": str(cumulative),
        }
        self.trades.append(trade)
        return trade

    def bnb_price_at(self, ts_ms: int) -> Decimal:
        """BNBUSDT at the open of `ts_ms`'s minute: the price in force when that minute is first asked about."""
        minute = ts_ms - ts_ms % 60_000
        return self.bnb_prices.setdefault(minute, self.bnb_price)

    # -- funding
    def last_funding_ms(self, at_ms: int) -> int:
        interval = self.funding_interval_hours * 3_600_000
        return at_ms - at_ms % interval

    def settle_funding(self) -> list[dict[str, Any]]:
        """Settle every funding time passed since the last settlement: record its rate and charge whoever holds the
        position then (`income = −position · mark · rate`, a positive rate: shorts receive). Called before any
        request is handled, so the position charged is the one held at the funding instant."""
        due = self.last_funding_ms(self.server_ms())
        interval = self.funding_interval_hours * 3_600_000
        booked = []
        at = self.funding_settled_ms + interval
        while at <= due:
            self.funding_history.append(
                {
                    "symbol": SYMBOL,
                    "fundingTime": at,
                    "fundingRate": f"{self.funding_rate:.8f}",
                    "markPrice": f"{self.mark_price:.8f}",
                }
            )
            if self.position_amt != 0:
                income = (-self.position_amt * self.mark_price * self.funding_rate).quantize(Decimal("0.00000001"))
                self.wallet_balance += income
                row = {
                    "symbol": SYMBOL,
                    "incomeType": "FUNDING_FEE",
                    "income": f"{income:.8f}",
                    "asset": "USDT",
                    "info": "FUNDING_FEE",
                    "time": at,
                    "tranId": next(self.income_ids),
                    "tradeId": "",
                }
                self.incomes.append(row)
                booked.append(row)
            at += interval
        self.funding_settled_ms = max(self.funding_settled_ms, due)
        return booked

    def apply_fill(self, side: str, qty: Decimal, price: Decimal) -> Decimal:
        """Move the position by a fill; returns the profit it realised (the part that reduced the position)."""
        signed = qty if side == "BUY" else -qty
        new_amt = self.position_amt + signed
        realized = Decimal(0)
        if self.position_amt != 0 and (self.position_amt > 0) != (signed > 0):
            closed = min(abs(self.position_amt), qty)
            realized = (price - self.entry_price) * closed * (1 if self.position_amt > 0 else -1)
        if new_amt == 0:
            self.entry_price = Decimal("0")
        elif self.position_amt == 0 or (self.position_amt > 0) == (signed > 0):
            self.entry_price = (self.entry_price * abs(self.position_amt) + price * qty) / abs(new_amt)
        elif (new_amt > 0) != (self.position_amt > 0):
            self.entry_price = price  # flipped: the rest opens at the fill's price
        self.position_amt = new_amt
        return realized


def exchange_info(fake: FakeBinance) -> dict[str, Any]:
    def symbol(name: str, base: str, contract_type: str, delivery: int, tick: str, step: str) -> dict[str, Any]:
        return {
            "symbol": name,
            "pair": name,
            "contractType": contract_type,
            "deliveryDate": delivery,
            "onboardDate": 1767571200000,
            "status": "TRADING",
            "maintMarginPercent": "2.5000",
            "requiredMarginPercent": "5.0000",
            "baseAsset": base,
            "quoteAsset": "USDT",
            "marginAsset": "USDT",
            "pricePrecision": 2,
            "quantityPrecision": 3,
            "baseAssetPrecision": 8,
            "quotePrecision": 8,
            "underlyingType": "COIN" if base == "BTC" else "COMMODITY",
            "underlyingSubType": [],
            "settlePlan": 0,
            "triggerProtect": "0.0500",
            "liquidationFee": "0.012500",
            "marketTakeBound": "0.05",
            "maxMoveOrderLimit": 10000,
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "100", "maxPrice": "100000", "tickSize": tick},
                {"filterType": "LOT_SIZE", "stepSize": step, "minQty": step, "maxQty": "1000"},
                {"filterType": "MARKET_LOT_SIZE", "stepSize": step, "minQty": step, "maxQty": "200"},
                {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                {"filterType": "MIN_NOTIONAL", "notional": str(MIN_NOTIONAL)},
                {
                    "filterType": "PERCENT_PRICE",
                    "multiplierUp": "1.0500",
                    "multiplierDown": "0.9500",
                    "multiplierDecimal": "4",
                },
            ],
            "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"],
            "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
        }

    return {
        "timezone": "UTC",
        "serverTime": fake.server_ms(),
        "futuresType": "U_MARGINED",
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
        ],
        "exchangeFilters": [],
        "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
        "symbols": [
            symbol(SYMBOL, "XAU", fake.contract_type, fake.delivery_date, str(TICK), str(STEP)),
            symbol("BTCUSDT", "BTC", "PERPETUAL", PERPETUAL_DELIVERY_DATE, "0.10", "0.001"),
            symbol("USDCUSDT", "USDC", "PERPETUAL", PERPETUAL_DELIVERY_DATE, "0.0001", "1"),
        ],
    }


# --- HTTP ------------------------------------------------------------------------------------------------------
FAKE_KEY = web.AppKey("fake", FakeBinance)


def fake_of(request: web.Request) -> FakeBinance:
    return request.app[FAKE_KEY]


async def signed_params(request: web.Request, fake: FakeBinance) -> dict[str, str] | web.Response:
    """The request's parameters once its key, signature and timestamp pass, else Binance's error answer."""
    key = request.headers.get("X-MBX-APIKEY")
    if not key:
        return binance_error(-2014, "API-key format invalid.", 401)
    secret = fake.api_keys.get(key)
    if secret is None:
        return binance_error(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    raw = request.query_string if request.method in ("GET", "DELETE") else await request.text()
    payload, separator, signature = raw.rpartition("&signature=")
    if not separator:
        if raw.startswith("signature="):
            payload, signature = "", raw[len("signature=") :]
        else:
            return binance_error(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
    expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return binance_error(-1022, "Signature for this request is not valid.")
    params = dict(parse_qsl(payload, keep_blank_values=True))
    if fake.faults.clock_error_count > 0:
        fake.faults.clock_error_count -= 1
        return binance_error(-1021, "Timestamp for this request is outside of the recvWindow.")
    try:
        timestamp = int(params["timestamp"])
    except (KeyError, ValueError):
        return binance_error(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
    recv_window = int(params.get("recvWindow", "5000"))
    server = fake.server_ms()
    if timestamp > server + 1000 or server - timestamp > recv_window:
        return binance_error(-1021, "Timestamp for this request is outside of the recvWindow.")
    return params


def api_key_only(request: web.Request, fake: FakeBinance) -> web.Response | None:
    key = request.headers.get("X-MBX-APIKEY")
    if not key:
        return binance_error(-2014, "API-key format invalid.", 401)
    if key not in fake.api_keys:
        return binance_error(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    return None


@web.middleware
async def venue_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Log every venue request and answer armed rate limits before anything else (as Binance's gateway does)."""
    fake = fake_of(request)
    # Funding times that passed are settled before anything else is handled: the position charged is the one held
    # at the funding instant (nothing trades between the instant and this request).
    for row in fake.settle_funding():
        await fake.push_private(fake.funding_update_event(row))
    if request.path.startswith("/_control/"):
        control: web.StreamResponse = await handler(request)
        return control
    fake.requests.append((time.time(), request.method, request.path))
    faults = fake.faults
    if faults.rate_limit_count > 0 and request.headers.get("Upgrade", "").lower() != "websocket":
        faults.rate_limit_count -= 1
        status = faults.rate_limit_status
        message = (
            "Way too many requests; IP banned until further notice."
            if status == 418
            else "Too many requests; current limit of IP is 2400 requests per minute. Please use WebSocket "
            "Streams for live updates to avoid polling the API."
        )
        return binance_error(-1003, message, status, headers={"Retry-After": str(faults.rate_limit_retry_after)})
    for armed in faults.endpoint_errors:
        if armed["count"] > 0 and request.path == armed["path"] and armed["method"] in (None, request.method):
            armed["count"] -= 1
            return binance_error(armed["code"], armed["msg"], armed["status"])
    response: web.StreamResponse = await handler(request)
    weight = sum(1 for at, _, _ in fake.requests if at > time.time() - 60)
    if not response.prepared:
        response.headers["X-MBX-USED-WEIGHT-1M"] = str(weight)
    return response


async def get_time(request: web.Request) -> web.Response:
    return web.json_response({"serverTime": fake_of(request).server_ms()})


async def get_ping(request: web.Request) -> web.Response:
    return web.json_response({})


async def get_exchange_info(request: web.Request) -> web.Response:
    return web.json_response(exchange_info(fake_of(request)))


def require_symbol(request: web.Request, params: dict[str, str] | None = None) -> web.Response | None:
    source = params if params is not None else request.query
    symbol = source.get("symbol")
    if symbol is None:
        return None
    if symbol != SYMBOL:
        return binance_error(-1121, "Invalid symbol.")
    return None


async def get_depth(request: web.Request) -> web.Response:
    fake = fake_of(request)
    if error := require_symbol(request):
        return error
    limit = int(request.query.get("limit", "500"))
    levels = min(limit, 5)
    ts = fake.server_ms()
    bids = [[str(fake.bid - TICK * n), str(fake.bid_qty + n)] for n in range(levels)]
    asks = [[str(fake.ask + TICK * n), str(fake.ask_qty + n)] for n in range(levels)]
    return web.json_response({"lastUpdateId": fake.book_update_id, "E": ts, "T": ts, "bids": bids, "asks": asks})


async def get_book_ticker(request: web.Request) -> web.Response:
    fake = fake_of(request)
    if request.query.get("symbol") == "USDCUSDT":
        return web.json_response(
            {
                "symbol": "USDCUSDT",
                "bidPrice": str(fake.usdc_bid),
                "bidQty": "250000",
                "askPrice": str(fake.usdc_ask),
                "askQty": "180000",
                "time": fake.server_ms(),
                "lastUpdateId": fake.book_update_id,
            }
        )
    if error := require_symbol(request):
        return error
    ticker = {
        "symbol": SYMBOL,
        "bidPrice": str(fake.bid),
        "bidQty": str(fake.bid_qty),
        "askPrice": str(fake.ask),
        "askQty": str(fake.ask_qty),
        "time": fake.server_ms(),
        "lastUpdateId": fake.book_update_id,
    }
    return web.json_response(ticker if "symbol" in request.query else [ticker])


def next_funding_ms(fake: FakeBinance) -> int:
    interval = fake.funding_interval_hours * 3_600_000
    return (fake.server_ms() // interval + 1) * interval


async def get_premium_index(request: web.Request) -> web.Response:
    fake = fake_of(request)
    if error := require_symbol(request):
        return error
    entry = {
        "symbol": SYMBOL,
        "markPrice": str(fake.mark_price),
        "indexPrice": str(fake.index_price),
        "estimatedSettlePrice": str(fake.index_price),
        "lastFundingRate": str(fake.funding_rate),
        "interestRate": "0.00010000",
        "nextFundingTime": next_funding_ms(fake),
        "time": fake.server_ms(),
    }
    return web.json_response(entry if "symbol" in request.query else [entry])


async def get_funding_info(request: web.Request) -> web.Response:
    fake = fake_of(request)
    return web.json_response(
        [
            {
                "symbol": SYMBOL,
                "adjustedFundingRateCap": "0.02000000",
                "adjustedFundingRateFloor": "-0.02000000",
                "fundingIntervalHours": fake.funding_interval_hours,
                "disclaimer": False,
            }
        ]
    )


async def get_commission_rate(request: web.Request) -> web.Response:
    fake = fake_of(request)
    params = await signed_params(request, fake)
    if isinstance(params, web.Response):
        return params
    if error := require_symbol(request, params):
        return error
    return web.json_response(
        {"symbol": SYMBOL, "makerCommissionRate": str(fake.maker_fee), "takerCommissionRate": str(fake.taker_fee)}
    )


async def get_balance(request: web.Request) -> web.Response:
    fake = fake_of(request)
    params = await signed_params(request, fake)
    if isinstance(params, web.Response):
        return params
    asset = fake.asset_json()
    return web.json_response(
        [
            {
                "accountAlias": "SgsR",
                "asset": "USDT",
                "balance": asset["walletBalance"],
                "crossWalletBalance": asset["crossWalletBalance"],
                "crossUnPnl": asset["crossUnPnl"],
                "availableBalance": asset["availableBalance"],
                "maxWithdrawAmount": asset["maxWithdrawAmount"],
                "marginAvailable": True,
                "updateTime": asset["updateTime"],
            }
        ]
    )


async def get_account(request: web.Request) -> web.Response:
    fake = fake_of(request)
    params = await signed_params(request, fake)
    if isinstance(params, web.Response):
        return params
    asset = fake.asset_json()
    return web.json_response(
        {
            "totalInitialMargin": asset["initialMargin"],
            "totalMaintMargin": asset["maintMargin"],
            "totalWalletBalance": asset["walletBalance"],
            "totalUnrealizedProfit": asset["unrealizedProfit"],
            "totalMarginBalance": asset["marginBalance"],
            "totalPositionInitialMargin": "0",
            "totalOpenOrderInitialMargin": "0",
            "totalCrossWalletBalance": asset["crossWalletBalance"],
            "totalCrossUnPnl": asset["crossUnPnl"],
            "availableBalance": asset["availableBalance"],
            "maxWithdrawAmount": asset["maxWithdrawAmount"],
            "assets": [asset],
            "positions": [fake.position_json()],
        }
    )


async def get_position_risk(request: web.Request) -> web.Response:
    """`GET /fapi/v2/positionRisk` (every symbol asked, position or not) and `/fapi/v3/positionRisk` (only symbols
    with a position or an open order, as Binance documents it)."""
    fake = fake_of(request)
    params = await signed_params(request, fake)
    if isinstance(params, web.Response):
        return params
    if "symbol" in params and params["symbol"] != SYMBOL:
        return binance_error(-1121, "Invalid symbol.")
    if request.path.startswith("/fapi/v2/"):
        return web.json_response([fake.position_json(version=2)])
    holding = fake.position_amt != 0 or any(order["status"] in ("NEW", "PARTIALLY_FILLED") for order in fake.orders)
    return web.json_response([fake.position_json(version=3)] if holding else [])


async def get_leverage_bracket(request: web.Request) -> web.Response:
    """`GET /fapi/v1/leverageBracket`: the account's brackets, one object when `symbol` is sent, else a list of
    them; `notionalCoef` only when the account's brackets were adjusted."""
    fake = fake_of(request)
    params = await signed_params(request, fake)
    if isinstance(params, web.Response):
        return params
    if "symbol" in params and params["symbol"] != SYMBOL:
        return binance_error(-1121, "Invalid symbol.")
    if fake.leverage_bracket_answer is not None:
        return web.json_response(fake.leverage_bracket_answer)
    entry: dict[str, Any] = {"symbol": SYMBOL}
    if fake.notional_coef is not None:
        entry["notionalCoef"] = float(fake.notional_coef)
    entry["brackets"] = fake.brackets
    return web.json_response(entry if "symbol" in params else [entry])


async def get_symbol_config(request: web.Request) -> web.Response:
    """`GET /fapi/v1/symbolConfig`: the account's margin type and leverage per symbol."""
    fake = fake_of(request)
    params = await signed_params(request, fake)
    if isinstance(params, web.Response):
        return params
    entry = {
        "symbol": SYMBOL,
        "marginType": "CROSSED" if fake.margin_type == "cross" else "ISOLATED",
        "isAutoAddMargin": "false",
        "leverage": fake.leverage,
        "maxNotionalValue": "1000000",
    }
    return web.json_response([entry])


async def get_position_mode(request: web.Request) -> web.Response:
    fake = fake_of(request)
    params = await signed_params(request, fake)
    if isinstance(params, web.Response):
        return params
    return web.json_response({"dualSidePosition": fake.dual_side})


async def get_income(request: web.Request) -> web.Response:
    fake = fake_of(request)
    params = await signed_params(request, fake)
    if isinstance(params, web.Response):
        return params
    kind, symbol = params.get("incomeType"), params.get("symbol")
    start, end = int(params.get("startTime", 0)), int(params.get("endTime", 2**62))
    if "startTime" not in params and "endTime" not in params:
        start = fake.server_ms() - 7 * 86_400_000  # Binance: the last 7 days when neither is sent
    limit = min(int(params.get("limit", 100)), 1000)
    rows = [
        row
        for row in sorted(fake.incomes, key=lambda row: int(row["time"]))
        if (kind is None or row["incomeType"] == kind)
        and (symbol is None or row["symbol"] == symbol)
        and start <= int(row["time"]) <= end
    ]
    return web.json_response(rows[:limit])


async def get_user_trades(request: web.Request) -> web.Response:
    """`GET /fapi/v1/userTrades`: the account's trades of a symbol, ascending by id; `orderId` (with the symbol)
    selects one order's; without a time range, the last 7 days."""
    fake = fake_of(request)
    params = await signed_params(request, fake)
    if isinstance(params, web.Response):
        return params
    if "symbol" not in params:
        return binance_error(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
    if error := require_symbol(request, params):
        return error
    if fake.faults.trades_slow_count > 0:
        fake.faults.trades_slow_count -= 1
        await asyncio.sleep(fake.faults.trades_slow_s)
    limit = min(int(params.get("limit", 500)), 1000)
    rows = sorted(fake.trades, key=lambda trade: int(trade["id"]))
    if "orderId" in params:
        rows = [trade for trade in rows if str(trade["orderId"]) == params["orderId"]]
    if "startTime" in params or "endTime" in params:
        start, end = int(params.get("startTime", 0)), int(params.get("endTime", 2**62))
        rows = [trade for trade in rows if start <= int(trade["time"]) <= end]
    elif "orderId" not in params and "fromId" not in params:
        rows = [trade for trade in rows if int(trade["time"]) >= fake.server_ms() - 7 * 86_400_000]
    if "fromId" in params:
        rows = [trade for trade in rows if int(trade["id"]) >= int(params["fromId"])][:limit]
    else:
        rows = rows[-limit:]
    return web.json_response([order_json(trade) for trade in rows])


async def get_funding_rate(request: web.Request) -> web.Response:
    """`GET /fapi/v1/fundingRate` (public): settled funding rates, ascending; from `startTime` the first `limit`,
    else the most recent `limit` (default 100, at most 1000)."""
    fake = fake_of(request)
    if error := require_symbol(request):
        return error
    limit = min(int(request.query.get("limit", 100)), 1000)
    start, end = int(request.query.get("startTime", 0)), int(request.query.get("endTime", 2**62))
    rows = [row for row in fake.funding_history if start <= int(row["fundingTime"]) <= end]
    return web.json_response(rows[:limit] if "startTime" in request.query else rows[-limit:])


async def get_klines(request: web.Request) -> web.Response:
    """`GET /fapi/v1/klines`, 1-minute BNBUSDT only (what converts a BNB commission): one candle per minute from
    `startTime`, up to the current minute, each at the price that minute opened at."""
    fake = fake_of(request)
    if request.query.get("symbol") != "BNBUSDT":
        return binance_error(-1121, "Invalid symbol.")
    if request.query.get("interval") != "1m":
        return binance_error(-1120, "Invalid interval.")
    limit = min(int(request.query.get("limit", 500)), 1500)
    now = fake.server_ms()
    minute = int(request.query.get("startTime", now - (limit - 1) * 60_000))
    minute -= minute % 60_000
    rows: list[list[Any]] = []
    while minute <= now and len(rows) < limit:
        price = str(fake.bnb_price_at(minute))
        rows.append([minute, price, price, price, price, "100.00", minute + 59_999, "61234.00", 42, "50.00",
                     "30617.00", "0"])  # fmt: skip
        minute += 60_000
    return web.json_response(rows)


async def post_tradfi_contract(request: web.Request) -> web.Response:
    fake = fake_of(request)
    params = await signed_params(request, fake)
    if isinstance(params, web.Response):
        return params
    fake.tradfi_signed = True
    return web.json_response({"code": 200, "msg": "success"})


async def listen_key(request: web.Request) -> web.Response:
    fake = fake_of(request)
    if error := api_key_only(request, fake):
        return error
    if request.method == "POST":
        key = secrets.token_urlsafe(48)
        fake.listen_keys.add(key)
        return web.json_response({"listenKey": key})
    if request.method == "PUT":
        if not fake.listen_keys:
            return binance_error(-1125, "This listenKey does not exist.")
        return web.json_response({"listenKey": next(iter(fake.listen_keys))})
    fake.listen_keys.clear()
    return web.json_response({})


async def post_order_test(request: web.Request) -> web.Response:
    """`POST /fapi/v1/order/test`: checked like an order, never placed."""
    fake = fake_of(request)
    params = await signed_params(request, fake)
    if isinstance(params, web.Response):
        return params
    if params.get("symbol") != SYMBOL:
        return binance_error(-1121, "Invalid symbol.")
    if not fake.tradfi_signed:
        return binance_error(-4411, "Please sign TradFi-Perps agreement contract fapi.")
    price, quantity = Decimal(params.get("price", "0")), Decimal(params.get("quantity", "0"))
    if price % TICK != 0 or quantity % STEP != 0:
        return binance_error(-1111, "Precision is over the maximum defined for this asset.")
    if price * quantity < MIN_NOTIONAL:
        return binance_error(-4164, "Order's notional must be no smaller than 5 (unless you choose reduce only).")
    return web.json_response({})


def order_json(order: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in order.items() if not key.startswith("_")}


async def post_order(request: web.Request) -> web.StreamResponse:
    fake = fake_of(request)
    params = await signed_params(request, fake)
    if isinstance(params, web.Response):
        return params
    faults = fake.faults
    if faults.order_drop_before_accept_count > 0:
        faults.order_drop_before_accept_count -= 1
        return await drop_connection(request)
    if params.get("symbol") != SYMBOL:
        return binance_error(-1121, "Invalid symbol.")
    if not fake.tradfi_signed:
        return binance_error(-4411, "Please sign TradFi-Perps agreement contract fapi.")
    client_id = params.get("newClientOrderId") or f"fake-{secrets.token_hex(8)}"
    if not CLIENT_ID.match(client_id):
        return binance_error(
            -1100,
            "Illegal characters found in parameter 'newClientOrderId'; legal range is '^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.",
        )
    earlier = fake.by_client_id(client_id)
    if earlier is not None and (fake.duplicate_policy == "any" or earlier["status"] in ("NEW", "PARTIALLY_FILLED")):
        return binance_error(-4116, "ClientOrderId is duplicated.")
    side, kind = params.get("side", ""), params.get("type", "")
    if side not in ("BUY", "SELL") or kind not in ("LIMIT", "MARKET"):
        return binance_error(-1116, "Invalid orderType.")
    try:
        quantity = Decimal(params["quantity"])
    except Exception:
        return binance_error(-1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.")
    if quantity % STEP != 0:
        return binance_error(-1111, "Precision is over the maximum defined for this asset.")
    if quantity < MIN_QTY:
        return binance_error(-4003, "Quantity less than or equal to zero.")
    price = Decimal(params.get("price", "0"))
    if kind == "LIMIT" and (price <= 0 or price % TICK != 0):
        return binance_error(-4014, "Price not increased by tick size.")
    reduce_only = params.get("reduceOnly") == "true"
    touch = fake.ask if side == "BUY" else fake.bid
    if not reduce_only and quantity * (price if kind == "LIMIT" else touch) < MIN_NOTIONAL:
        return binance_error(-4164, "Order's notional must be no smaller than 5 (unless you choose reduce only).")
    if faults.order_reject_count > 0:
        faults.order_reject_count -= 1
        return binance_error(-2019, "Margin is insufficient.")
    fills = kind == "MARKET" or (side == "BUY" and price >= fake.ask) or (side == "SELL" and price <= fake.bid)
    ioc = params.get("timeInForce") == "IOC"
    executed = quantity if fills else Decimal(0)
    if fills and faults.order_partial_count > 0:
        faults.order_partial_count -= 1
        executed = max((quantity * faults.order_partial_ratio // STEP) * STEP, STEP)
    if executed == quantity:
        status = "FILLED"
    elif ioc:
        status = "EXPIRED"  # what an IOC does not fill at once expires
    else:
        status = "PARTIALLY_FILLED" if executed else "NEW"
    ts = fake.server_ms()
    order = {
        "orderId": next(fake.order_ids),
        "symbol": SYMBOL,
        "status": status,
        "clientOrderId": client_id,
        "price": str(price) if kind == "LIMIT" else "0",
        "avgPrice": str(touch) if executed else "0",
        "origQty": str(quantity),
        "executedQty": str(executed),
        "cumQty": str(executed),
        "cumQuote": str(executed * touch),
        "timeInForce": params.get("timeInForce", "GTC"),
        "type": kind,
        "reduceOnly": reduce_only,
        "closePosition": False,
        "side": side,
        "positionSide": "BOTH",
        "stopPrice": "0",
        "workingType": "CONTRACT_PRICE",
        "priceProtect": False,
        "origType": kind,
        "priceMatch": "NONE",
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "goodTillDate": 0,
        "time": ts,
        "updateTime": ts,
    }
    fake.orders.append(order)
    if executed:
        for trade in fake.execute(order, executed, touch):
            await fake.push_private(fake.order_update_event(order, execution="TRADE", last_qty=executed, trade=trade))
        if status == "EXPIRED":
            await fake.push_private(fake.order_update_event(order, execution="EXPIRED", last_qty=Decimal(0)))
        await fake.push_private(fake.account_update_event("ORDER"))
    else:
        await fake.push_private(fake.order_update_event(order, execution="NEW", last_qty=Decimal(0)))
    # The order is on the book: whatever happens to the answer now, the venue has it.
    if faults.order_timeout_count > 0:
        faults.order_timeout_count -= 1
        await asyncio.sleep(faults.order_timeout_s)
    if faults.order_drop_after_accept_count > 0:
        faults.order_drop_after_accept_count -= 1
        return await drop_connection(request)
    if faults.order_error_after_accept_count > 0:
        faults.order_error_after_accept_count -= 1
        return web.Response(status=503, text="Service Unavailable")
    return web.json_response(order_json(order))


async def drop_connection(request: web.Request) -> web.StreamResponse:
    """Close the socket without an answer (what a proxy or a network fault does mid-request)."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    return web.Response(status=204)  # never written: the transport is gone


def find_order(fake: FakeBinance, params: dict[str, str]) -> dict[str, Any] | None:
    if "origClientOrderId" in params:
        return fake.by_client_id(params["origClientOrderId"])
    if "orderId" in params:
        wanted = int(params["orderId"])
        return next((order for order in fake.orders if order["orderId"] == wanted), None)
    return None


async def get_order(request: web.Request) -> web.Response:
    fake = fake_of(request)
    params = await signed_params(request, fake)
    if isinstance(params, web.Response):
        return params
    if "orderId" not in params and "origClientOrderId" not in params:
        return binance_error(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
    order = find_order(fake, params)
    if order is None:
        return binance_error(-2013, "Order does not exist.")
    return web.json_response(order_json(order))


async def delete_order(request: web.Request) -> web.Response:
    fake = fake_of(request)
    params = await signed_params(request, fake)
    if isinstance(params, web.Response):
        return params
    order = find_order(fake, params)
    if order is None or order["status"] not in ("NEW", "PARTIALLY_FILLED"):
        return binance_error(-2011, "Unknown order sent.")
    order["status"] = "CANCELED"
    order["updateTime"] = fake.server_ms()
    await fake.push_private(fake.order_update_event(order, execution="CANCELED", last_qty=Decimal(0)))
    return web.json_response(order_json(order))


async def get_open_orders(request: web.Request) -> web.Response:
    fake = fake_of(request)
    params = await signed_params(request, fake)
    if isinstance(params, web.Response):
        return params
    return web.json_response([order_json(order) for order in fake.orders if order["status"] == "NEW"])


# --- WebSocket -------------------------------------------------------------------------------------------------
async def public_socket(request: web.Request) -> web.StreamResponse:
    fake = fake_of(request)
    if time.time() < fake.faults.refuse_ws_until:
        return web.Response(status=503, text="refused by the fake")
    socket = web.WebSocketResponse(heartbeat=None)
    await socket.prepare(request)
    fake.public_sockets[socket] = set()
    try:
        async for message in socket:
            if message.type != WSMsgType.TEXT:
                continue
            command = json.loads(message.data)
            streams = fake.public_sockets[socket]
            if command.get("method") == "SUBSCRIBE":
                streams.update(command.get("params", []))
            elif command.get("method") == "UNSUBSCRIBE":
                streams.difference_update(command.get("params", []))
            await socket.send_str(json.dumps({"result": None, "id": command.get("id")}))
    finally:
        fake.public_sockets.pop(socket, None)
    return socket


async def private_socket(request: web.Request) -> web.StreamResponse:
    fake = fake_of(request)
    if time.time() < fake.faults.refuse_ws_until:
        return web.Response(status=503, text="refused by the fake")
    key = request.query.get("listenKey", "")
    if key not in fake.listen_keys:
        return web.Response(status=400, text="invalid listenKey")
    socket = web.WebSocketResponse(heartbeat=None)
    await socket.prepare(request)
    fake.private_sockets[socket] = key
    try:
        async for _ in socket:
            pass
    finally:
        fake.private_sockets.pop(socket, None)
    return socket


# --- control API -----------------------------------------------------------------------------------------------
async def control_state(request: web.Request) -> web.Response:
    fake = fake_of(request)
    since = float(request.query.get("since", "0"))
    counts = Counter(f"{method} {path}" for at, method, path in fake.requests if at >= since)
    return web.json_response(
        {
            "orders": [order_json(order) for order in fake.orders],
            "requests": dict(counts),
            "request_total": sum(counts.values()),
            "public_sockets": len(fake.public_sockets),
            "subscribed_sockets": sum(1 for streams in fake.public_sockets.values() if streams),
            "private_sockets": len(fake.private_sockets),
            "position_amt": str(fake.position_amt),
            "tradfi_signed": fake.tradfi_signed,
        }
    )


async def control_config(request: web.Request) -> web.Response:
    """Set plain attributes (numbers and prices as strings, `api_keys` as a dict, `duplicate_policy`...)."""
    fake = fake_of(request)
    for name, value in (await request.json()).items():
        current = getattr(fake, name)
        setattr(fake, name, Decimal(value) if isinstance(current, Decimal) else value)
    return web.json_response({"ok": True})


async def control_book(request: web.Request) -> web.Response:
    fake = fake_of(request)
    body = await request.json()
    for name in ("bid", "ask", "bid_qty", "ask_qty"):
        if name in body:
            setattr(fake, name, Decimal(body[name]))
    fake.book_update_id += 1
    sent = 0
    if body.get("push", True):
        sent = await fake.push_public(f"{SYMBOL.lower()}@bookTicker", fake.book_ticker_event())
    return web.json_response({"sent": sent, "update_id": fake.book_update_id})


async def control_arm(request: web.Request) -> web.Response:
    fake = fake_of(request)
    body = await request.json()
    faults = fake.faults
    fault = body["fault"]
    count = int(body.get("count", 1))
    if fault == "rate_limit":
        faults.rate_limit_count = count
        faults.rate_limit_status = int(body.get("status", 429))
        faults.rate_limit_retry_after = int(body.get("retry_after", 1))
    elif fault == "clock":
        faults.clock_error_count = count
    elif fault == "tradfi_unsigned":
        fake.tradfi_signed = False
    elif fault == "order_timeout":
        faults.order_timeout_count = count
        faults.order_timeout_s = float(body.get("seconds", 5))
    elif fault == "order_drop_after_accept":
        faults.order_drop_after_accept_count = count
    elif fault == "order_drop_before_accept":
        faults.order_drop_before_accept_count = count
    elif fault == "order_error_after_accept":
        faults.order_error_after_accept_count = count
    elif fault == "order_reject":
        faults.order_reject_count = count
    elif fault == "endpoint_error":
        faults.endpoint_errors.append(
            {
                "path": str(body["path"]),
                "method": body.get("method"),
                "code": int(body["code"]),
                "msg": str(body["msg"]),
                "status": int(body.get("status", 400)),
                "count": count,
            }
        )
    elif fault == "order_partial":
        faults.order_partial_count = count
        faults.order_partial_ratio = Decimal(str(body.get("ratio", "0.5")))
    elif fault == "trades_slow":
        faults.trades_slow_count = count
        faults.trades_slow_s = float(body.get("seconds", 5))
    else:
        return web.json_response({"error": f"unknown fault {fault}"}, status=400)
    return web.json_response({"ok": True})


async def control_drop(request: web.Request) -> web.Response:
    """Close every WebSocket (public and private); refuse new ones for `refuse_s` seconds."""
    fake = fake_of(request)
    body = await request.json() if request.can_read_body else {}
    fake.faults.refuse_ws_until = time.time() + float(body.get("refuse_s", 0))
    sockets = list(fake.public_sockets) + list(fake.private_sockets)
    for socket in sockets:
        with contextlib.suppress(Exception):
            await socket.close(code=1006 if body.get("abnormal") else 1001)
    return web.json_response({"closed": len(sockets)})


async def control_user_event(request: web.Request) -> web.Response:
    """Push a raw user-data event to every user stream."""
    fake = fake_of(request)
    return web.json_response({"sent": await fake.push_private(await request.json())})


async def control_liquidation(request: web.Request) -> web.Response:
    """The venue liquidates the whole position: a LIQUIDATION market order fills (client id `autoclose-…`), the
    position goes flat, and ORDER_TRADE_UPDATE then ACCOUNT_UPDATE are pushed, as Binance does."""
    fake = fake_of(request)
    body = await request.json() if request.can_read_body else {}
    if fake.position_amt == 0:
        return web.json_response({"error": "no position to liquidate"}, status=400)
    side = "SELL" if fake.position_amt > 0 else "BUY"
    quantity = abs(fake.position_amt)
    price = Decimal(body.get("price", str(fake.bid if side == "SELL" else fake.ask)))
    ts = fake.server_ms()
    order = {
        "orderId": next(fake.order_ids),
        "symbol": SYMBOL,
        "status": "FILLED",
        "clientOrderId": f"autoclose-{ts}",
        "price": str(price),
        "avgPrice": str(price),
        "origQty": str(quantity),
        "executedQty": str(quantity),
        "cumQty": str(quantity),
        "cumQuote": str(quantity * price),
        "timeInForce": "IOC",
        "type": "LIQUIDATION",
        "reduceOnly": True,
        "closePosition": False,
        "side": side,
        "positionSide": "BOTH",
        "stopPrice": "0",
        "workingType": "CONTRACT_PRICE",
        "priceProtect": False,
        "origType": "LIQUIDATION",
        "priceMatch": "NONE",
        "selfTradePreventionMode": "NONE",
        "goodTillDate": 0,
        "time": ts,
        "updateTime": ts,
    }
    fake.orders.append(order)
    trade = fake.trade(order, quantity, price, maker=False, cumulative=quantity)
    event = fake.order_update_event(order, execution="CALCULATED", last_qty=quantity, trade=trade)
    sent = await fake.push_private(event)
    sent += await fake.push_private(fake.account_update_event("ORDER"))
    return web.json_response({"sent": sent, "order": order_json(order)})


async def control_clock(request: web.Request) -> web.Response:
    """Move the venue's clock forward by `advance_s` seconds (its server time, every record's time), settling the
    funding times crossed (the middleware settles before this runs; this settles after the move). Signed requests
    of a client synced before the move answer -1021 until it syncs its time again, as on a real clock jump."""
    fake = fake_of(request)
    body = await request.json()
    fake.server_offset_ms += int(float(body.get("advance_s", 0)) * 1000)
    booked = fake.settle_funding()
    for row in booked:
        await fake.push_private(fake.funding_update_event(row))
    return web.json_response({"server_ms": fake.server_ms(), "funding_booked": booked})


async def control_bnb_commission(request: web.Request) -> web.Response:
    """The next `count` trades (-1: all until reset) pay their commission in BNB; `price` sets BNBUSDT from now on
    (minutes already priced keep their price)."""
    fake = fake_of(request)
    body = await request.json()
    fake.bnb_fee_count = int(body.get("count", 1))
    if "price" in body:
        fake.bnb_price = Decimal(str(body["price"]))
    return web.json_response({"ok": True})


async def control_records(request: web.Request) -> web.Response:
    """The venue's own records, in full: trades, incomes and settled funding rates."""
    fake = fake_of(request)
    return web.json_response(
        {
            "trades": [order_json(trade) for trade in fake.trades],
            "incomes": list(fake.incomes),
            "funding_rates": list(fake.funding_history),
            "bnb_prices": {str(minute): str(price) for minute, price in fake.bnb_prices.items()},
            "server_ms": fake.server_ms(),
        }
    )


async def control_reset(request: web.Request) -> web.Response:
    fake = fake_of(request)
    fresh = FakeBinance()
    for name in ("orders", "incomes", "requests", "listen_keys", "trades", "funding_history", "bnb_prices"):
        getattr(fake, name).clear()
    for name in (
        "api_keys", "server_offset_ms", "delivery_date", "contract_type", "bid", "ask", "bid_qty", "ask_qty",
        "mark_price", "index_price", "funding_rate", "position_amt", "entry_price", "liquidation_price",
        "dual_side", "leverage", "brackets", "notional_coef", "adl_quantile", "leverage_bracket_answer",
        "margin_type", "usdc_bid", "usdc_ask", "tradfi_signed", "duplicate_policy", "wallet_balance", "maker_fee",
        "taker_fee", "funding_interval_hours", "bnb_fee_count", "bnb_price", "bnb_discount", "trades_per_fill",
    ):  # fmt: skip
        setattr(fake, name, getattr(fresh, name))
    fake.funding_settled_ms = fake.last_funding_ms(fake.server_ms())
    fake.faults = Faults()
    return web.json_response({"ok": True})


def build_app(fake: FakeBinance | None = None) -> web.Application:
    app = web.Application(middlewares=[venue_middleware])
    app[FAKE_KEY] = fake or FakeBinance()
    routes = [
        web.get("/fapi/v1/ping", get_ping),
        web.get("/fapi/v1/time", get_time),
        web.get("/fapi/v1/exchangeInfo", get_exchange_info),
        web.get("/fapi/v1/depth", get_depth),
        web.get("/fapi/v1/ticker/bookTicker", get_book_ticker),
        web.get("/fapi/v1/premiumIndex", get_premium_index),
        web.get("/fapi/v1/fundingInfo", get_funding_info),
        web.get("/fapi/v1/commissionRate", get_commission_rate),
        web.get("/fapi/v2/balance", get_balance),
        web.get("/fapi/v3/balance", get_balance),
        web.get("/fapi/v2/account", get_account),
        web.get("/fapi/v3/account", get_account),
        web.get("/fapi/v2/positionRisk", get_position_risk),
        web.get("/fapi/v3/positionRisk", get_position_risk),
        web.get("/fapi/v1/leverageBracket", get_leverage_bracket),
        web.get("/fapi/v1/positionSide/dual", get_position_mode),
        web.get("/fapi/v1/symbolConfig", get_symbol_config),
        web.get("/fapi/v1/income", get_income),
        web.get("/fapi/v1/userTrades", get_user_trades),
        web.get("/fapi/v1/fundingRate", get_funding_rate),
        web.get("/fapi/v1/klines", get_klines),
        web.post("/fapi/v1/stock/contract", post_tradfi_contract),
        web.post("/fapi/v1/listenKey", listen_key),
        web.put("/fapi/v1/listenKey", listen_key),
        web.delete("/fapi/v1/listenKey", listen_key),
        web.post("/fapi/v1/order", post_order),
        web.post("/fapi/v1/order/test", post_order_test),
        web.get("/fapi/v1/order", get_order),
        web.delete("/fapi/v1/order", delete_order),
        web.get("/fapi/v1/openOrders", get_open_orders),
        web.get("/public/ws", public_socket),
        web.get("/public/ws/{stream}", public_socket),
        web.get("/market/ws", public_socket),
        web.get("/market/ws/{stream}", public_socket),
        web.get("/ws", public_socket),
        web.get("/ws/{stream}", public_socket),
        web.get("/private/ws", private_socket),
        web.get("/_control/state", control_state),
        web.post("/_control/config", control_config),
        web.post("/_control/book", control_book),
        web.post("/_control/arm", control_arm),
        web.post("/_control/drop", control_drop),
        web.post("/_control/user_event", control_user_event),
        web.post("/_control/liquidation", control_liquidation),
        web.post("/_control/reset", control_reset),
        web.post("/_control/clock", control_clock),
        web.post("/_control/bnb_commission", control_bnb_commission),
        web.get("/_control/records", control_records),
    ]
    app.add_routes(routes)
    return app


async def serve(port: int) -> None:
    runner = web.AppRunner(build_app(), access_log=None, handle_signals=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    server = site._server
    assert server is not None
    bound = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    print(f"LISTENING {bound}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed as LISTENING <port>)")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port))
    sys.exit(0)


if __name__ == "__main__":
    main()
