"""The one money model: a hedge's PnL in USD split into what made it, and the carry models paper hedges accrue
(funding on the perp, swap on the CFD). ARCHITECTURE.md "Units and formulas".

Every PnL figure in quantarb — the runner's stop loss and loss limits, the strategy status panel, hedge pages,
the API, the hedge's booked `pnl_<line>` fields — comes from `pnl_split` (through `mark_to_market` for a live
hedge). Nothing else computes PnL.

The lines (`LINES`; the model fields are `pnl_<line>`, the API's fields the same):
- `spread` — spread capture: the legs' trade flows, a perp flow (USDT) in USD at the `usd_per_usdt` of its own
  fill, a CFD flow (USD) as it is; a leg still open is closed at its mark, the perp mark's USDT at the valuation
  rate. For a round trip it is the entry edge plus the exit edge per ounce, times the ounces.
- `fees` — every fee paid (negative): a USDT fee at its fill's rate, a USD fee as it is. A live hedge's split
  holds the fees it has already paid.
- `funding` — funding booked on the perp leg (positive received), a USDT amount at the rate of its booking.
- `swap` — swap booked on the CFD leg, likewise.
- `fx` — the USDT/USD line: every USDT flow revalued from the rate of its own moment r_i to the valuation rate
  r_v, Σ c_i · (r_v − r_i). A short perp leg is long its USDT notional (and the long CFD leg short USD), so this
  is the hedge's USDT/USD exposure paid out — about notional × the rate's move. One rule for realised and
  unrealised: the perp leg is always valued in USDT and converted at a stated rate (its fill's in `spread`, the
  move from there to r_v in `fx`).
- total — the sum of the five, exactly: Σ USDT flows · r_v + Σ USD flows (open legs at their marks), i.e. the
  hedge's cash flows valued at the valuation rate.

The valuation rate r_v: a closed hedge's exit rate (the rate its closing orders were priced at); a live hedge's
current rate. A live hedge's open legs are marked at the touch they would close at (a long sells at the bid, a
short buys at the ask), so its unrealised split is what it would book if it closed now, before closing fees.

Precision: lines are exact Decimals, computed at 60 digits. `PnlSplit.quantized()` books them once, at 8 dp
(`MONEY_QUANTUM`): each line rounded half-even, the rounding residues handed out so that the booked lines add up
exactly to the booked total, which is the exact total rounded half-even. That 8-dp split is what the database
stores, the API shows and the runner compares with its limits; screens show the same figures to the cent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from enum import StrEnum

from trading.domain.orders import Leg

ZERO = Decimal(0)
MONEY_QUANTUM = Decimal("0.00000001")
PRECISION = 60
USD = "USD"
USDT = "USDT"
DAYS_PER_YEAR_INTEREST = Decimal(360)  # MT5's interest swap modes use a 360-day year
LINES = ("spread", "fees", "funding", "swap", "fx")


class CarryKind(StrEnum):
    FUNDING = "funding"
    SWAP = "swap"


@dataclass(frozen=True, slots=True)
class PnlFill:
    """A fill of one leg: `signed_oz` positive for a buy; `price` per ounce in the leg's currency (perp USDT, CFD
    USD); `fee` a positive cost in `fee_currency` (USD or USDT); `usd_per_usdt` the rate at the fill."""

    leg: Leg
    signed_oz: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    usd_per_usdt: Decimal


@dataclass(frozen=True, slots=True)
class CarryBooking:
    """A funding or swap booking: `amount` signed as the venue books it (positive received), in `currency`
    (USD or USDT), valued at `usd_per_usdt` of its moment."""

    kind: CarryKind
    amount: Decimal
    currency: str
    usd_per_usdt: Decimal


@dataclass(frozen=True, slots=True)
class Valuation:
    """The rate USDT is valued at (exit rate when closed, current rate when open) and, for legs still open,
    their mark prices (perp USDT/oz, CFD USD/oz)."""

    usd_per_usdt: Decimal
    perp_mark: Decimal | None = None
    cfd_mark: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Marks:
    """The market a live hedge is marked at: both legs' touch and the USDT/USD rate of one moment."""

    usd_per_usdt: Decimal
    perp_bid: Decimal
    perp_ask: Decimal
    cfd_bid: Decimal
    cfd_ask: Decimal

    def valuation(self, *, perp_oz: Decimal, cfd_oz: Decimal) -> Valuation:
        """What each open leg would close at: a long sells at the bid, a short buys at the ask."""
        return Valuation(
            self.usd_per_usdt,
            perp_mark=self.perp_bid if perp_oz > 0 else self.perp_ask,
            cfd_mark=self.cfd_bid if cfd_oz > 0 else self.cfd_ask,
        )


