"""What a terminal's health probe found, as one failure class.

A probe reaches the terminal through its bridge and asks, in order, `initialize`/`terminal_info`, `account_info`
and the hedge symbol's last tick; with a supervisor agent on the host it may also know whether `terminal64.exe`
runs. `ProbeFacts` holds what it learnt as plain values (None: not learnt, e.g. a call after the one that failed);
`classify` names the one failure that explains the rest, the first in this order:

1. `bridge_down` — no bridge answered (refused, silent, not speaking rpyc): nothing else can be known.
2. `not_responding` — the agent says the terminal process is not running; or the bridge took the call but no
   answer came within the request timeout; or the package has no IPC connection to a terminal (-10000…-10004);
   or another error the package gave that no class below explains.
3. `ipc_timeout` — `last_error()` -10005: the terminal is there but did not answer in time (hung, starting,
   a dialog on screen).
4. `not_logged_in` — the login was refused (-6), no account answered, or the terminal is not connected to the
   broker's trade server.
5. `wrong_account` — logged in to another login (or server) than the account expects.
6. `autotrading_off` — the terminal's Algo Trading is off (`trade_allowed` false), the API is disabled in the
   terminal (`tradeapi_disabled`), `last_error()` -8, an order refused with retcode 10027 (client) or 10026
   (server) since the last healthy probe, or the account may not trade (through experts).
7. `ticks_stale` — during the symbol's session only: the last tick is older than `ClassifyPolicy.stale_after`
   (counted from the session's open when the session opened more recently than the last tick: the first tick of
   a session may take a moment).
8. `healthy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

# MetaTrader5 `last_error()` codes.
RES_S_OK = 1
RES_E_AUTH_FAILED = -6
RES_E_AUTO_TRADING_DISABLED = -8
RES_E_INTERNAL_FAIL_TIMEOUT = -10005
# -10000 internal failure, -10001 send, -10002 receive, -10003 IPC initialisation, -10004 no IPC connection.
IPC_UNAVAILABLE = frozenset({-10000, -10001, -10002, -10003, -10004})
# `order_send` retcodes that say AutoTrading is off: 10027 in the terminal, 10026 on the trade server.
RETCODE_SERVER_DISABLES_AT = 10026
RETCODE_CLIENT_DISABLES_AT = 10027


class FailureClass(StrEnum):
    """One per probe; the values are stored and shown (translated by the page that shows them)."""

    HEALTHY = "healthy"
    BRIDGE_DOWN = "bridge_down"
    NOT_RESPONDING = "not_responding"
    IPC_TIMEOUT = "ipc_timeout"
    NOT_LOGGED_IN = "not_logged_in"
    WRONG_ACCOUNT = "wrong_account"
    AUTOTRADING_OFF = "autotrading_off"
    TICKS_STALE = "ticks_stale"


class Reason(StrEnum):
    """Which fact decided the class (a class has several): for the health log and the troubleshooting table."""

    OK = "ok"
    BRIDGE_UNREACHABLE = "bridge_unreachable"
    PROCESS_NOT_RUNNING = "process_not_running"
    NO_ANSWER = "no_answer"
    IPC_UNAVAILABLE = "ipc_unavailable"
    TERMINAL_ERROR = "terminal_error"
    IPC_TIMEOUT = "ipc_timeout"
    LOGIN_REFUSED = "login_refused"
    NO_ACCOUNT = "no_account"
    DISCONNECTED = "disconnected"
    OTHER_LOGIN = "other_login"
    OTHER_SERVER = "other_server"
    TERMINAL_AUTOTRADING_OFF = "terminal_autotrading_off"
    TRADEAPI_DISABLED = "tradeapi_disabled"
    AUTOTRADING_DISABLED_ERROR = "autotrading_disabled_error"
    ORDER_REFUSED_CLIENT = "order_refused_10027"
    ORDER_REFUSED_SERVER = "order_refused_10026"
    ACCOUNT_TRADE_DISABLED = "account_trade_disabled"
    ACCOUNT_EXPERT_DISABLED = "account_expert_disabled"
    NO_TICK = "no_tick"
    TICK_AGE = "tick_age"


@dataclass(frozen=True, slots=True)
class ProbeFacts:
    """What one probe of one terminal learnt. Defaults describe a probe that learnt nothing bad.

    From the existing probe (mt5ops/health.py, the gateway): `bridge_reachable` False for an rpyc connection that
    could not be made (VenueError UNREACHABLE without a code); `answered` False for a call the bridge took without
    answering in time (AMBIGUOUS without a code); `last_error_code` the VenueError's code (or `last_error()` of
    the failing call); `terminal_connected`/`terminal_trade_allowed`/`tradeapi_disabled` from `terminal_info`;
    `account_*` from `account_info` (give `expected_login`/`expected_server` only with a probe that read it:
    an expected login without an account answered is `not_logged_in`); `last_tick_at` from `symbol_info_tick`
    (UTC); `session_open`/`session_opened_at` from the symbol's session calendar; `process_running` from the agent
    (None without one).
    """

    at: datetime
    bridge_reachable: bool = True
    answered: bool = True
    last_error_code: int | None = None
    process_running: bool | None = None
    terminal_connected: bool | None = None
    terminal_trade_allowed: bool | None = None
    tradeapi_disabled: bool | None = None
    expected_login: int | None = None
    expected_server: str | None = None
    account_login: int | None = None  # None: no account answered; 0: the terminal is logged in to none
    account_server: str | None = None
    account_trade_allowed: bool | None = None
    account_trade_expert: bool | None = None
    last_order_retcode: int | None = None  # the latest order_send retcode on this terminal since its last healthy probe
    session_open: bool = False
    session_opened_at: datetime | None = None
    last_tick_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ClassifyPolicy:
    stale_after: timedelta = timedelta(seconds=60)  # a tick older than this during the session: ticks_stale


@dataclass(frozen=True, slots=True)
class Diagnosis:
    failure: FailureClass
    reason: Reason
    tick_age: timedelta | None = None  # during the session, how old the last tick was (None: closed or unknown)

    @property
    def healthy(self) -> bool:
        return self.failure is FailureClass.HEALTHY


def _tick_age(facts: ProbeFacts) -> timedelta | None:
    """How long the session has gone without a tick: from the later of the last tick and the session's open."""
    if not facts.session_open:
        return None
    marks = [mark for mark in (facts.last_tick_at, facts.session_opened_at) if mark is not None]
    if not marks:
        return None
    return max(timedelta(0), facts.at - max(marks))


