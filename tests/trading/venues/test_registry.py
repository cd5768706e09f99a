"""`gateway_for(account)`: the one way from a venue account to its venue's gateway."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import VenueAccount
from mt5ops.models import TerminalInstance
from trading.venues.binance.gateway import BinanceUsdmGateway
from trading.venues.errors import VenueError, VenueErrorKind
from trading.venues.mt5.gateway import ModuleTransport, Mt5Gateway
from trading.venues.registry import gateway_for

KEY, SECRET = "k" * 64, "s" * 64


def account(venue: str, credentials: dict[str, str] | None = None, **fields: Any) -> VenueAccount:
    made = VenueAccount(label=venue, venue=venue, **fields)
    made.credentials = credentials
    return made


def test_a_binance_account_gets_a_signed_gateway_with_its_endpoints_and_options() -> None:
    binance = account(
        "binance-usdm",
        {"api_key": KEY, "api_secret": SECRET},
        rest_endpoint="https://proxy.example:8443",
        ws_endpoint="wss://proxy.example:8443",
    )
    gateway = gateway_for(binance, timeout_ms=1_234, read_attempts=1)
    assert isinstance(gateway, BinanceUsdmGateway)
    assert (gateway.api_key, gateway.api_secret) == (KEY, SECRET)
    assert (gateway.rest_url, gateway.ws_url) == ("https://proxy.example:8443", "wss://proxy.example:8443")
    assert (gateway.timeout_ms, gateway.read_attempts, gateway.testnet) == (1_234, 1, False)


def test_a_testnet_account_reaches_the_testnet_whatever_uses_it() -> None:
    gateway = gateway_for(account("binance-usdm", {"api_key": KEY, "api_secret": SECRET}, binance_testnet=True))
    assert isinstance(gateway, BinanceUsdmGateway) and gateway.testnet and gateway.rest_url is None


def test_an_mt5_account_gets_its_terminals_gateway_logged_in_with_its_login() -> None:
    terminal = TerminalInstance(pk=4242, label="T1", backend="sim")
    mt5 = account("bybit-mt5", {"login": "81234567", "password": "p", "server": "Bybit-Demo"})
    mt5.terminal = terminal
    gateway = gateway_for(mt5, timeout_ms=5_000)
    assert isinstance(gateway, Mt5Gateway) and isinstance(gateway.transport, ModuleTransport)
    assert gateway.connect().connected and gateway.account().login == 81234567


def test_what_has_no_gateway_is_a_venue_error() -> None:
    with pytest.raises(VenueError) as no_terminal:
        gateway_for(account("bybit-mt5", {"login": "1"}))
    assert no_terminal.value.kind == VenueErrorKind.UNREACHABLE and "no MT5 terminal" in str(no_terminal.value)
    with pytest.raises(VenueError) as simulated:
        gateway_for(account("simulated-perp"))
    assert simulated.value.kind == VenueErrorKind.MARKET
