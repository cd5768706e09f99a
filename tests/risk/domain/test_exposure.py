"""A pool's exposure (unhedged ounces and USD, notionals, USDT/USD), which leg's venue closes it first and at what
gold price, the next funding payment and tonight's swap — hand-computed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from risk.domain.exposure import (
    LegLimit,
    PoolPositions,
    desk_exposure,
    limit_race,
    next_funding,
    next_funding_time,
    next_rollover,
    pool_exposure,
    tonight_swap,
)
from risk.domain.liquidation import (
    Mt5Account,
    Mt5Levels,
    Mt5Position,
    PerpPosition,
    StopOutMode,
    mt5_stop_out,
    perp_risk,
)
from trading.domain.calendar import bybit_mt5_gold
from trading.domain.margin import DEFAULT_BRACKETS, CalcMode, Mt5MarginSpec
from trading.domain.orders import Leg
from trading.domain.pnl import SwapMode, SwapTerms

D = Decimal
CENT = D("0.01")
GOLD = bybit_mt5_gold()  # New York close server time: GMT+2 in winter, GMT+3 in US summer


def test_a_hedged_pool_has_no_gold_exposure_but_is_long_usdt() -> None:
    # Short 10 oz perp at mark 4,600 USDT, long 10 oz CFD at 4,598 USD, usd_per_usdt 0.999, 5,000 USDT held.
    exposure = pool_exposure(PoolPositions(D(-10), D(10), D(4600), D(4598), D("0.999")), usdt_balance=D(5000))
    assert exposure.hedged and exposure.net_oz == 0 and exposure.net_usd == 0
    assert exposure.perp_notional_usd == D(45_954)  # 10 × 4,600 × 0.999
    assert exposure.cfd_notional_usd == D(45_980)
    assert exposure.gross_notional_usd == D(91_934)
    # The short perp is long its notional in USDT: 46,000, plus the 5,000 held = 51,000 USDT = 50,949 USD.
    assert exposure.usdt_from_perp == D(46_000)
    assert exposure.usdt_exposure == D(51_000)
    assert exposure.usdt_exposure_usd == D(50_949)


def test_an_unhedged_pool_and_the_reverse_direction() -> None:
    # Long perp 10, short CFD 7: 3 oz long unhedged = 13,794 USD at 4,598; the long perp is short 46,000 USDT.
    exposure = pool_exposure(PoolPositions(D(10), D(-7), D(4600), D(4598), D(1)))
    assert not exposure.hedged
    assert (exposure.net_oz, exposure.net_usd) == (D(3), D(13_794))
    assert exposure.usdt_exposure == D(-46_000)


def test_a_desk_adds_its_pools() -> None:
    first = pool_exposure(PoolPositions(D(-10), D(10), D(4600), D(4598), D(1)))
    second = pool_exposure(PoolPositions(D(-5), D(2), D(4600), D(4598), D(1)), usdt_balance=D(100))
    desk = desk_exposure([first, second])
    assert desk is not None
    assert desk.net_oz == D(-3)
    assert desk.gross_notional_usd == first.gross_notional_usd + second.gross_notional_usd
    assert desk.usdt_exposure == D(46_000 + 23_000 + 100)
    assert desk_exposure([]) is None


def test_positions_need_positive_prices() -> None:
    with pytest.raises(ValueError):
        PoolPositions(D(1), D(-1), D(0), D(4600), D(1))


CFD = Mt5MarginSpec(CalcMode.CFDLEVERAGE, D(100), "USD", "XAU", "USD")
LEVELS = Mt5Levels(margin_call=D(100), stop_out=D(50), mode=StopOutMode.PERCENT)


def race(cfd_equity: str) -> tuple[LegLimit | None, LegLimit | None, LegLimit | None]:
    # Perp: short 20 oz at 4,600, WB 10,000 → LP 5,048.78 (test_liquidation), move +448.78 USDT = +448.78 USD.
    perp = perp_risk(
        position=PerpPosition(D(-20), D(4600)),
        mark_price=D(4600),
        wallet_balance=D(10_000),
        brackets=DEFAULT_BRACKETS,
        usd_per_usdt=D(1),
    )
    # CFD: buy 0.2 lot (20 oz) at 4,598, CFD leverage 1:100 → margin 0.2 × 100 × 4,598 / 100 = 919.6.
    account = Mt5Account(equity=D(cfd_equity), margin=D("919.6"), leverage=100, currency="USD", levels=LEVELS)
    position = Mt5Position(spec=CFD, lots=D("0.2"), buy=True, open_price=D(4598), current_price=D(4598))
    result = limit_race(perp=perp, cfd=mt5_stop_out(account, [position]), cfd_price=D(4598), usd_per_usdt=D(1))
    return result.first, result.perp, result.cfd


def test_the_mt5_leg_stops_out_first_on_a_thin_account() -> None:
    # 2,000 + 20Δ = 0.5 × (919.6 + 0.2Δ) → 19.9Δ = −1,540.2 → Δ = −77.397: gold at 4,520.60, long before the
    # perp's +448.78.
    first, perp, cfd = race("2000")
    assert first is cfd and cfd is not None and perp is not None
    assert cfd.leg is Leg.CFD
    assert cfd.move_usd.quantize(CENT) == D("-77.40")
    assert cfd.price.quantize(CENT) == D("4520.60")
    assert perp.move_usd.quantize(CENT) == D("448.78")
    assert perp.price_usd.quantize(CENT) == D("5048.78")


def test_the_perp_is_liquidated_first_when_the_mt5_account_is_deep() -> None:
    # 20,000 + 20Δ = 0.5 × (919.6 + 0.2Δ) → 19.9Δ = −19,540.2 → Δ = −981.92 > 448.78 away.
    first, perp, cfd = race("20000")
    assert first is perp and perp is not None and perp.leg is Leg.PERP
    assert cfd is not None and cfd.move_usd.quantize(CENT) == D("-981.92")


def test_no_positions_no_race() -> None:
    assert limit_race(perp=None, cfd=None, cfd_price=D(4600), usd_per_usdt=D(1)).first is None


def test_the_next_funding_instant_follows_the_schedule() -> None:
    assert next_funding_time(datetime(2026, 1, 9, 5, 30, tzinfo=UTC)) == datetime(2026, 1, 9, 8, tzinfo=UTC)
    # At a funding instant the next one is the following.
    assert next_funding_time(datetime(2026, 1, 9, 8, tzinfo=UTC)) == datetime(2026, 1, 9, 16, tzinfo=UTC)
    assert next_funding_time(datetime(2026, 1, 9, 17, tzinfo=UTC)) == datetime(2026, 1, 10, 0, tzinfo=UTC)
    assert next_funding_time(datetime(2026, 1, 9, 5, 30, tzinfo=UTC), interval_hours=4) == datetime(
        2026, 1, 9, 8, tzinfo=UTC
    )
    with pytest.raises(ValueError):
        next_funding_time(datetime(2026, 1, 9, 5, 30))


def test_the_next_funding_payment_is_signed_and_takes_the_venue_time_when_ahead() -> None:
    now = datetime(2026, 1, 9, 5, 30, tzinfo=UTC)
    # Short 20 oz, mark 4,600, rate +0.01 %: longs pay shorts → +20 × 4,600 × 0.0001 = +9.2 USDT = 9.1908 USD.
    forecast = next_funding(perp_oz=D(-20), mark_price=D(4600), rate=D("0.0001"), usd_per_usdt=D("0.999"), now=now)
    assert forecast.at == datetime(2026, 1, 9, 8, tzinfo=UTC)
    assert (forecast.amount_usdt, forecast.amount_usd) == (D("9.2"), D("9.1908"))
    venue = datetime(2026, 1, 9, 6, tzinfo=UTC)
    assert (
        next_funding(
            perp_oz=D(20), mark_price=D(4600), rate=D("0.0001"), usd_per_usdt=D(1), now=now, venue_next_funding=venue
        ).at
        == venue
    )
    stale = datetime(2026, 1, 9, 0, tzinfo=UTC)
    long = next_funding(
        perp_oz=D(20), mark_price=D(4600), rate=D("0.0001"), usd_per_usdt=D(1), now=now, venue_next_funding=stale
    )
    assert (long.at, long.amount_usdt) == (datetime(2026, 1, 9, 8, tzinfo=UTC), D("-9.2"))


POINTS = SwapTerms(SwapMode.POINTS, swap_long=D(-50), swap_short=D(20), point=D("0.01"), contract_size=D(100))


def test_tonight_swap_is_tripled_on_the_triple_day() -> None:
    # Wednesday 2026-01-07 15:00 UTC = 17:00 server (GMT+2, winter): the rollover is at server Thursday 00:00 =
    # Wednesday 22:00 UTC, ending server Wednesday, the triple day (rollover3days = 3).
    # Long 20 oz = 0.2 lot: −50 points × 0.01 × 100 oz × 0.2 × 3 nights = −30 USD.
    swap = tonight_swap(POINTS, cfd_oz=D(20), price=D(4600), now=datetime(2026, 1, 7, 15, tzinfo=UTC), calendar=GOLD)
    assert swap.rollover_at == datetime(2026, 1, 7, 22, tzinfo=UTC)
    assert (swap.server_day, swap.nights, swap.amount, swap.currency) == (date(2026, 1, 7), 3, D(-30), "USD")


def test_tonight_swap_on_other_days_and_in_summer() -> None:
    # Friday: one night, short 0.2 lot receives 20 × 0.01 × 100 × 0.2 = +4.
    swap = tonight_swap(POINTS, cfd_oz=D(-20), price=D(4600), now=datetime(2026, 1, 9, 20, tzinfo=UTC), calendar=GOLD)
    assert (swap.rollover_at, swap.nights, swap.amount) == (datetime(2026, 1, 9, 22, tzinfo=UTC), 1, D(4))
    # US summer: GMT+3, so server midnight is 21:00 UTC.
    summer = tonight_swap(POINTS, cfd_oz=D(20), price=D(4600), now=datetime(2026, 7, 6, 10, tzinfo=UTC), calendar=GOLD)
    assert summer.rollover_at == datetime(2026, 7, 6, 21, tzinfo=UTC)
    money = SwapTerms(SwapMode.MONEY, D(-7), D(2), D("0.01"), D(100), currency="USDT")
    assert tonight_swap(
        money, cfd_oz=D(-50), price=D(4600), now=datetime(2026, 1, 9, 20, tzinfo=UTC), calendar=GOLD
    ).amount == D(1)  # 0.5 lot × 2


def test_over_the_weekend_the_next_rollover_is_monday_night() -> None:
    # Saturday and Sunday end no server day with a rollover: from Saturday noon UTC, the next is Monday's, at server
    # Tuesday 00:00 = Monday 22:00 UTC.
    for now in (datetime(2026, 1, 10, 12, tzinfo=UTC), datetime(2026, 1, 11, 23, tzinfo=UTC)):
        assert next_rollover(now, GOLD) == (datetime(2026, 1, 12, 22, tzinfo=UTC), date(2026, 1, 12))
    # Friday 22:30 UTC is already server Saturday 00:30: Friday's rollover has passed.
    assert next_rollover(datetime(2026, 1, 9, 22, 30, tzinfo=UTC), GOLD)[1] == date(2026, 1, 12)
