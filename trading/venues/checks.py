"""Test a venue account's connection: one entry point, whatever the venue (the accounts' "Test" button and
`POST /api/v1/accounts/{id}/test/`). Simulated venues answer at once; Binance USDⓈ-M is checked live (server
time, the XAUUSDT market, the key through a signed read, one-way position mode, the TradFi-Perps agreement
through a test order that never reaches the book); MT5 and other ccxt venues plug in here next.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from trading.choices import Venue

from .errors import VenueError, VenueErrorKind
from .registry import spec_for

# A check answers within this time or reports the venue as unreachable (the button must not hang).
CHECK_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str


def check_connection(
    *,
    venue: str,
    credentials: dict[str, Any] | None,
    terminal: Any = None,
    rest_endpoint: str = "",
    ws_endpoint: str = "",
) -> CheckResult:
    spec = spec_for(venue)
    if spec is None:
        return CheckResult(False, _("Unknown venue."))
    if spec.simulated:
        return CheckResult(True, _("Simulated venue: connected, no credentials needed."))
    if not credentials:
        return CheckResult(False, _("No credentials stored: add them before testing."))
    if venue == Venue.BINANCE_USDM:
        return _run(
            _check_binance(
                api_key=str(credentials.get("api_key", "")),
                api_secret=str(credentials.get("api_secret", "")),
                rest_endpoint=rest_endpoint,
                ws_endpoint=ws_endpoint,
            )
        )
    return CheckResult(
        False,
        _(
            "Credentials are stored, but this version cannot reach %(venue)s yet: live checks arrive with venue "
            "connectivity."
        )
        % {"venue": venue},
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


async def _check_binance(*, api_key: str, api_secret: str, rest_endpoint: str, ws_endpoint: str) -> CheckResult:
    from .binance import BinanceUsdmGateway

    where = rest_endpoint or "fapi.binance.com"
    gateway = BinanceUsdmGateway(
        api_key=api_key,
        api_secret=api_secret,
        rest_url=rest_endpoint or None,
        ws_url=ws_endpoint or None,
        timeout_ms=10_000,
        read_attempts=1,
    )
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
            "tick": spec.tick_size.normalize(),
            "step": spec.step_size.normalize(),
            "maker": (fees.maker * percent).normalize(),
            "taker": (fees.taker * percent).normalize(),
        },
    )


def _binance_failure(exc: VenueError, where: str) -> str:
    if exc.kind == VenueErrorKind.UNREACHABLE:
        return _("Binance is unreachable at %(where)s: check the network, the proxy and the endpoint override.") % {
            "where": where
        }
    if exc.kind == VenueErrorKind.AMBIGUOUS:
        return _("Binance at %(where)s did not answer in time.") % {"where": where}
    if exc.kind == VenueErrorKind.AUTH:
        return _(
            "Binance refused the API key (code %(code)s): check the key and secret, that futures trading is enabled "
            "for the key, and that this server's IP address is whitelisted."
        ) % {"code": exc.code}
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
    return _("Binance refused the check (code %(code)s).") % {"code": exc.code}
