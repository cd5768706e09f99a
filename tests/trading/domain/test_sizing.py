"""Hedge sizes: exact step arithmetic on Decimals, venue minimums, lots ↔ ounces."""

from __future__ import annotations

import dataclasses
import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading.domain.sizing import (
    CFD_DEFAULTS,
    PERP_DEFAULTS,
    InstrumentSpec,
    Problem,
    contracts_per_lot,
    decimal_lcm,
    floor_to_step,
    hedge_step_oz,
    is_multiple,
    lots,
    ounces,
    valid_size,
)

EXAMPLES = settings(max_examples=300, deadline=None)
steps = st.builds(
    lambda units, places: Decimal(units).scaleb(-places),
    st.integers(min_value=1, max_value=1_000),
    st.integers(min_value=0, max_value=4),
)


def codes(problems: list[Problem]) -> set[str]:
    return {p.code for p in problems}


def test_the_gold_pair_steps_combine_to_one_ounce() -> None:
    assert hedge_step_oz(Decimal("0.001"), Decimal("0.01") * 100) == 1
    assert hedge_step_oz(PERP_DEFAULTS.step_oz, CFD_DEFAULTS.step_oz) == 1
    assert contracts_per_lot(PERP_DEFAULTS, CFD_DEFAULTS) == 100


def test_an_instrument_s_steps_are_in_ounces_and_its_specs_must_make_sense() -> None:
    lots_of_100 = InstrumentSpec("X", contract_size=Decimal(100), quantity_step=Decimal("0.01"),
                                 min_quantity=Decimal("0.05"), tick=Decimal("0.01"), digits=2)  # fmt: skip
    assert (lots_of_100.step_oz, lots_of_100.min_oz) == (Decimal(1), Decimal(5))
    for wrong in ({"contract_size": Decimal(0)}, {"quantity_step": Decimal(-1)}, {"tick": Decimal(0)},
                  {"min_quantity": Decimal(-1)}, {"min_notional": Decimal(-1)}, {"digits": -1}):  # fmt: skip
        with pytest.raises(ValueError):
            dataclasses.replace(lots_of_100, **wrong)


def test_lcm_of_non_nested_steps() -> None:
    assert decimal_lcm(Decimal("0.4"), Decimal("0.6")) == Decimal("1.2")
    assert decimal_lcm(Decimal("0.025"), Decimal("0.01")) == Decimal("0.05")


@EXAMPLES
@given(steps, steps)
def test_the_hedge_step_is_the_smallest_common_multiple(a: Decimal, b: Decimal) -> None:
    step = decimal_lcm(a, b)
    assert is_multiple(step, a) and is_multiple(step, b)
    # An independent formula over fractions in lowest terms: lcm(p1/q1, p2/q2) = lcm(p1, p2) / gcd(q1, q2).
    fa, fb = Fraction(a), Fraction(b)
    expected = Fraction(math.lcm(fa.numerator, fb.numerator), math.gcd(fa.denominator, fb.denominator))
    assert Fraction(step) == expected


@EXAMPLES
@given(steps, steps, st.integers(min_value=1, max_value=50))
def test_multiples_of_the_hedge_step_pass_both_step_checks(perp_step: Decimal, lot_step: Decimal, n: int) -> None:
    perp = dataclasses.replace(PERP_DEFAULTS, quantity_step=perp_step, min_quantity=Decimal(0), min_notional=Decimal(0))
    cfd = dataclasses.replace(CFD_DEFAULTS, contract_size=Decimal(100), quantity_step=lot_step, min_quantity=Decimal(0))
    assert valid_size(hedge_step_oz(perp.step_oz, cfd.step_oz) * n, perp, cfd) == []


def test_it_names_every_problem_with_a_size() -> None:
    specs = (PERP_DEFAULTS, CFD_DEFAULTS)  # perp step 0.001 oz, CFD step 1 oz (0.01 lot × 100), CFD minimum 1 oz
    assert codes(valid_size(Decimal("1.5"), *specs)) == {"cfd_step"}
    assert codes(valid_size(Decimal("0.0005"), *specs)) == {"perp_step", "cfd_step", "perp_min_qty", "cfd_min_volume"}
    assert codes(valid_size(Decimal(0), *specs)) == {"not_positive"}
    assert codes(valid_size(Decimal(-2), *specs)) == {"not_positive"}
    problem = valid_size(Decimal("1.5"), *specs)[0]
    assert problem.field == "size_oz" and problem.params["step"] == "1" and "size_oz" in problem.message


def test_it_checks_min_notional_at_a_reference_price() -> None:
    specs = (dataclasses.replace(PERP_DEFAULTS, min_notional=Decimal(5_000)), CFD_DEFAULTS)
    assert codes(valid_size(Decimal(1), *specs, reference_price=Decimal(4_600))) == {"min_notional"}
    assert valid_size(Decimal(2), *specs, reference_price=Decimal(4_600)) == []
    assert valid_size(Decimal(1), *specs) == []  # no reference price, no notional check


def test_lots_and_ounces() -> None:
    assert lots(Decimal(1), Decimal(100)) == Decimal("0.01")
    assert lots(Decimal(250), Decimal(100)) == Decimal("2.50")
    assert ounces(Decimal("0.03"), Decimal(100)) == 3
    with pytest.raises(ValueError):
        lots(Decimal("0.5"), Decimal(100))  # 0.005 lots: a leg silently rounded would be unhedged
    with pytest.raises(ValueError):
        lots(Decimal(1), Decimal(0))


@EXAMPLES
@given(st.integers(min_value=1, max_value=100_000), st.sampled_from([Decimal(1), Decimal(10), Decimal(100)]))
def test_lots_round_trip(hundredths: int, contract: Decimal) -> None:
    volume = Decimal(hundredths).scaleb(-2)
    assert lots(ounces(volume, contract), contract) == volume


@EXAMPLES
@given(st.decimals(min_value=0, max_value=10_000, places=3), steps)
def test_floor_to_step(value: Decimal, step: Decimal) -> None:
    floored = floor_to_step(value, step)
    assert is_multiple(floored, step)
    assert floored <= value < floored + step
