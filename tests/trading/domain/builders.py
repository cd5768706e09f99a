"""Hypothesis strategies and small builders shared by the domain tests.

Ranges are realistic for the gold pair (ARCHITECTURE.md "Units and formulas"): gold 1,000–10,000 USD/oz at the
venues' 2 dp or the booked 8 dp, `usd_per_usdt` 0.95–1.05 at 6 dp, fee rates 0–0.2 % at 8 dp.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from hypothesis import strategies as st

from trading.domain.engine import SpreadEngine
from trading.domain.quotes import Quote, QuoteValidator
from trading.domain.spread import CostModel

PERP = "binance:XAUUSDT"
CFD = "bybit-mt5:XAUUSD.s"
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z in ms


def decimals(low: str, high: str, places: int) -> st.SearchStrategy[Decimal]:
    return st.decimals(
        min_value=Decimal(low), max_value=Decimal(high), places=places, allow_nan=False, allow_infinity=False
    )


gold_prices = st.one_of(decimals("1000", "10000", 2), decimals("1000", "10000", 8))
# A strictly positive spread: a valid book is never locked.
spreads = st.one_of(decimals("0.01", "5", 2), decimals("0.00000001", "5", 8))
usd_per_usdt = decimals("0.95", "1.05", 6)
fee_rates = decimals("0", "0.002", 8)
funding_rates = decimals("-0.003", "0.003", 8)
usd_per_oz_costs = decimals("0", "1", 4)
swaps = decimals("-2", "2", 4)
holding_hours = decimals("0", "240", 2)


@dataclass(frozen=True)
class Book:
    """Best bid and ask of both legs, in Decimal USDT/oz (perp) and USD/oz (CFD)."""

    perp_bid: Decimal
    perp_ask: Decimal
    cfd_bid: Decimal
    cfd_ask: Decimal

    @property
    def perp_mid(self) -> Decimal:
        return (self.perp_bid + self.perp_ask) / 2

    @property
    def cfd_mid(self) -> Decimal:
        return (self.cfd_bid + self.cfd_ask) / 2

    def quotes(self, ts_ms: int) -> tuple[Quote, Quote]:
        return (
            Quote.of(PERP, self.perp_bid, self.perp_ask, ts_ms),
            Quote.of(CFD, self.cfd_bid, self.cfd_ask, ts_ms),
        )


@st.composite
def books(draw: st.DrawFn) -> Book:
    perp_bid = draw(gold_prices)
    cfd_bid = draw(gold_prices)
    return Book(perp_bid, perp_bid + draw(spreads), cfd_bid, cfd_bid + draw(spreads))


@st.composite
def cost_models(draw: st.DrawFn, *, holding: st.SearchStrategy[Decimal] = holding_hours) -> CostModel:
    return CostModel(
        perp_fee_rate=draw(fee_rates),
        cfd_fee_rate=draw(fee_rates),
        cfd_commission_per_oz=draw(usd_per_oz_costs),
        slippage_usd_per_oz=draw(usd_per_oz_costs),
        expected_holding_hours=draw(holding),
        funding_rate=draw(funding_rates),
        funding_interval_hours=draw(st.sampled_from([Decimal(1), Decimal(4), Decimal(8)])),
        swap_long_per_oz_night=draw(swaps),
        swap_short_per_oz_night=draw(swaps),
    )


def make_engine(
    costs: CostModel | None = None,
    *,
    entry_threshold: Decimal = Decimal("1"),
    rate: Decimal = Decimal("1"),
    validator: QuoteValidator | None = None,
) -> SpreadEngine:
    engine = SpreadEngine(
        perp_source=PERP,
        cfd_source=CFD,
        costs=costs if costs is not None else CostModel(perp_fee_rate=Decimal(0)),
        entry_threshold=entry_threshold,
        validator=validator if validator is not None else QuoteValidator(),
    )
    engine.set_rate(rate)
    return engine


def perp_quote(bid: str, ask: str, ts_ms: int) -> Quote:
    return Quote.of(PERP, bid, ask, ts_ms)


def cfd_quote(bid: str, ask: str, ts_ms: int) -> Quote:
    return Quote.of(CFD, bid, ask, ts_ms)
