"""A simulated MetaTrader 5 terminal, shaped like the `MetaTrader5` package (VENUES.md), priced by the simulated
gold market of `simulated.py`.

It is the `sim` backend of the MT5 gateway and, served over rpyc classic, the terminal behind the bridge fake of
the tests (tests/fakes/mt5_bridge.py): the same functions, constants and result structures (named tuples with
`_asdict()`), times as the broker's server time ("New York close": GMT+2, GMT+3 under US daylight saving),
`last_error()` codes, and the terminal's refusals — `order_send` accepts a real `dict` only (a dict built on the
client's side of an rpyc bridge arrives as a proxy and is refused, as the real extension does), a filling mode
outside the symbol's `filling_mode` answers 10030, a long comment is refused.

Operators of the demo and the tests script it through the `qa_*` functions: configuration (accounts, netting,
AutoTrading, filling modes, a closed market), faults (retcodes, an answer lost after execution, a stalled answer,
a hung terminal) and venue-side changes (a stop-out, a manual trade in the terminal).
"""

from __future__ import annotations

import threading
import time
from collections import namedtuple
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from quantarb import clock
from trading.domain.calendar import SessionCalendar, demo_always_open
from trading.domain.fixed import PRICE_SCALE
from trading.domain.margin import CalcMode, Mt5MarginSpec, mt5_margin_in_account_currency
from trading.venues.simulated import SimulatedGoldMarket

# --- the package's structures (field order as MetaTrader5 5.0.x; the gateway reads them by name) -------------
TerminalInfo = namedtuple(
    "TerminalInfo",
    "community_account community_connection connected dlls_allowed trade_allowed tradeapi_disabled email_enabled "
    "ftp_enabled notifications_enabled mqid build maxbars codepage ping_last community_balance retransmission "
    "company name language path data_path commondata_path",
)
AccountInfo = namedtuple(
    "AccountInfo",
    "login trade_mode leverage limit_orders margin_so_mode trade_allowed trade_expert margin_mode currency_digits "
    "fifo_close balance credit profit equity margin margin_free margin_level margin_so_call margin_so_so "
    "margin_initial margin_maintenance assets liabilities commission_blocked name server currency company",
)
SymbolInfo = namedtuple(
    "SymbolInfo",
    "custom chart_mode select visible session_deals session_buy_orders session_sell_orders volume volumehigh "
    "volumelow time digits spread spread_float ticks_bookdepth trade_calc_mode trade_mode start_time "
    "expiration_time trade_stops_level trade_freeze_level trade_exemode swap_mode swap_rollover3days "
    "margin_hedged_calc expiration_mode filling_mode order_mode order_gtc_mode option_mode option_right bid "
    "bidhigh bidlow ask askhigh asklow last lasthigh lastlow volume_real point trade_tick_value "
    "trade_tick_value_profit trade_tick_value_loss trade_tick_size trade_contract_size trade_accrued_interest "
    "trade_face_value trade_liquidity_rate volume_min volume_max volume_step volume_limit swap_long swap_short "
    "margin_initial margin_maintenance currency_base currency_profit currency_margin path description name",
)
Tick = namedtuple("Tick", "time bid ask last volume time_msc flags volume_real")
TradeRequest = namedtuple(
    "TradeRequest",
    "action magic order symbol volume price stoplimit sl tp deviation type type_filling type_time expiration "
    "comment position position_by",
)
OrderSendResult = namedtuple(
    "OrderSendResult", "retcode deal order volume price bid ask comment request_id retcode_external request"
)
TradeOrder = namedtuple(
    "TradeOrder",
    "ticket time_setup time_setup_msc time_done time_done_msc time_expiration type type_time type_filling state "
    "magic position_id position_by_id reason volume_initial volume_current price_open sl tp price_current "
    "price_stoplimit symbol comment external_id",
)
TradeDeal = namedtuple(
    "TradeDeal",
    "ticket order time time_msc type entry magic position_id reason volume price commission swap profit fee "
    "symbol comment external_id",
)
TradePosition = namedtuple(
    "TradePosition",
    "ticket time time_msc time_update time_update_msc type magic identifier reason volume price_open sl tp "
    "price_current swap profit symbol comment external_id",
)

# last_error() codes of the package
RES_S_OK = 1
RES_E_FAIL = -1
RES_E_INVALID_PARAMS = -2
RES_E_NOT_FOUND = -4
RES_E_AUTH_FAILED = -6
RES_E_INTERNAL_FAIL_CONNECT = -10004
RES_E_INTERNAL_FAIL_TIMEOUT = -10005

