"""Which hedge a funding payment belongs to (trading.domain.funding) and fee conversion (trading.domain.fees)."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading.domain.fees import converted_fee, leg_fee_currency, needs_conversion
from trading.domain.funding import funding_instant_ms, funding_shares, position_before
from trading.domain.orders import FeeConversion

from .builders import decimals

ZERO = Decimal(0)
UNIT = Decimal("0.00000001")
payments = decimals("-5000", "5000", 8)
positions = st.one_of(st.just(ZERO), decimals("-50", "50", 3))
holdings = st.dictionaries(st.integers(1, 10_000), positions, max_size=12)


@settings(max_examples=250)
@given(amount=payments, held=holdings)
def test_the_shares_add_up_to_the_payment_exactly(amount: Decimal, held: dict[int, Decimal]) -> None:
    shares = funding_shares(amount, held)
    if sum(held.values(), ZERO) == 0:
        assert shares == {}  # nothing of ours explains the payment
        return
    assert sum(shares.values(), ZERO) == amount
    assert all(share == share.quantize(UNIT) for share in shares.values())


@settings(max_examples=250)
@given(amount=payments, held=holdings)
def test_no_hedge_gets_a_share_for_a_time_it_held_nothing(amount: Decimal, held: dict[int, Decimal]) -> None:
    shares = funding_shares(amount, held)
    assert set(shares) <= {hedge for hedge, position in held.items() if position != 0}


@settings(max_examples=250)
@given(amount=payments, held=holdings)
def test_each_share_is_its_position_s_part_within_one_unit(amount: Decimal, held: dict[int, Decimal]) -> None:
    net = sum(held.values(), ZERO)
    shares = funding_shares(amount, held)
    with localcontext(prec=60):
        for hedge, share in shares.items():
            exact = amount * held[hedge] / net
            assert abs(share - exact) < UNIT  # rounded down or up by less than 1e-8, never more


@given(amount=payments, held=st.dictionaries(st.integers(1, 100), decimals("0.001", "50", 3), min_size=1))
def test_holders_on_one_side_share_pro_rata_with_the_payment_s_sign(amount: Decimal, held: dict[int, Decimal]) -> None:
    shorts = {hedge: -position for hedge, position in held.items()}
    shares = funding_shares(amount, shorts)
    assert all(share * amount >= 0 for share in shares.values())


def test_opposite_holders_each_get_their_own_position_s_funding() -> None:
    # Hedge 1 short 2 oz, hedge 2 long 1 oz: the account is short 1 oz and receives 0.46 at a positive rate; at the
    # implied mark·rate of 0.46 per oz the short earned 0.92 and the long paid 0.46.
    assert funding_shares(Decimal("0.46"), {1: Decimal(-2), 2: Decimal(1)}) == {
        1: Decimal("0.92000000"),
        2: Decimal("-0.46000000"),
    }


def test_a_third_each_leaves_the_odd_unit_to_the_largest_remainder() -> None:
    shares = funding_shares(Decimal("-1"), {"a": Decimal(1), "b": Decimal(1), "c": Decimal(1)})
    assert sorted(shares.values()) == [Decimal("-0.33333334"), Decimal("-0.33333333"), Decimal("-0.33333333")]
    assert sum(shares.values(), ZERO) == Decimal(-1)


def test_a_hedge_closed_before_the_funding_time_holds_nothing_then() -> None:
    instant = 1_796_832_000_000
    closed_before = [(instant - 60_000, Decimal(-2)), (instant - 1, Decimal(2))]
    closed_after = [(instant - 60_000, Decimal(-1)), (instant + 1, Decimal(1))]
    opened_after = [(instant, Decimal(-3))]  # at the instant itself: not held before it
    assert position_before(closed_before, instant) == 0
    assert position_before(closed_after, instant) == Decimal(-1)
    assert position_before(opened_after, instant) == 0
    shares = funding_shares(
        Decimal("1.38003300"),
        {
            1: position_before(closed_before, instant),
            2: position_before(closed_after, instant),
            3: position_before(opened_after, instant),
        },
    )
    assert shares == {2: Decimal("1.38003300")}


@given(st.integers(0, 4_000_000_000_000))
def test_a_payment_belongs_to_the_funding_time_of_its_minute(booked_ms: int) -> None:
    instant = funding_instant_ms(booked_ms)
    assert instant % 60_000 == 0 and 0 <= booked_ms - instant < 60_000


# --- fees in another asset ---------------------------------------------------------------------------------
def test_a_bnb_commission_is_converted_and_keeps_how() -> None:
    fee, conversion = converted_fee(
        Decimal("0.00676125"), "BNB", rate=Decimal("612.34"), source="binance-usdm:BNBUSDT:1m-open", ts_ms=60_000
    )
    assert fee == Decimal("4.14018382")  # 0.00676125 × 612.34 = 4.140183825: half-even at 8 dp keeps the 2
    assert conversion == FeeConversion(
        Decimal("0.00676125"), "BNB", Decimal("612.34"), "binance-usdm:BNBUSDT:1m-open", 60_000
    )


@given(amount=decimals("-10", "10", 8), rate=decimals("0.0001", "5000", 8))
def test_a_converted_fee_is_the_amount_at_the_rate_to_8_dp(amount: Decimal, rate: Decimal) -> None:
    fee, conversion = converted_fee(amount, "BNB", rate=rate, source="s", ts_ms=0)
    assert abs(fee - amount * rate) <= Decimal("0.000000005")
    assert (conversion.amount, conversion.rate) == (amount, rate)


def test_a_conversion_needs_a_positive_rate_and_a_named_source() -> None:
    with pytest.raises(ValueError):
        FeeConversion(Decimal(1), "BNB", Decimal(0), "s", 0)
    with pytest.raises(ValueError):
        FeeConversion(Decimal(1), "BNB", Decimal(1), "", 0)


def test_legs_book_fees_in_their_own_currency() -> None:
    assert (leg_fee_currency("perp"), leg_fee_currency("cfd")) == ("USDT", "USD")
    assert needs_conversion("BNB", "perp") and needs_conversion("USDT", "cfd")
    assert not needs_conversion("USDT", "perp") and not needs_conversion("USD", "cfd")
