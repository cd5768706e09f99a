"""Binance USDⓈ-M one-way liquidation price by the venue's published formula, on hand-computed cases across bracket
boundaries (long and short, cross and isolated), and the margin balance, margin ratio and distance around it.

The brackets are margin.DEFAULT_BRACKETS: bracket 1 to 100,000 USDT at MMR 1 %, cum 0; bracket 2 to 1,000,000 at
2.5 %, cum 1,500; bracket 3 to 5,000,000 at 5 %, cum 26,500; bracket 4 to 10,000,000 at 10 %, cum 276,500.

    LP = (WB − TMM1 + UPNL1 + cumB − side × size × EP) / (size × MMR_B − side × size)
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from risk.domain.liquidation import (
    MarginType,
    PerpPosition,
    binance_margin_balance,
    binance_margin_ratio,
    liquidation_distance,
    liquidation_price,
    perp_risk,
    perp_unrealized_pnl,
)
from trading.domain.margin import DEFAULT_BRACKETS, MarginError, binance_maintenance_margin, validate_brackets

D = Decimal
CENT = D("0.01")


def lp(quantity: str, entry: str, wallet: str, **kwargs: object) -> tuple[Decimal, int]:
    result = liquidation_price(
        position=PerpPosition(D(quantity), D(entry)), wallet_balance=D(wallet), brackets=DEFAULT_BRACKETS, **kwargs
    )
    assert result is not None
    assert result.price * abs(D(quantity)) == result.notional
    return result.price, result.bracket.bracket


def test_a_long_whose_liquidation_notional_falls_into_the_lower_bracket_uses_that_bracket() -> None:
    # Long 26 oz at 4,000: notional 104,000 today, bracket 2. WB 10,000 cross, nothing else.
    # Bracket 2: (10,000 + 1,500 − 104,000) / (26 × 0.025 − 26) = −92,500 / −25.35 = 3,648.915…
    #   → notional 26 × 3,648.92 = 94,871.8 ≤ 100,000: not bracket 2's notional, rejected.
    # Bracket 1: (10,000 + 0 − 104,000) / (26 × 0.01 − 26) = −94,000 / −25.74 = 3,651.9036…
    #   → notional 94,949.49 in (0, 100,000]: bracket 1 holds it. LP = 3,651.90.
    price, bracket = lp("26", "4000", "10000")
    assert bracket == 1
    assert price.quantize(CENT) == D("3651.90")
    assert price == D(-94_000) / D("-25.74")
    # Today's bracket would have given a different (wrong) price.
    assert price.quantize(CENT) != (D(-92_500) / D("-25.35")).quantize(CENT)


def test_a_long_staying_in_its_bracket() -> None:
    # Long 30 oz at 4,000 (120,000, bracket 2), WB 10,000.
    # Bracket 1: −110,000 / (0.3 − 30) = 3,703.70 → notional 111,111 > 100,000: rejected.
    # Bracket 2: (10,000 + 1,500 − 120,000) / (0.75 − 30) = −108,500 / −29.25 = 3,709.4017 → 111,282 ✓.
    price, bracket = lp("30", "4000", "10000")
    assert (bracket, price.quantize(CENT)) == (2, D("3709.40"))


def test_a_short_whose_liquidation_notional_rises_into_the_next_bracket() -> None:
    # Short 20 oz at 4,600: notional 92,000, bracket 1. WB 10,000 cross. side = −1.
    # Bracket 1: (10,000 + 0 + 20 × 4,600) / (20 × 0.01 + 20) = 102,000 / 20.2 = 5,049.50 → 100,990 > 100,000 ✗.
    # Bracket 2: (10,000 + 1,500 + 92,000) / (20 × 0.025 + 20) = 103,500 / 20.5 = 5,048.7805 → 100,975.6 ✓.
    # Check: margin balance 10,000 − 20 × (5,048.78 − 4,600) = 1,024.39
    #        maintenance 100,975.61 × 2.5 % − 1,500 = 1,024.39.
    price, bracket = lp("-20", "4600", "10000")
    assert bracket == 2
    assert price == D(103_500) / D("20.5")
    assert price.quantize(CENT) == D("5048.78")


def test_a_large_short_several_brackets_up() -> None:
    # Short 1,000 oz at 4,600 (4,600,000, bracket 3), WB 3,000,000.
    # Bracket 3: (3,000,000 + 26,500 + 4,600,000) / (50 + 1,000) = 7,262.38 → 7,262,381 > 5,000,000 ✗.
    # Bracket 4: (3,000,000 + 276,500 + 4,600,000) / (100 + 1,000) = 7,876,500 / 1,100 = 7,160.4545 → 7,160,454 ✓.
    price, bracket = lp("-1000", "4600", "3000000")
    assert (bracket, price.quantize(CENT)) == (4, D("7160.45"))


def test_cross_counts_the_other_positions_maintenance_and_pnl() -> None:
    # Long 26 oz at 4,000, WB 10,000, TMM1 500, UPNL1 −300.
    # Bracket 1: (10,000 − 500 − 300 + 0 − 104,000) / (0.26 − 26) = −94,800 / −25.74 = 3,682.9837 → 95,757.6 ✓.
    price, bracket = lp("26", "4000", "10000", other_maintenance=D(500), other_unrealized_pnl=D(-300))
    assert (bracket, price.quantize(CENT)) == (1, D("3682.98"))


def test_isolated_uses_the_position_own_wallet_and_crosses_brackets_too() -> None:
    # Isolated long 20 oz at 4,600 with 2,000 USDT isolated: (2,000 − 92,000) / (0.2 − 20) = 4,545.45 → 90,909 ✓ b1.
    assert lp("20", "4600", "2000", margin_type=MarginType.ISOLATED) == (D(-90_000) / D("-19.8"), 1)
    # Isolated long 22 oz at 4,600 (101,200, bracket 2) with 5,000:
    # Bracket 2: (5,000 + 1,500 − 101,200) / (0.55 − 22) = 4,414.92 → 97,128 ≤ 100,000 ✗.
    # Bracket 1: (5,000 − 101,200) / (0.22 − 22) = −96,200 / −21.78 = 4,416.8962 → 97,171.7 ✓.
    price, bracket = lp("22", "4600", "5000", margin_type=MarginType.ISOLATED)
    assert (bracket, price.quantize(CENT)) == (1, D("4416.90"))
    # Isolated short 21 oz at 4,700 (98,700, bracket 1) with 3,000:
    # Bracket 1: (3,000 + 98,700) / (0.21 + 21) = 4,794.91 → 100,693 ✗.
    # Bracket 2: (3,000 + 1,500 + 98,700) / (0.525 + 21) = 103,200 / 21.525 = 4,794.4251 → 100,682.9 ✓.
    price, bracket = lp("-21", "4700", "3000", margin_type=MarginType.ISOLATED)
    assert (bracket, price.quantize(CENT)) == (2, D("4794.43"))
    # Isolated short 20 oz at 4,600 with 2,000: (2,000 + 92,000) / 20.2 = 4,653.47.
    price, bracket = lp("-20", "4600", "2000", margin_type=MarginType.ISOLATED)
    assert (bracket, price.quantize(CENT)) == (1, D("4653.47"))


def test_isolated_refuses_other_positions() -> None:
    with pytest.raises(MarginError):
        lp("1", "4600", "100", margin_type=MarginType.ISOLATED, other_maintenance=D(1))


def test_a_fully_covered_long_has_no_liquidation_price_and_no_position_none_either() -> None:
    # Long 1 oz at 4,600 with 10,000: at a price of 0 the balance is 5,400 > 0 maintenance.
    assert (
        liquidation_price(position=PerpPosition(D(1), D(4600)), wallet_balance=D(10_000), brackets=DEFAULT_BRACKETS)
        is None
    )
    assert (
        liquidation_price(position=PerpPosition(D(0), D(4600)), wallet_balance=D(10_000), brackets=DEFAULT_BRACKETS)
        is None
    )


def test_a_root_at_a_bracket_cap_stays_in_the_lower_bracket() -> None:
    # Short 20 oz at 4,600 whose root is exactly at notional 100,000 (price 5,000): in bracket 1,
    # 5,000 = (WB + 92,000) / 20.2 → WB = 9,000. Bracket 2 gives the same price there (continuity).
    price, bracket = lp("-20", "4600", "9000")
    assert (price, bracket) == (D(5000), 1)


def test_past_the_last_bracket_the_last_rate_is_carried_on_and_flagged() -> None:
    brackets = validate_brackets(DEFAULT_BRACKETS[:2])  # to 1,000,000 only
    result = liquidation_price(position=PerpPosition(D(-200), D(4600)), wallet_balance=D(1_000_000), brackets=brackets)
    # Bracket 2 carried on: (1,000,000 + 1,500 + 920,000) / (5 + 200) = 9,373.17 → 1,874,634 > 1,000,000.
    assert result is not None and result.beyond_brackets
    assert result.price == D(1_921_500) / D(205)


def test_a_short_insolvent_at_any_price_is_liquidatable_at_once() -> None:
    result = liquidation_price(
        position=PerpPosition(D(-1), D(4600)), wallet_balance=D(-5000), brackets=DEFAULT_BRACKETS
    )
    assert result is not None and result.price == 0


def test_margin_balance_ratio_and_distance() -> None:
    # Short 20 oz at 4,600, mark 4,700, WB 10,000, usd_per_usdt 0.999.
    # UPNL = −20 × 100 = −2,000; margin balance 8,000; notional 94,000 → MM 940; ratio 940 / 8,000 = 11.75 %.
    # LP 5,048.78 (above): move +348.78 USDT/oz = 348.43 USD/oz; 348.78 / 4,700 = 7.42 %.
    risk = perp_risk(
        position=PerpPosition(D(-20), D(4600)),
        mark_price=D(4700),
        wallet_balance=D(10_000),
        brackets=DEFAULT_BRACKETS,
        usd_per_usdt=D("0.999"),
    )
    assert risk.unrealized_pnl == D(-2000)
    assert risk.margin_balance == D(8000)
    assert risk.maintenance_margin == D(940)
    assert risk.margin_ratio == D("11.75")
    assert not risk.liquidatable
    assert risk.distance is not None
    assert risk.distance.move_usdt.quantize(CENT) == D("348.78")
    assert risk.distance.move_usd.quantize(CENT) == D("348.43")
    assert risk.distance.percent.quantize(CENT) == D("7.42")
    assert risk.distance.abs_percent == risk.distance.percent


def test_a_long_distance_is_negative() -> None:
    distance = liquidation_distance(liquidation_price=D(4140), mark_price=D(4600), usd_per_usdt=D(1))
    assert (distance.move_usdt, distance.move_usd, distance.percent, distance.abs_percent) == (
        D(-460),
        D(-460),
        D(-10),
        D(10),
    )


def test_the_margin_ratio_reaches_100_at_the_liquidation_price() -> None:
    position = PerpPosition(D(-20), D(4600))
    result = liquidation_price(position=position, wallet_balance=D(10_000), brackets=DEFAULT_BRACKETS)
    assert result is not None
    risk = perp_risk(
        position=position,
        mark_price=result.price,
        wallet_balance=D(10_000),
        brackets=DEFAULT_BRACKETS,
        usd_per_usdt=D(1),
    )
    assert risk.margin_ratio is not None and risk.margin_ratio.quantize(D("0.000001")) == 100
    assert risk.distance is not None and risk.distance.move_usdt == 0


def test_ratio_is_none_without_a_position_or_with_no_balance() -> None:
    assert binance_margin_ratio(maintenance_margin=D(0), margin_balance=D(100)) is None
    assert binance_margin_ratio(maintenance_margin=D(10), margin_balance=D(0)) is None
    assert binance_margin_balance(wallet_balance=D(100), unrealized_pnl=D(-30)) == D(70)
    assert perp_unrealized_pnl(PerpPosition(D("1.5"), D(4000)), D(4100)) == D(150)


@given(
    size=st.decimals(min_value="0.001", max_value="900", places=3),
    long=st.booleans(),
    entry=st.decimals(min_value="1000", max_value="6000", places=2),
    wallet=st.decimals(min_value="0", max_value="500000", places=2),
    others=st.decimals(min_value="-2000", max_value="2000", places=2),
)
def test_at_the_liquidation_price_balance_equals_maintenance_in_the_bracket_of_that_notional(
    size: Decimal, long: bool, entry: Decimal, wallet: Decimal, others: Decimal
) -> None:
    position = PerpPosition(size if long else -size, entry)
    result = liquidation_price(
        position=position, wallet_balance=wallet, brackets=DEFAULT_BRACKETS, other_unrealized_pnl=others
    )
    if result is None:
        assert long  # only a long can be covered to a price of 0
        return
    if result.price == 0 or result.beyond_brackets:
        return
    maintenance = binance_maintenance_margin(notional=result.notional, brackets=DEFAULT_BRACKETS)
    balance = wallet + others + perp_unrealized_pnl(position, result.price)
    assert abs(balance - maintenance) < D("1e-20")
    # A price a cent further against the position is past liquidation; a cent in its favour is not.
    step = -CENT if long else CENT
    for price, liquidated in ((result.price + step, True), (result.price - step, False)):
        if price <= 0 or size * price > DEFAULT_BRACKETS[-1].notional_cap:
            continue
        notional = size * price
        margin = binance_maintenance_margin(notional=notional, brackets=DEFAULT_BRACKETS)
        assert (wallet + others + perp_unrealized_pnl(position, price) < margin) is liquidated
