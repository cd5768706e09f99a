"""Fixtures of the trading tests.

`alpha_market` is four ticks of alpha's simulated pair around 11:58 on the frozen clock's day (Wednesday
2026-11-18, CFD open), straddling a minute boundary: quotes on both legs, the USDT/USD rate, spread samples,
1m/5m/1h candles and one sell-perp opportunity that opened on a dislocation and closed when it faded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from .market import CALM, DEAR_PERP, MarketTape


@dataclass
class AlphaMarket:
    pair: Any
    tape: MarketTape
    times: list[datetime]

    @property
    def first(self) -> datetime:
        return self.times[0]

    @property
    def last(self) -> datetime:
        return self.times[-1]


@pytest.fixture
def alpha_market(alpha_pair: Any, frozen_clock: Any) -> AlphaMarket:
    now = frozen_clock.now()
    times = [now - timedelta(seconds=s) for s in (122, 121, 119, 118)]
    tape = MarketTape(alpha_pair)
    for at, book in zip(times, (CALM, DEAR_PERP, DEAR_PERP, CALM), strict=True):
        tape.tick(at, *book)
    assert tape.store.flush() > 0
    return AlphaMarket(alpha_pair, tape, times)