@dataclass(frozen=True, slots=True)
class PnlSplit:
    """A hedge's (or a sum of hedges') PnL lines in USD; see the module for what each line holds."""

    spread: Decimal = ZERO
    fees: Decimal = ZERO  # negative: paid
    funding: Decimal = ZERO
    swap: Decimal = ZERO
    fx: Decimal = ZERO  # USDT/USD

    @property
    def total(self) -> Decimal:
        with localcontext(prec=PRECISION):
            return self.spread + self.fees + self.funding + self.swap + self.fx

    def lines(self) -> list[tuple[str, Decimal]]:
        """(line, value) in `LINES` order, for tables."""
        return [(line, getattr(self, line)) for line in LINES]

    def __add__(self, other: PnlSplit) -> PnlSplit:
        with localcontext(prec=PRECISION):
            return PnlSplit(*(getattr(self, line) + getattr(other, line) for line in LINES))

    def quantized(self, quantum: Decimal = MONEY_QUANTUM) -> PnlSplit:
        """The split booked at `quantum`: the total is the exact total rounded half-even, and the lines add up to
        it exactly. Each line is rounded half-even, then the few quanta the lines' roundings leave between their sum
        and the total go, one each, to the lines their rounding moved furthest the other way (largest remainder),
        so no line ends more than one quantum from its exact value."""
        with localcontext(prec=PRECISION):
            exact = [getattr(self, line) for line in LINES]
            booked = [value.quantize(quantum, rounding=ROUND_HALF_EVEN) for value in exact]
            target = self.total.quantize(quantum, rounding=ROUND_HALF_EVEN)
            short = int((target - sum(booked, ZERO)) / quantum)  # at most 3 either way over five lines
            if short:
                step = quantum if short > 0 else -quantum
                order = sorted(range(len(LINES)), key=lambda i: (exact[i] - booked[i]) * step, reverse=True)
                for index in order[: abs(short)]:
                    booked[index] += step
            return PnlSplit(*(value.copy_abs() if value.is_zero() else value for value in booked))


def _usd(amount: Decimal, currency: str, usd_per_usdt: Decimal) -> tuple[Decimal, Decimal]:
    """(USD value at the flow's own rate, the USDT amount to revalue — zero for USD flows)."""
    if currency == USD:
        return amount, ZERO
    if currency == USDT:
        return amount * usd_per_usdt, amount
    raise ValueError(f"convert {currency} to USD or USDT before booking it")


def pnl_split(*, fills: Iterable[PnlFill], carry: Iterable[CarryBooking], valuation: Valuation) -> PnlSplit:
    """The hedge's exact PnL lines in USD (see the module). Raises ValueError when a leg is still open and has no
    mark, or a flow is in a currency other than USD and USDT."""
    rate = valuation.usd_per_usdt
    if rate <= 0:
        raise ValueError("usd_per_usdt must be positive")
    with localcontext(prec=PRECISION):
        spread = fees = funding = swap = fx = ZERO
        perp_oz = cfd_oz = ZERO
        for fill in fills:
            trade_flow = -fill.signed_oz * fill.price
            if fill.leg is Leg.PERP:
                perp_oz += fill.signed_oz
                spread += trade_flow * fill.usd_per_usdt
                fx += trade_flow * (rate - fill.usd_per_usdt)
            else:
                cfd_oz += fill.signed_oz
                spread += trade_flow
            fee_usd, fee_usdt = _usd(-fill.fee, fill.fee_currency, fill.usd_per_usdt)
            fees += fee_usd
            fx += fee_usdt * (rate - fill.usd_per_usdt)
        for booking in carry:
            value, usdt = _usd(booking.amount, booking.currency, booking.usd_per_usdt)
            fx += usdt * (rate - booking.usd_per_usdt)
            if booking.kind is CarryKind.FUNDING:
                funding += value
            else:
                swap += value
        if perp_oz != 0:
            if valuation.perp_mark is None:
                raise ValueError("the perp leg is open: a perp mark is needed")
            spread += perp_oz * valuation.perp_mark * rate
        if cfd_oz != 0:
            if valuation.cfd_mark is None:
                raise ValueError("the CFD leg is open: a CFD mark is needed")
            spread += cfd_oz * valuation.cfd_mark
        return PnlSplit(spread, fees, funding, swap, fx)


def open_legs(fills: Iterable[PnlFill]) -> tuple[Decimal, Decimal]:
    """(perp ounces, CFD ounces) the fills leave open, signed (positive long)."""
    perp_oz = cfd_oz = ZERO
    for fill in fills:
        if fill.leg is Leg.PERP:
            perp_oz += fill.signed_oz
        else:
            cfd_oz += fill.signed_oz
    return perp_oz, cfd_oz


