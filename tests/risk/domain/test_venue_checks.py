"""The venue's quantity rules in the pre-trade checks: step, minimum, maximum per order and minimum notional, for
opening and reducing orders alike (only the minimum notional spares a reducing order), in plain numbers."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from risk.domain.checks import Check, InstrumentLimits, Leg, OrderIntent, Side, pre_trade, venue_checks
from tests.risk.domain.helpers import FLAT, PRICE, codes, hedged

PERP = InstrumentLimits(
    step_oz=Decimal("0.001"), min_oz=Decimal("0.001"), max_oz=Decimal(1000), min_notional=Decimal(5)
)
CFD = InstrumentLimits(step_oz=Decimal(1), min_oz=Decimal(1), max_oz=Decimal(10_000))
WITH_VENUES = replace(FLAT, perp_instrument=PERP, cfd_instrument=CFD)


def order(leg: Leg, quantity: str, *, side: Side = Side.SELL, reducing: bool = False) -> OrderIntent:
    q = Decimal(quantity)
    return OrderIntent(leg, side, q, PRICE, reducing=reducing, companion_oz=Decimal(0))


def test_hand_computed_cases() -> None:
    assert venue_checks(order(Leg.PERP, "0.5"), PERP) == []
    assert {v.code for v in venue_checks(order(Leg.PERP, "0.0005"), PERP)} == {
        Check.QUANTITY_STEP,
        Check.BELOW_MINIMUM,
        Check.MIN_NOTIONAL,  # 0.0005 oz × 4600 = 2.30 USDT < 5
    }
    [above] = venue_checks(order(Leg.PERP, "1000.001"), PERP)
    assert above.code is Check.ABOVE_MAXIMUM
    assert above.message == "1000.001 oz is above the perp maximum 1000 oz per order."
    [step] = venue_checks(order(Leg.CFD, "1.5"), CFD)
    assert step.message == "1.5 oz is not a multiple of the cfd step 1 oz."
    # 0.001 oz at 4600 is 4.60 USDT: below Binance's minimum notional for an opening order only.
    assert [v.code for v in venue_checks(order(Leg.PERP, "0.001"), PERP)] == [Check.MIN_NOTIONAL]
    assert venue_checks(order(Leg.PERP, "0.001"), PERP, opening=False) == []


def test_a_billion_ounces_is_refused_in_plain_numbers() -> None:
    violations = pre_trade(order(Leg.PERP, "1E+9"), WITH_VENUES)
    found = {v.code for v in violations}
    assert {Check.ABOVE_MAXIMUM, Check.MAX_POSITION, Check.MARGIN} <= found
    assert all("E+" not in v.message for v in violations), [v.message for v in violations]
    assert "1000000000 oz is above the perp maximum 1000 oz per order." in [v.message for v in violations]


def test_reducing_orders_keep_the_venue_rules_but_not_its_minimum_notional() -> None:
    # Closing 0.0015 oz of a 1 oz short: off the step, still refused (the venue would); the notional is not asked.
    ctx = replace(hedged("-1"), perp_instrument=PERP, cfd_instrument=CFD)
    assert codes(order(Leg.PERP, "0.0015", side=Side.BUY, reducing=True), ctx) == {Check.QUANTITY_STEP}
    assert codes(order(Leg.PERP, "0.001", side=Side.BUY, reducing=True), ctx) == set()


@given(
    steps=st.integers(min_value=-5, max_value=20_000),
    step=st.sampled_from([Decimal("0.001"), Decimal("0.01"), Decimal(1)]),
    maximum_steps=st.integers(min_value=1, max_value=10_000),
)
def test_a_whole_number_of_steps_within_the_bounds_passes_and_nothing_else(
    steps: int, step: Decimal, maximum_steps: int
) -> None:
    limits = InstrumentLimits(step_oz=step, min_oz=step, max_oz=step * maximum_steps)
    quantity = step * steps
    if quantity <= 0:
        return
    found = {v.code for v in venue_checks(order(Leg.CFD, str(quantity)), limits)}
    assert (found == set()) == (1 <= steps <= maximum_steps)
    assert (Check.ABOVE_MAXIMUM in found) == (steps > maximum_steps)
    # Half a step more is never tradable.
    off = {v.code for v in venue_checks(order(Leg.CFD, str(quantity + step / 2)), limits)}
    assert Check.QUANTITY_STEP in off


def test_without_venue_rules_in_the_context_nothing_is_checked_for_them() -> None:
    assert Check.ABOVE_MAXIMUM not in codes(order(Leg.PERP, "5000"), FLAT)