DEFAULT_SYMBOL = "XAUUSD.s"
# How the simulated broker margins its gold (MetaTrader's "CFD Leverage" mode: lots × contract size × price ÷ the
# account's leverage × the margin rate, in USD), at 1:100. Paper MT5 accounts are margined by the same terms.
DEFAULT_MARGIN_TERMS: dict[str, Any] = {
    "trade_calc_mode": int(CalcMode.CFDLEVERAGE),
    "margin_rate": 1.0,
    "leverage": 100,
    "currency_margin": "USD",
}


class SimulatedMetaTrader5:
    """One simulated terminal with one logged-in account and one symbol. Thread-safe (an rpyc server serves each
    client on its own thread)."""

    # constants the gateway uses, with the package's values
    TRADE_ACTION_DEAL = 1
    ORDER_TYPE_BUY = 0
    ORDER_TYPE_SELL = 1
    ORDER_FILLING_FOK = 0
    ORDER_FILLING_IOC = 1
    ORDER_FILLING_RETURN = 2
    ORDER_TIME_GTC = 0
    ORDER_STATE_FILLED = 4
    ORDER_STATE_REJECTED = 6
    POSITION_TYPE_BUY = 0
    POSITION_TYPE_SELL = 1
    DEAL_TYPE_BUY = 0
    DEAL_TYPE_SELL = 1
    DEAL_TYPE_BALANCE = 2
    DEAL_ENTRY_IN = 0
    DEAL_ENTRY_OUT = 1
    DEAL_REASON_CLIENT = 0
    DEAL_REASON_EXPERT = 3
    DEAL_REASON_SO = 6
    ACCOUNT_MARGIN_MODE_RETAIL_NETTING = 0
    ACCOUNT_MARGIN_MODE_RETAIL_HEDGING = 2
    ACCOUNT_STOPOUT_MODE_PERCENT = 0
    SYMBOL_TRADE_MODE_FULL = 4
    SYMBOL_SWAP_MODE_POINTS = 1
    TRADE_RETCODE_REQUOTE = 10004
    TRADE_RETCODE_DONE = 10009
    TRADE_RETCODE_INVALID_VOLUME = 10014
    TRADE_RETCODE_MARKET_CLOSED = 10018
    TRADE_RETCODE_NO_MONEY = 10019
    TRADE_RETCODE_PRICE_CHANGED = 10020
    TRADE_RETCODE_CLIENT_DISABLES_AT = 10027
    TRADE_RETCODE_INVALID_FILL = 10030
    TRADE_RETCODE_POSITION_CLOSED = 10036

    __version__ = "5.0.6231-sim"

    def __init__(self, *, seed: int = 7, calendar: SessionCalendar | None = None) -> None:
        self._lock = threading.RLock()
        self._seed = seed
        self._calendar = calendar or demo_always_open()
        self.qa_reset()

    # --- scripting -----------------------------------------------------------------------------------------
    def qa_reset(self) -> None:
        """Back to a fresh terminal: default configuration, no faults, no orders, deals or positions."""
        with self._lock:
            self._market = SimulatedGoldMarket(
                seed=self._seed, perp_source="sim:perp", cfd_source="sim:cfd", calendar=self._calendar
            )
            self._config: dict[str, Any] = {
                "accounts": {},  # login → (password, server); empty: any login is accepted
                "symbol": DEFAULT_SYMBOL,
                "margin_mode": self.ACCOUNT_MARGIN_MODE_RETAIL_HEDGING,
                "account_trade_allowed": True,
                "terminal_trade_allowed": True,
                "filling_mode": 2,  # IOC only: a request without IOC answers 10030, as on IOC-only brokers
                "contract_size": 100.0,
                "volume_min": 0.01,
                "volume_step": 0.01,
                "volume_max": 100.0,
                "digits": 2,
                **DEFAULT_MARGIN_TERMS,
                "balance": 10_000.0,
                "currency": "USD",
                "currency_profit": "USD",
                "margin_so_call": 100.0,
                "margin_so_so": 50.0,
                "swap_mode": self.SYMBOL_SWAP_MODE_POINTS,
                "swap_long": -55.2,
                "swap_short": 21.4,
                "swap_rollover3days": 3,
                # What the broker charges per deal, in the account currency (MT5 reports both negative when paid):
                # `commission` per lot traded, and a flat `fee` per deal.
                "commission_per_lot": 0.0,
                "deal_fee": 0.0,
                "market_open": None,  # None: follow the calendar; False: closed (weekend, holiday) until reset
                "comment_max": 31,
                "ping_us": 1800,
                "build": 5120,
            }
            self._faults: list[dict[str, Any]] = []
            self._hung_calls = 0  # calls left that time out (hang_after_send)
            self._initialized = False
            self._login: int | None = None
            self._error: tuple[int, str] = (RES_S_OK, "Success")
            self._next_ticket = 1_000_000
            self._orders: list[Any] = []
            self._deals: list[Any] = []
            self._positions: dict[int, dict[str, Any]] = {}
            self._last_tick: Any = None
            self._balance = float(self._config["balance"])
            # The terminal's clock runs `_shift` ahead of quantarb's (qa_advance), and the rollovers (server
            # midnights) up to `_rolled_to` have been charged.
            self._shift = timedelta(0)
            self._rolled_to = self._server_wall(self._now()).date()
            self.qa_sent: list[dict[str, Any]] = []  # every order request that reached the terminal

    def qa_configure(self, **values: Any) -> None:
        with self._lock:
            unknown = set(values) - set(self._config)
            if unknown:
                raise KeyError(f"unknown settings: {sorted(unknown)}")
            if "accounts" in values:
                values["accounts"] = {int(k): tuple(v) for k, v in dict(values["accounts"]).items()}
            self._config.update(values)
            if "balance" in values:
                self._balance = float(values["balance"])

    def qa_arm(self, fault: str, count: int = 1, **options: Any) -> None:
        """Arm a fault for the next `count` calls it applies to (-1: until `qa_reset`).

        `retcode` (option `code`): order_send answers that retcode without executing. `lose_answer`: the order is
        executed, then the call answers None with last_error -10005 (an IPC timeout). `stall` (option `seconds`):
        the order is executed and the answer sent that much later (a bridge client times out first).
        `drop_request`: order_send answers None with -10005 and executes nothing (lost on the way in).
        `ipc_timeout`: every call answers None with -10005 (a hung terminal).
        `hang_after_send` (option `calls`, default 1): the order is executed and answered, then the next `calls`
        calls of any kind answer None with -10005 (the terminal hangs right after a trade).
        """
        if fault not in ("retcode", "lose_answer", "stall", "drop_request", "ipc_timeout", "hang_after_send"):
            raise ValueError(f"unknown fault {fault!r}")
        with self._lock:
            self._faults.append({"fault": fault, "count": int(count), **dict(options)})

    def qa_manual_trade(self, side: str = "buy", volume: float = 0.1) -> int:
        """Someone opens a position by hand in the terminal (magic 0, reason client). Returns its ticket."""
        with self._lock:
            kind = self.ORDER_TYPE_BUY if side == "buy" else self.ORDER_TYPE_SELL
            request = {"action": 1, "symbol": self._config["symbol"], "volume": float(volume), "type": kind}
            return int(self._execute(request, reason=self.DEAL_REASON_CLIENT).deal)

    def qa_balance(self, amount: float, comment: str = "") -> int:
        """The broker books a deposit (> 0) or a withdrawal (< 0) on the account: a DEAL_TYPE_BALANCE deal of no
        symbol whose profit is the amount. Returns its ticket."""
        with self._lock:
            server_s = self._server_seconds(self._now())
            ticket = self._ticket()
            self._balance += float(amount)
            self._deals.append(
                TradeDeal(
                    ticket, 0, int(server_s), int(server_s * 1000), self.DEAL_TYPE_BALANCE, 0, 0, 0, 0,
                    0.0, 0.0, 0.0, 0.0, round(float(amount), 2), 0.0, "", comment, "",
                )
            )  # fmt: skip
            return ticket

    def qa_rollover(self, nights: int = 1) -> None:
        """A rollover now, charging `nights` nights whatever the day (the clock-driven rollovers of `qa_advance`
        and of time passing follow the broker's calendar)."""
        with self._lock:
            self._charge_swap(nights)

    def qa_advance(self, seconds: float) -> None:
        """Move the terminal's clock (its server time, every deal's time, its rollovers) forward by `seconds`:
        every rollover crossed charges the positions held then, as time passing would."""
        with self._lock:
            self._shift += timedelta(seconds=float(seconds))
            self._settle_rollovers()

    def qa_server_time(self) -> int:
        """The terminal's server time now, in ms (what deal times are stamped with)."""
        with self._lock:
            return int(self._server_seconds(self._now()) * 1000)

    def _charge_swap(self, nights: int) -> None:
        """Every position is charged (or paid) its swap, `swap_long`/`swap_short` points per lot per night
        (SYMBOL_SWAP_MODE_POINTS), in the account currency, kept on the position until it closes."""
        point = 10 ** -int(self._config["digits"])
        for position in self._positions.values():
            long = position["type"] == self.POSITION_TYPE_BUY
            rate = self._config["swap_long"] if long else self._config["swap_short"]
            charge = rate * point * float(self._config["contract_size"]) * position["volume"] * nights
            position["swap"] = position.get("swap", 0.0) + charge

    def _settle_rollovers(self) -> None:
        """The broker's rollovers at each server midnight passed since the last one charged: the day that ends
        (Monday to Friday; none over the weekend) charges one night, three on `swap_rollover3days` (MT5 weekday,
        0 = Sunday), which pays for the weekend. Run before every call, so the positions charged are those held at
        the midnight."""
        today = self._server_wall(self._now()).date()
        while self._rolled_to < today:
            ended = self._rolled_to
            self._rolled_to = ended + timedelta(days=1)
            if ended.weekday() >= 5:
                continue
            mt5_weekday = (ended.weekday() + 1) % 7
            self._charge_swap(3 if mt5_weekday == int(self._config["swap_rollover3days"]) else 1)

    def qa_stop_out(self) -> list[int]:
        """The broker stops the account out: every position is closed at market (deal reason SO). Returns the
        closed position tickets."""
        with self._lock:
            closed = []
            level = self._margin_level()
            for ticket in list(self._positions):
                position = self._positions[ticket]
                opposite = self.ORDER_TYPE_SELL if position["type"] == self.POSITION_TYPE_BUY else self.ORDER_TYPE_BUY
                request = {
                    "action": 1,
                    "symbol": position["symbol"],
                    "volume": position["volume"],
                    "type": opposite,
                    "position": ticket,
                    "comment": f"[so {level:.2f}%]",
                }
                self._execute(request, reason=self.DEAL_REASON_SO)
                closed.append(ticket)
            return closed

    def qa_state(self) -> tuple[tuple[str, Any], ...]:
        """Plain values for tests: the sent requests, orders, deals and positions (tuples of pairs)."""
        with self._lock:
            return (
                ("sent", tuple(tuple(sorted(r.items())) for r in self.qa_sent)),
                ("orders", tuple(tuple(o._asdict().items()) for o in self._orders)),
                ("deals", tuple(tuple(d._asdict().items()) for d in self._deals)),
                ("positions", tuple(tuple(p._asdict().items()) for p in self._position_tuples())),
                ("balance", self._balance),
            )

    # --- connection ------------------------------------------------------------------------------------------
    def initialize(self, path: str | None = None, **kwargs: Any) -> bool:
        with self._lock:
            if self._hung():
                return False
            self._initialized = True
            if "login" in kwargs and kwargs["login"] is not None:
                return self.login(kwargs["login"], password=kwargs.get("password"), server=kwargs.get("server"))
            self._login = self._login or 5_000_001
            self._ok(None)
            return True

    def login(self, login: int, password: str | None = None, server: str | None = None, timeout: int = 60_000) -> bool:
        with self._lock:
            if self._hung():
                return False
            if not self._initialized:
                self._fail(RES_E_FAIL, "Terminal: Not initialized")
                return False
            accounts = self._config["accounts"]
            if accounts and accounts.get(int(login)) != (password, server):
                self._login = None
                self._error = (RES_E_AUTH_FAILED, "Terminal: Authorization failed")
                return False
            self._login = int(login)
            self._ok(None)
            return True

    def shutdown(self) -> bool:
        with self._lock:
            self._initialized = False
            return True

    def last_error(self) -> tuple[int, str]:
        with self._lock:
            return self._error

    def version(self) -> tuple[int, int, str] | None:
        return (500, self._config["build"], "20 Nov 2026")

    def terminal_info(self) -> Any:
        with self._lock:
            if not self._ready():
                return None
            config = self._config
            return self._ok(
                TerminalInfo(
                    False,
                    False,
                    True,
                    False,
                    bool(config["terminal_trade_allowed"]),
                    False,
                    False,
                    False,
                    False,
                    False,
                    config["build"],
                    100000,
                    0,
                    config["ping_us"],
                    0.0,
                    0.0,
                    "Simulated Markets Ltd",
                    "Simulated MetaTrader 5",
                    "English",
                    r"C:\MT5\sim",
                    r"C:\MT5\sim\data",
                    r"C:\MT5\common",
                )
            )

    def account_info(self) -> Any:
        with self._lock:
            if not self._ready():
                return None
            config = self._config
            profit = sum(self._profit(p) for p in self._positions.values())
            equity = self._balance + profit
            margin = self._margin()
            level = equity / margin * 100 if margin else 0.0
            return self._ok(
                AccountInfo(
                    self._login,
                    0,
                    config["leverage"],
                    0,
                    self.ACCOUNT_STOPOUT_MODE_PERCENT,
                    bool(config["account_trade_allowed"]),
                    True,
                    config["margin_mode"],
                    2,
                    False,
                    round(self._balance, 2),
                    0.0,
                    round(profit, 2),
                    round(equity, 2),
                    round(margin, 2),
                    round(equity - margin, 2),
                    round(level, 2),
                    config["margin_so_call"],
                    config["margin_so_so"],
                    0.0,
                    0.0,
                    0.0,
                    0.0,
                    0.0,
                    "Sim Trader",
                    "Sim-Server",
                    config["currency"],
                    "Simulated Markets Ltd",
                )
            )

    # --- market data -----------------------------------------------------------------------------------------
    def symbol_select(self, symbol: str, enable: bool = True) -> bool:
        with self._lock:
            if not self._ready():
                return False
            if symbol != self._config["symbol"]:
                self._fail(RES_E_NOT_FOUND, "Terminal: Not found")
                return False
            self._ok(None)
            return True

    def symbol_info(self, symbol: str) -> Any:
        with self._lock:
            if not self._ready():
                return None
            if symbol != self._config["symbol"]:
                return self._fail(RES_E_NOT_FOUND, "Terminal: Not found")
            config = self._config
            tick = self._tick()
            digits = config["digits"]
            point = 10.0**-digits
            return self._ok(
                SymbolInfo(
                    False,
                    0,
                    True,
                    True,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    tick.time,
                    digits,
                    round((tick.ask - tick.bid) / point),
                    True,
                    10,
                    config["trade_calc_mode"],
                    self.SYMBOL_TRADE_MODE_FULL,
                    0,
                    0,
                    0,
                    0,
                    2,
                    config["swap_mode"],
                    config["swap_rollover3days"],
                    0.0,
                    15,
                    config["filling_mode"],
                    127,
                    0,
                    0,
                    0,
                    tick.bid,
                    tick.bid,
                    tick.bid,
                    tick.ask,
                    tick.ask,
                    tick.ask,
                    0.0,
                    0.0,
                    0.0,
                    0.0,
                    point,
                    1.0,
                    1.0,
                    1.0,
                    point,
                    config["contract_size"],
                    0.0,
                    0.0,
                    0.0,
                    config["volume_min"],
                    config["volume_max"],
                    config["volume_step"],
                    0.0,
                    config["swap_long"],
                    config["swap_short"],
                    0.0,
                    0.0,
                    "XAU",
                    config["currency_profit"],
                    config["currency_margin"],
                    "Metals\\" + symbol,
                    "Gold vs US Dollar",
                    symbol,
                )
            )

    def symbol_info_tick(self, symbol: str) -> Any:
        with self._lock:
            if not self._ready():
                return None
            if symbol != self._config["symbol"]:
                return self._fail(RES_E_NOT_FOUND, "Terminal: Not found")
            return self._ok(self._tick())

    # --- trading ---------------------------------------------------------------------------------------------
    def order_calc_margin(self, action: int, symbol: str, volume: float, price: float) -> Any:
        """The margin `volume` lots of `symbol` would need, bought (ORDER_TYPE_BUY) or sold at `price`, in the
        account's currency; None with last_error -2 for an unknown action or a volume or price that is not
        positive, -4 for an unknown symbol (as the package answers)."""
        with self._lock:
            if not self._ready():
                return None
            if symbol != self._config["symbol"]:
                return self._fail(RES_E_NOT_FOUND, "Terminal: Not found")
            if action not in (self.ORDER_TYPE_BUY, self.ORDER_TYPE_SELL) or not volume > 0 or not price > 0:
                return self._fail(RES_E_INVALID_PARAMS, "Terminal: Invalid params")
            return self._ok(self._margin_of(float(volume), action == self.ORDER_TYPE_BUY, float(price)))

    def order_send(self, request: Any) -> Any:
        stall = 0.0
        with self._lock:
            if not self._ready():
                return None
            # The extension reads a real dict; an rpyc proxy of a client-side dict is not one.
            if type(request) is not dict:
                return self._fail(RES_E_INVALID_PARAMS, 'Invalid "request" argument')
            comment = request.get("comment", "")
            if not isinstance(comment, str) or len(comment) > self._config["comment_max"]:
                return self._fail(RES_E_INVALID_PARAMS, 'Invalid "comment" argument')
            if self._take_fault("drop_request") is not None:
                return self._fail(RES_E_INTERNAL_FAIL_TIMEOUT, "IPC timeout")
            self.qa_sent.append(dict(request))
            fault = self._take_fault("retcode")
            if fault is not None:
                return self._ok(self._answer(request, int(fault["code"])))
            result = self._execute(request, reason=self.DEAL_REASON_EXPERT)
            hang = self._take_fault("hang_after_send")
            if hang is not None:
                self._hung_calls = int(hang.get("calls", 1))
            if self._take_fault("lose_answer") is not None:
                return self._fail(RES_E_INTERNAL_FAIL_TIMEOUT, "IPC timeout")
            stalled = self._take_fault("stall")
            if stalled is not None:
                stall = float(stalled.get("seconds", 10))
            answer = self._ok(result)
        if stall:
            time.sleep(stall)
        return answer

    def orders_get(self, symbol: str | None = None, group: str | None = None, ticket: int | None = None) -> Any:
        with self._lock:
            if not self._ready():
                return None
            return self._ok(())  # market orders execute at once: nothing stays pending

    def history_orders_get(self, date_from: Any = None, date_to: Any = None, **kwargs: Any) -> Any:
        with self._lock:
            if not self._ready():
                return None
            return self._ok(tuple(self._select(self._orders, "time_setup", date_from, date_to, kwargs)))

    def history_deals_get(self, date_from: Any = None, date_to: Any = None, **kwargs: Any) -> Any:
        with self._lock:
            if not self._ready():
                return None
            return self._ok(tuple(self._select(self._deals, "time", date_from, date_to, kwargs)))

    def positions_get(self, symbol: str | None = None, group: str | None = None, ticket: int | None = None) -> Any:
        with self._lock:
            if not self._ready():
                return None
            positions = self._position_tuples()
            if ticket is not None:
                positions = [p for p in positions if p.ticket == ticket]
            if symbol is not None:
                positions = [p for p in positions if p.symbol == symbol]
            return self._ok(tuple(positions))

    # --- internals -------------------------------------------------------------------------------------------
    def _ok(self, value: Any) -> Any:
        self._error = (RES_S_OK, "Success")
        return value

    def _fail(self, code: int, message: str) -> None:
        self._error = (code, message)
        return None

    def _take_fault(self, name: str) -> dict[str, Any] | None:
        for fault in self._faults:
            if fault["fault"] == name and fault["count"] != 0:
                if fault["count"] > 0:
                    fault["count"] -= 1
                return fault
        return None

    def _hung(self) -> bool:
        if self._hung_calls > 0:
            self._hung_calls -= 1
            self._error = (RES_E_INTERNAL_FAIL_TIMEOUT, "IPC timeout")
            return True
        if self._take_fault("ipc_timeout") is not None:
            self._error = (RES_E_INTERNAL_FAIL_TIMEOUT, "IPC timeout")
            return True
        return False

    def _ready(self) -> bool:
        if self._hung():
            return False
        if not self._initialized or self._login is None:
            self._error = (RES_E_INTERNAL_FAIL_CONNECT, "IPC initialize failed, MetaTrader 5 x64 not found")
            return False
        self._settle_rollovers()
        return True

    def _now(self) -> datetime:
        return clock.now() + getattr(self, "_shift", timedelta(0))

    def _server_wall(self, at: datetime) -> datetime:
        return datetime.fromtimestamp(self._server_seconds(at), UTC).replace(tzinfo=None)

    def _server_seconds(self, at: datetime) -> float:
        """The broker's server time as seconds since the epoch (what the terminal reports), for UTC `at`."""
        return at.timestamp() + self._calendar.server_offset(at).total_seconds()

    def _open(self, at: datetime) -> bool:
        forced = self._config["market_open"]
        if forced is not None:
            return bool(forced)
        return self._market.cfd_open(int(at.timestamp() * 1000))

    def _tick(self) -> Any:
        at = self._now()
        if self._last_tick is not None and not self._open(at):
            return self._last_tick  # a closed market sends no ticks: the last one stays, ageing
        ts_ms = int(at.timestamp() * 1000)
        self._market.advance(ts_ms)
        quote = self._market.cfd_quote(ts_ms)
        server_ms = int(self._server_seconds(at) * 1000)
        digits = self._config["digits"]
        bid = round(quote.bid / PRICE_SCALE, digits)
        ask = round(quote.ask / PRICE_SCALE, digits)
        self._last_tick = Tick(server_ms // 1000, bid, ask, 0.0, 0, server_ms, 6, 0.0)
        return self._last_tick

    def _answer(self, request: dict[str, Any], retcode: int, **values: Any) -> Any:
        tick = self._last_tick or self._tick()
        fields = {name: request.get(name, 0) for name in TradeRequest._fields}
        fields["symbol"], fields["comment"] = request.get("symbol", ""), request.get("comment", "")
        base = {
            "retcode": retcode,
            "deal": 0,
            "order": 0,
            "volume": 0.0,
            "price": 0.0,
            "bid": tick.bid,
            "ask": tick.ask,
            "comment": _RETCODE_TEXT.get(retcode, "Request rejected"),
            "request_id": 0,
            "retcode_external": 0,
            "request": TradeRequest(**fields),
        }
        base.update(values)
        return OrderSendResult(**base)

    def _execute(self, request: dict[str, Any], *, reason: int) -> Any:
        config = self._config
        at = self._now()
        if request.get("action") != self.TRADE_ACTION_DEAL or request.get("symbol") != config["symbol"]:
            return self._answer(request, 10013)  # invalid request
        if not config["terminal_trade_allowed"] and reason == self.DEAL_REASON_EXPERT:
            return self._answer(request, self.TRADE_RETCODE_CLIENT_DISABLES_AT)
        if not config["account_trade_allowed"]:
            return self._answer(request, 10017)  # trade disabled
        if not self._open(at):
            return self._answer(request, self.TRADE_RETCODE_MARKET_CLOSED)
        if reason == self.DEAL_REASON_EXPERT:
            filling = int(request.get("type_filling", self.ORDER_FILLING_FOK))
            allowed = {self.ORDER_FILLING_FOK: 1, self.ORDER_FILLING_IOC: 2}.get(filling, 0)
            if not allowed & int(config["filling_mode"]):
                return self._answer(request, self.TRADE_RETCODE_INVALID_FILL)
        volume = float(request.get("volume", 0))
        steps = (volume - config["volume_min"]) / config["volume_step"]
        if volume < config["volume_min"] - 1e-9 or volume > config["volume_max"] or abs(steps - round(steps)) > 1e-6:
            return self._answer(request, self.TRADE_RETCODE_INVALID_VOLUME)
        tick = self._tick()
        kind = int(request.get("type", -1))
        price = tick.ask if kind == self.ORDER_TYPE_BUY else tick.bid
        asked = float(request.get("price") or 0)
        deviation = int(request.get("deviation") or 0)
        if asked and abs(asked - price) > deviation * 10.0 ** -config["digits"] + 1e-9:
            return self._answer(request, self.TRADE_RETCODE_REQUOTE)
        closing = int(request.get("position") or 0)
        if closing:
            position = self._positions.get(closing)
            if position is None:
                return self._answer(request, self.TRADE_RETCODE_POSITION_CLOSED)
            if abs(position["volume"] - volume) > 1e-9 or position["type"] == kind:
                return self._answer(request, self.TRADE_RETCODE_INVALID_VOLUME)
        elif self._margin() + self._margin_of(volume, kind == self.ORDER_TYPE_BUY, price) > self._equity():
            return self._answer(request, self.TRADE_RETCODE_NO_MONEY)
        server_s = self._server_seconds(at)
        server_ms = int(server_s * 1000)
        order_ticket, deal_ticket = self._ticket(), self._ticket()
        comment = str(request.get("comment", ""))
        magic = int(request.get("magic") or 0)
        profit = swap = 0.0
        commission = -round(float(config["commission_per_lot"]) * volume, 2)
        deal_fee = -round(float(config["deal_fee"]), 2)
        self._balance += commission + deal_fee
        if closing:
            position = self._positions.pop(closing)
            profit = self._profit(position, price)
            swap = round(position.get("swap", 0.0), 2)  # MT5 moves the position's swap onto the closing deal
            self._balance += profit + swap
            position_id, entry = closing, self.DEAL_ENTRY_OUT
        else:
            position_id, entry = order_ticket, self.DEAL_ENTRY_IN
            self._positions[order_ticket] = {
                "ticket": order_ticket,
                "time_ms": server_ms,
                "type": kind,
                "magic": magic,
                "reason": reason,
                "volume": volume,
                "price_open": price,
                "symbol": config["symbol"],
                "comment": comment,
            }
            if config["margin_mode"] == self.ACCOUNT_MARGIN_MODE_RETAIL_NETTING:
                self._net_positions()
        self._orders.append(
            TradeOrder(
                order_ticket,
                int(server_s),
                server_ms,
                int(server_s),
                server_ms,
                0,
                kind,
                0,
                int(request.get("type_filling", 0)),
                self.ORDER_STATE_FILLED,
                magic,
                position_id,
                0,
                reason,
                volume,
                0.0,
                price,
                0.0,
                0.0,
                price,
                0.0,
                config["symbol"],
                comment,
                "",
            )
        )
        self._deals.append(
            TradeDeal(
                deal_ticket,
                order_ticket,
                int(server_s),
                server_ms,
                kind,
                entry,
                magic,
                position_id,
                reason,
                volume,
                price,
                commission,
                swap,
                round(profit, 2),
                deal_fee,
                config["symbol"],
                comment,
                "",
            )
        )
        return self._answer(
            request, self.TRADE_RETCODE_DONE, deal=deal_ticket, order=order_ticket, volume=volume, price=price
        )

    def _net_positions(self) -> None:
        """A netting account holds one position per symbol: the new one is folded into the first."""
        tickets = sorted(self._positions)
        if len(tickets) < 2:
            return
        first, new = self._positions[tickets[0]], self._positions.pop(tickets[-1])
        signed = (1 if first["type"] == 0 else -1) * first["volume"] + (1 if new["type"] == 0 else -1) * new["volume"]
        if abs(signed) < 1e-9:
            del self._positions[tickets[0]]
            return
        first["type"] = 0 if signed > 0 else 1
        first["volume"] = round(abs(signed), 2)

    def _ticket(self) -> int:
        self._next_ticket += 1
        return self._next_ticket

    def _profit(self, position: dict[str, Any], price: float | None = None) -> float:
        tick = self._last_tick or self._tick()
        buy = position["type"] == self.POSITION_TYPE_BUY
        current = price if price is not None else (tick.bid if buy else tick.ask)
        move = current - position["price_open"] if buy else position["price_open"] - current
        return float(move * position["volume"] * self._config["contract_size"])

    def _margin_of(self, volume: float, buy: bool, price: float) -> float:
        """Margin of `volume` lots in the account's currency, by the symbol's calc mode and margin rate (the
        formulas MetaTrader documents, trading/domain/margin.py); a USD margin in a USDT account at the market's
        USDT/USD."""
        config = self._config
        rate = Decimal(str(config["margin_rate"]))
        spec = Mt5MarginSpec(
            calc_mode=CalcMode(int(config["trade_calc_mode"])),
            contract_size=Decimal(str(config["contract_size"])),
            currency_margin=str(config["currency_margin"]),
            currency_base="XAU",
            currency_profit=str(config["currency_profit"]),
            margin_rate_buy=rate,
            margin_rate_sell=rate,
        )
        profit_to_account = Decimal(1)
        if config["currency"] != config["currency_profit"]:
            profit_to_account = Decimal(1) / self._market.usd_per_usdt()
        return float(
            mt5_margin_in_account_currency(
                spec=spec,
                lots=Decimal(str(volume)),
                buy=buy,
                price=Decimal(str(price)),
                account_leverage=int(config["leverage"]),
                account_currency=str(config["currency"]),
                profit_to_account=profit_to_account,
            )
        )

    def _margin(self) -> float:
        """Margin of the open positions at the current market price (the ask for a buy, the bid for a sell)."""
        tick = self._last_tick or self._tick()
        return sum(
            self._margin_of(p["volume"], p["type"] == self.POSITION_TYPE_BUY, tick.ask if p["type"] == 0 else tick.bid)
            for p in self._positions.values()
        )

    def _equity(self) -> float:
        return self._balance + sum(self._profit(p) + float(p.get("swap", 0.0)) for p in self._positions.values())

    def _margin_level(self) -> float:
        margin = self._margin()
        return self._equity() / margin * 100 if margin else 0.0

    def _position_tuples(self) -> list[Any]:
        tick = self._last_tick or self._tick()
        return [
            TradePosition(
                p["ticket"],
                p["time_ms"] // 1000,
                p["time_ms"],
                p["time_ms"] // 1000,
                p["time_ms"],
                p["type"],
                p["magic"],
                p["ticket"],
                p["reason"],
                p["volume"],
                p["price_open"],
                0.0,
                0.0,
                tick.bid if p["type"] == 0 else tick.ask,
                round(p.get("swap", 0.0), 2),
                round(self._profit(p), 2),
                p["symbol"],
                p["comment"],
                "",
            )
            for p in self._positions.values()
        ]

    def _select(
        self, rows: list[Any], time_field: str, date_from: Any, date_to: Any, kwargs: dict[str, Any]
    ) -> list[Any]:
        """History in a window of server time (integer seconds or datetimes, as the package takes), or by ticket
        or position."""
        # As the package documents it: `ticket=` is the ORDER ticket for both calls (a deal's DEAL_ORDER),
        # `position=` the position's id.
        if "ticket" in kwargs:
            return [row for row in rows if getattr(row, "order", row.ticket) == kwargs["ticket"]]
        if "position" in kwargs:
            return [row for row in rows if row.position_id == kwargs["position"]]
        start, end = _seconds(date_from, 0), _seconds(date_to, 2**40)
        return [row for row in rows if start <= getattr(row, time_field) <= end]


def _seconds(value: Any, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, datetime):
        return int(value.replace(tzinfo=value.tzinfo or UTC).timestamp())
    return int(value)


_RETCODE_TEXT = {
    10004: "Requote",
    10009: "Request completed",
    10013: "Invalid request",
    10014: "Invalid volume",
    10017: "Trade disabled",
    10018: "Market closed",
    10019: "No money",
    10020: "Prices changed",
    10027: "AutoTrading disabled by client",
    10030: "Unsupported filling mode",
    10036: "Position already closed",
}

# Simulated terminals of this process, one per terminal instance (the `sim` backend keeps state between uses).
_TERMINALS: dict[str, SimulatedMetaTrader5] = {}
_TERMINALS_LOCK = threading.Lock()


def simulated_terminal(key: str, *, calendar: SessionCalendar | None = None) -> SimulatedMetaTrader5:
    with _TERMINALS_LOCK:
        if key not in _TERMINALS:
            _TERMINALS[key] = SimulatedMetaTrader5(seed=7 + len(_TERMINALS), calendar=calendar)
        return _TERMINALS[key]
