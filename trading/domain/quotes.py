"""Quotes on the tick path and their validation (ARCHITECTURE.md "Processes and data flow").

A quote that fails validation is dropped and counted; it never prices anything and never stops a feed.
Prices are integers of 1e-8 (`trading.domain.fixed`) and times integer milliseconds since the epoch (UTC),
so the checks stay exact and cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from trading.domain.fixed import price_decimal, price_units


@dataclass(frozen=True, slots=True)
class Quote:
    """Best bid and ask of one source at `ts_ms` (venue time, ms since the epoch, UTC), in 1e-8 units."""

    source: str
    bid: int
    ask: int
    ts_ms: int

    @classmethod
    def of(cls, source: str, bid: Decimal | str, ask: Decimal | str, ts_ms: int) -> Quote:
        return cls(source, price_units(bid), price_units(ask), ts_ms)

    @property
    def bid_price(self) -> Decimal:
        return price_decimal(self.bid)

    @property
    def ask_price(self) -> Decimal:
        return price_decimal(self.ask)

    @property
    def mid_price(self) -> Decimal:
        return price_decimal(self.bid + self.ask) / 2

    @property
    def spread_price(self) -> Decimal:
        return price_decimal(self.ask - self.bid)


class Verdict(StrEnum):
    OK = "ok"
    NON_POSITIVE = "non_positive"
    CROSSED = "crossed"
    LOCKED = "locked"
    OUT_OF_ORDER = "out_of_order"
    OUTLIER = "outlier"
    STALE = "stale"
    CLOSED = "closed"  # from a market that is closed: not an error, never priced


# Module constants: an Enum member looked up on its class costs more than the check itself on the tick path.
VERDICT_OK = Verdict.OK


@dataclass(slots=True)
class _SourceState:
    last_ts_ms: int | None = None
    reference: int | None = None  # bid + ask of the last accepted quote (twice its mid)
    pending: int | None = None  # a new level the outlier filter has seen but not yet accepted
    pending_count: int = 0


@dataclass(slots=True)
class QuoteValidator:
    """Stateful per-source quote filter.

    - non-positive prices, crossed (bid > ask) and locked (bid == ask) books are invalid;
    - a quote older than the last accepted one from the same source is out of order;
    - a quote older than `stale_after_ms` at `now_ms` is stale;
    - a mid that jumps more than `max_jump_bps` from the last accepted mid is an outlier, unless
      `confirmations` consecutive quotes agree on the new level (a real move, not a bad print).
    `market_closed(source)` forgets the outlier reference, so the gap at the next open is accepted.
    """

    max_jump_bps: int = 50
    stale_after_ms: int = 5_000
    confirmations: int = 3
    counts: dict[Verdict, int] = field(default_factory=lambda: dict.fromkeys(Verdict, 0))
    _sources: dict[str, _SourceState] = field(default_factory=dict)

    def check(self, quote: Quote, *, now_ms: int) -> Verdict:
        verdict = self._verdict(quote, now_ms)
        self.counts[verdict] += 1
        return verdict

    def _verdict(self, quote: Quote, now_ms: int) -> Verdict:
        bid, ask = quote.bid, quote.ask
        if bid <= 0 or ask <= 0:
            return Verdict.NON_POSITIVE
        if bid > ask:
            return Verdict.CROSSED
        if bid == ask:
            return Verdict.LOCKED
        state = self._sources.get(quote.source)
        if state is None:
            state = self._sources[quote.source] = _SourceState()
        if state.last_ts_ms is not None and quote.ts_ms < state.last_ts_ms:
            return Verdict.OUT_OF_ORDER
        if now_ms - quote.ts_ms > self.stale_after_ms:
            return Verdict.STALE
        level = bid + ask
        reference = state.reference
        if reference is not None and abs(level - reference) * 10_000 > self.max_jump_bps * reference:
            pending = state.pending
            if pending is not None and abs(level - pending) * 10_000 <= self.max_jump_bps * pending:
                state.pending_count += 1
            else:
                state.pending_count = 1
            state.pending = level
            if state.pending_count < self.confirmations:
                return Verdict.OUTLIER
        state.pending = None
        state.pending_count = 0
        state.reference = level
        state.last_ts_ms = quote.ts_ms
        return VERDICT_OK

    def market_closed(self, source: str) -> None:
        """Forget the price reference of `source` after a closed session (its reopen gap is no outlier)."""
        state = self._sources.get(source)
        if state is not None:
            state.reference = None
            state.pending = None
            state.pending_count = 0

    def dropped(self) -> int:
        """Quotes refused as invalid (closed-market quotes are not errors and are not counted here)."""
        return sum(count for verdict, count in self.counts.items() if verdict not in (Verdict.OK, Verdict.CLOSED))
