"""Test a venue account's connection: one entry point, whatever the venue (the accounts' "Test" button and
`POST /api/v1/accounts/{id}/test/`). Simulated venues answer at once; Binance USDⓈ-M is checked live (server
time, the XAUUSDT market, the key through a signed read, one-way position mode, the TradFi-Perps agreement
through a test order that never reaches the book); Bybit MT5 through its terminal instance's gateway (the
terminal reached, the login accepted, AutoTrading on, a hedging account allowed to trade, the symbol there);
other ccxt venues plug in here next.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _

from accounts.venue_kinds import Venue, spec_for
from trading.venues.errors import VenueError, VenueErrorKind
from trading.venues.mt5.gateway import Mt5Gateway
from trading.venues.registry import gateway_for

if TYPE_CHECKING:
    from accounts.models import VenueAccount

# A check answers within this time or reports the venue as unreachable (the button must not hang).
CHECK_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str


def check_connection(account: VenueAccount) -> CheckResult:
    """Test `account`'s connection now (venue I/O, within `CHECK_TIMEOUT_S`); nothing is recorded here."""
    spec = spec_for(account.venue)
    if spec is None:
        return CheckResult(False, _("Unknown venue."))
    if spec.simulated:
        return CheckResult(True, _("Simulated venue: connected, no credentials needed."))
    if not account.credentials:
        return CheckResult(False, _("No credentials stored: add them before testing."))
    if account.venue == Venue.BINANCE_USDM:
        return _run(_check_binance(account))
    if account.venue == Venue.BYBIT_MT5:
        # The terminal is read here, in the caller's thread (its database connection), before the check's thread.
        return _run_sync(
            _check_mt5, venue_account=account, terminal=account.terminal, symbol=spec.instrument_symbol or ""
        )
    return CheckResult(
        False,
        _(
            "Credentials are stored, but this version cannot reach %(venue)s yet: live checks arrive with venue "
            "connectivity."
        )
        % {"venue": account.venue},
    )