def _is_error(code: int | None) -> bool:
    return code is not None and code < 0


def classify(facts: ProbeFacts, policy: ClassifyPolicy | None = None) -> Diagnosis:
    """The failure class of one probe (the order is the module's docstring's)."""
    policy = policy or ClassifyPolicy()
    code = facts.last_error_code
    failure, reason = _failure(facts, code)
    age = _tick_age(facts)
    if failure is not FailureClass.HEALTHY:
        return Diagnosis(failure, reason, age)
    if facts.session_open:
        if age is None:  # the session is open and no tick was ever seen, nor is its open known
            return Diagnosis(FailureClass.TICKS_STALE, Reason.NO_TICK)
        if age > policy.stale_after:
            return Diagnosis(FailureClass.TICKS_STALE, Reason.TICK_AGE, age)
    return Diagnosis(FailureClass.HEALTHY, Reason.OK, age)


def _failure(facts: ProbeFacts, code: int | None) -> tuple[FailureClass, Reason]:
    checks: tuple[tuple[bool, FailureClass, Reason], ...] = (
        (not facts.bridge_reachable, FailureClass.BRIDGE_DOWN, Reason.BRIDGE_UNREACHABLE),
        (facts.process_running is False, FailureClass.NOT_RESPONDING, Reason.PROCESS_NOT_RUNNING),
        (code == RES_E_INTERNAL_FAIL_TIMEOUT, FailureClass.IPC_TIMEOUT, Reason.IPC_TIMEOUT),
        (not facts.answered, FailureClass.NOT_RESPONDING, Reason.NO_ANSWER),
        (code in IPC_UNAVAILABLE, FailureClass.NOT_RESPONDING, Reason.IPC_UNAVAILABLE),
        (code == RES_E_AUTH_FAILED, FailureClass.NOT_LOGGED_IN, Reason.LOGIN_REFUSED),
        (
            facts.expected_login is not None and not facts.account_login,
            FailureClass.NOT_LOGGED_IN,
            Reason.NO_ACCOUNT,
        ),
        (facts.terminal_connected is False, FailureClass.NOT_LOGGED_IN, Reason.DISCONNECTED),
        (
            facts.expected_login is not None and facts.account_login != facts.expected_login,
            FailureClass.WRONG_ACCOUNT,
            Reason.OTHER_LOGIN,
        ),
        (
            bool(facts.expected_server)
            and facts.account_server is not None
            and facts.account_server.strip().casefold() != (facts.expected_server or "").strip().casefold(),
            FailureClass.WRONG_ACCOUNT,
            Reason.OTHER_SERVER,
        ),
        (facts.terminal_trade_allowed is False, FailureClass.AUTOTRADING_OFF, Reason.TERMINAL_AUTOTRADING_OFF),
        (facts.tradeapi_disabled is True, FailureClass.AUTOTRADING_OFF, Reason.TRADEAPI_DISABLED),
        (code == RES_E_AUTO_TRADING_DISABLED, FailureClass.AUTOTRADING_OFF, Reason.AUTOTRADING_DISABLED_ERROR),
        (
            facts.last_order_retcode == RETCODE_CLIENT_DISABLES_AT,
            FailureClass.AUTOTRADING_OFF,
            Reason.ORDER_REFUSED_CLIENT,
        ),
        (
            facts.last_order_retcode == RETCODE_SERVER_DISABLES_AT,
            FailureClass.AUTOTRADING_OFF,
            Reason.ORDER_REFUSED_SERVER,
        ),
        (facts.account_trade_allowed is False, FailureClass.AUTOTRADING_OFF, Reason.ACCOUNT_TRADE_DISABLED),
        (facts.account_trade_expert is False, FailureClass.AUTOTRADING_OFF, Reason.ACCOUNT_EXPERT_DISABLED),
        # An error the package gave that none of the above explains: the terminal is not usable as it is.
        (_is_error(code), FailureClass.NOT_RESPONDING, Reason.TERMINAL_ERROR),
    )
    for failed, failure, reason in checks:
        if failed:
            return failure, reason
    return FailureClass.HEALTHY, Reason.OK
