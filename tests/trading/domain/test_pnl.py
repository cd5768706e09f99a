"""The PnL split and carry models (trading.domain.pnl)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading.domain.orders import Leg
from trading.domain.pnl import (
    LINES,
    MONEY_QUANTUM,
    USD,
    USDT,
    CarryBooking,
    CarryKind,
    Marks,
    PnlFill,
    PnlSplit,
    SwapMode,
    SwapTerms,
    Valuation,
    funding_accrual,
    mark_to_market,
    open_legs,
    pnl_split,
    swap_accrual,
    swap_nights,
    swap_per_oz_night,
)

from .builders import decimals, gold_prices, spreads, usd_per_usdt
from .pnl_cases import C_SELL_PERP_OPEN, CASES, Case

ZERO = Decimal(0)

pnl_fills = st.builds(
    PnlFill,
    leg=st.sampled_from(list(Leg)),
    signed_oz=decimals("-100", "100", 3),
    price=gold_prices,
    fee=decimals("0", "10", 8),
    fee_currency=st.sampled_from([USD, USDT]),
    usd_per_usdt=usd_per_usdt,
)
bookings = st.builds(
    CarryBooking,
    kind=st.sampled_from(list(CarryKind)),
    amount=decimals("-50", "50", 8),
    currency=st.sampled_from([USD, USDT]),
    usd_per_usdt=usd_per_usdt,
)


def cash_flow_total(fills: list[PnlFill], carry: list[CarryBooking], valuation: Valuation) -> Decimal:
    """Independently: every USDT that came and went, held at the valuation rate, plus every USD."""
    with localcontext(prec=80):
        usdt = usd = ZERO
        perp_oz = cfd_oz = ZERO
        for fill in fills:
            if fill.leg is Leg.PERP:
                usdt -= fill.signed_oz * fill.price
                perp_oz += fill.signed_oz
            else:
                usd -= fill.signed_oz * fill.price
                cfd_oz += fill.signed_oz
            if fill.fee_currency == USDT:
                usdt -= fill.fee
            else:
                usd -= fill.fee
        for booking in carry:
            if booking.currency == USDT:
                usdt += booking.amount
            else:
                usd += booking.amount
        if perp_oz:
            usdt += perp_oz * (valuation.perp_mark or ZERO)  # what the open perp leg would close for
        if cfd_oz:
            usd += cfd_oz * (valuation.cfd_mark or ZERO)
        return usdt * valuation.usd_per_usdt + usd


@settings(max_examples=250, deadline=None)
@given(
    fills=st.lists(pnl_fills, max_size=12),
    carry=st.lists(bookings, max_size=8),
    rate=usd_per_usdt,
    perp_mark=gold_prices,
    cfd_mark=gold_prices,
)
def test_the_lines_add_up_to_the_cash_flow_total(
    fills: list[PnlFill], carry: list[CarryBooking], rate: Decimal, perp_mark: Decimal, cfd_mark: Decimal
) -> None:
    valuation = Valuation(rate, perp_mark, cfd_mark)
    split = pnl_split(fills=fills, carry=carry, valuation=valuation)
    assert split.total == cash_flow_total(fills, carry, valuation)
    assert split.fees <= 0
    assert split.funding == sum(
        (b.amount * (b.usd_per_usdt if b.currency == USDT else 1) for b in carry if b.kind is CarryKind.FUNDING), ZERO
    )
    # Booked once at 8 dp: the booked lines add up exactly to the booked total, which is the cash-flow total rounded.
    booked = split.quantized()
    assert sum((value for _line, value in booked.lines()), ZERO) == booked.total
    assert booked.total == cash_flow_total(fills, carry, valuation).quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)


@settings(max_examples=150, deadline=None)
@given(fills=st.lists(pnl_fills, max_size=12), carry=st.lists(bookings, max_size=8), rate=usd_per_usdt)
def test_at_one_constant_rate_there_is_no_usdt_usd_line(
    fills: list[PnlFill], carry: list[CarryBooking], rate: Decimal
) -> None:
    fills = [PnlFill(f.leg, f.signed_oz, f.price, f.fee, f.fee_currency, rate) for f in fills]
    carry = [CarryBooking(b.kind, b.amount, b.currency, rate) for b in carry]
    split = pnl_split(fills=fills, carry=carry, valuation=Valuation(rate, Decimal(4600), Decimal(4600)))
    assert split.fx == 0


def test_a_round_trip_captures_both_edges_and_the_rate_move_on_the_usdt_notional() -> None:
    # Sell 10 oz of perp at 4600 USDT (rate 1.000000) and buy 10 oz CFD at 4598 USD: e_sp = 2 USD/oz.
    # Close: buy the perp at 4601 USDT (rate 1.001000), sell the CFD at 4605 USD: e_bp = 4605 − 4605.601.
    fills = [
        PnlFill(Leg.PERP, Decimal(-10), Decimal(4600), Decimal("23.0"), USDT, Decimal(1)),
        PnlFill(Leg.CFD, Decimal(10), Decimal(4598), Decimal("0.5"), USD, Decimal(1)),
        PnlFill(Leg.PERP, Decimal(10), Decimal(4601), Decimal("23.005"), USDT, Decimal("1.001")),
        PnlFill(Leg.CFD, Decimal(-10), Decimal(4605), Decimal("0.5"), USD, Decimal("1.001")),
    ]
    carry = [
        CarryBooking(CarryKind.FUNDING, Decimal("4.6"), USDT, Decimal(1)),
        CarryBooking(CarryKind.SWAP, Decimal("-3.2"), USD, Decimal(1)),
    ]
    split = pnl_split(fills=fills, carry=carry, valuation=Valuation(Decimal("1.001")))
    assert split.spread == Decimal(10) * (Decimal(2) + (Decimal(4605) - Decimal("4605.601")))
    assert split.fees == -(Decimal("23.0") + Decimal("23.005") * Decimal("1.001") + 1)
    assert split.funding == Decimal("4.6") and split.swap == Decimal("-3.2")
    # The short perp was long 46,000 USDT of notional (less the USDT fee, plus the funding) when USDT rose 0.1 %.
    assert split.fx == (Decimal(46_000) - Decimal("23.0") + Decimal("4.6")) * Decimal("0.001")
    assert split.total == cash_flow_total(fills, carry, Valuation(Decimal("1.001")))


# --- hand-computed splits (tests/trading/domain/pnl_cases.py has the working) -------------------------------
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_every_line_matches_the_hand_computed_figure(case: Case) -> None:
    if case.marks is None:
        valuation = Valuation(case.usd_per_usdt)
        split = pnl_split(fills=case.fills, carry=case.carry, valuation=valuation)
    else:
        perp_oz, cfd_oz = open_legs(case.fills)
        valuation = case.marks.valuation(perp_oz=perp_oz, cfd_oz=cfd_oz)
        split = mark_to_market(fills=case.fills, carry=case.carry, marks=case.marks)
    for line in LINES:
        assert getattr(split, line) == getattr(case.expected, line), line
    assert split.total == case.total == cash_flow_total(list(case.fills), list(case.carry), valuation)
    assert split.quantized() == case.expected  # every figure already at ≤ 8 dp: booking changes nothing


def test_a_fee_paid_counts_in_the_unrealised_split() -> None:
    # The 0.92 USDT fee of case C's perp fill, paid at 0.9998, is in the open hedge's fees before any close.
    case = C_SELL_PERP_OPEN
    assert case.marks is not None and case.closing is None
    split = mark_to_market(fills=case.fills, carry=(), marks=case.marks)
    assert split.fees == -(Decimal("0.92") * Decimal("0.9998") + Decimal("0.05")) == Decimal("-0.969816")


@st.composite
def marks(draw: st.DrawFn) -> Marks:
    perp_bid, cfd_bid = draw(gold_prices), draw(gold_prices)
    return Marks(draw(usd_per_usdt), perp_bid, perp_bid + draw(spreads), cfd_bid, cfd_bid + draw(spreads))


@settings(max_examples=200, deadline=None)
@given(fills=st.lists(pnl_fills, max_size=10), carry=st.lists(bookings, max_size=6), marks=marks())
def test_marking_equals_closing_at_the_touch_now(fills: list[PnlFill], carry: list[CarryBooking], marks: Marks) -> None:
    """An open hedge's unrealised split is what it would book if its legs closed now at the touch (before closing
    fees): the same model for realised and unrealised, line by line — USDT/USD included."""
    perp_oz, cfd_oz = open_legs(fills)
    closing = [
        PnlFill(Leg.PERP, -perp_oz, marks.perp_bid if perp_oz > 0 else marks.perp_ask, ZERO, USDT, marks.usd_per_usdt),
        PnlFill(Leg.CFD, -cfd_oz, marks.cfd_bid if cfd_oz > 0 else marks.cfd_ask, ZERO, USD, marks.usd_per_usdt),
    ]
    closed = pnl_split(fills=[*fills, *closing], carry=carry, valuation=Valuation(marks.usd_per_usdt))
    assert mark_to_market(fills=fills, carry=carry, marks=marks) == closed


lines_of = st.builds(PnlSplit, *(decimals("-100000", "100000", 12) for _line in LINES))


@settings(max_examples=300, deadline=None)
@given(split=lines_of)
def test_booking_keeps_the_total_and_moves_no_line_more_than_a_quantum(split: PnlSplit) -> None:
    booked = split.quantized()
    assert booked.total == split.total.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)
    assert sum((value for _line, value in booked.lines()), ZERO) == booked.total
    for line in LINES:
        value = getattr(booked, line)
        assert value == value.quantize(MONEY_QUANTUM)
        assert abs(value - getattr(split, line)) <= MONEY_QUANTUM
    assert booked.quantized() == booked
    cents = split.quantized(Decimal("0.01"))
    assert cents.total == split.total.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


def test_booking_hands_the_rounding_residue_to_the_lines_rounded_furthest() -> None:
    # Five lines of half a quantum round (half-even) to 0 each, but they total 2.5 quanta → 2 quanta booked: the
    # first two lines take one each, so the booked lines still add up to the booked total.
    half = MONEY_QUANTUM / 2
    booked = PnlSplit(half, half, half, half, half).quantized()
    assert booked.total == 2 * MONEY_QUANTUM
    assert [value for _line, value in booked.lines()] == [MONEY_QUANTUM, MONEY_QUANTUM, ZERO, ZERO, ZERO]
    assert str(PnlSplit(-MONEY_QUANTUM / 10).quantized().spread) == "0E-8"  # no negative zero on the books


def test_an_open_leg_needs_its_mark() -> None:
    fills = [PnlFill(Leg.PERP, Decimal(-1), Decimal(4600), ZERO, USDT, Decimal(1))]
    with pytest.raises(ValueError, match="perp mark"):
        pnl_split(fills=fills, carry=[], valuation=Valuation(Decimal(1)))
    with pytest.raises(ValueError, match="BNB"):
        pnl_split(
            fills=[PnlFill(Leg.PERP, Decimal(-1), Decimal(4600), Decimal(1), "BNB", Decimal(1))],
            carry=[],
            valuation=Valuation(Decimal(1), perp_mark=Decimal(4600)),
        )


# --- carry models ------------------------------------------------------------------------------------------
def test_with_a_positive_funding_rate_shorts_receive_and_longs_pay() -> None:
    mark, rate = Decimal("4600.5"), Decimal("0.0001")
    assert funding_accrual(mark_price=mark, signed_oz=Decimal(-10), rate=rate) == Decimal("4.60050000")
    assert funding_accrual(mark_price=mark, signed_oz=Decimal(10), rate=rate) == Decimal("-4.60050000")
    assert funding_accrual(mark_price=mark, signed_oz=Decimal(-10), rate=-rate) == Decimal("-4.60050000")
    assert funding_accrual(mark_price=mark, signed_oz=ZERO, rate=rate) == 0


@given(mark=gold_prices, oz=decimals("-100", "100", 3), rate=decimals("-0.003", "0.003", 8))
def test_funding_is_a_transfer_between_longs_and_shorts(mark: Decimal, oz: Decimal, rate: Decimal) -> None:
    assert funding_accrual(mark_price=mark, signed_oz=oz, rate=rate) == -funding_accrual(
        mark_price=mark, signed_oz=-oz, rate=rate
    )
    if rate > 0 and oz != 0:
        assert (funding_accrual(mark_price=mark, signed_oz=oz, rate=rate) >= 0) == (oz < 0)


POINTS = SwapTerms(SwapMode.POINTS, Decimal(-30), Decimal(12), Decimal("0.01"), Decimal(100), rollover3days=3)
WEDNESDAY = date(2026, 1, 7)


def test_swap_is_tripled_on_the_rollover_day() -> None:
    assert WEDNESDAY.weekday() == 2  # MT5 counts 0 = Sunday, so Wednesday is 3
    tuesday = WEDNESDAY - timedelta(days=1)
    assert swap_nights(POINTS, tuesday) == 1 and swap_nights(POINTS, WEDNESDAY) == 3
    long_night = swap_accrual(POINTS, signed_lots=Decimal("0.10"), price=Decimal(4600), rollover_day=tuesday)
    assert long_night == Decimal("-3.00000000")  # −30 points · 0.01 · 100 oz · 0.1 lot
    assert (
        swap_accrual(POINTS, signed_lots=Decimal("0.10"), price=Decimal(4600), rollover_day=WEDNESDAY) == 3 * long_night
    )
    short = swap_accrual(POINTS, signed_lots=Decimal("-0.10"), price=Decimal(4600), rollover_day=tuesday)
    assert short == Decimal("1.20000000")


def test_swap_in_money_and_interest_modes() -> None:
    money = SwapTerms(SwapMode.MONEY, Decimal("-5.5"), Decimal("1.25"), Decimal("0.01"), Decimal(100))
    assert swap_accrual(money, signed_lots=Decimal(2), price=Decimal(4600), rollover_day=WEDNESDAY) == Decimal("-33")
    interest = SwapTerms(SwapMode.INTEREST, Decimal("-3.6"), Decimal("1.8"), Decimal("0.01"), Decimal(100))
    # −3.6 % a year of 4600 · 100 oz over a 360-day year: −46 USD a night for one lot.
    assert swap_accrual(interest, signed_lots=Decimal(1), price=Decimal(4600), rollover_day=date(2026, 1, 6)) == -46
    disabled = SwapTerms(SwapMode.DISABLED, Decimal(-1), Decimal(-1), Decimal("0.01"), Decimal(100))
    assert swap_accrual(disabled, signed_lots=Decimal(1), price=Decimal(4600), rollover_day=WEDNESDAY) == 0


def test_swap_per_ounce_night_feeds_the_cost_model() -> None:
    assert swap_per_oz_night(POINTS, long=True, price=Decimal(4600)) == Decimal("-0.30")
    assert swap_per_oz_night(POINTS, long=False, price=Decimal(4600)) == Decimal("0.12")
    # One lot-night is contract_size ounce-nights.
    per_lot = swap_accrual(POINTS, signed_lots=Decimal(1), price=Decimal(4600), rollover_day=date(2026, 1, 6))
    assert per_lot == swap_per_oz_night(POINTS, long=True, price=Decimal(4600)) * POINTS.contract_size