def _run(check: Any) -> CheckResult:
    """Run an async check to completion from synchronous code (a view or a task), on its own event loop in a
    worker thread, so it works whether or not the caller's thread already runs a loop."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(asyncio.run, asyncio.wait_for(check, CHECK_TIMEOUT_S))
        try:
            result: CheckResult = future.result()
        except TimeoutError:
            return CheckResult(False, _("The venue did not answer within %(s)d s.") % {"s": CHECK_TIMEOUT_S})
    return result


async def _check_binance(account: VenueAccount) -> CheckResult:
    where = account.rest_endpoint or ("testnet.binancefuture.com" if account.binance_testnet else "fapi.binance.com")
    gateway = gateway_for(account, timeout_ms=10_000, read_attempts=1)
    assert not isinstance(gateway, Mt5Gateway)  # a Binance account's
    try:
        spec = await gateway.connect()
        fees = await gateway.fetch_fees()
        if await gateway.fetch_hedge_mode():
            return CheckResult(
                False,
                _(
                    "Connected, but the account is in hedge (dual-side) position mode: quantarb trades one-way mode. "
                    "Switch it in Binance's futures preferences, then test again."
                ),
            )
        await gateway.test_order()
    except VenueError as exc:
        return CheckResult(False, _binance_failure(exc, where))
    finally:
        await gateway.close()
    percent = Decimal(100)
    return CheckResult(
        True,
        _(
            "Connected to Binance USDⓈ-M (%(where)s): %(market)s, tick %(tick)s, step %(step)s, fees maker "
            "%(maker)s %% / taker %(taker)s %%, one-way position mode, TradFi-Perps agreement signed."
        )
        % {
            "where": where,
            "market": spec.market_id,
            "tick": _number(spec.tick_size),
            "step": _number(spec.step_size),
            "maker": _number(fees.maker * percent),
            "taker": _number(fees.taker * percent),
        },
    )


def _binance_failure(exc: VenueError, where: str) -> str:
    if exc.kind == VenueErrorKind.UNREACHABLE:
        return _("Binance is unreachable at %(where)s: check the network, the proxy and the endpoint override.") % {
            "where": where
        }
    if exc.kind == VenueErrorKind.AMBIGUOUS:
        return _("Binance at %(where)s did not answer in time.") % {"where": where}
    said = _what_binance_said(exc)
    if exc.kind == VenueErrorKind.AUTH:
        return _(
            "Binance refused the API key (code %(code)s) on %(endpoint)s: “%(message)s”. Check the key and secret, "
            "that futures trading is enabled for the key, and that this server's IP address is whitelisted."
        ) % {"code": exc.code, **said}
    if exc.kind == VenueErrorKind.AGREEMENT:
        return _(
            "The key works, but Binance refuses XAUUSDT orders until this account signs the TradFi-Perps agreement "
            "(code -4411). Sign it once in the Binance app or website (Futures, TradFi perpetuals), then test again."
        )
    if exc.kind == VenueErrorKind.CLOCK:
        return _("Binance says this server's clock is off (code -1021): check the host's time synchronisation (NTP).")
    if exc.kind == VenueErrorKind.RATE_LIMITED:
        return _("Binance is rate limiting this server: try again in %(s)d s.") % {"s": int(exc.retry_after_s or 60)}
    if exc.kind == VenueErrorKind.MARKET:
        return str(exc)
    if exc.code is None:
        return _("Binance at %(where)s failed on %(endpoint)s: %(error)s") % {
            "where": where,
            "endpoint": said["endpoint"],
            "error": str(exc),
        }
    return _("Binance at %(where)s refused %(endpoint)s with code %(code)s: “%(message)s”.") % {
        "where": where,
        "code": exc.code,
        **said,
    }


def _what_binance_said(exc: VenueError) -> dict[str, str]:
    """The request that failed and Binance's own words, for a message an operator can act on (never only a code)."""
    return {
        "endpoint": exc.endpoint or str(_("a request")),
        "message": exc.venue_message or str(_("no message")),
    }


