"""Runs strategy runners inside the engine process: every second it looks for strategies that should run and
whose lease is free (or expired, e.g. after a crashed engine), and starts a runner for each. Runners end
themselves when their strategy stops, errors or their lease is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from asgiref.sync import sync_to_async
from django.db import connection
from django.db.models import Q

from quantarb import clock
from trading.domain.calendar import SessionView
from trading.domain.fixed import rate_decimal

from .choices import ACTIVE_STATES
from .models import Strategy
from .runner import MarketSnapshot, StrategyRunner, VenuesFactory, default_runner_id

log = logging.getLogger(__name__)


@dataclass
class PipelineMarket:
    """The runners' view of the market pipeline running in the same process (trading/marketdata/pipeline.py)."""

    pipeline: Any

    def snapshot(self, pair_id: int) -> MarketSnapshot | None:
        for runtime in self.pipeline.runtimes:
            if runtime.pair_id != pair_id:
                continue
            engine = runtime.engine
            if runtime.rate_ts_ms is None:
                return None  # no usd_per_usdt yet: nothing may be priced
            now_ms = int(clock.now().timestamp() * 1000)
            sample = runtime.last_sample
            zscore = getattr(sample, "zscore", None) if sample is not None else None
            return MarketSnapshot(
                perp=engine.perp,
                cfd=engine.cfd,
                usd_per_usdt=rate_decimal(engine.rate),
                rate_ts_ms=None if runtime.rate_source == "fixed" else runtime.rate_ts_ms,
                session=SessionView.of(runtime.session.current(now_ms)),
                zscore=None if zscore is None else Decimal(str(zscore)),
            )
        return None


def _claimable() -> list[int]:
    now = clock.now()
    return list(
        Strategy.objects.filter(state__in=[state.value for state in ACTIVE_STATES])
        .filter(Q(runner_id="") | Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .values_list("pk", flat=True)
    )


@dataclass
class StrategySupervisor:
    market: Any
    venues_factory: VenuesFactory
    runner_id: str = field(default_factory=default_runner_id)
    poll_s: float = 1.0
    sleep: Callable[[float], Awaitable[Any]] = field(default=asyncio.sleep)
    runners: dict[int, asyncio.Task[None]] = field(default_factory=dict)

    async def run(self) -> None:
        """Start runners for claimable strategies every `poll_s` until cancelled; cancel them on the way out."""
        claimable = sync_to_async(self._claimable_safely, thread_sensitive=True)
        try:
            while True:
                for strategy_id in await claimable():
                    task = self.runners.get(strategy_id)
                    if task is not None and not task.done():
                        continue
                    runner = StrategyRunner(
                        strategy_id=strategy_id,
                        runner_id=self.runner_id,
                        market=self.market,
                        venues_factory=self.venues_factory,
                        sleep=self.sleep,
                    )
                    self.runners[strategy_id] = asyncio.create_task(runner.run(), name=f"strategy-{strategy_id}")
                await self.sleep(self.poll_s)
        finally:
            for task in self.runners.values():
                task.cancel()
            for task in self.runners.values():
                with contextlib.suppress(BaseException):
                    await task

    @staticmethod
    def _claimable_safely() -> list[int]:
        try:
            return _claimable()
        except Exception:
            connection.close()  # a dropped database connection heals on the next poll
            log.exception("strategy supervisor: could not read strategies")
            return []
