"""MT5 margin level against the account's own margin call and stop-out levels, per `margin_so_mode`, and the gold
move that reaches each, on hand-computed cases (margin moving with the price in the CFD modes, fixed otherwise).

The account: 10,000 USD equity at 1:100; XAUUSD 100 oz per lot, one lot at 4,600. In CFD leverage mode the margin
is 1 × 100 × price ÷ 100 × rate 1 = price, so 4,600 now and 4,600 + Δ after a move of Δ USD/oz; the equity moves
by 100 × Δ for a buy (−100 × Δ for a sell).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from risk.domain.liquidation import (
    MoneyLevelBasis,
    Mt5Account,
    Mt5Levels,
    Mt5Position,
    StopOutMode,
    mt5_state_after_move,
    mt5_stop_out,
)
from trading.domain.margin import CalcMode, MarginError, Mt5MarginSpec

D = Decimal
CENT = D("0.01")
CFD_LEVERAGE = Mt5MarginSpec(CalcMode.CFDLEVERAGE, D(100), "USD", "XAU", "USD")
FUTURES = Mt5MarginSpec(CalcMode.FUTURES, D(100), "USD", "XAU", "USD", margin_initial=D(4600))
FOREX_XAU = Mt5MarginSpec(CalcMode.FOREX, D(100), "XAU", "XAU", "USD")
PERCENT = Mt5Levels(margin_call=D(100), stop_out=D(50), mode=StopOutMode.PERCENT)


def account(
    levels: Mt5Levels = PERCENT, equity: str = "10000", margin: str = "4600", currency: str = "USD", **kwargs: object
) -> Mt5Account:
    return Mt5Account(equity=D(equity), margin=D(margin), leverage=100, currency=currency, levels=levels, **kwargs)


def one_lot(spec: Mt5MarginSpec = CFD_LEVERAGE, *, buy: bool = True) -> Mt5Position:
    return Mt5Position(spec=spec, lots=D(1), buy=buy, open_price=D(4600), current_price=D(4600))


def test_percent_mode_long_with_margin_moving_with_the_price() -> None:
    # Level now 10,000 / 4,600 = 217.39 %.
    # Stop-out 50 %: 10,000 + 100Δ = 0.5 × (4,600 + Δ) → 99.5Δ = −7,700 → Δ = −77.3869 USD/oz.
    # Margin call 100 %: 10,000 + 100Δ = 4,600 + Δ → 99Δ = −5,400 → Δ = −54.5455.
    state = mt5_stop_out(account(), [one_lot()])
    assert state.margin_level is not None and state.margin_level.quantize(CENT) == D("217.39")
    assert state.measured == state.margin_level
    assert state.headroom is not None and state.headroom.quantize(CENT) == D("167.39")
    assert not state.margin_call_reached and not state.stop_out_reached
    assert state.move_to_stop_out == D(-7700) / D("99.5")
    assert state.move_to_margin_call == D(-5400) / D(99)
    assert state.free_margin == D(5400)


def test_the_same_forex_mode_margined_in_gold_moves_with_the_price_too() -> None:
    # Forex mode: 100 oz ÷ 100 × rate 1 = 1 XAU, worth the price in USD → the same 4,600 + Δ.
    state = mt5_stop_out(account(), [one_lot(FOREX_XAU)])
    assert state.move_to_stop_out == D(-7700) / D("99.5")


def test_percent_mode_with_a_fixed_margin() -> None:
    # Futures mode, 4,600 per lot whatever the price: 10,000 + 100Δ = 0.5 × 4,600 → Δ = −77 exactly.
    state = mt5_stop_out(account(), [one_lot(FUTURES)])
    assert state.move_to_stop_out == D(-77)
    assert state.move_to_margin_call == D(-54)


def test_percent_mode_short() -> None:
    # Sell 1 lot: 10,000 − 100Δ = 0.5 × (4,600 + Δ) → 100.5Δ = 7,700 → Δ = +76.6169;
    # margin call: 10,000 − 100Δ = 4,600 + Δ → 101Δ = 5,400 → Δ = +53.4653.
    state = mt5_stop_out(account(), [one_lot(buy=False)])
    assert state.move_to_stop_out is not None and state.move_to_stop_out.quantize(CENT) == D("76.62")
    assert state.move_to_margin_call is not None and state.move_to_margin_call.quantize(CENT) == D("53.47")


def test_a_hedged_account_reaches_stop_out_only_through_its_margin() -> None:
    # Buy 1 and sell 1: equity does not move; margin 2 × (4,600 + Δ) (no hedged-margin relief).
    # 10,000 = 0.5 × (9,200 + 2Δ) → Δ = +5,400 (a rise grows the margin until the level falls to 50 %).
    state = mt5_stop_out(account(margin="9200"), [one_lot(), one_lot(buy=False)])
    assert state.move_to_stop_out == D(5400)


def test_money_mode_against_equity() -> None:
    # Levels in USD: call 3,000, stop-out 1,000. Equity 10,000 + 100Δ = 1,000 → Δ = −90; = 3,000 → Δ = −70.
    levels = Mt5Levels(margin_call=D(3000), stop_out=D(1000), mode=StopOutMode.MONEY)
    state = mt5_stop_out(account(levels), [one_lot()])
    assert state.measured == D(10_000)
    assert state.headroom == D(9000)
    assert (state.move_to_stop_out, state.move_to_margin_call) == (D(-90), D(-70))


def test_money_mode_against_free_margin() -> None:
    # Free margin 10,000 + 100Δ − (4,600 + Δ) = 1,000 → 99Δ = −4,400 → Δ = −44.44; = 3,000 → Δ = −24.24.
    levels = Mt5Levels(D(3000), D(1000), StopOutMode.MONEY, MoneyLevelBasis.FREE_MARGIN)
    state = mt5_stop_out(account(levels), [one_lot()])
    assert state.measured == D(5400)
    assert state.move_to_stop_out == D(-4400) / D(99)
    assert state.move_to_margin_call == D(-2400) / D(99)


def test_levels_already_reached_need_no_move() -> None:
    # 2,000 / 4,600 = 43.48 % ≤ 50 %: both reached.
    state = mt5_stop_out(account(equity="2000"), [one_lot()])
    assert state.stop_out_reached and state.margin_call_reached
    assert (state.move_to_stop_out, state.move_to_margin_call) == (D(0), D(0))
    # 4,000 / 4,600 = 86.96 %: margin call only; stop-out at 4,000 + 100Δ = 0.5(4,600 + Δ) → Δ = −17.09.
    state = mt5_stop_out(account(equity="4000"), [one_lot()])
    assert state.margin_call_reached and not state.stop_out_reached
    assert state.move_to_margin_call == 0
    assert state.move_to_stop_out is not None and state.move_to_stop_out.quantize(CENT) == D("-17.09")


def test_no_positions_no_level_and_no_move() -> None:
    state = mt5_stop_out(account(margin="0"), [])
    assert state.margin_level is None and state.measured is None
    assert not state.stop_out_reached
    assert state.move_to_stop_out is None and state.move_to_margin_call is None


def test_a_usdt_account_converts_profit_and_margin() -> None:
    # A USDT account with usd_per_usdt 0.8 (a round figure): 1 USD = 1.25 USDT. Margin 4,600 USD = 5,750 USDT,
    # equity 12,500 USDT. Stop-out: 12,500 + 125Δ = 0.5 × 1.25 × (4,600 + Δ) → 124.375Δ = −9,625 → Δ = −77.3869,
    # the same gold move as the USD account (everything scaled by 1.25).
    state = mt5_stop_out(
        account(equity="12500", margin="5750", currency="USDT", profit_to_account=D("1.25")), [one_lot()]
    )
    assert state.move_to_stop_out == D(-9625) / D("124.375")
    assert state.move_to_stop_out.quantize(D("0.0001")) == (D(-7700) / D("99.5")).quantize(D("0.0001"))


def test_levels_from_account_info() -> None:
    info = {"margin_so_call": 100.0, "margin_so_so": 50.0, "margin_so_mode": 0}
    assert Mt5Levels.from_account_info(info) == PERCENT
    with pytest.raises(MarginError):
        Mt5Levels.from_account_info({"margin_so_call": 100.0})
    with pytest.raises(MarginError):
        Mt5Levels(margin_call=D(40), stop_out=D(50), mode=StopOutMode.PERCENT)


def test_a_margin_not_linear_in_the_price_is_refused() -> None:
    # CFD mode margined in XAU: volume × price × rate XAU, each worth the price → quadratic in the price.
    spec = Mt5MarginSpec(CalcMode.CFD, D(100), "XAU", "XAU", "USD", margin_rate_buy=D("0.00001"))
    with pytest.raises(MarginError):
        mt5_stop_out(account(margin="21160"), [one_lot(spec)])


@given(
    equity=st.decimals(min_value="3000", max_value="100000", places=2),
    lots=st.decimals(min_value="0.01", max_value="5", places=2),
    buy=st.booleans(),
    mode=st.sampled_from([CFD_LEVERAGE, FUTURES, FOREX_XAU]),
    money=st.sampled_from([None, MoneyLevelBasis.EQUITY, MoneyLevelBasis.FREE_MARGIN]),
)
def test_at_the_returned_move_the_measured_figure_is_the_level(
    equity: Decimal, lots: Decimal, buy: bool, mode: Mt5MarginSpec, money: MoneyLevelBasis | None
) -> None:
    position = Mt5Position(spec=mode, lots=lots, buy=buy, open_price=D(4600), current_price=D(4600))
    levels = PERCENT if money is None else Mt5Levels(D(2000), D(1000), StopOutMode.MONEY, money)
    margin = D(4600) * lots  # every mode here margins 1 lot at 4,600
    acct = Mt5Account(equity=equity, margin=margin, leverage=100, currency="USD", levels=levels)
    state = mt5_stop_out(acct, [position])
    for threshold, move, reached in (
        (levels.stop_out, state.move_to_stop_out, state.stop_out_reached),
        (levels.margin_call, state.move_to_margin_call, state.margin_call_reached),
    ):
        if reached or move is None:
            continue
        moved_equity, moved_margin = mt5_state_after_move(acct, [position], move)
        if levels.mode is StopOutMode.PERCENT:
            figure = moved_equity / moved_margin * 100
        elif money is MoneyLevelBasis.EQUITY:
            figure = moved_equity
        else:
            figure = moved_equity - moved_margin
        assert abs(figure - threshold) < D("1e-15")
        # The move is against the position: down for a buy, up for a sell (in these one-position accounts).
        assert (move < 0) is buy
