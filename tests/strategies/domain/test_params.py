"""Strategy parameters: defaults that validate, a lossless JSON round trip, and refusals that name the field."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.domain.params import (
    FundingSource,
    GapPolicy,
    ParamsError,
    StrategyParams,
    SwapSource,
    ThresholdUnit,
    validate,
)
from trading.domain.sizing import CFD_DEFAULTS, PERP_DEFAULTS

from ...trading.domain.builders import decimals

SPECS = (PERP_DEFAULTS, CFD_DEFAULTS)  # XAUUSDT 0.001 oz step, XAUUSD.s 0.01 lot × 100 oz
PRICE = Decimal("4600")


def problems_of(params: StrategyParams, **kwargs: object) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for p in validate(params, *SPECS, reference_price=PRICE, **kwargs):
        out.setdefault(p.field, set()).add(p.code)
    return out


def test_the_defaults_are_valid_for_the_gold_pair() -> None:
    assert validate(StrategyParams(), *SPECS, reference_price=PRICE) == []


@st.composite
def params(draw: st.DrawFn) -> StrategyParams:
    return StrategyParams(
        entry_threshold=draw(decimals("-5", "50", 4)),
        exit_threshold=draw(decimals("-5", "50", 4)),
        threshold_unit=draw(st.sampled_from(ThresholdUnit)),
        zscore_filter=draw(st.none() | st.decimals(min_value=0, max_value=5, places=2)),
        size_oz=draw(decimals("0", "100", 3)),
        max_open_hedges=draw(st.integers(0, 20)),
        time_stop_minutes=draw(st.none() | st.integers(-5, 10_000)),
        funding_source=draw(st.sampled_from(FundingSource)),
        funding_rate_fixed=draw(st.none() | st.decimals(min_value=-1, max_value=1, places=8)),
        swap_source=draw(st.sampled_from(SwapSource)),
        swap_long_override=draw(st.none() | st.decimals(min_value=-3, max_value=3, places=4)),
        usd_per_usdt_source=draw(st.sampled_from(["pair", "fixed", "simulated"])),
        gap_policy=draw(st.sampled_from(GapPolicy)),
        max_quote_age_ms=draw(st.integers(0, 100_000)),
    )


@settings(max_examples=200, deadline=None)
@given(params())
def test_json_round_trips_through_text(p: StrategyParams) -> None:
    data = json.loads(json.dumps(p.to_json()))
    assert StrategyParams.from_json(data) == p
    # Decimals travel as strings, so no float ever touches money.
    assert all(not isinstance(value, float) for value in data.values())


@settings(max_examples=200, deadline=None)
@given(params())
def test_every_problem_names_a_real_field_and_says_so(p: StrategyParams) -> None:
    fields = set(StrategyParams().to_json())
    for problem in validate(p, *SPECS, reference_price=PRICE):
        assert problem.field in fields
        assert problem.field in problem.message
        assert problem.code and all(isinstance(v, str) for v in problem.params.values())


def test_missing_keys_take_defaults_so_old_versions_load() -> None:
    old = {"entry_threshold": "2.5", "exit_threshold": "0.5", "size_oz": "2"}
    loaded = StrategyParams.from_json(old)
    assert loaded.entry_threshold == Decimal("2.5") and loaded.size_oz == 2
    assert loaded.max_quote_age_ms == StrategyParams().max_quote_age_ms


def test_unknown_keys_and_bad_values_are_refused() -> None:
    with pytest.raises(ParamsError) as caught:
        StrategyParams.from_json({"entry_treshold": "2", "size_oz": 1.5, "max_open_hedges": True, "mode": "yolo"})
    by_field = {p.field: p.code for p in caught.value.problems}
    assert by_field == {
        "entry_treshold": "unknown_field",
        "size_oz": "invalid_value",  # a float: precision already lost
        "max_open_hedges": "invalid_value",
        "mode": "invalid_value",
    }
    with pytest.raises(ParamsError):
        StrategyParams.from_json({"entry_threshold": "NaN"})


def test_exit_must_be_below_entry() -> None:
    assert problems_of(StrategyParams(entry_threshold=Decimal(1), exit_threshold=Decimal(1))) == {
        "exit_threshold": {"exit_not_below_entry"}
    }
    assert problems_of(StrategyParams(entry_threshold=Decimal(1), exit_threshold=Decimal(-2))) == {}
    assert "entry_threshold" in problems_of(StrategyParams(entry_threshold=Decimal(0), exit_threshold=Decimal(-1)))


def test_size_must_fit_both_venues() -> None:
    assert problems_of(StrategyParams(size_oz=Decimal("1.5"), max_position_oz=Decimal(6))) == {"size_oz": {"cfd_step"}}
    tiny_notional = StrategyParams(size_oz=Decimal(1))
    assert "size_oz" in {
        p.field
        for p in validate(
            tiny_notional,
            dataclasses.replace(PERP_DEFAULTS, min_notional=Decimal(10_000)),
            CFD_DEFAULTS,
            reference_price=PRICE,
        )
    }


def test_limits_that_contradict_are_refused() -> None:
    assert problems_of(StrategyParams(size_oz=Decimal(2), max_position_oz=Decimal(1))) == {
        "max_position_oz": {"position_below_size"}
    }
    assert problems_of(StrategyParams(max_open_hedges=4, max_position_oz=Decimal(3))) == {
        "max_open_hedges": {"hedges_exceed_position"}
    }
    assert problems_of(StrategyParams(max_unhedged_oz=Decimal("0.0001"))) == {
        "max_unhedged_oz": {"unhedged_below_step"}
    }
    assert problems_of(StrategyParams(max_unhedged_oz=Decimal(-1))) == {"max_unhedged_oz": {"negative"}}
    assert problems_of(StrategyParams(max_notional_usd=Decimal(100))) == {"max_notional_usd": {"notional_below_size"}}
    flatten_late = StrategyParams(
        gap_policy=GapPolicy.FLATTEN, flatten_before_close_minutes=30, no_entry_before_close_minutes=10
    )
    assert problems_of(flatten_late) == {"flatten_before_close_minutes": {"flatten_after_entry_window"}}


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"slippage_bps": Decimal(501)}, "slippage_bps", "max_value"),
        ({"slippage_bps": Decimal(-1)}, "slippage_bps", "negative"),
        ({"max_quote_age_ms": 99}, "max_quote_age_ms", "min_value"),
        ({"max_quote_age_ms": 60_001}, "max_quote_age_ms", "max_value"),
        ({"cooldown_seconds": -1}, "cooldown_seconds", "negative"),
        ({"stop_loss_usd": Decimal(0)}, "stop_loss_usd", "not_positive"),
        ({"time_stop_minutes": 0}, "time_stop_minutes", "not_positive"),
        ({"expected_holding_hours": Decimal(-1)}, "expected_holding_hours", "negative"),
        ({"max_cfd_spread": Decimal(0)}, "max_cfd_spread", "not_positive"),
        ({"max_legging_seconds": 0}, "max_legging_seconds", "min_value"),
        ({"zscore_filter": Decimal(0)}, "zscore_filter", "not_positive"),
        ({"funding_source": FundingSource.FIXED}, "funding_rate_fixed", "required"),
        ({"funding_rate_fixed": Decimal("0.5")}, "funding_rate_fixed", "max_value"),
        ({"swap_source": SwapSource.OVERRIDE, "swap_long_override": Decimal(1)}, "swap_short_override", "required"),
        ({"usd_per_usdt_source": "Binance USDC!"}, "usd_per_usdt_source", "invalid_source"),
        ({"loss_limit_usd": Decimal(-5)}, "loss_limit_usd", "not_positive"),
        ({"no_entry_after_open_minutes": -1}, "no_entry_after_open_minutes", "negative"),
    ],
)
def test_out_of_range_values_are_refused(change: dict[str, object], field: str, code: str) -> None:
    assert problems_of(StrategyParams().replace(**change)) == {field: {code}}


def test_risk_limits_carry_the_parameters() -> None:
    p = StrategyParams(max_quote_age_ms=750, max_unhedged_oz=Decimal(2))
    limits = p.risk_limits()
    assert limits.max_quote_age_ms == 750 and limits.max_unhedged_oz == 2
    assert limits.max_position_oz == p.max_position_oz
