"""Paper fills: how a simulated venue executes a taker order against a live quote ("Paper trading").

The caller applies the latency: `quote` is the quote in force `latency_ms` after the send. The rule:

- A buy takes the ask, a sell the bid, moved against the taker by `slippage_bps` (every fill pays it).
- The touch holds the displayed size (`ask_size` for a buy, `bid_size` for a sell; None = unlimited, as for
  MT5 ticks, which carry no size). Beyond it the book is synthetic: further levels of the same displayed size,
  each `depth_bps` worse than the one before, `MAX_LEVELS` of them (the last holds whatever a market order
  still needs). Level k (0 = touch) fills at
  `touch · (1 ± (slippage_bps + k·depth_bps) / 10 000)`, rounded against the taker to `tick`.
- A limit order (IOC) takes the levels whose price before slippage (`touch · (1 ± k·depth_bps / 10 000)`)
  is within its limit, each at its price with slippage capped at the limit (a venue never fills a limit order
  beyond its limit), and expires the rest: a limit that does not cross the touch fills nothing. A market
  order (no limit) fills completely, walking the levels.
- Quantities are whole steps: each level's size is the displayed size rounded down to `step` (at least one
  step), so the fills add up to at most the order's quantity, exactly it for a market order.
- Fill ids are `{fill_id_prefix}-{level}`: the same inputs give the same fills, so a replayed execution is a
  duplicate the order machine ignores.
- Fees: `fee_rate` of each fill's notional (`quantity · contract_size · price`), in `fee_currency`, 8 dp.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from trading.domain.orders import FillEvent, OrderStatus, Side

ZERO = Decimal(0)
ONE = Decimal(1)
BPS = Decimal(10_000)
PRICE_QUANTUM = Decimal("0.00000001")
FEE_QUANTUM = Decimal("0.00000001")
# The synthetic book has this many levels; the last one holds whatever a market order still needs.
MAX_LEVELS = 100


@dataclass(frozen=True, slots=True)
class PaperQuote:
    bid: Decimal
    ask: Decimal
    bid_size: Decimal | None = None
    ask_size: Decimal | None = None

    def __post_init__(self) -> None:
        if not 0 < self.bid < self.ask:
            raise ValueError("a paper quote needs 0 < bid < ask")
        for size in (self.bid_size, self.ask_size):
            if size is not None and size <= 0:
                raise ValueError("a displayed size must be positive (None when the venue shows none)")


@dataclass(frozen=True, slots=True)
class PaperExecution:
    fills: tuple[FillEvent, ...]
    quantity: Decimal

    @property
    def filled(self) -> Decimal:
        return sum((fill.quantity for fill in self.fills), ZERO)

    @property
    def status(self) -> OrderStatus:
        """Filled, or expired for an IOC's remainder (cancelled in the venue's words; expired in ours)."""
        return OrderStatus.FILLED if self.filled == self.quantity else OrderStatus.EXPIRED


def level_price(
    *, side: Side, touch: Decimal, level: int, slippage_bps: Decimal, depth_bps: Decimal, tick: Decimal
) -> Decimal:
    """Level `level`'s price (0 = the touch) moved against the taker, rounded against the taker to `tick`."""
    move = (slippage_bps + level * depth_bps) / BPS
    if side is Side.BUY:
        return (touch * (ONE + move) / tick).to_integral_value(rounding=ROUND_CEILING) * tick
    return (touch * (ONE - move) / tick).to_integral_value(rounding=ROUND_FLOOR) * tick


def paper_fill(
    *,
    side: Side,
    quantity: Decimal,
    limit_price: Decimal | None,
    quote: PaperQuote,
    slippage_bps: Decimal,
    fill_id_prefix: str,
    ts_ms: int,
    step: Decimal,
    tick: Decimal = PRICE_QUANTUM,
    depth_bps: Decimal = ONE,
    fee_rate: Decimal = ZERO,
    fee_currency: str = "USDT",
    contract_size: Decimal = ONE,
) -> PaperExecution:
    """Execute a taker order of `quantity` (a positive multiple of `step`) against `quote` (see the module)."""
    if quantity <= 0 or quantity % step != 0:
        raise ValueError("quantity must be a positive multiple of the step")
    if slippage_bps < 0 or depth_bps < 0 or fee_rate < 0:
        raise ValueError("slippage, depth and fee rate cannot be negative")
    touch, displayed = (quote.ask, quote.ask_size) if side is Side.BUY else (quote.bid, quote.bid_size)
    level_size = quantity if displayed is None else max((displayed // step) * step, step)
    fills: list[FillEvent] = []
    remaining = quantity
    level = 0
    while remaining > 0:
        price = level_price(
            side=side, touch=touch, level=level, slippage_bps=slippage_bps, depth_bps=depth_bps, tick=tick
        )
        if limit_price is not None:
            book = level_price(side=side, touch=touch, level=level, slippage_bps=ZERO, depth_bps=depth_bps, tick=tick)
            if book > limit_price if side is Side.BUY else book < limit_price:
                break
            price = min(price, limit_price) if side is Side.BUY else max(price, limit_price)
        size = remaining if level == MAX_LEVELS - 1 else min(level_size, remaining)
        fee = (size * contract_size * price * fee_rate).quantize(FEE_QUANTUM, rounding=ROUND_HALF_EVEN)
        fills.append(FillEvent(f"{fill_id_prefix}-{level}", size, price, fee, fee_currency, ts_ms))
        remaining -= size
        level += 1
    return PaperExecution(tuple(fills), quantity)


# --- the paper account's book ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PaperBook:
    """A paper account's position in its one instrument and the PnL it realised, as a venue keeps them.

    `quantity_oz` is signed (positive long); `avg_price` the average entry of what is open (None when flat), at
    8 dp as the venue shows it; `realised` the cumulative PnL of the ounces closed, in the instrument's quote
    currency (USDT on the perp, USD on the CFD), at 8 dp. Adding to a position averages the entry; reducing it
    realises (exit − entry) per ounce closed at the stored entry; a fill through zero closes the old position
    and opens the rest at the fill's price.
    """

    quantity_oz: Decimal = ZERO
    avg_price: Decimal | None = None
    realised: Decimal = ZERO

    def fill(self, *, signed_oz: Decimal, price: Decimal) -> PaperBook:
        """The book after a fill of `signed_oz` (positive: a buy) at `price`."""
        if signed_oz == 0:
            return self
        if price <= 0:
            raise ValueError("a fill price must be positive")
        before, after = self.quantity_oz, self.quantity_oz + signed_oz
        entry = self.avg_price if self.avg_price is not None else price
        if before == 0 or (before > 0) == (signed_oz > 0):
            total = abs(before) + abs(signed_oz)
            average = ((abs(before) * entry + abs(signed_oz) * price) / total).quantize(PRICE_QUANTUM)
            return PaperBook(after, average, self.realised)
        closed = min(abs(signed_oz), abs(before))
        direction = ONE if before > 0 else -ONE
        realised = (self.realised + closed * (price - entry) * direction).quantize(PRICE_QUANTUM)
        if after == 0:
            return PaperBook(ZERO, None, realised)
        if (after > 0) != (before > 0):
            return PaperBook(after, price, realised)  # through zero: the rest opened at this price
        return PaperBook(after, entry, realised)

    def unrealised(self, mark: Decimal) -> Decimal:
        """The open position's PnL at `mark`, in the quote currency (0 when flat)."""
        if self.quantity_oz == 0 or self.avg_price is None:
            return ZERO
        return self.quantity_oz * (mark - self.avg_price)
