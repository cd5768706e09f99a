"""The strategy's decision: one pure function shared unchanged by live, paper and backtests.

`decide(params, market, book, now_ms)` looks at fresh quotes, the session, the strategy's open hedges and the
kill switch and returns exactly one Decision: Hold, Open (one direction, one hedge size) or Close (one hedge).
The caller acts on it and calls again; closing several hedges takes several calls.

Order of evaluation, each step ending the decision when it applies:
1. Nothing is priced without fresh, valid quotes on both legs, a fresh `usd_per_usdt` and both markets open
   (Hold — exits too: a stale quote never prices an order, and a closed market takes no order).
2. Exits, for hedges that are open (not in flight), oldest first: flatten before a gap (policy "flatten"),
   stop loss, time stop, exit threshold (the remaining-edge convention of `strategies.domain.params`).
   Exits are evaluated before the kill switch: a halt never blocks them.
3. Halted → Hold.
4. Entry gates: a hedge in flight, unhedged exposure, session windows, CFD spread, cooldown, maximum open
   hedges and position, carry inputs, the entry threshold on the net edge, no hedge against an open one in
   the opposite direction, the optional z-score filter → Open.

Reasons are codes + string parameters, translated on display.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from trading.domain.calendar import EntryBlock, SessionView, entry_block
from trading.domain.quotes import Quote
from trading.domain.spread import CostModel, Direction, Edges, net_edges, spread_edges, to_bps

from .params import FundingSource, GapPolicy, StrategyParams, SwapSource, ThresholdUnit

ZERO = Decimal(0)
EDGE_QUANTUM = Decimal("0.00000001")  # edges are booked at 8 dp


class ReasonCode(StrEnum):
    # Hold: nothing can be priced.
    NO_QUOTE = "no_quote"
    INVALID_QUOTE = "invalid_quote"
    STALE_QUOTE = "stale_quote"
    STALE_RATE = "stale_rate"
    PERP_CLOSED = "perp_closed"
    CFD_CLOSED = "cfd_closed"
    # Hold: no entry.
    HALTED = "halted"
    HEDGE_IN_FLIGHT = "hedge_in_flight"
    UNHEDGED_EXPOSURE = "unhedged_exposure"
    BEFORE_CLOSE = "before_close"
    AFTER_OPEN = "after_open"
    CFD_SPREAD_WIDE = "cfd_spread_wide"
    COOLDOWN = "cooldown"
    MAX_OPEN_HEDGES = "max_open_hedges"
    MAX_POSITION = "max_position"
    CARRY_UNKNOWN = "carry_unknown"
    BELOW_ENTRY = "below_entry"
    OPPOSITE_HEDGE_OPEN = "opposite_hedge_open"
    ZSCORE_UNAVAILABLE = "zscore_unavailable"
    ZSCORE_FILTER = "zscore_filter"
    # Open.
    ENTRY_EDGE = "entry_edge"
    # Close.
    FLATTEN_BEFORE_GAP = "flatten_before_gap"
    STOP_LOSS = "stop_loss"
    TIME_STOP = "time_stop"
    EXIT_EDGE = "exit_edge"


@dataclass(frozen=True, slots=True)
class Reason:
    code: ReasonCode
    params: Mapping[str, str] = field(default_factory=dict, hash=False)

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code.value, "params": dict(self.params)}


def _reason(code: ReasonCode, **params: object) -> Reason:
    return Reason(code, {key: str(value) for key, value in params.items()})


# --- inputs ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LegQuote:
    """Best bid/ask of one leg in Decimal (perp USDT/oz, CFD USD/oz), venue time `ts_ms`, optional sizes (oz)."""

    bid: Decimal
    ask: Decimal
    ts_ms: int
    bid_size: Decimal | None = None
    ask_size: Decimal | None = None

    @classmethod
    def of(cls, quote: Quote, *, bid_size: Decimal | None = None, ask_size: Decimal | None = None) -> LegQuote:
        return cls(quote.bid_price, quote.ask_price, quote.ts_ms, bid_size, ask_size)

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2

    @property
    def spread(self) -> Decimal:
        return self.ask - self.bid

    @property
    def valid(self) -> bool:
        return 0 < self.bid < self.ask


@dataclass(frozen=True, slots=True)
class Fees:
    """The account's taker fees: rates are fractions of notional per fill; commission USD per ounce per fill."""

    perp_fee_rate: Decimal = Decimal("0.0005")
    cfd_fee_rate: Decimal = ZERO
    cfd_commission_per_oz: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class CarryInputs:
    """Live carry inputs: the venue's predicted funding rate per event (None: unknown) and the symbol's swap
    terms converted to signed USD per ounce per night (None: unknown)."""

    funding_rate: Decimal | None = None
    funding_interval_hours: Decimal = Decimal(8)
    swap_long_per_oz_night: Decimal | None = None
    swap_short_per_oz_night: Decimal | None = None


