"""What every quote feed offers the pipeline, whatever the venue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from trading.domain.quotes import Quote


@dataclass(frozen=True, slots=True)
class RateObservation:
    """usd_per_usdt (the USD value of one USDT) observed at `ts_ms`."""

    usd_per_usdt: Decimal
    ts_ms: int


class QuoteFeed(Protocol):
    def stream(self) -> AsyncIterator[Quote | RateObservation]:
        """Quotes (and, for feeds that carry it, the USDT/USD rate) as they arrive; runs until cancelled."""
        ...

    def snapshot(self) -> list[Quote | RateObservation]:
        """One poll of the venue's current quotes (REST / `symbol_info_tick`), for when no stream runs."""
        ...
