"""Hedges whose PnL split is worked out by hand, line by line, shared by the domain tests (test_pnl.py) and the
tests that every consumer shows the same figures (tests/trading/portfolio/test_pnl.py).

Every case has a USDT/USD rate other than 1 that moves between the fills, the carry bookings and the valuation.
Fees: perp 0.05 % of the notional in USDT (case C: the 0.92 USDT fee that showed as 0.00 until the close), CFD a
commission in USD. The working is in each case's comment; `total` is checked against the cash flows as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal as D

from trading.domain.orders import Leg
from trading.domain.pnl import USD, USDT, CarryBooking, CarryKind, Marks, PnlFill, PnlSplit


@dataclass(frozen=True)
class Case:
    name: str
    direction: str  # sell_perp or buy_perp
    opening: tuple[PnlFill, PnlFill]  # perp, CFD
    closing: tuple[PnlFill, PnlFill] | None  # None: the hedge is still open
    carry: tuple[CarryBooking, ...]
    usd_per_usdt: D  # the valuation rate: exit rate of a closed hedge, the marks' rate of an open one
    marks: Marks | None  # an open hedge's marks
    expected: PnlSplit
    total: D

    @property
    def fills(self) -> tuple[PnlFill, ...]:
        return self.opening + (self.closing or ())


# A — sell perp / buy CFD, 2 oz, closed. Open at 0.9998: perp sold at 4610.00 (fee 4.61 USDT), CFD bought at
# 4606.00 (0.14 USD). Funding +0.92 USDT booked at 1.0000, swap −0.90 USD. Close at 1.0003: perp bought at 4605.00
# (fee 4.605 USDT), CFD sold at 4606.00 (0.14 USD). Valued at the exit rate 1.0003.
#   spread  = 9220 · 0.9998 − 9210 · 1.0003 − 9212 + 9212 = 9218.156 − 9212.763      =  5.393
#           (entry edge 4610 · 0.9998 − 4606 = 3.078/oz, exit edge 4606 − 4605 · 1.0003 = −0.3815/oz, × 2 oz)
#   fees    = −(4.61 · 0.9998 + 4.605 · 1.0003 + 0.14 + 0.14) = −(4.609078 + 4.6063815 + 0.28) = −9.4954595
#   funding = 0.92 · 1.0000                                                                =  0.92
#   swap                                                                                   = −0.90
#   fx      = 9220 · 0.0005 − 4.61 · 0.0005 + 0.92 · 0.0003 = 4.61 − 0.002305 + 0.000276   =  4.607971
#   total   = USDT (9220 − 4.61 + 0.92 − 9210 − 4.605 = 1.705) · 1.0003 + USD (−1.18)       =  0.5255115
A_SELL_PERP_CLOSED = Case(
    name="sell perp / buy CFD, closed",
    direction="sell_perp",
    opening=(
        PnlFill(Leg.PERP, D(-2), D("4610.00"), D("4.61"), USDT, D("0.9998")),
        PnlFill(Leg.CFD, D(2), D("4606.00"), D("0.14"), USD, D("0.9998")),
    ),
    closing=(
        PnlFill(Leg.PERP, D(2), D("4605.00"), D("4.605"), USDT, D("1.0003")),
        PnlFill(Leg.CFD, D(-2), D("4606.00"), D("0.14"), USD, D("1.0003")),
    ),
    carry=(
        CarryBooking(CarryKind.FUNDING, D("0.92"), USDT, D("1.0000")),
        CarryBooking(CarryKind.SWAP, D("-0.90"), USD, D("1.0000")),
    ),
    usd_per_usdt=D("1.0003"),
    marks=None,
    expected=PnlSplit(D("5.393"), D("-9.4954595"), D("0.92"), D("-0.90"), D("4.607971")),
    total=D("0.5255115"),
)

# B — buy perp / sell CFD, 1 oz, closed. Open at 1.0004: perp bought at 4590.00 (fee 2.295 USDT), CFD sold at
# 4593.50 (0.07 USD). Funding −0.459 USDT (the long pays) at 1.0002, swap +0.20 USD (the short CFD receives).
# Close at 0.9999: perp sold at 4596.00 (fee 2.298 USDT), CFD bought at 4595.00 (0.07 USD).
#   spread  = −4590 · 1.0004 + 4596 · 0.9999 + 4593.50 − 4595.00 = −4591.836 + 4595.5404 − 1.5 =  2.2044
#           (entry edge 4593.50 − 4590 · 1.0004 = 1.664, exit edge 4596 · 0.9999 − 4595 = 0.5404)
#   fees    = −(2.295 · 1.0004 + 2.298 · 0.9999 + 0.14) = −(2.295918 + 2.2977702 + 0.14)     = −4.7336882
#   funding = −0.459 · 1.0002                                                              = −0.4590918
#   swap                                                                                   =  0.20
#   fx      = −4590 · −0.0005 − 2.295 · −0.0005 − 0.459 · −0.0003 (a long perp is short USDT, USDT fell)
#           = 2.295 + 0.0011475 + 0.0001377                                                =  2.2962852
#   total   = USDT (−4590 − 2.295 − 0.459 + 4596 − 2.298 = 0.948) · 0.9999 + USD (−1.44)    = −0.4920948
B_BUY_PERP_CLOSED = Case(
    name="buy perp / sell CFD, closed",
    direction="buy_perp",
    opening=(
        PnlFill(Leg.PERP, D(1), D("4590.00"), D("2.295"), USDT, D("1.0004")),
        PnlFill(Leg.CFD, D(-1), D("4593.50"), D("0.07"), USD, D("1.0004")),
    ),
    closing=(
        PnlFill(Leg.PERP, D(-1), D("4596.00"), D("2.298"), USDT, D("0.9999")),
        PnlFill(Leg.CFD, D(1), D("4595.00"), D("0.07"), USD, D("0.9999")),
    ),
    carry=(
        CarryBooking(CarryKind.FUNDING, D("-0.459"), USDT, D("1.0002")),
        CarryBooking(CarryKind.SWAP, D("0.20"), USD, D("1.0002")),
    ),
    usd_per_usdt=D("0.9999"),
    marks=None,
    expected=PnlSplit(D("2.2044"), D("-4.7336882"), D("-0.4590918"), D("0.20"), D("2.2962852")),
    total=D("-0.4920948"),
)

# C — sell perp / buy CFD, 1 oz, open. Open at 0.9998: perp sold at 4600.00 with a 0.92 USDT fee, CFD bought at
# 4597.00 (0.05 USD). Funding +0.46 USDT at 0.9999, swap −0.45 USD. Marked at 1.0002, perp 4598.00/4598.40, CFD
# 4597.60/4597.90: the short perp would buy back at the ask 4598.40, the long CFD sell at the bid 4597.60.
#   spread  = 4600 · 0.9998 − 4598.40 · 1.0002 − 4597 + 4597.60 = 4599.08 − 4599.31968 + 0.60 =  0.36032
#   fees    = −(0.92 · 0.9998 + 0.05)                                   (paid already: counted) = −0.969816
#   funding = 0.46 · 0.9999                                                                =  0.459954
#   swap                                                                                   = −0.45
#   fx      = 4600 · 0.0004 − 0.92 · 0.0004 + 0.46 · 0.0003 = 1.84 − 0.000368 + 0.000138     =  1.83977
#   total   = USDT (4600 − 0.92 + 0.46 − 4598.40 = 1.14) · 1.0002 + USD (0.10)              =  1.240228
C_SELL_PERP_OPEN = Case(
    name="sell perp / buy CFD, open",
    direction="sell_perp",
    opening=(
        PnlFill(Leg.PERP, D(-1), D("4600.00"), D("0.92"), USDT, D("0.9998")),
        PnlFill(Leg.CFD, D(1), D("4597.00"), D("0.05"), USD, D("0.9998")),
    ),
    closing=None,
    carry=(
        CarryBooking(CarryKind.FUNDING, D("0.46"), USDT, D("0.9999")),
        CarryBooking(CarryKind.SWAP, D("-0.45"), USD, D("0.9999")),
    ),
    usd_per_usdt=D("1.0002"),
    marks=Marks(D("1.0002"), D("4598.00"), D("4598.40"), D("4597.60"), D("4597.90")),
    expected=PnlSplit(D("0.36032"), D("-0.969816"), D("0.459954"), D("-0.45"), D("1.83977")),
    total=D("1.240228"),
)

# D — buy perp / sell CFD, 1 oz, open. Open at 1.0004: perp bought at 4590.00 (fee 2.295 USDT), CFD sold at
# 4593.50 (0.07 USD). Funding −0.459 USDT at 1.0002, swap +0.20 USD. Marked at 0.9999, perp 4595.80/4596.00, CFD
# 4594.70/4595.00: the long perp would sell at the bid 4595.80, the short CFD buy at the ask 4595.00.
#   spread  = −4590 · 1.0004 + 4595.80 · 0.9999 + 4593.50 − 4595.00 = −4591.836 + 4595.34042 − 1.5 = 2.00442
#   fees    = −(2.295 · 1.0004 + 0.07)                                                     = −2.365918
#   funding = −0.459 · 1.0002                                                              = −0.4590918
#   swap                                                                                   =  0.20
#   fx      = −4590 · −0.0005 − 2.295 · −0.0005 − 0.459 · −0.0003                           =  2.2962852
#   total   = USDT (−4590 − 2.295 − 0.459 + 4595.80 = 3.046) · 0.9999 + USD (−1.37)         =  1.6756954
D_BUY_PERP_OPEN = Case(
    name="buy perp / sell CFD, open",
    direction="buy_perp",
    opening=(
        PnlFill(Leg.PERP, D(1), D("4590.00"), D("2.295"), USDT, D("1.0004")),
        PnlFill(Leg.CFD, D(-1), D("4593.50"), D("0.07"), USD, D("1.0004")),
    ),
    closing=None,
    carry=(
        CarryBooking(CarryKind.FUNDING, D("-0.459"), USDT, D("1.0002")),
        CarryBooking(CarryKind.SWAP, D("0.20"), USD, D("1.0002")),
    ),
    usd_per_usdt=D("0.9999"),
    marks=Marks(D("0.9999"), D("4595.80"), D("4596.00"), D("4594.70"), D("4595.00")),
    expected=PnlSplit(D("2.00442"), D("-2.365918"), D("-0.4590918"), D("0.20"), D("2.2962852")),
    total=D("1.6756954"),
)

CASES = (A_SELL_PERP_CLOSED, B_BUY_PERP_CLOSED, C_SELL_PERP_OPEN, D_BUY_PERP_OPEN)