@dataclass(frozen=True, slots=True)
class MarketView:
    """What the market looks like at `now_ms`. `usd_per_usdt_ts_ms` None means a fixed rate (never stale);
    `session` is the CFD's; `zscore` is the basis z-score from the engine's rolling statistics."""

    perp: LegQuote | None
    cfd: LegQuote | None
    usd_per_usdt: Decimal
    session: SessionView
    usd_per_usdt_ts_ms: int | None = None
    perp_open: bool = True
    fees: Fees = Fees()
    carry: CarryInputs = CarryInputs()
    zscore: Decimal | None = None


@dataclass(frozen=True, slots=True)
class HedgeView:
    """One of the strategy's hedges that is not closed. `in_flight` hedges (planned, opening, closing, legged,
    repairing, needs-reconcile) count towards the limits but are never closed from here.
    `unrealised_pnl_usd` is the hedge's mark-to-market PnL in USD (None: not known, no stop loss)."""

    hedge_id: int
    direction: Direction
    size_oz: Decimal
    opened_at_ms: int
    unrealised_pnl_usd: Decimal | None = None
    in_flight: bool = False


@dataclass(frozen=True, slots=True)
class BookView:
    """The strategy's own state: its hedges, the pool's unhedged ounces (perp_oz + cfd_oz), when it last
    closed a hedge (for the cooldown) and whether a kill switch covering it is in force."""

    hedges: tuple[HedgeView, ...] = ()
    unhedged_oz: Decimal = ZERO
    last_close_ms: int | None = None
    halted: bool = False

    @property
    def position_oz(self) -> Decimal:
        return sum((hedge.size_oz for hedge in self.hedges), ZERO)


# --- decisions ----------------------------------------------------------------------------------------------
class Action(StrEnum):
    HOLD = "hold"
    OPEN = "open"
    CLOSE = "close"


@dataclass(frozen=True, slots=True)
class Hold:
    reason: Reason
    action: Action = field(default=Action.HOLD, init=False)

    def as_dict(self) -> dict[str, object]:
        return {"action": self.action.value, "reason": self.reason.as_dict()}


