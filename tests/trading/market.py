"""Market data written the way production writes it: quotes through a `SpreadEngine`, everything buffered in
the real `MarketStore` and flushed by it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from trading.domain.engine import EngineResult, SpreadEngine
from trading.domain.quotes import Quote, QuoteValidator
from trading.marketdata.store import MarketStore

USD_PER_USDT = Decimal("0.999600")


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


@dataclass
class MarketTape:
    """Feeds quotes of one pair through a `SpreadEngine` and buffers everything in a `MarketStore`."""

    pair: Any
    store: MarketStore = field(default_factory=MarketStore)
    engine: SpreadEngine = field(init=False)
    samples: list[Any] = field(default_factory=list)
    opened: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.engine = SpreadEngine(
            perp_source=self.pair.perp_source.key,
            cfd_source=self.pair.cfd_source.key,
            costs=self.pair.cost_model(),
            entry_threshold=self.pair.entry_threshold,
            validator=QuoteValidator(stale_after_ms=5_000),
        )
        self.engine.set_rate(USD_PER_USDT)

    def tick(self, at: datetime, perp: tuple[str, str], cfd: tuple[str, str]) -> EngineResult:
        """Both legs quoted at `at`; returns the engine's answer to the second (CFD) quote."""
        ts = ms(at)
        self.store.add_rate("simulated", USD_PER_USDT, ts)
        result = None
        for source, (bid, ask) in ((self.pair.perp_source, perp), (self.pair.cfd_source, cfd)):
            quote = Quote.of(source.key, bid, ask, ts)
            result = self.engine.on_quote(quote, ts)
            assert result.verdict == "ok", result
            self.store.add_quote(source.pk, quote, ts)
            for opportunity in (result.closed, result.opened):
                if opportunity is not None:
                    self.store.add_opportunity(self.pair.pk, opportunity)
            if result.opened is not None:
                self.opened.append(result.opened)
            if result.sample is not None:
                self.samples.append(result.sample)
                self.store.add_sample(self.pair.pk, result.sample)
        assert result is not None
        return result


# At 0.9996 USD per USDT a calm book has a basis of about +0.53 USD/oz and a net edge below the 0.50 entry
# threshold; the dislocated one has the perp 8 USDT dear: sell perp / buy CFD clears the threshold.
CALM = (("4602.60", "4602.62"), ("4600.10", "4600.35"))
DEAR_PERP = (("4610.60", "4610.62"), ("4600.10", "4600.35"))


@dataclass
class AlphaMarket:
    """Alpha's pair, the tape that recorded its ticks, and the ticks' times (the `alpha_market` fixture's)."""

    pair: Any
    tape: MarketTape
    times: list[datetime]

    @property
    def first(self) -> datetime:
        return self.times[0]

    @property
    def last(self) -> datetime:
        return self.times[-1]
