from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.fakes.fixtures import BinanceFake, Mt5BridgeFake
from tests.trading.venues.helpers import Rig, gateway_for
from trading.venues.binance.gateway import BinanceUsdmGateway
from trading.venues.mt5.gateway import ModuleTransport, Mt5Transport
from trading.venues.mt5.rpyc_backend import RpycTransport
from trading.venues.mt5.sim import SimulatedMetaTrader5


@pytest.fixture
async def gateway(binance_fake: BinanceFake) -> AsyncIterator[BinanceUsdmGateway]:
    connected = gateway_for(binance_fake)
    await connected.connect()
    yield connected
    await connected.close()


@pytest.fixture(params=["sim", "rpyc"])
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    if request.param == "sim":
        terminal = SimulatedMetaTrader5()
        yield Rig("sim", terminal, lambda: ModuleTransport(terminal, "simulated terminal"))
        return
    bridge: Mt5BridgeFake = request.getfixturevalue("mt5_bridge")
    transports: list[Mt5Transport] = []

    def make(timeout_s: float = 5.0) -> Mt5Transport:
        transport = RpycTransport("127.0.0.1", bridge.port, timeout_s=timeout_s)
        transports.append(transport)
        return transport

    yield Rig("rpyc", bridge.terminal, make)
    for transport in transports:
        transport.close()