@dataclass(frozen=True, slots=True)
class Open:
    """Open one hedge: `expected_edge` is the net edge in USD/oz (8 dp) that passed the entry threshold."""

    direction: Direction
    size_oz: Decimal
    reason: Reason
    expected_edge: Decimal
    action: Action = field(default=Action.OPEN, init=False)

    def as_dict(self) -> dict[str, object]:
        return {
            "action": self.action.value,
            "direction": self.direction.value,
            "size_oz": str(self.size_oz),
            "expected_edge": str(self.expected_edge),
            "reason": self.reason.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class Close:
    hedge_id: int
    reason: Reason
    action: Action = field(default=Action.CLOSE, init=False)

    def as_dict(self) -> dict[str, object]:
        return {"action": self.action.value, "hedge_id": self.hedge_id, "reason": self.reason.as_dict()}


Decision = Hold | Open | Close


# --- edges --------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EdgeView:
    """Raw and net edges (USD/oz) of a priced market, and the reference price for bps (the CFD mid)."""

    raw: Edges
    net: Edges
    cfd_mid: Decimal

    def in_unit(self, value: Decimal, unit: ThresholdUnit) -> Decimal:
        return value if unit is ThresholdUnit.USD else to_bps(value, self.cfd_mid)

    def remaining(self, direction: Direction) -> Decimal:
        """What an open hedge in `direction` still gains if the basis converges: minus the closing trade's
        raw edge (the closing trade is the other direction's trade)."""
        closing = Direction.BUY_PERP if direction is Direction.SELL_PERP else Direction.SELL_PERP
        return -self.raw.of(closing)


def strategy_costs(params: StrategyParams, market: MarketView) -> CostModel | None:
    """The cost model of `params` in this market: the account's fees, the slippage buffer, the expected
    holding time and the carry from the configured sources. None when a carry input it needs is unknown."""
    carry = market.carry
    funding = params.funding_rate_fixed if params.funding_source is FundingSource.FIXED else carry.funding_rate
    if params.swap_source is SwapSource.OVERRIDE:
        swap_long, swap_short = params.swap_long_override, params.swap_short_override
    else:
        swap_long, swap_short = carry.swap_long_per_oz_night, carry.swap_short_per_oz_night
    if funding is None or swap_long is None or swap_short is None:
        return None
    return CostModel(
        perp_fee_rate=market.fees.perp_fee_rate,
        cfd_fee_rate=market.fees.cfd_fee_rate,
        cfd_commission_per_oz=market.fees.cfd_commission_per_oz,
        slippage_usd_per_oz=params.slippage_buffer_usd,
        expected_holding_hours=params.expected_holding_hours,
        funding_rate=funding,
        funding_interval_hours=carry.funding_interval_hours,
        swap_long_per_oz_night=swap_long,
        swap_short_per_oz_night=swap_short,
    )


def edges(perp: LegQuote, cfd: LegQuote, usd_per_usdt: Decimal, costs: CostModel | None) -> EdgeView:
    """Raw and net edges with `costs` (trading.domain.spread). Without costs (a carry input unknown) the net
    edges are the raw ones: only exits, which read raw edges, may use such a view."""
    raw = spread_edges(
        perp_bid=perp.bid, perp_ask=perp.ask, cfd_bid=cfd.bid, cfd_ask=cfd.ask, usd_per_usdt=usd_per_usdt
    )
    if costs is None:
        return EdgeView(raw, raw, cfd.mid)
    net = net_edges(raw, costs, perp_mid=perp.mid, cfd_mid=cfd.mid, usd_per_usdt=usd_per_usdt)
    return EdgeView(raw, net, cfd.mid)


# --- the decision -------------------------------------------------------------------------------------------
def decide(params: StrategyParams, market: MarketView, book: BookView, now_ms: int) -> Decision:
    """The one thing to do now. Pure and deterministic: same inputs, same Decision."""
    perp, cfd = market.perp, market.cfd
    if perp is None or cfd is None:
        return Hold(_reason(ReasonCode.NO_QUOTE, leg="perp" if perp is None else "cfd"))
    for leg, quote in (("perp", perp), ("cfd", cfd)):
        if not quote.valid:
            return Hold(_reason(ReasonCode.INVALID_QUOTE, leg=leg))
        age = now_ms - quote.ts_ms
        if age > params.max_quote_age_ms:
            return Hold(_reason(ReasonCode.STALE_QUOTE, leg=leg, age_ms=age, limit_ms=params.max_quote_age_ms))
    if market.usd_per_usdt <= 0:
        return Hold(_reason(ReasonCode.INVALID_QUOTE, leg="usd_per_usdt"))
    if market.usd_per_usdt_ts_ms is not None:
        age = now_ms - market.usd_per_usdt_ts_ms
        if age > params.max_rate_age_seconds * 1000:
            return Hold(_reason(ReasonCode.STALE_RATE, age_ms=age, limit_ms=params.max_rate_age_seconds * 1000))
    if not market.perp_open:
        return Hold(_reason(ReasonCode.PERP_CLOSED))
    if not market.session.is_open:
        return Hold(_reason(ReasonCode.CFD_CLOSED))

    costs = strategy_costs(params, market)
    view = edges(perp, cfd, market.usd_per_usdt, costs)

    exit_decision = _exit(params, market, book, view, now_ms)
    if exit_decision is not None:
        return exit_decision
    if book.halted:
        return Hold(_reason(ReasonCode.HALTED))
    return _entry(params, market, book, view, costs, now_ms)


def _exit(params: StrategyParams, market: MarketView, book: BookView, view: EdgeView, now_ms: int) -> Close | None:
    closable = sorted((h for h in book.hedges if not h.in_flight), key=lambda h: (h.opened_at_ms, h.hedge_id))
    if not closable:
        return None
    to_close = market.session.ms_to_close(now_ms)
    if (
        params.gap_policy is GapPolicy.FLATTEN
        and to_close is not None
        and to_close <= params.flatten_before_close_minutes * 60_000
    ):
        return Close(closable[0].hedge_id, _reason(ReasonCode.FLATTEN_BEFORE_GAP, minutes_to_close=to_close // 60_000))
    if params.stop_loss_usd is not None:
        for hedge in closable:
            pnl = hedge.unrealised_pnl_usd
            if pnl is not None and pnl <= -params.stop_loss_usd:
                return Close(hedge.hedge_id, _reason(ReasonCode.STOP_LOSS, pnl_usd=pnl, limit_usd=params.stop_loss_usd))
    if params.time_stop_minutes is not None:
        limit_ms = params.time_stop_minutes * 60_000
        for hedge in closable:
            if now_ms - hedge.opened_at_ms >= limit_ms:
                return Close(
                    hedge.hedge_id,
                    _reason(
                        ReasonCode.TIME_STOP,
                        held_minutes=(now_ms - hedge.opened_at_ms) // 60_000,
                        limit_minutes=params.time_stop_minutes,
                    ),
                )
    for hedge in closable:
        remaining = view.in_unit(view.remaining(hedge.direction), params.threshold_unit)
        if remaining <= params.exit_threshold:
            return Close(
                hedge.hedge_id,
                _reason(
                    ReasonCode.EXIT_EDGE,
                    remaining=remaining.quantize(EDGE_QUANTUM),
                    threshold=params.exit_threshold,
                    unit=params.threshold_unit.value,
                ),
            )
    return None


def _entry(
    params: StrategyParams,
    market: MarketView,
    book: BookView,
    view: EdgeView,
    costs: CostModel | None,
    now_ms: int,
) -> Hold | Open:
    if any(h.in_flight for h in book.hedges):
        return Hold(_reason(ReasonCode.HEDGE_IN_FLIGHT))
    if abs(book.unhedged_oz) > params.max_unhedged_oz:
        return Hold(
            _reason(ReasonCode.UNHEDGED_EXPOSURE, unhedged_oz=book.unhedged_oz, limit_oz=params.max_unhedged_oz)
        )
    block = entry_block(
        market.session,
        now_ms,
        no_entry_before_close_minutes=params.no_entry_before_close_minutes,
        no_entry_after_open_minutes=params.no_entry_after_open_minutes,
    )
    if block is EntryBlock.BEFORE_CLOSE:
        return Hold(_reason(ReasonCode.BEFORE_CLOSE, minutes=params.no_entry_before_close_minutes))
    if block is EntryBlock.AFTER_OPEN:
        return Hold(_reason(ReasonCode.AFTER_OPEN, minutes=params.no_entry_after_open_minutes))
    if block is EntryBlock.CLOSED:  # checked before; kept so every block maps to a reason
        return Hold(_reason(ReasonCode.CFD_CLOSED))
    assert market.cfd is not None
    if market.cfd.spread > params.max_cfd_spread:
        return Hold(_reason(ReasonCode.CFD_SPREAD_WIDE, spread=market.cfd.spread, limit=params.max_cfd_spread))
    if book.last_close_ms is not None and now_ms - book.last_close_ms < params.cooldown_seconds * 1000:
        return Hold(_reason(ReasonCode.COOLDOWN, seconds=params.cooldown_seconds))
    if len(book.hedges) >= params.max_open_hedges:
        return Hold(_reason(ReasonCode.MAX_OPEN_HEDGES, limit=params.max_open_hedges))
    if book.position_oz + params.size_oz > params.max_position_oz:
        return Hold(_reason(ReasonCode.MAX_POSITION, position_oz=book.position_oz, limit_oz=params.max_position_oz))
    if costs is None:
        return Hold(_reason(ReasonCode.CARRY_UNKNOWN))

    direction, net = view.net.best()
    net_in_unit = view.in_unit(net, params.threshold_unit)
    unit = params.threshold_unit.value
    if net_in_unit < params.entry_threshold:
        return Hold(
            _reason(
                ReasonCode.BELOW_ENTRY,
                direction=direction.value,
                edge=net_in_unit.quantize(EDGE_QUANTUM),
                threshold=params.entry_threshold,
                unit=unit,
            )
        )
    if any(h.direction is not direction for h in book.hedges):
        return Hold(_reason(ReasonCode.OPPOSITE_HEDGE_OPEN, direction=direction.value))
    if params.zscore_filter is not None:
        if market.zscore is None:
            return Hold(_reason(ReasonCode.ZSCORE_UNAVAILABLE))
        # A high basis (perp rich) is sold; a low one is bought.
        needed = params.zscore_filter
        passes = market.zscore >= needed if direction is Direction.SELL_PERP else market.zscore <= -needed
        if not passes:
            return Hold(_reason(ReasonCode.ZSCORE_FILTER, zscore=market.zscore, needed=needed))
    return Open(
        direction,
        params.size_oz,
        _reason(
            ReasonCode.ENTRY_EDGE,
            direction=direction.value,
            edge=net_in_unit.quantize(EDGE_QUANTUM),
            threshold=params.entry_threshold,
            unit=unit,
        ),
        net.quantize(EDGE_QUANTUM),
    )
