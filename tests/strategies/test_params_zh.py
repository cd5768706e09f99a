"""Every strategy parameter's validation message reads in Chinese under zh-Hans: the problem's template is translated
where the domain wrote it (no English matched back against a list), and the field is named by its Chinese label.

"max_legging_seconds must be at least 1." once stayed English under zh-Hans; each parameter here gets a value its
validation refuses, and the message must carry no English words but the units and the values it names.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.utils import translation

from strategies.domain.params import ParamsError, StrategyParams, validate
from strategies.messages import FIELD_LABELS, REASON_TEXTS, problem_text, reason_text
from trading.domain.sizing import CFD_DEFAULTS, PERP_DEFAULTS, Problem

SPECS = (PERP_DEFAULTS, CFD_DEFAULTS)
PRICE = Decimal("2400")

# A value each parameter's validation refuses (JSON as the API and the form send it).
REFUSED: dict[str, Any] = {
    "entry_threshold": "0",
    "exit_threshold": "5",
    "threshold_unit": "furlongs",
    "zscore_filter": "-1",
    "zscore_window": 1,
    "size_oz": "0.5",
    "max_open_hedges": 0,
    "max_position_oz": "0.5",
    "max_unhedged_oz": "-1",
    "max_notional_usd": "0",
    "max_legging_seconds": 0,
    "slippage_bps": "-1",
    "slippage_buffer_usd": "-1",
    "cfd_deviation_points": -1,
    "stop_loss_usd": "0",
    "time_stop_minutes": 0,
    "expected_holding_hours": "-1",
    "funding_source": "guess",
    "funding_rate_fixed": "1",
    "swap_source": "guess",
    "swap_long_override": None,  # with swap_source override: required
    "swap_short_override": None,
    "usd_per_usdt_source": "NOT VALID!",
    "max_rate_age_seconds": 0,
    "no_entry_before_close_minutes": -1,
    "no_entry_after_open_minutes": -1,
    "max_cfd_spread": "0",
    "gap_policy": "guess",
    "flatten_before_close_minutes": -1,
    "cooldown_seconds": -1,
    "max_quote_age_ms": 0,
    "loss_limit_usd": "0",
    "drawdown_limit_usd": "0",
    "min_liquidation_distance_bps": "-1",
    "stop_out_buffer_pct": "-1",
    "mode": "guess",
    "stop_policy": "guess",
    "terminal_policy": "guess",
}
ALSO = {"swap_long_override": {"swap_source": "override"}, "swap_short_override": {"swap_source": "override"}}
# Words that stay as they are in Chinese: units, venues' names and currency codes.
KEPT = {"USD", "USDT", "CFD", "MT", "Binance", "bps"}


def problems_for(name: str) -> list[Problem]:
    data = {**StrategyParams().to_json(), **ALSO.get(name, {}), name: REFUSED[name]}
    try:
        params = StrategyParams.from_json(data)
    except ParamsError as error:
        return [p for p in error.problems if p.field == name]
    return [p for p in validate(params, *SPECS, reference_price=PRICE) if p.field == name]


def test_every_parameter_is_covered() -> None:
    assert set(REFUSED) == set(StrategyParams().to_json()), "give every parameter a refused value here"


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_its_validation_message_reads_in_chinese(name: str) -> None:
    problems = problems_for(name)
    assert problems, f"{name}={REFUSED[name]!r} should be refused"
    with translation.override("zh-hans"):
        label = str(FIELD_LABELS[name])
        for problem in problems:
            text = problem_text(problem)
            assert label in text, f"{name}: the message names the field by its Chinese label: {text}"
            rest = text.replace(label, "")
            for value in problem.params.values():
                rest = rest.replace(value, "")
            english = [word for word in re.findall(r"[A-Za-z]{2,}", rest) if word not in KEPT]
            assert not english, f"{name}: English left in the zh-Hans message {text!r}: {english}"
    with translation.override("en"):
        assert problem_text(problems[0]) == problems[0].message.replace(name, str(FIELD_LABELS[name]), 1)


@pytest.mark.parametrize("code", sorted(REASON_TEXTS))
def test_every_decision_reason_reads_in_chinese(code: str) -> None:
    """The strategy's decision reasons (the status panel, the decision log) in zh-Hans, their leg and direction
    parameters in words too."""
    names = re.findall(r"%\((\w+)\)s", REASON_TEXTS[code])
    samples = {"leg": "perp", "direction": "sell_perp"}
    params = {name: samples.get(name, "7") for name in names}
    with translation.override("zh-hans"):
        text = reason_text({"code": code, "params": params})
    english = [word for word in re.findall(r"[A-Za-z]{2,}", text) if word not in KEPT | {"USDT"}]
    assert not english, f"{code}: English left in {text!r}"
    assert re.search(r"[\u4e00-\u9fff]", text), text
