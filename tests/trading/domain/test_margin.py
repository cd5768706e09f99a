"""Margin by the venues' rules: hand-computed cases for Binance's brackets and leverage and for each MT5 calc mode,
and properties (monotone in size, continuous across brackets, maintenance below initial margin)."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trading.domain.margin import (
    DEFAULT_BRACKETS,
    CalcMode,
    LeverageBracket,
    MarginError,
    Mt5MarginSpec,
    UnsupportedCalcMode,
    binance_initial_margin,
    binance_maintenance_margin,
    bracket_for_notional,
    brackets_from_wire,
    effective_leverage,
    free_margin,
    margin_conversion_rate,
    margin_level,
    margin_rate_for_leverage,
    max_notional_at_leverage,
    mt5_margin,
    mt5_margin_in_account_currency,
    position_notional,
    validate_brackets,
)

D = Decimal

# `GET /fapi/v1/leverageBracket?symbol=XAUUSDT` as the venue sends it (JSON numbers), the fake's two brackets.
WIRE = {
    "symbol": "XAUUSDT",
    "notionalCoef": 1.0,
    "brackets": [
        {
            "bracket": 2,
            "initialLeverage": 20,
            "notionalCap": 1000000,
            "notionalFloor": 100000,
            "maintMarginRatio": 0.025,
            "cum": 1500.0,
        },
        {
            "bracket": 1,
            "initialLeverage": 50,
            "notionalCap": 100000,
            "notionalFloor": 0,
            "maintMarginRatio": 0.01,
            "cum": 0.0,
        },
    ],
}
BRACKETS = brackets_from_wire(WIRE)


# --- Binance -----------------------------------------------------------------------------------------------


def test_it_reads_the_wire_brackets_exactly_and_in_order() -> None:
    assert [b.bracket for b in BRACKETS] == [1, 2]
    assert BRACKETS[1] == LeverageBracket(2, 20, D(100_000), D(1_000_000), D("0.025"), D(1500))


def test_the_notional_is_absolute_quantity_times_mark() -> None:
    assert position_notional(quantity=D("-2.5"), mark_price=D("4600.10")) == D("11500.250")


def test_initial_margin_is_notional_over_the_accounts_leverage() -> None:
    # 2 oz × 4,600 = 9,200 USDT at 20× → 460 USDT; at 5× → 1,840 USDT
    assert binance_initial_margin(notional=D(9200), leverage=20, brackets=BRACKETS) == D(460)
    assert binance_initial_margin(notional=D(9200), leverage=5, brackets=BRACKETS) == D(1840)


def test_the_bracket_caps_the_leverage() -> None:
    # 30 oz × 4,000 = 120,000 USDT is in bracket 2 (20× at most): an account at 50× pays 120,000 / 20 = 6,000
    assert effective_leverage(BRACKETS, notional=D(120_000), leverage=50) == 20
    assert binance_initial_margin(notional=D(120_000), leverage=50, brackets=BRACKETS) == D(6000)
    # below its bracket's leverage the account's own applies: 120,000 / 10 = 12,000
    assert binance_initial_margin(notional=D(120_000), leverage=10, brackets=BRACKETS) == D(12_000)


def test_a_notional_equal_to_a_cap_stays_in_that_bracket() -> None:
    assert bracket_for_notional(BRACKETS, D(100_000)).bracket == 1
    assert bracket_for_notional(BRACKETS, D("100000.01")).bracket == 2
    assert binance_initial_margin(notional=D(100_000), leverage=50, brackets=BRACKETS) == D(2000)


def test_maintenance_margin_is_notional_times_ratio_minus_cum() -> None:
    assert binance_maintenance_margin(notional=D(9200), brackets=BRACKETS) == D(92)  # 9,200 × 1 %
    # 120,000 × 2.5 % − 1,500 = 1,500
    assert binance_maintenance_margin(notional=D(120_000), brackets=BRACKETS) == D(1500)
    # at the boundary both brackets agree: 100,000 × 1 % = 100,000 × 2.5 % − 1,500 = 1,000
    assert binance_maintenance_margin(notional=D(100_000), brackets=BRACKETS) == D(1000)
    assert D(100_000) * D("0.025") - D(1500) == D(1000)


def test_no_position_needs_no_margin() -> None:
    assert binance_initial_margin(notional=D(0), leverage=20, brackets=BRACKETS) == 0
    assert binance_maintenance_margin(notional=D(0), brackets=BRACKETS) == 0


def test_the_largest_position_at_a_leverage_is_the_cap_of_the_last_bracket_allowing_it() -> None:
    assert max_notional_at_leverage(BRACKETS, 50) == D(100_000)
    assert max_notional_at_leverage(BRACKETS, 21) == D(100_000)
    assert max_notional_at_leverage(BRACKETS, 20) == D(1_000_000)
    assert max_notional_at_leverage(BRACKETS, 1) == D(1_000_000)
    assert max_notional_at_leverage(BRACKETS, 75) == 0
    assert max_notional_at_leverage(DEFAULT_BRACKETS, 5) == D(10_000_000)


def test_a_notional_past_the_last_bracket_cannot_be_margined() -> None:
    with pytest.raises(MarginError, match="exceeds the last leverage bracket"):
        binance_initial_margin(notional=D("1000000.01"), leverage=20, brackets=BRACKETS)


def test_default_brackets_hand_computed() -> None:
    # 1,000 oz × 4,600 = 4,600,000 USDT: bracket 3 (10×, 5 %, cum 26,500)
    assert binance_initial_margin(notional=D(4_600_000), leverage=20, brackets=DEFAULT_BRACKETS) == D(460_000)
    assert binance_maintenance_margin(notional=D(4_600_000), brackets=DEFAULT_BRACKETS) == D(203_500)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"notionalFloor": 90000}, "does not start where"),
        ({"cum": 1000.0}, "breaks the maintenance margin"),
        ({"initialLeverage": 75}, "allows more risk"),
    ],
)
def test_it_refuses_brackets_that_do_not_tile(change: dict[str, object], message: str) -> None:
    rows = [dict(WIRE["brackets"][1]), {**WIRE["brackets"][0], **change}]
    with pytest.raises(MarginError, match=message):
        brackets_from_wire({"symbol": "XAUUSDT", "brackets": rows})


def test_it_refuses_an_entry_without_brackets_or_with_a_bad_row() -> None:
    with pytest.raises(MarginError):
        brackets_from_wire({"symbol": "XAUUSDT", "brackets": []})
    with pytest.raises(MarginError, match="Not a leverage bracket"):
        brackets_from_wire({"symbol": "XAUUSDT", "brackets": [{"bracket": 1}]})
    with pytest.raises(MarginError, match="start at a notional of 0"):
        validate_brackets([LeverageBracket(1, 20, D(10), D(100), D("0.01"), D(0))])


notionals = st.decimals(min_value=0, max_value=50_000_000, places=2)
leverages = st.integers(min_value=1, max_value=125)


@given(a=notionals, b=notionals, leverage=leverages)
def test_binance_margins_grow_with_the_position(a: Decimal, b: Decimal, leverage: int) -> None:
    low, high = sorted((a, b))
    im = binance_initial_margin
    assert im(notional=low, leverage=leverage, brackets=DEFAULT_BRACKETS) <= im(
        notional=high, leverage=leverage, brackets=DEFAULT_BRACKETS
    )
    mm = binance_maintenance_margin
    assert mm(notional=low, brackets=DEFAULT_BRACKETS) <= mm(notional=high, brackets=DEFAULT_BRACKETS)


@given(notional=st.decimals(min_value=D("0.01"), max_value=50_000_000, places=2), leverage=leverages)
def test_maintenance_stays_below_initial_margin(notional: Decimal, leverage: int) -> None:
    # each default bracket's ratio is below 1 / its leverage, so the venue would not open a position already
    # due for liquidation
    assert binance_maintenance_margin(notional=notional, brackets=DEFAULT_BRACKETS) < binance_initial_margin(
        notional=notional, leverage=leverage, brackets=DEFAULT_BRACKETS
    )


@pytest.mark.parametrize("brackets", [BRACKETS, DEFAULT_BRACKETS])
def test_maintenance_margin_is_continuous_across_brackets(brackets: tuple[LeverageBracket, ...]) -> None:
    for lower, upper in pairwise(brackets):
        edge = lower.notional_cap
        below = edge * lower.maint_margin_ratio - lower.cum
        above = edge * upper.maint_margin_ratio - upper.cum
        assert below == above
        assert binance_maintenance_margin(notional=edge, brackets=brackets) == below


# --- MetaTrader 5 --------------------------------------------------------------------------------------------


def spec(mode: CalcMode, **values: object) -> Mt5MarginSpec:
    fields: dict[str, object] = {
        "calc_mode": mode,
        "contract_size": D(100),
        "currency_margin": "USD",
        "currency_base": "XAU",
        "currency_profit": "USD",
    }
    fields.update(values)
    return Mt5MarginSpec(**fields)


def margin(s: Mt5MarginSpec, lots: str, price: str = "4600", leverage: int = 100, buy: bool = True) -> Decimal:
    return mt5_margin(spec=s, lots=D(lots), buy=buy, price=D(price), account_leverage=leverage)


def test_forex_mode_is_volume_over_leverage_in_the_base_currency() -> None:
    # 0.5 lot × 100 oz ÷ 100 = 0.5 XAU, worth 0.5 × 4,600 = 2,300 USD
    gold = spec(CalcMode.FOREX, currency_margin="XAU")
    assert margin(gold, "0.5") == D("0.5")
    assert mt5_margin_in_account_currency(
        spec=gold, lots=D("0.5"), buy=True, price=D(4600), account_leverage=100, account_currency="USD"
    ) == D(2300)


def test_forex_no_leverage_ignores_leverage_and_price() -> None:
    # 1 lot EURUSD × 100,000 × 2 % = 2,000 EUR at 1.10 = 2,200 USD
    eur = spec(
        CalcMode.FOREX_NO_LEVERAGE,
        contract_size=D(100_000),
        currency_margin="EUR",
        currency_base="EUR",
        margin_rate_buy=D("0.02"),
    )
    assert margin(eur, "1", price="1.10", leverage=500) == D(2000)
    assert mt5_margin_in_account_currency(
        spec=eur, lots=D(1), buy=True, price=D("1.10"), account_leverage=500, account_currency="USD"
    ) == D(2200)


def test_cfd_mode_is_notional_times_margin_rate() -> None:
    # 2 lots × 100 oz × 4,600 × 1 % = 9,200 USD, whatever the account's leverage
    assert margin(spec(CalcMode.CFD, margin_rate_buy=D("0.01")), "2", leverage=500) == D(9200)


def test_cfd_leverage_mode_divides_by_the_accounts_leverage() -> None:
    # 0.1 lot × 100 oz × 4,600 ÷ 100 = 460 USD
    assert margin(spec(CalcMode.CFDLEVERAGE), "0.1") == D(460)


def test_metals_with_their_own_leverage_take_it_through_the_margin_rate() -> None:
    # account 1:500, gold limited to 1:100 → rate 5: 0.1 lot × 100 × 4,600 ÷ 500 × 5 = 460 USD
    rate = margin_rate_for_leverage(account_leverage=500, symbol_leverage=100)
    assert rate == 5
    assert margin(spec(CalcMode.CFDLEVERAGE, margin_rate_buy=rate), "0.1", leverage=500) == D(460)


def test_the_sell_side_uses_its_own_rate() -> None:
    s = spec(CalcMode.CFDLEVERAGE, margin_rate_buy=D(1), margin_rate_sell=D("1.5"))
    assert margin(s, "0.1", price="4599.8", buy=False) == D("689.97")  # 10 × 4,599.8 ÷ 100 × 1.5


def test_cfd_index_mode_scales_by_tick_value_over_tick_size() -> None:
    # 2 lots × 1 × 18,000 × (0.5 ÷ 0.25) × 5 % = 3,600
    index = spec(
        CalcMode.CFDINDEX, contract_size=D(1), tick_value=D("0.5"), tick_size=D("0.25"), margin_rate_buy=D("0.05")
    )
    assert margin(index, "2", "18000") == D(3600)
    with pytest.raises(MarginError, match="tick size"):
        margin(spec(CalcMode.CFDINDEX), "1")


@pytest.mark.parametrize("mode", [CalcMode.FUTURES, CalcMode.EXCH_FUTURES])
def test_futures_modes_charge_the_initial_margin_per_lot(mode: CalcMode) -> None:
    assert margin(spec(mode, margin_initial=D(5000), margin_rate_buy=D("1.2")), "3") == D(18_000)  # 3 × 5,000 × 1.2


def test_exchange_stocks_use_the_last_price() -> None:
    assert margin(spec(CalcMode.EXCH_STOCKS, contract_size=D(1)), "10", "150.25") == D("1502.50")
    assert margin(spec(CalcMode.EXCH_STOCKS_MOEX, contract_size=D(10)), "2", "99.5") == D(1990)


def test_exchange_bonds_use_face_value_and_percent_price() -> None:
    # 2 lots × 1 × 1,000 face × 98.5 % = 1,970
    assert margin(spec(CalcMode.EXCH_BONDS, contract_size=D(1), face_value=D(1000)), "2", "98.5") == D(1970)


def test_collateral_is_not_margined_and_options_are_refused() -> None:
    assert margin(spec(CalcMode.SERV_COLLATERAL), "5") == 0
    with pytest.raises(UnsupportedCalcMode):
        margin(spec(CalcMode.EXCH_OPTIONS), "1")


def test_a_usdt_account_converts_usd_margin_at_usd_per_usdt() -> None:
    # 0.1 lot CFD leverage = 460 USD; one USD is worth 1 / 0.9995 USDT
    usd_in_usdt = D(1) / D("0.9995")
    s = spec(CalcMode.CFDLEVERAGE)
    assert margin_conversion_rate(spec=s, account_currency="USDT", price=D(4600), profit_to_account=usd_in_usdt) == (
        usd_in_usdt
    )
    assert (
        mt5_margin_in_account_currency(
            spec=s,
            lots=D("0.1"),
            buy=True,
            price=D(4600),
            account_leverage=100,
            account_currency="USDT",
            profit_to_account=usd_in_usdt,
        )
        == D(460) * usd_in_usdt
    )


def test_an_unrelated_margin_currency_needs_a_rate() -> None:
    with pytest.raises(MarginError, match="No rate"):
        margin_conversion_rate(
            spec=spec(CalcMode.CFD, currency_margin="EUR"), account_currency="USD", price=D(1), profit_to_account=D(1)
        )


def test_negative_inputs_are_refused() -> None:
    with pytest.raises(MarginError):
        margin(spec(CalcMode.CFD), "-1")
    with pytest.raises(MarginError):
        margin(spec(CalcMode.CFD), "1", price="-1")
    with pytest.raises(MarginError):
        margin(spec(CalcMode.CFD), "1", leverage=0)


lots = st.decimals(min_value=0, max_value=1000, places=2)


SUPPORTED = [
    m for m in CalcMode if m not in (CalcMode.EXCH_FUTURES_FORTS, CalcMode.EXCH_OPTIONS, CalcMode.EXCH_OPTIONS_MARGIN)
]
FULL_SPEC = {
    "contract_size": D(100),
    "margin_rate_buy": D("0.5"),
    "margin_initial": D(1000),
    "tick_value": D(1),
    "tick_size": D("0.01"),
    "face_value": D(1000),
}


@given(a=lots, b=lots, mode=st.sampled_from(SUPPORTED), leverage=st.integers(1, 1000))
def test_mt5_margin_is_linear_and_monotone_in_lots(a: Decimal, b: Decimal, mode: CalcMode, leverage: int) -> None:
    s = spec(mode, **FULL_SPEC)
    low, high = sorted((a, b))
    assert margin(s, str(low), leverage=leverage) <= margin(s, str(high), leverage=leverage)
    together = margin(s, str(a + b), leverage=leverage)
    apart = margin(s, str(a), leverage=leverage) + margin(s, str(b), leverage=leverage)
    # equal up to Decimal's 28 significant digits (÷ leverage may not terminate)
    assert abs(together - apart) <= max(together, D(1)) * D("1e-25")


# --- margin level ----------------------------------------------------------------------------------------------


def test_margin_level_is_equity_over_used_margin_in_percent() -> None:
    assert margin_level(equity=D(10_000), used_margin=D(2_000)) == D(500)
    assert margin_level(equity=D(10_000), used_margin=D(0)) is None
    assert free_margin(equity=D(10_000), used_margin=D(2_000)) == D(8_000)


@given(
    equity=st.decimals(min_value=0, max_value=10**9, places=2),
    a=st.decimals(min_value=D("0.01"), max_value=10**9, places=2),
    b=st.decimals(min_value=D("0.01"), max_value=10**9, places=2),
)
def test_margin_level_falls_as_margin_grows(equity: Decimal, a: Decimal, b: Decimal) -> None:
    low, high = sorted((a, b))
    level_low, level_high = margin_level(equity=equity, used_margin=low), margin_level(equity=equity, used_margin=high)
    assert level_low is not None and level_high is not None
    assert level_high <= level_low
