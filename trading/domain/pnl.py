"""A hedge's PnL in USD, split into what made it (ARCHITECTURE.md "Units and formulas"), and the carry models
paper hedges accrue (funding on the perp, swap on the CFD).

Every cash flow is valued in USD at the rate of its own moment: a perp fill's USDT at the `usd_per_usdt` of the
fill, a USDT fee or funding payment at the rate of its booking. The USDT still held is then worth the
*valuation* rate (the exit rate of a closed hedge, the current rate of an open one); the difference is the
USDT/USD line. So, with flows c_i in USDT at rates r_i and r_v the valuation rate:

- spread capture = Σ perp trade flows · r_i + Σ CFD trade flows (+ open legs marked at the marks, perp at r_v):
  what the edges at the fills captured — the entry edge plus the exit edge, per ounce;
- fees = −Σ fees · their rate (USD fees as they are); funding = Σ funding · r_i; swap = Σ swaps in USD;
- USDT/USD = Σ c_i · (r_v − r_i) over every USDT flow: a short perp leg is long its USDT notional, so this is
  the hedge's USDT/USD exposure paid out — about notional × the rate's move;
- total = Σ USDT flows · r_v + Σ USD flows = the sum of the five lines, exactly.

Lines are exact Decimals (computed at 60 digits); `PnlSplit.rounded()` books them at 8 dp.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from enum import StrEnum

from .orders import Leg

ZERO = Decimal(0)
MONEY_QUANTUM = Decimal("0.00000001")
PRECISION = 60
USD = "USD"
USDT = "USDT"
DAYS_PER_YEAR_INTEREST = Decimal(360)  # MT5's interest swap modes use a 360-day year


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
class PnlSplit:
    spread_capture: Decimal
    fees: Decimal  # negative: paid
    funding: Decimal
    swap: Decimal
    usdt_usd: Decimal

    @property
    def total(self) -> Decimal:
        with localcontext(prec=PRECISION):
            return self.spread_capture + self.fees + self.funding + self.swap + self.usdt_usd

    def rounded(self) -> PnlSplit:
        """Each line at the booked 8 dp (half-even); the total of rounded lines may differ from the rounded
        total by a few 1e-8."""
        return PnlSplit(
            *(
                value.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)
                for value in (self.spread_capture, self.fees, self.funding, self.swap, self.usdt_usd)
            )
        )


def _usd(amount: Decimal, currency: str, usd_per_usdt: Decimal) -> tuple[Decimal, Decimal]:
    """(USD value at the flow's own rate, the USDT amount to revalue — zero for USD flows)."""
    if currency == USD:
        return amount, ZERO
    if currency == USDT:
        return amount * usd_per_usdt, amount
    raise ValueError(f"convert {currency} to USD or USDT before booking it")


def pnl_split(*, fills: Iterable[PnlFill], carry: Iterable[CarryBooking], valuation: Valuation) -> PnlSplit:
    """The hedge's PnL lines in USD (see the module). Raises ValueError when a leg is still open and has no mark."""
    rate = valuation.usd_per_usdt
    if rate <= 0:
        raise ValueError("usd_per_usdt must be positive")
    with localcontext(prec=PRECISION):
        spread = fees = funding = swap = revaluation = ZERO
        perp_oz = cfd_oz = ZERO
        for fill in fills:
            trade_flow = -fill.signed_oz * fill.price
            if fill.leg is Leg.PERP:
                perp_oz += fill.signed_oz
                spread += trade_flow * fill.usd_per_usdt
                revaluation += trade_flow * (rate - fill.usd_per_usdt)
            else:
                cfd_oz += fill.signed_oz
                spread += trade_flow
            fee_usd, fee_usdt = _usd(-fill.fee, fill.fee_currency, fill.usd_per_usdt)
            fees += fee_usd
            revaluation += fee_usdt * (rate - fill.usd_per_usdt)
        for booking in carry:
            value, usdt = _usd(booking.amount, booking.currency, booking.usd_per_usdt)
            revaluation += usdt * (rate - booking.usd_per_usdt)
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
        return PnlSplit(spread, fees, funding, swap, revaluation)


# --- carry models (paper hedges; expectations) -------------------------------------------------------------
def funding_accrual(*, mark_price: Decimal, signed_oz: Decimal, rate: Decimal) -> Decimal:
    """Funding received (positive) or paid at one funding time, in USDT at 8 dp: `−signed_oz · mark · rate`.

    A positive rate means longs pay shorts: a short (negative `signed_oz`) receives. Binance charges it on the
    mark price to whoever holds the position at that instant.
    """
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
