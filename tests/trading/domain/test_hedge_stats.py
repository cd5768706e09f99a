"""Statistics of closed hedges (trading.domain.hedge_stats): values computed by hand on a shared fixture of four
hedges, the attribution's exact reconciliation as a property, and the slippage's link to the money model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading.domain.hedge_stats import (
    ATTRIBUTION_LINES,
    Bucket,
    ClosedHedge,
    HedgeStats,
    PnlAttribution,
    attribute,
    attribution,
    hedge_stats,
    histogram,
    leg_slippage,
    nice_width,
)
from trading.domain.orders import Leg
from trading.domain.pnl import USD, USDT, CarryBooking, CarryKind, PnlFill, PnlSplit, Valuation, pnl_split

D = Decimal
DAY = datetime(2026, 1, 5, tzinfo=UTC)
SINCE, UNTIL = DAY, DAY + timedelta(days=2)


def at(hours: float, ms: int = 0) -> datetime:
    return DAY + timedelta(hours=hours, milliseconds=ms)


# Four hedges over two days:
# H1 wins 115 (4 h, legged 0.35 s opening and 0.2 s closing), H2 loses 48.5 (8 h, overlapping H1, legged 0.9 s),
# H3 wins 26 (1 h, legged 10 minutes), H4 breaks even (6 h, 4 h of it inside the window, legged 10 ms).
H1 = ClosedHedge(
    ref="H1",
    opened_at=at(0),
    closed_at=at(4),
    pnl=PnlSplit(spread=D("120"), fees=D("-8"), funding=D("3.5"), swap=D("-1.2"), fx=D("0.7")),
    perp_slippage=D("-2.5"),
    cfd_slippage=D("-1.5"),
    entry_edge=D("1.20"),
    realised_edge=D("1.10"),
    perp_filled_at=at(0, 100),
    cfd_filled_at=at(0, 350),
    perp_closed_at=at(4, -200),
)
H2 = ClosedHedge(
    ref="H2",
    opened_at=at(2),
    closed_at=at(10),
    pnl=PnlSplit(spread=D("-40"), fees=D("-6"), swap=D("-2"), fx=D("-0.5")),
    perp_slippage=D("0.5"),
    cfd_slippage=D("-3"),
    entry_edge=D("0.90"),
    realised_edge=D("-0.40"),
    perp_filled_at=at(2, 900),
    cfd_filled_at=at(2, 200),
)
H3 = ClosedHedge(
    ref="H3",
    opened_at=at(36),
    closed_at=at(37),
    pnl=PnlSplit(spread=D("30"), fees=D("-4")),
    perp_slippage=D("0"),
    cfd_slippage=D("-6"),
    entry_edge=D("1.50"),
    realised_edge=D("1.00"),
    perp_filled_at=at(36, 50),
    cfd_filled_at=at(36, 600_050),
)
H4 = ClosedHedge(
    ref="H4",
    opened_at=at(44),
    closed_at=at(50),
    pnl=PnlSplit(),
    perp_slippage=D("0"),
    cfd_slippage=D("0"),
    entry_edge=D("0.50"),
    realised_edge=D("0"),
    perp_filled_at=at(44),
    cfd_filled_at=at(44, 10),
)
HEDGES = (H1, H2, H3, H4)


@pytest.fixture(scope="module")
def stats() -> HedgeStats:
    return hedge_stats(HEDGES, since=SINCE, until=UNTIL)


def test_outcomes_by_hand(stats: HedgeStats) -> None:
    assert (stats.count, stats.wins, stats.losses) == (4, 2, 1)
    assert stats.win_rate == 0.5  # the break-even hedge counts in the denominator
    assert stats.gross_profit == D("141") and stats.gross_loss == D("-48.5")
    assert stats.total_pnl == D("92.5")
    assert stats.profit_factor == pytest.approx(141 / 48.5, rel=0, abs=1e-12)
    assert stats.expectancy == D("23.125")
    assert stats.average_win == D("70.5") and stats.average_loss == D("-48.5")
    assert (stats.best.ref, stats.best.pnl) == ("H1", D("115"))
    assert (stats.worst.ref, stats.worst.pnl) == ("H2", D("-48.5"))


def test_holding_times_and_hedges_per_day_by_hand(stats: HedgeStats) -> None:
    assert stats.average_holding == timedelta(hours=19) / 4
    assert stats.median_holding == timedelta(hours=5)  # (4 h + 6 h) / 2
    assert stats.hedges_per_day == 2.0
    assert stats.holding_seconds == (D(14_400), D(28_800), D(3_600), D(21_600))


def test_time_in_market_and_fully_hedged_from_the_intervals(stats: HedgeStats) -> None:
    # In the market: H1 ∪ H2 = 00:00–10:00, H3 1 h, H4 clipped to the window's end 4 h: 15 h of 48.
    assert stats.time_in_market == timedelta(hours=15)
    assert stats.time_in_market_share == 15 / 48
    # Legged: H1 0.35 s + 0.2 s, H2 0.9 s (while H1 was whole: the book was not), H3 600.05 s, H4 0.01 s.
    legged = timedelta(seconds=601.51)
    assert stats.time_fully_hedged == timedelta(hours=15) - legged
    assert stats.fully_hedged_share == (timedelta(hours=15) - legged) / timedelta(hours=15)


def test_attribution_by_hand(stats: HedgeStats) -> None:
    expected = PnlAttribution(
        spread=D("122.5"),  # 124 − 37.5 + 36: each spread line less its hedge's slippage
        slippage=D("-12.5"),
        fees=D("-18"),
        funding=D("3.5"),
        swap=D("-3.2"),
        fx=D("0.2"),
    )
    assert stats.attribution == expected
    assert stats.attribution.total == stats.total_pnl
    assert [line for line, _value in stats.attribution.lines()] == list(ATTRIBUTION_LINES)
    assert stats.perp_slippage_total == D("-2") and stats.cfd_slippage_total == D("-10.5")
    assert attribute(H2) == PnlAttribution(D("-37.5"), D("-2.5"), D("-6"), D("0"), D("-2"), D("-0.5"))


def test_edges_and_leg_skew_by_hand(stats: HedgeStats) -> None:
    assert stats.entry_edge_mean == D("1.025")
    assert stats.realised_edge_mean == D("0.425")
    assert stats.edge_shortfall_mean == D("-0.6")
    assert stats.edge_capture_ratio == pytest.approx(1.7 / 4.1, rel=0, abs=1e-12)
    assert stats.leg_skews_ms == (D(250), D(-700), D(600_000), D(10))
    assert stats.leg_skew_median_ms == D(130)  # (10 + 250) / 2
    assert stats.leg_skew_max_abs_ms == D(600_000)
    assert stats.perp_slippages == (D("-2.5"), D("0.5"), D("0"), D("0"))
    assert stats.cfd_slippages == (D("-1.5"), D("-3"), D("-6"), D("0"))
    assert stats.entry_edges == (D("1.20"), D("0.90"), D("1.50"), D("0.50"))


def test_no_hedges_leaves_the_ratios_undefined() -> None:
    empty = hedge_stats([], since=SINCE, until=UNTIL)
    assert empty.count == 0 and empty.total_pnl == 0
    assert empty.win_rate is None and empty.profit_factor is None and empty.expectancy is None
    assert empty.best is None and empty.median_holding is None and empty.average_holding is None
    assert empty.time_in_market == timedelta(0) and empty.fully_hedged_share is None
    assert empty.attribution == PnlAttribution()
    with pytest.raises(ValueError, match="end after"):
        hedge_stats([], since=UNTIL, until=SINCE)


def test_a_hedge_whose_legs_never_overlapped_was_never_fully_hedged() -> None:
    # The perp leg closed before the CFD leg opened: all of it legged.
    hedge = ClosedHedge(
        ref="X",
        opened_at=at(1),
        closed_at=at(3),
        pnl=PnlSplit(),
        perp_slippage=D(0),
        cfd_slippage=D(0),
        entry_edge=D(1),
        realised_edge=D(0),
        perp_filled_at=at(1),
        cfd_filled_at=at(2),
        perp_closed_at=at(1.5),
    )
    assert hedge.hedged_interval is None
    result = hedge_stats([hedge], since=SINCE, until=UNTIL)
    assert result.time_in_market == timedelta(hours=2)
    assert result.time_fully_hedged == timedelta(0) and result.fully_hedged_share == 0.0


# --- histograms ---------------------------------------------------------------------------------------------------
def test_histogram_buckets_are_half_open_floored_and_contiguous() -> None:
    values = [D("1.20"), D("0.90"), D("1.50"), D("0.50"), D("-0.40")]
    assert histogram(values, width=D("0.5")) == (
        Bucket(D("-0.5"), D("0.0"), 1),  # floored, not truncated towards zero
        Bucket(D("0.0"), D("0.5"), 0),  # an empty bucket is kept: the chart keeps its scale
        Bucket(D("0.5"), D("1.0"), 2),
        Bucket(D("1.0"), D("1.5"), 1),
        Bucket(D("1.5"), D("2.0"), 1),  # 1.50 opens its bucket
    )
    assert histogram([D(5), D(6)], width=D(2), origin=D(1)) == (Bucket(D(5), D(7), 2),)
    assert histogram([], width=D(1)) == ()


def test_histogram_refuses_a_width_that_is_not_positive_or_too_many_buckets(stats: HedgeStats) -> None:
    with pytest.raises(ValueError, match="positive"):
        histogram([D(1)], width=D(0))
    with pytest.raises(ValueError, match="exceed"):
        histogram(stats.leg_skews_ms, width=D(500))  # −700 … 600,000 ms in 500 ms buckets
    assert sum(b.count for b in histogram(stats.leg_skews_ms, width=nice_width(stats.leg_skews_ms))) == 4


def test_nice_width_is_one_two_or_five_times_a_power_of_ten() -> None:
    assert nice_width([D("0.5"), D("1.5")], buckets=20) == D("0.05")
    assert nice_width([D(0), D(7)], buckets=20) == D("0.5")
    assert nice_width([D(0), D(7)], buckets=2) == D(5)
    assert nice_width([D(-700), D(600_000)], buckets=20) == D("5E+4")
    assert nice_width([D(3), D(3)]) == D(1) and nice_width([]) == D(1)


# --- slippage and the money model -----------------------------------------------------------------------------------
def test_leg_slippage_is_negative_when_the_fill_was_worse() -> None:
    assert leg_slippage(signed_oz=D(2), fill_price=D("4600.45"), decision_price=D("4600.30")) == D("-0.30")
    assert leg_slippage(signed_oz=D(-2), fill_price=D("4605.10"), decision_price=D("4605.30")) == D("-0.40")
    assert leg_slippage(
        signed_oz=D(-2), fill_price=D("4605.50"), decision_price=D("4605.30"), usd_per_usdt=D("0.9995")
    ) == D("0.39980")


def test_the_spread_capture_is_the_spread_line_at_the_decision_prices() -> None:
    # A sell-perp hedge, opened and closed: (leg, signed oz, fill, decision, fee, fee currency, rate).
    legs = [
        (Leg.PERP, D("-2"), D("4605.10"), D("4605.30"), D("3.684"), USDT, D("0.9995")),
        (Leg.CFD, D("2"), D("4600.45"), D("4600.30"), D("1.20"), USD, D(1)),
        (Leg.PERP, D("2"), D("4601.00"), D("4600.90"), D("3.6808"), USDT, D("0.9990")),
        (Leg.CFD, D("-2"), D("4600.20"), D("4600.25"), D("1.20"), USD, D(1)),
    ]
    carry = [CarryBooking(CarryKind.FUNDING, D("1.25"), USDT, D("0.9993"))]
    valuation = Valuation(D("0.9990"))

    def split(price_index: int) -> PnlSplit:
        fills = [PnlFill(leg[0], leg[1], leg[price_index], leg[4], leg[5], leg[6]) for leg in legs]
        return pnl_split(fills=fills, carry=carry, valuation=valuation)

    slippage = {Leg.PERP: D(0), Leg.CFD: D(0)}
    for leg, oz, fill, decision, _fee, _currency, rate in legs:
        slippage[leg] += leg_slippage(
            signed_oz=oz, fill_price=fill, decision_price=decision, usd_per_usdt=rate if leg is Leg.PERP else D(1)
        )
    actual = split(2)
    hedge = ClosedHedge(
        ref="S",
        opened_at=at(0),
        closed_at=at(1),
        pnl=actual,
        perp_slippage=slippage[Leg.PERP],
        cfd_slippage=slippage[Leg.CFD],
        entry_edge=D("4.80"),
        realised_edge=D("4.30"),
        perp_filled_at=at(0),
        cfd_filled_at=at(0, 40),
    )
    lines = attribute(hedge)
    assert lines.spread == split(3).spread
    assert lines.slippage == actual.spread - split(3).spread
    assert lines.total == actual.total
    assert (lines.fees, lines.funding, lines.swap, lines.fx) == (actual.fees, actual.funding, actual.swap, actual.fx)


# --- properties -----------------------------------------------------------------------------------------------------
def money(limit: str) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=D(f"-{limit}"), max_value=D(limit), places=8, allow_nan=False, allow_infinity=False)


splits = st.builds(
    PnlSplit, spread=money("1e9"), fees=money("1e6"), funding=money("1e6"), swap=money("1e6"), fx=money("1e7")
)


@st.composite
def closed_hedges(draw: st.DrawFn) -> ClosedHedge:
    opened = DAY + timedelta(seconds=draw(st.integers(0, 86_400)))
    held = timedelta(milliseconds=draw(st.integers(0, 3_600_000)))
    fill = st.integers(0, 5_000).map(lambda ms: opened + timedelta(milliseconds=ms))
    return ClosedHedge(
        ref=draw(st.text(min_size=1, max_size=4)),
        opened_at=opened,
        closed_at=opened + held,
        pnl=draw(splits),
        perp_slippage=draw(money("1e5")),
        cfd_slippage=draw(money("1e5")),
        entry_edge=draw(money("100")),
        realised_edge=draw(money("100")),
        perp_filled_at=draw(fill),
        cfd_filled_at=draw(fill),
    )


@settings(max_examples=120, deadline=None)
@given(hedges=st.lists(closed_hedges(), max_size=20))
def test_the_attribution_reconciles_exactly_to_the_total_pnl(hedges: list[ClosedHedge]) -> None:
    result = hedge_stats(hedges, since=DAY, until=DAY + timedelta(days=2))
    with localcontext(prec=120):
        exact_total = sum((h.pnl.spread + h.pnl.fees + h.pnl.funding + h.pnl.swap + h.pnl.fx for h in hedges), D(0))
        lines_total = sum((value for _line, value in result.attribution.lines()), D(0))
    assert lines_total == exact_total
    assert result.attribution.total == exact_total == result.total_pnl
    assert result.gross_profit + result.gross_loss == result.total_pnl
    for hedge in hedges:
        lines = attribute(hedge)
        assert lines.total == hedge.pnl.total
        assert lines.spread + lines.slippage == hedge.pnl.spread
    assert attribution(hedges) == result.attribution
    assert 0.0 <= result.time_in_market_share <= 1.0
    assert timedelta(0) <= result.time_fully_hedged <= result.time_in_market
