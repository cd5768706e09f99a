"""Trading inside an engine process: the strategy supervisor (one runner per running strategy) and the manual
desk (operators' commands), both reading the market from the pipeline running in the same process."""

from __future__ import annotations

import asyncio
from typing import Any

from strategies.manual_desk import ManualDesk
from trading.execution.venue_factory import execution_venues

from .supervisor import PipelineMarket, StrategySupervisor


async def run_trading(pipeline: Any) -> None:
    """Run the supervisor and the manual desk until cancelled."""
    market = PipelineMarket(pipeline)

    def venues(pool: Any, pair_id: int) -> Any:
        return execution_venues(pool, pair_id, market)

    await asyncio.gather(
        StrategySupervisor(market=market, venues_factory=venues).run(),
        ManualDesk(market=market, venues_factory=venues).run(),
    )
