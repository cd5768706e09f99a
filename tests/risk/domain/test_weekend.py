"""Weekend-gap projection on simulated time: the gap found from the CFD's calendar on a Friday, the p95/p99 gold
move from recorded Friday-close → Monday-open pairs, and both legs projected to Monday's reopen with the margin
changes announced for the weekend — every figure computed by hand below."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from risk.domain.liquidation import (
    Mt5Account,
    Mt5Levels,
    Mt5Position,
    PerpPosition,
    StopOutMode,
    liquidation_price,
)
from risk.domain.weekend import (
    CfdAccountState,
    GapMove,
    GapMoveSource,
    GapObservation,
    GapWindow,
    MarginChange,
    PerpAccountState,
    gap_move_from_observations,
    gap_move_from_returns,
    margin_in_force,
    next_gap,
    override_gap_move,
    percentile,
    project_gap,
    projection_due,
)
from trading.domain.calendar import SessionState, bybit_mt5_gold, demo_always_open
from trading.domain.margin import DEFAULT_BRACKETS, CalcMode, LeverageBracket, Mt5MarginSpec, validate_brackets

D = Decimal
CENT = D("0.01")
GOLD = bybit_mt5_gold()  # Mon–Fri 01:00–23:59 server time, New York close (GMT+2 in January)
FRIDAY_AFTERNOON = datetime(2026, 1, 9, 14, tzinfo=UTC)
FRIDAY_CLOSE = datetime(2026, 1, 9, 21, 59, tzinfo=UTC)  # 23:59 server
MONDAY_OPEN = datetime(2026, 1, 11, 23, tzinfo=UTC)  # Monday 01:00 server = Sunday 23:00 UTC


def recorded_weekends() -> list[GapObservation]:
    """101 weekends back from 2026-01-02: 95 moved 0.5 %, four 2 %, one 4 % and one 5 % (signs alternating).
    Sorted absolute returns: x[0..94] = 0.005, x[95..98] = 0.02, x[99] = 0.04, x[100] = 0.05. With n = 101 the
    95th percentile sits at position 100 × 0.95 = 95 → 0.02 and the 99th at 99 → 0.04, exactly."""
    moves = [D("0.005")] * 95 + [D("0.02")] * 4 + [D("0.04"), D("0.05")]
    observations = []
    friday = datetime(2026, 1, 2, 21, 59, tzinfo=UTC)
    for index, size in enumerate(moves):
        close_at = friday - timedelta(weeks=100 - index)
        close_price = D(4000)
        signed = size if index % 2 else -size
        observations.append(
            GapObservation(close_at, close_price, close_at + timedelta(days=2, minutes=61), close_price * (1 + signed))
        )
    return observations


def test_percentiles_interpolate_between_order_statistics() -> None:
    values = [D(i) / 1000 for i in range(1, 21)]  # 0.001 … 0.020
    # Position 19 × 0.95 = 18.05 → 0.019 + 0.05 × 0.001; 19 × 0.99 = 18.81 → 0.019 + 0.81 × 0.001.
    assert percentile(values, 95) == D("0.01905")
    assert percentile(values, 99) == D("0.01981")
    assert percentile(values, 100) == D("0.020")
    assert percentile([D(7)], 99) == D(7)
    with pytest.raises(ValueError):
        percentile([], 95)


def test_recorded_gaps_give_labelled_percentiles() -> None:
    move = gap_move_from_observations(recorded_weekends())
    assert (move.p95, move.p99) == (D("0.02"), D("0.04"))
    assert move.source is GapMoveSource.RECORDED and move.samples == 101
    assert move.period_start == datetime(2024, 2, 2, 21, 59, tzinfo=UTC)
    assert move.period_end == datetime(2026, 1, 4, 23, tzinfo=UTC)
    assert move.label == "101 recorded gaps, 2024-02-02 to 2026-01-04"


def test_an_override_is_labelled_as_such() -> None:
    move = override_gap_move(p95=D("0.03"), p99=D("0.06"), note="election weekend")
    assert move.source is GapMoveSource.OVERRIDE
    assert move.label == "operator override: election weekend"
    with pytest.raises(ValueError):
        override_gap_move(p95=D("0.05"), p99=D("0.03"))


@given(st.lists(st.decimals(min_value="-0.2", max_value="0.2", places=5), min_size=1, max_size=60))
def test_percentiles_of_absolute_returns_are_ordered_and_bounded(returns: list[Decimal]) -> None:
    move = gap_move_from_returns(returns, period_start=FRIDAY_CLOSE, period_end=MONDAY_OPEN)
    largest = max(abs(r) for r in returns)
    assert min(abs(r) for r in returns) <= move.p95 <= move.p99 <= largest
    # Mirroring every return changes nothing: the move is taken in both directions.
    assert gap_move_from_returns([-r for r in returns], period_start=FRIDAY_CLOSE, period_end=MONDAY_OPEN) == move


def test_the_weekend_gap_is_found_from_the_calendar_and_shown_from_the_lead_time() -> None:
    window = next_gap(GOLD, FRIDAY_AFTERNOON)
    assert window == GapWindow(FRIDAY_CLOSE, MONDAY_OPEN, SessionState.WEEKEND)
    lead = timedelta(hours=6)
    assert not projection_due(FRIDAY_AFTERNOON, window, lead=lead)  # 7 h 59 min before the close
    assert projection_due(datetime(2026, 1, 9, 16, tzinfo=UTC), window, lead=lead)
    assert projection_due(datetime(2026, 1, 10, 12, tzinfo=UTC), window, lead=lead)
    assert not projection_due(MONDAY_OPEN, window, lead=lead)
    # On Saturday the gap is in progress and still ends on Monday's open.
    during = next_gap(GOLD, datetime(2026, 1, 10, 12, tzinfo=UTC))
    assert during is not None and during.in_progress and during.reopen_at == MONDAY_OPEN
    assert projection_due(datetime(2026, 1, 10, 12, tzinfo=UTC), during, lead=lead)
    # The daily break is a gap too: Tuesday's close at 23:59 server reopens at 01:00.
    tuesday = next_gap(GOLD, datetime(2026, 1, 6, 12, tzinfo=UTC))
    assert tuesday is not None and tuesday.kind is SessionState.BREAK and tuesday.duration == timedelta(minutes=61)
    assert next_gap(demo_always_open(), FRIDAY_AFTERNOON) is None


# Binance raises the margin for the weekend (Saturday 00:00 UTC): bracket 1 to 100,000 at 2 %, bracket 2 to
# 1,000,000 at 4 % (cum 100,000 × (4 % − 2 %) = 2,000), bracket 3 at 8 % (cum 2,000 + 1,000,000 × 4 % = 42,000).
RAISED = validate_brackets(
    (
        LeverageBracket(1, 25, D(0), D(100_000), D("0.02"), D(0)),
        LeverageBracket(2, 10, D(100_000), D(1_000_000), D("0.04"), D(2000)),
        LeverageBracket(3, 5, D(1_000_000), D(5_000_000), D("0.08"), D(42_000)),
    )
)
CHANGES = (
    MarginChange(datetime(2026, 1, 10, tzinfo=UTC), brackets=RAISED, note="Binance weekend margin"),
    # The broker doubles gold's margin rate an hour before the reopen.
    MarginChange(datetime(2026, 1, 11, 22, tzinfo=UTC), cfd_margin_rate_buy=D(2), note="broker weekend margin"),
    # Announced for Tuesday: after the reopen, not applied.
    MarginChange(datetime(2026, 1, 13, tzinfo=UTC), brackets=DEFAULT_BRACKETS[:2], note="later"),
)
PERP = PerpAccountState(
    position=PerpPosition(D(-20), D(4600)),
    mark_price=D(4600),
    wallet_balance=D(10_000),
    brackets=DEFAULT_BRACKETS,
    usd_per_usdt=D(1),
)
SPEC = Mt5MarginSpec(CalcMode.CFDLEVERAGE, D(100), "USD", "XAU", "USD")
CFD = CfdAccountState(
    # Long 0.2 lot (20 oz) at 4,598, frozen at 4,598; 1:100 → margin 0.2 × 100 × 4,598 / 100 = 919.6 USD.
    account=Mt5Account(
        equity=D(3000),
        margin=D("919.6"),
        leverage=100,
        currency="USD",
        levels=Mt5Levels(margin_call=D(100), stop_out=D(50), mode=StopOutMode.PERCENT),
    ),
    positions=(Mt5Position(spec=SPEC, lots=D("0.2"), buy=True, open_price=D(4598), current_price=D(4598)),),
    close_price=D(4598),
)


def test_only_changes_effective_before_the_reopen_apply() -> None:
    in_force = margin_in_force(CHANGES, at=MONDAY_OPEN, brackets=DEFAULT_BRACKETS)
    assert in_force.applied == CHANGES[:2]
    assert in_force.brackets == RAISED
    assert (in_force.cfd_margin_rate_buy, in_force.cfd_margin_rate_sell) == (D(2), None)
    friday = margin_in_force(CHANGES, at=FRIDAY_AFTERNOON, brackets=DEFAULT_BRACKETS)
    assert friday.applied == () and friday.brackets == DEFAULT_BRACKETS


def test_friday_close_to_monday_open_projection() -> None:
    window = next_gap(GOLD, FRIDAY_AFTERNOON)
    assert window is not None
    projection = project_gap(
        window=window, move=gap_move_from_observations(recorded_weekends()), perp=PERP, cfd=CFD, changes=CHANGES
    )
    assert len(projection.scenarios) == 4

    # The perp's liquidation price under the raised brackets does not depend on the mark:
    # short 20 at 4,600, WB 10,000, bracket 1 at 2 %: (10,000 + 0 + 92,000) / (20 × 0.02 + 20) = 102,000 / 20.4
    # = 5,000 (notional 100,000, bracket 1's cap). Under today's brackets it was 5,048.78.
    # The CFD at the reopen: 4,598 × (1 ± f); equity 3,000 + 20 × 4,598 × f; margin 0.2 × price × rate 2.

    # p95 up (+2 %): perp mark 4,692, UPNL −20 × 92 = −1,840, margin balance 8,160; notional 93,840 × 2 % = 1,876.8
    # maintenance; ratio 1,876.8 / 8,160 = 23.00 %; distance (5,000 − 4,692) / 4,692 = 6.56 %.
    # CFD reopens at 4,689.96: jump +20 × 91.96 = +1,839.20, equity 4,839.20, margin 0.2 × 4,689.96 × 2 =
    # 1,875.984, level 257.96 %. Net −1,840 + 1,839.20 = −0.80 (the 2 USD basis on 20 oz, × 2 %).
    up95 = projection.scenario(95, up=True)
    assert up95.move == D("0.02") and up95.perp_mark == D(4692)
    assert up95.perp is not None and up95.perp.liquidation is not None and up95.perp.distance is not None
    assert (up95.perp.margin_balance, up95.perp.maintenance_margin) == (D(8160), D("1876.8"))
    assert up95.perp.margin_ratio == D(23)
    assert up95.perp.liquidation.price == D(5000)
    assert up95.perp.distance.percent.quantize(CENT) == D("6.56")
    assert up95.cfd_price == D("4689.96")
    assert up95.cfd is not None and up95.cfd.margin_level is not None
    assert (up95.cfd.equity, up95.cfd.margin) == (D("4839.2"), D("1875.984"))
    assert up95.cfd.margin_level.quantize(CENT) == D("257.96")
    assert (up95.perp_pnl_usd, up95.cfd_pnl_jump_usd, up95.net_pnl_usd) == (D(-1840), D("1839.2"), D("-0.8"))

    # p95 down (−2 %): perp mark 4,508, margin balance 11,840, maintenance 90,160 × 2 % = 1,803.2, ratio 15.23 %.
    # CFD reopens at 4,506.04: equity 3,000 − 1,839.20 = 1,160.80, margin 0.2 × 4,506.04 × 2 = 1,802.416,
    # level 64.40 %: below the 100 % margin call, above the 50 % stop-out.
    down95 = projection.scenario(95, up=False)
    assert down95.perp is not None and down95.perp.margin_ratio is not None
    assert down95.perp.margin_ratio.quantize(CENT) == D("15.23")
    assert down95.cfd is not None and down95.cfd.margin_level is not None
    assert down95.cfd.margin_level.quantize(CENT) == D("64.40")
    assert down95.cfd.margin_call_reached and not down95.cfd_stopped_out

    # p99 up (+4 %): perp mark 4,784, margin balance 10,000 − 3,680 = 6,320, maintenance 95,680 × 2 % = 1,913.6,
    # ratio 30.28 %, distance (5,000 − 4,784) / 4,784 = 4.52 % — the smallest of the four.
    up99 = projection.scenario(99, up=True)
    assert up99.perp is not None and up99.perp.margin_ratio is not None
    assert up99.perp.margin_ratio.quantize(CENT) == D("30.28")
    assert not up99.perp_liquidated
    assert projection.min_liquidation_distance_pct is not None
    assert projection.min_liquidation_distance_pct.quantize(CENT) == D("4.52")

    # p99 down (−4 %): the CFD reopens at 4,414.08 with equity 3,000 − 3,678.40 = −678.40: stopped out at the open
    # (margin 0.2 × 4,414.08 × 2 = 1,765.632, level −38.42 %), while the perp gained 3,680.
    down99 = projection.scenario(99, up=False)
    assert down99.cfd_price == D("4414.08")
    assert down99.cfd is not None and down99.cfd.equity == D("-678.4") and down99.cfd.margin == D("1765.632")
    assert down99.cfd_stopped_out
    assert projection.min_cfd_margin_level is not None
    assert projection.min_cfd_margin_level.quantize(CENT) == D("-38.42")
    assert down99.perp_pnl_usd == D(3680)


def test_without_the_announced_changes_the_projection_keeps_todays_margin() -> None:
    window = GapWindow(FRIDAY_CLOSE, MONDAY_OPEN, SessionState.WEEKEND)
    move = GapMove(D("0.02"), D("0.04"), GapMoveSource.OVERRIDE)
    projection = project_gap(window=window, move=move, perp=PERP, cfd=CFD)
    up95 = projection.scenario(95, up=True)
    expected = liquidation_price(position=PERP.position, wallet_balance=D(10_000), brackets=DEFAULT_BRACKETS)
    assert up95.perp is not None and up95.perp.liquidation == expected
    assert up95.perp.maintenance_margin == D("938.4")  # 93,840 × 1 %
    # CFD margin at rate 1: 0.2 × 4,506.04 = 901.208 → 1,160.80 / 901.208 = 128.80 %, above the margin call.
    down95 = projection.scenario(95, up=False)
    assert down95.cfd is not None and down95.cfd.margin_level is not None
    assert down95.cfd.margin_level.quantize(CENT) == D("128.80")
    assert not down95.cfd.margin_call_reached


def test_a_pool_with_one_leg_only() -> None:
    window = GapWindow(FRIDAY_CLOSE, MONDAY_OPEN, SessionState.WEEKEND)
    projection = project_gap(window=window, move=override_gap_move(p95=D("0.01"), p99=D("0.02")), perp=PERP, cfd=None)
    assert all(s.cfd is None and s.cfd_pnl_jump_usd == 0 for s in projection.scenarios)
    assert projection.min_cfd_margin_level is None
