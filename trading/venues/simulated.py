"""Simulated gold venues for the demo and most tests: a seeded, realistic market.

- Gold mid: a random walk with about 15 % annualised volatility.
- Perp (USDT/oz): gold + basis, converted at the simulated USDT/USD rate, tick 0.01, spread 1–5 ticks.
- CFD (USD/oz): gold, spread 20–35 cents, quoted only while its calendar says open.
- Basis: mean-reverting (Ornstein–Uhlenbeck) around a small premium, with occasional dislocations of a few
  dollars that decay over a minute or two: large enough to trade after fees.
- usd_per_usdt: mean-reverting near 0.9996, moving a few parts per million.
The same seed and the same clock readings give the same market.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from quantarb import clock
from trading.domain.calendar import SessionCalendar
from trading.domain.fixed import PRICE_SCALE, RATE_SCALE
from trading.domain.quotes import Quote
from trading.venues.base import RateObservation

_SECONDS_PER_YEAR = 365 * 24 * 3600


@dataclass(slots=True)
class SimulatedGoldMarket:
    """The state of the simulated market, advanced in steps of simulated time."""

    seed: int
    perp_source: str
    cfd_source: str
    calendar: SessionCalendar
    gold: float = 4600.0
    basis: float = 0.6
    basis_mean: float = 0.6
    basis_reversion_per_s: float = 1 / 90
    basis_vol_per_sqrt_s: float = 0.05
    gold_annual_vol: float = 0.15
    dislocation_every_s: float = 150.0
    rate: float = 0.9996
    perp_tick: int = PRICE_SCALE // 100  # 0.01 USDT
    cfd_tick: int = PRICE_SCALE // 100  # 0.01 USD
    _rng: random.Random = field(init=False)
    _last_ms: int | None = None

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def advance(self, ts_ms: int) -> None:
        """Move the market to `ts_ms` (milliseconds since the epoch)."""
        if self._last_ms is None or ts_ms <= self._last_ms:
            self._last_ms = ts_ms if self._last_ms is None else self._last_ms
            return
        dt = (ts_ms - self._last_ms) / 1000
        self._last_ms = ts_ms
        rng = self._rng
        sigma = self.gold * self.gold_annual_vol / math.sqrt(_SECONDS_PER_YEAR)
        self.gold += rng.gauss(0.0, sigma * math.sqrt(dt))
        decay = math.exp(-self.basis_reversion_per_s * dt)
        self.basis = self.basis_mean + (self.basis - self.basis_mean) * decay
        self.basis += rng.gauss(0.0, self.basis_vol_per_sqrt_s * math.sqrt(dt))
        if rng.random() < dt / self.dislocation_every_s:
            self.basis += rng.choice((-1, 1)) * rng.uniform(3.5, 7.5)
        self.rate = 0.9996 + (self.rate - 0.9996) * math.exp(-dt / 600) + rng.gauss(0.0, 0.000004 * math.sqrt(dt))

    def perp_quote(self, ts_ms: int) -> Quote:
        mid_usdt = (self.gold + self.basis) / self.rate
        spread_ticks = self._rng.choice((1, 1, 1, 2, 2, 3, 5))
        bid = round(mid_usdt * PRICE_SCALE / self.perp_tick - spread_ticks / 2) * self.perp_tick
        return Quote(self.perp_source, bid, bid + spread_ticks * self.perp_tick, ts_ms)

    def cfd_quote(self, ts_ms: int) -> Quote:
        spread_ticks = self._rng.randint(20, 35)
        bid = round(self.gold * PRICE_SCALE / self.cfd_tick - spread_ticks / 2) * self.cfd_tick
        return Quote(self.cfd_source, bid, bid + spread_ticks * self.cfd_tick, ts_ms)

    def usd_per_usdt(self) -> Decimal:
        return Decimal(round(self.rate * RATE_SCALE)).scaleb(-6)

    def cfd_open(self, ts_ms: int) -> bool:
        return self.calendar.status(datetime.fromtimestamp(ts_ms / 1000, UTC)).is_open


@dataclass(slots=True)
class SimulatedFeed:
    """Streams the simulated market in real (or simulated) time: perp every `perp_every_s`, CFD every
    `cfd_every_s` while its market is open, the rate every `rate_every_s`. `perp=False` / `cfd=False` leave that
    leg to another feed (a real venue's)."""

    market: SimulatedGoldMarket
    perp_every_s: float = 0.25
    cfd_every_s: float = 0.5
    rate_every_s: float = 5.0
    perp: bool = True
    cfd: bool = True

    async def stream(self) -> AsyncIterator[Quote | RateObservation]:
        step = self.perp_every_s
        cfd_every = max(1, round(self.cfd_every_s / step))
        rate_every = max(1, round(self.rate_every_s / step))
        n = 0
        while True:
            ts_ms = int(clock.now().timestamp() * 1000)
            market = self.market
            market.advance(ts_ms)
            if n % rate_every == 0:
                yield RateObservation(market.usd_per_usdt(), ts_ms)
            if self.perp:
                yield market.perp_quote(ts_ms)
            if self.cfd and n % cfd_every == 0 and market.cfd_open(ts_ms):
                yield market.cfd_quote(ts_ms)
            n += 1
            await asyncio.sleep(step)

    def snapshot(self) -> list[Quote | RateObservation]:
        """What a REST poll of the venues would return now: the rate, the perp quote and (while its market is
        open) the CFD quote. Used by `poll_feeds` where no engine streams."""
        ts_ms = int(clock.now().timestamp() * 1000)
        market = self.market
        market.advance(ts_ms)
        events: list[Quote | RateObservation] = [RateObservation(market.usd_per_usdt(), ts_ms)]
        if self.perp:
            events.append(market.perp_quote(ts_ms))
        if self.cfd and market.cfd_open(ts_ms):
            events.append(market.cfd_quote(ts_ms))
        return events
