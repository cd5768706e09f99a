"""Fees charged in another asset than the one a leg is booked in (ARCHITECTURE.md "Units and formulas").

PnL books a perp leg's fees in USDT and a CFD leg's in USD (trading/domain/pnl.py values both). A venue may charge
otherwise: Binance takes the commission in BNB when the account pays fees with BNB; a Bybit MT5 account funded in
USDT charges its commission in USDT while the CFD leg is booked in USD. Such a fee is converted at the fill's time
with a rate from a named source, and the conversion (amount, asset, rate, source, time) stays with the fill, so the
booked fee can always be traced back to what the venue charged.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from trading.domain.orders import FeeConversion

FEE_QUANTUM = Decimal("0.00000001")
USD = "USD"
USDT = "USDT"


def leg_fee_currency(leg: str) -> str:
    """The currency a leg's fees are booked in: USDT on the perp, USD on the CFD."""
    return USDT if leg == "perp" else USD


def needs_conversion(asset: str, leg: str) -> bool:
    return asset != leg_fee_currency(leg)


def converted_fee(
    amount: Decimal, asset: str, *, rate: Decimal, source: str, ts_ms: int
) -> tuple[Decimal, FeeConversion]:
    """`amount` of `asset` in the booked currency at `rate` (booked currency per unit of `asset`), 8 dp half-even,
    with the conversion that says how."""
    conversion = FeeConversion(amount=amount, asset=asset, rate=rate, source=source, ts_ms=ts_ms)
    return (amount * rate).quantize(FEE_QUANTUM, rounding=ROUND_HALF_EVEN), conversion
