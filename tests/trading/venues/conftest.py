from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.fixtures import BinanceFake
from trading.venues.binance.gateway import BinanceUsdmGateway


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


@pytest.fixture
async def gateway(binance_fake: BinanceFake) -> AsyncIterator[BinanceUsdmGateway]:
    connected = gateway_for(binance_fake)
    await connected.connect()
    yield connected
    await connected.close()
