"""Helpers of the venue tests: a Binance gateway at the fake venue, and an MT5 backend under test (the rig)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.fakes.fixtures import BinanceFake
from trading.venues.binance.gateway import BinanceUsdmGateway
from trading.venues.mt5.gateway import Mt5Gateway


def gateway_for(fake: BinanceFake, **options: object) -> BinanceUsdmGateway:
    """A gateway reaching the fake through the endpoint override, as a live account with an override would."""
    options.setdefault("throttle", False)
    options.setdefault("timeout_ms", 3_000)
    return BinanceUsdmGateway(
        api_key=fake.api_key,
        api_secret=fake.api_secret,
        rest_url=fake.rest_url,
        ws_url=fake.ws_url,
        **options,
    )


@dataclass
class Rig:
    """One backend under test: a way to make gateways, and the simulated terminal behind it for scripting."""

    backend: str
    terminal: Any  # the SimulatedMetaTrader5 (in process, or an rpyc proxy of the bridge's)
    make_transport: Any

    def gateway(self, **options: Any) -> Mt5Gateway:
        options.setdefault("lookup_interval_s", 0.05)
        gateway = Mt5Gateway(self.make_transport(), **options)
        return gateway

    def connected(self, **options: Any) -> Mt5Gateway:
        gateway = self.gateway(**options)
        gateway.connect()
        return gateway

    def state(self) -> dict[str, Any]:
        state = dict(self.terminal.qa_state())
        for name in ("sent", "orders", "deals", "positions"):
            state[name] = [dict(row) for row in state[name]]
        return state