def mark_to_market(*, fills: Iterable[PnlFill], carry: Iterable[CarryBooking], marks: Marks) -> PnlSplit:
    """A live hedge's exact split now: its fills, fees and carry so far, its open legs closed at the touch and
    USDT valued at the current rate (`marks`). Equal to the split it would book if it closed at those prices."""
    fills = tuple(fills)
    perp_oz, cfd_oz = open_legs(fills)
    return pnl_split(fills=fills, carry=carry, valuation=marks.valuation(perp_oz=perp_oz, cfd_oz=cfd_oz))


# --- carry models (paper hedges; expectations) -------------------------------------------------------------
def funding_accrual(*, mark_price: Decimal, signed_oz: Decimal, rate: Decimal) -> Decimal:
    """Funding received (positive) or paid at one funding time, in USDT at 8 dp: `−signed_oz · mark · rate`.

    A positive rate means longs pay shorts: a short (negative `signed_oz`) receives. Binance charges it on the
    mark price to whoever holds the position at that instant.
    """
    with localcontext(prec=PRECISION):
        return (-signed_oz * mark_price * rate).quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)


class SwapMode(StrEnum):
    """MT5 `symbol_info().swap_mode`, the modes supported (others are refused by the adapter)."""

    DISABLED = "disabled"  # SYMBOL_SWAP_MODE_DISABLED (0)
    POINTS = "points"  # SYMBOL_SWAP_MODE_POINTS (1): swap in price points per lot
    MONEY = "money"  # SYMBOL_SWAP_MODE_CURRENCY_* (2–4): money per lot, in `SwapTerms.currency`
    INTEREST = "interest"  # SYMBOL_SWAP_MODE_INTEREST_CURRENT (5): annual % of the current price


@dataclass(frozen=True, slots=True)
class SwapTerms:
    """Swap terms as `symbol_info` gives them. `swap_long`/`swap_short` are signed as the broker books them
    (negative: the holder pays). `rollover3days` is MT5's weekday, 0 = Sunday … 6 = Saturday (commonly 3,
    Wednesday). Points and interest come out in the symbol's profit currency (USD for XAUUSD)."""

    mode: SwapMode
    swap_long: Decimal
    swap_short: Decimal
    point: Decimal
    contract_size: Decimal
    rollover3days: int = 3
    currency: str = USD

    def __post_init__(self) -> None:
        if not 0 <= self.rollover3days <= 6:
            raise ValueError("rollover3days is a weekday 0 (Sunday) … 6 (Saturday)")
        if self.contract_size <= 0:
            raise ValueError("contract size must be positive")


def swap_nights(terms: SwapTerms, rollover_day: date) -> int:
    """Nights charged at the rollover on `rollover_day` (server date): three on the triple day, else one."""
    mt5_weekday = (rollover_day.weekday() + 1) % 7
    return 3 if mt5_weekday == terms.rollover3days else 1


def swap_accrual(terms: SwapTerms, *, signed_lots: Decimal, price: Decimal, rollover_day: date) -> Decimal:
    """Swap booked at one rollover (called once per rollover that happens, in server time) at 8 dp; signed
    as the broker books it. In `terms.currency` for money mode, else in the profit currency."""
    if signed_lots == 0 or terms.mode is SwapMode.DISABLED:
        return ZERO
    rate = terms.swap_long if signed_lots > 0 else terms.swap_short
    lots = abs(signed_lots)
    nights = swap_nights(terms, rollover_day)
    with localcontext(prec=PRECISION):
        if terms.mode is SwapMode.POINTS:
            amount = rate * terms.point * terms.contract_size * lots * nights
        elif terms.mode is SwapMode.MONEY:
            amount = rate * lots * nights
        else:
            amount = price * terms.contract_size * lots * rate / 100 / DAYS_PER_YEAR_INTEREST * nights
        return amount.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)


def swap_per_oz_night(terms: SwapTerms, *, long: bool, price: Decimal) -> Decimal:
    """One night's swap per ounce (the `CostModel`'s `swap_long_per_oz_night` / `swap_short_per_oz_night`),
    unrounded. Money mode is taken as USD."""
    if terms.mode is SwapMode.DISABLED:
        return ZERO
    rate = terms.swap_long if long else terms.swap_short
    with localcontext(prec=PRECISION):
        if terms.mode is SwapMode.POINTS:
            return rate * terms.point
        if terms.mode is SwapMode.MONEY:
            return rate / terms.contract_size
        return price * rate / 100 / DAYS_PER_YEAR_INTEREST
