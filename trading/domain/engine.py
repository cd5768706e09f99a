"""The spread engine for one source pair: validated quotes in, spread samples and opportunities out.

Pure and synchronous; the runner (`trading.marketdata.pipeline`) feeds it quotes, the conversion rate and the CFD's
session state, and takes care of storage and live push. All arithmetic is on integers
(`trading.domain.fixed`): raw edges and the basis are exact; net edges carry the cost model through
coefficients precomputed in `Decimal`, exact to far below the booked 8 dp.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from trading.domain.fixed import (
    COEFF_SHIFT,
    EDGE_SCALE,
    RATE_SCALE,
    coefficient,
    edge_decimal,
    rate_decimal,
    rate_units,
)
from trading.domain.opportunities import Opportunity, OpportunityTracker
from trading.domain.quotes import VERDICT_OK, Quote, QuoteValidator, Verdict
from trading.domain.spread import HOURS_PER_NIGHT, TWO, CostModel, Edges
from trading.domain.stats import RollingStats

# Scale factors from integer quote arithmetic to edge units (see fixed.py): P = 1e8, R = 1e6, E = 1e16.
_EDGE_PER_PRICE_RATE = EDGE_SCALE // (10**8 * RATE_SCALE)  # (price·rate) units → edge units: 100
_EDGE_PER_MID2_RATE = EDGE_SCALE // (2 * 10**8 * RATE_SCALE)  # (2·mid·rate) units → edge units: 50
_EDGE_PER_MID2 = EDGE_SCALE // (2 * 10**8)  # (2·mid) units → edge units: 5e7


@dataclass(frozen=True, slots=True)
class CostCoefficients:
    """A cost model folded into integers: net − raw = (perp_mid2·rate·perp − cfd_mid2·cfd) / 2**COEFF_SHIFT + const.

    `perp_mid2`/`cfd_mid2` are bid + ask in price units and `rate` is usd_per_usdt in rate units.
    """

    perp_sell_perp: int
    perp_buy_perp: int
    cfd: int
    const_sell_perp: int
    const_buy_perp: int

    @classmethod
    def of(cls, costs: CostModel) -> CostCoefficients:
        hours = costs.expected_holding_hours
        funding_events = hours / costs.funding_interval_hours
        nights = hours / HOURS_PER_NIGHT
        perp_fees = TWO * costs.perp_fee_rate
        funding = costs.funding_rate * funding_events
        fixed = TWO * costs.cfd_commission_per_oz + costs.slippage_usd_per_oz
        return cls(
            perp_sell_perp=coefficient(_EDGE_PER_MID2_RATE * (funding - perp_fees)),
            perp_buy_perp=coefficient(_EDGE_PER_MID2_RATE * (-funding - perp_fees)),
            cfd=coefficient(_EDGE_PER_MID2 * TWO * costs.cfd_fee_rate),
            const_sell_perp=round((costs.swap_long_per_oz_night * nights - fixed) * EDGE_SCALE),
            const_buy_perp=round((costs.swap_short_per_oz_night * nights - fixed) * EDGE_SCALE),
        )


class SpreadSample(NamedTuple):
    """One priced moment of a pair. Edge fields are integers of 1e-16 USD/oz; the `*_usd` properties give
    booked Decimals (8 dp). A NamedTuple: immutable and the cheapest record to build on the tick path."""

    ts_ms: int
    perp: Quote
    cfd: Quote
    rate: int
    sell_perp: int
    buy_perp: int
    net_sell_perp: int
    net_buy_perp: int
    basis: int
    basis_mean: float | None
    basis_std: float | None
    zscore: float | None

    @property
    def usd_per_usdt(self) -> Decimal:
        return rate_decimal(self.rate)

    @property
    def edges_usd(self) -> Edges:
        return Edges(edge_decimal(self.sell_perp), edge_decimal(self.buy_perp))

    @property
    def net_usd(self) -> Edges:
        return Edges(edge_decimal(self.net_sell_perp), edge_decimal(self.net_buy_perp))

    @property
    def basis_usd(self) -> Decimal:
        return edge_decimal(self.basis)


class EngineResult(NamedTuple):
    verdict: Verdict
    sample: SpreadSample | None = None
    opened: Opportunity | None = None
    closed: Opportunity | None = None


_ACCEPTED_WITHOUT_SAMPLE = EngineResult(Verdict.OK)
_CLOSED = EngineResult(Verdict.CLOSED)


@dataclass(slots=True)
class SpreadEngine:
    """Prices a (perp source, CFD source) pair. A sample needs a valid, fresh quote on both legs, an open CFD
    market and a usable usd_per_usdt; otherwise no sample is produced and any open opportunity ends.

    `rate_usable` is False until the pair's rate source has answered, and again while its rate is stale
    (`set_rate_usable`): quotes are still validated and kept — their feeds are healthy — but nothing is priced
    with a rate nobody vouches for.
    """

    perp_source: str
    cfd_source: str
    costs: CostModel
    entry_threshold: Decimal
    exit_threshold: Decimal | None = None
    validator: QuoteValidator = field(default_factory=QuoteValidator)
    stats_window: int = 300
    stats_bucket_ms: int = 1_000
    rate: int = RATE_SCALE
    rate_usable: bool = True
    cfd_open: bool = True
    perp: Quote | None = None
    cfd: Quote | None = None
    stats: RollingStats = field(init=False)
    tracker: OpportunityTracker = field(init=False)
    coefficients: CostCoefficients = field(init=False)

    def __post_init__(self) -> None:
        self.stats = RollingStats(self.stats_window, self.stats_bucket_ms)
        exit_threshold = self.entry_threshold if self.exit_threshold is None else self.exit_threshold
        self.tracker = OpportunityTracker(int(self.entry_threshold * EDGE_SCALE), int(exit_threshold * EDGE_SCALE))
        self.coefficients = CostCoefficients.of(self.costs)

    def set_costs(self, costs: CostModel, entry_threshold: Decimal, exit_threshold: Decimal | None = None) -> None:
        """Reprice with new costs and thresholds (the open opportunity, if any, carries on)."""
        self.costs = costs
        self.entry_threshold = entry_threshold
        self.exit_threshold = exit_threshold
        self.coefficients = CostCoefficients.of(costs)
        self.tracker.entry_threshold = int(entry_threshold * EDGE_SCALE)
        self.tracker.exit_threshold = int((entry_threshold if exit_threshold is None else exit_threshold) * EDGE_SCALE)

    def set_rate(self, usd_per_usdt: Decimal) -> None:
        if usd_per_usdt <= 0:
            raise ValueError("usd_per_usdt must be positive")
        self.rate = rate_units(usd_per_usdt)

    def set_rate_usable(self, usable: bool, ts_ms: int) -> Opportunity | None:
        """Record whether the rate may price (fresh, or fixed); losing it ends any open opportunity (returned)."""
        closed = self.tracker.interrupt(ts_ms) if self.rate_usable and not usable else None
        self.rate_usable = usable
        return closed

    def set_cfd_open(self, is_open: bool, ts_ms: int) -> Opportunity | None:
        """Record the CFD session state. Closing forgets the CFD's last quote and its outlier reference,
        so the reopen gap is accepted; it ends any open opportunity. Reopening forgets the reference again:
        quotes the feed delivered while the market was closed must not make the gap look like an outlier."""
        closed = None
        if self.cfd_open and not is_open:
            closed = self.tracker.interrupt(ts_ms)
            self.cfd = None
            self.validator.market_closed(self.cfd_source)
        elif is_open and not self.cfd_open:
            self.validator.market_closed(self.cfd_source)
            self.stats.reset()  # the basis before a gap says little about the basis after it
        self.cfd_open = is_open
        return closed

    def check_fresh(self, now_ms: int) -> Opportunity | None:
        """End the open opportunity when a leg has gone silent past the staleness limit (no quote arrives to
        notice it). The runner calls this on a timer; returns the closed opportunity, if any."""
        if self.tracker.current is None:
            return None
        stale_after = self.validator.stale_after_ms
        perp, cfd = self.perp, self.cfd
        if perp is None or cfd is None or now_ms - perp.ts_ms > stale_after or now_ms - cfd.ts_ms > stale_after:
            return self.tracker.interrupt(now_ms)
        return None

    def on_quote(self, quote: Quote, now_ms: int) -> EngineResult:
        source = quote.source
        if source == self.cfd_source:
            if not self.cfd_open:
                # A quote from a closed market is *closed*, not stale or valid: counted, never priced.
                self.validator.counts[Verdict.CLOSED] += 1
                return _CLOSED
        elif source != self.perp_source:
            raise ValueError(f"quote from {source!r} does not belong to this pair")
        verdict = self.validator.check(quote, now_ms=now_ms)
        if verdict is not VERDICT_OK:
            return EngineResult(verdict)
        if source == self.perp_source:
            self.perp = quote
        else:
            self.cfd = quote
        perp, cfd = self.perp, self.cfd
        if perp is None or cfd is None or not self.rate_usable:
            return _ACCEPTED_WITHOUT_SAMPLE
        stale_after = self.validator.stale_after_ms
        if now_ms - perp.ts_ms > stale_after or now_ms - cfd.ts_ms > stale_after:
            return EngineResult(verdict, closed=self.tracker.interrupt(now_ms))
        sample = self._price(perp, cfd, perp.ts_ms if perp.ts_ms > cfd.ts_ms else cfd.ts_ms)
        opened, closed = self.tracker.update(sample.ts_ms, sample.net_sell_perp, sample.net_buy_perp)
        return EngineResult(verdict, sample, opened, closed)

    def _price(self, perp: Quote, cfd: Quote, ts_ms: int) -> SpreadSample:
        rate = self.rate
        c = self.coefficients
        perp_bid, perp_ask, cfd_bid, cfd_ask = perp.bid, perp.ask, cfd.bid, cfd.ask
        sell_perp = (perp_bid * rate - cfd_ask * RATE_SCALE) * _EDGE_PER_PRICE_RATE
        buy_perp = (cfd_bid * RATE_SCALE - perp_ask * rate) * _EDGE_PER_PRICE_RATE
        perp_mid2_rate = (perp_bid + perp_ask) * rate
        cfd_mid2 = cfd_bid + cfd_ask
        cfd_cost = cfd_mid2 * c.cfd
        net_sell_perp = sell_perp + ((perp_mid2_rate * c.perp_sell_perp - cfd_cost) >> COEFF_SHIFT) + c.const_sell_perp
        net_buy_perp = buy_perp + ((perp_mid2_rate * c.perp_buy_perp - cfd_cost) >> COEFF_SHIFT) + c.const_buy_perp
        basis = (perp_mid2_rate - cfd_mid2 * RATE_SCALE) * _EDGE_PER_MID2_RATE
        stats = self.stats
        zscore = stats.score_and_push(ts_ms, basis / EDGE_SCALE)
        return SpreadSample(
            ts_ms,
            perp,
            cfd,
            rate,
            sell_perp,
            buy_perp,
            net_sell_perp,
            net_buy_perp,
            basis,
            stats.mean,
            stats.std,
            zscore,
        )