def _run_sync(check: Any, **kwargs: Any) -> CheckResult:
    """Run a blocking check (the MT5 package is synchronous) in a worker thread, within the check's time limit."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    future = pool.submit(check, **kwargs)
    try:
        result: CheckResult = future.result(timeout=CHECK_TIMEOUT_S)
    except concurrent.futures.TimeoutError:
        return CheckResult(False, _("The venue did not answer within %(s)d s.") % {"s": CHECK_TIMEOUT_S})
    finally:
        pool.shutdown(wait=False)
    return result


def _number(value: Decimal) -> str:
    """100.0 → "100", 0.010 → "0.01" (never 1E+2)."""
    return format(value.normalize(), "f")


def _check_mt5(*, venue_account: VenueAccount, terminal: Any, symbol: str) -> CheckResult:
    if terminal is None:
        return CheckResult(False, _("Choose the MT5 terminal this account runs in, then test again."))
    names = {"terminal": terminal.label, "address": terminal.address}
    credentials = venue_account.credentials or {}
    try:
        gateway = gateway_for(venue_account, symbol=symbol)
        assert isinstance(gateway, Mt5Gateway)  # an MT5 account's
    except VenueError as exc:
        return CheckResult(False, _mt5_failure(exc, terminal, credentials))
    try:
        status = gateway.connect()
        account = gateway.account()
        if not status.connected:
            return CheckResult(
                False,
                _(
                    "The terminal “%(terminal)s” runs, but it is not connected to the broker's trade server: check "
                    "its network and the server name."
                )
                % names,
            )
        if not status.trade_allowed:
            return CheckResult(
                False,
                _(
                    "Connected, but AutoTrading (Algo Trading) is off in the terminal “%(terminal)s”: orders would be "
                    "refused (10027). Switch it on in the terminal's toolbar, then test again."
                )
                % names,
            )
        if not account.hedging:
            return CheckResult(
                False,
                _(
                    "Connected, but login %(login)s is a netting account: quantarb needs a hedging account, where "
                    "each hedge leg is its own position. Ask the broker for a hedging account."
                )
                % {"login": account.login},
            )
        if not (account.trade_allowed and account.expert_allowed):
            return CheckResult(
                False,
                _(
                    "Connected, but the broker does not let login %(login)s trade through the API (read-only or "
                    "investor password, or expert trading disabled)."
                )
                % {"login": account.login},
            )
        spec = gateway.symbol_spec()
    except VenueError as exc:
        return CheckResult(False, _mt5_failure(exc, terminal, credentials, symbol=symbol))
    finally:
        gateway.close()
    stop_out = (
        _("%(level)s %% margin level") % {"level": _number(account.stop_out_level)}
        if account.stop_out_in_percent
        else _("%(level)s %(currency)s equity")
        % {"level": _number(account.stop_out_level), "currency": account.currency}
    )
    return CheckResult(
        True,
        _(
            "Connected to MT5 %(server)s, login %(login)s (%(company)s, build %(build)s, ping %(ping)s ms): hedging "
            "account in %(currency)s, AutoTrading on, stop-out at %(stop_out)s; %(symbol)s %(contract)s oz per lot, "
            "step %(step)s lots, %(digits)s digits."
        )
        % {
            "server": account.server,
            "login": account.login,
            "company": status.company,
            "build": status.build,
            "ping": _number(status.ping_ms),
            "currency": account.currency,
            "stop_out": stop_out,
            "symbol": spec.symbol,
            "contract": _number(spec.contract_size),
            "step": _number(spec.volume_step),
            "digits": spec.digits,
        },
    )


def _mt5_failure(exc: VenueError, terminal: Any, credentials: dict[str, Any], *, symbol: str = "") -> str:
    names = {"terminal": terminal.label, "address": terminal.address}
    if exc.kind == VenueErrorKind.UNREACHABLE:
        if terminal.backend == "native" and exc.code is None:
            return _(
                "This server cannot run a native MT5 terminal: the MetaTrader5 package exists for Windows only. "
                "Use an rpyc bridge to a Windows or Wine host."
            )
        if exc.code == -10005:
            return (
                _(
                    "The terminal “%(terminal)s” (%(address)s) does not answer (IPC timeout): it may be hung or still "
                    "starting. Restart it, then test again."
                )
                % names
            )
        if exc.code is not None:
            return _(
                "The MetaTrader 5 terminal of “%(terminal)s” is not running or cannot be started (%(code)s): check "
                "the terminal path on the host."
            ) % {**names, "code": exc.code}
        return (
            _(
                "The MT5 terminal “%(terminal)s” is unreachable at %(address)s: check that the bridge runs on the "
                "Windows/Wine host and that the SSH tunnel is up."
            )
            % names
        )
    if exc.kind == VenueErrorKind.AMBIGUOUS:
        return _("The MT5 bridge of “%(terminal)s” (%(address)s) did not answer in time.") % names
    if exc.kind == VenueErrorKind.AUTH:
        return _(
            "MT5 refused login %(login)s on server “%(server)s” (authorization failed): check the login, the "
            "password (the trading one, not the investor one) and the server name."
        ) % {"login": credentials.get("login", ""), "server": credentials.get("server", "")}
    if exc.kind == VenueErrorKind.MARKET:
        return _(
            "Connected, but the terminal has no symbol %(symbol)s: add it to Market Watch, or check the broker's "
            "symbol suffix."
        ) % {"symbol": symbol}
    if exc.kind == VenueErrorKind.TRADING_DISABLED:
        return _("Connected, but AutoTrading is off in the terminal “%(terminal)s”.") % names
    return _("The MT5 terminal refused the check (code %(code)s).") % {"code": exc.code}
