"""The strategy's decision: entries on the net edge, exits on the remaining edge, and every gate in between."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from hypothesis import event, given, settings
from hypothesis import strategies as st

from strategies.domain.decision import (
    Action,
    BookView,
    CarryInputs,
    Close,
    Fees,
    HedgeView,
    Hold,
    LegQuote,
    MarketView,
    Open,
    ReasonCode,
    decide,
    edges,
    strategy_costs,
)
from strategies.domain.params import FundingSource, GapPolicy, StrategyParams, SwapSource, ThresholdUnit
from trading.domain.calendar import SessionView
from trading.domain.spread import Direction

from ...trading.domain.builders import decimals

NOW = 1_800_000_000_000
MINUTE = 60_000
HOUR = 60 * MINUTE
OPEN_SESSION = SessionView(True, NOW - 5 * HOUR, NOW + 5 * HOUR)
ZERO_CARRY = CarryInputs(Decimal(0), Decimal(8), Decimal(0), Decimal(0))
FEES = Fees(perp_fee_rate=Decimal("0.0002"))
PARAMS = StrategyParams()
SELL, BUY = Direction.SELL_PERP, Direction.BUY_PERP


def market(
    perp: tuple[str, str] = ("4600.00", "4600.10"),
    cfd: tuple[str, str] = ("4600.00", "4600.30"),
    *,
    age_ms: int = 100,
    **changes: object,
) -> MarketView:
    view = MarketView(
        perp=LegQuote(Decimal(perp[0]), Decimal(perp[1]), NOW - age_ms),
        cfd=LegQuote(Decimal(cfd[0]), Decimal(cfd[1]), NOW - age_ms),
        usd_per_usdt=Decimal(1),
        session=OPEN_SESSION,
        fees=FEES,
        carry=ZERO_CARRY,
    )
    return replace(view, **changes)


CALM = market()
PERP_RICH = market(perp=("4610.00", "4610.10"))  # e_sp = 4610.00 − 4600.30 = 9.70 USD/oz
PERP_CHEAP = market(perp=("4590.00", "4590.10"))  # e_bp = 4600.00 − 4590.10 = 9.90 USD/oz


def hedge(hedge_id: int = 1, direction: Direction = SELL, **changes: object) -> HedgeView:
    return replace(HedgeView(hedge_id, direction, Decimal(1), NOW - 10 * MINUTE), **changes)


def reason(decision: Hold | Open | Close) -> ReasonCode:
    return decision.reason.code


# --- entries --------------------------------------------------------------------------------------------------
def test_it_opens_the_profitable_direction_with_its_net_edge() -> None:
    decision = decide(PARAMS, PERP_RICH, BookView(), NOW)
    assert isinstance(decision, Open)
    assert decision.direction is SELL and decision.size_oz == PARAMS.size_oz
    # 9.70 raw − four fills' fees (2 × 0.0002 × 4610.05) − 0.10 slippage buffer, no carry.
    assert decision.expected_edge == Decimal("9.70") - Decimal("1.84402") - Decimal("0.10")
    assert decision.reason.params["unit"] == "usd"
    assert isinstance(decide(PARAMS, PERP_CHEAP, BookView(), NOW), Open)
    assert decide(PARAMS, PERP_CHEAP, BookView(), NOW).direction is BUY


def test_it_holds_below_the_entry_threshold() -> None:
    decision = decide(PARAMS, CALM, BookView(), NOW)
    assert isinstance(decision, Hold) and reason(decision) is ReasonCode.BELOW_ENTRY


def test_the_expected_carry_counts_with_its_sign() -> None:
    # e_sp = 4603.00 − 4600.30 = 2.70; net = 2.70 − 1.84 (fees) − 0.10 (slippage) = 0.76 < 1.00 → hold.
    slightly_rich = market(perp=("4603.00", "4603.10"))
    assert reason(decide(PARAMS, slightly_rich, BookView(), NOW)) is ReasonCode.BELOW_ENTRY
    # Shorts receive 0.01 % per 8 h on ~4603 USD over 8 h: +0.46 → 1.22 ≥ 1.00 → open.
    paid = replace(slightly_rich, carry=replace(ZERO_CARRY, funding_rate=Decimal("0.0001")))
    assert isinstance(decide(PARAMS, paid, BookView(), NOW), Open)
    # The same rate paid the other way (negative funding) makes it worse.
    charged = replace(slightly_rich, carry=replace(ZERO_CARRY, funding_rate=Decimal("-0.0001")))
    assert reason(decide(PARAMS, charged, BookView(), NOW)) is ReasonCode.BELOW_ENTRY


def test_thresholds_in_bps_of_the_cfd_mid() -> None:
    bps = StrategyParams(threshold_unit=ThresholdUnit.BPS, entry_threshold=Decimal(20), exit_threshold=Decimal(1))
    # The net edge of PERP_RICH is 7.756 USD/oz ≈ 16.9 bps of 4600.15: below 20 bps.
    assert reason(decide(bps, PERP_RICH, BookView(), NOW)) is ReasonCode.BELOW_ENTRY
    assert isinstance(decide(replace(bps, entry_threshold=Decimal(15)), PERP_RICH, BookView(), NOW), Open)


def test_carry_sources_follow_the_parameters() -> None:
    unknown = replace(PERP_RICH, carry=CarryInputs())
    assert reason(decide(PARAMS, unknown, BookView(), NOW)) is ReasonCode.CARRY_UNKNOWN
    fixed = replace(
        PARAMS,
        funding_source=FundingSource.FIXED,
        funding_rate_fixed=Decimal(0),
        swap_source=SwapSource.OVERRIDE,
        swap_long_override=Decimal("-0.2"),
        swap_short_override=Decimal("0.1"),
    )
    costs = strategy_costs(fixed, unknown)
    assert costs is not None and costs.swap_long_per_oz_night == Decimal("-0.2")
    assert isinstance(decide(fixed, unknown, BookView(), NOW), Open)


def test_every_entry_gate_holds_with_its_reason() -> None:
    cases = [
        (PARAMS, PERP_RICH, BookView(halted=True), ReasonCode.HALTED),
        (PARAMS, PERP_RICH, BookView(hedges=(hedge(in_flight=True),)), ReasonCode.HEDGE_IN_FLIGHT),
        (PARAMS, PERP_RICH, BookView(unhedged_oz=Decimal(-1)), ReasonCode.UNHEDGED_EXPOSURE),
        (PARAMS, PERP_RICH, BookView(last_close_ms=NOW - 5_000), ReasonCode.COOLDOWN),
        (
            PARAMS,
            PERP_RICH,
            BookView(hedges=(hedge(1), hedge(2), hedge(3))),
            ReasonCode.MAX_OPEN_HEDGES,
        ),
        (
            PARAMS,
            PERP_RICH,
            BookView(hedges=(hedge(1, size_oz=Decimal("2.5")),)),
            ReasonCode.MAX_POSITION,
        ),
        (
            PARAMS,
            replace(PERP_RICH, session=SessionView(True, NOW - HOUR, NOW + 10 * MINUTE)),
            BookView(),
            ReasonCode.BEFORE_CLOSE,
        ),
        (
            PARAMS,
            replace(PERP_RICH, session=SessionView(True, NOW - 10 * MINUTE, NOW + HOUR)),
            BookView(),
            ReasonCode.AFTER_OPEN,
        ),
        (
            PARAMS,
            market(perp=("4610.00", "4610.10"), cfd=("4599.00", "4600.30")),
            BookView(),
            ReasonCode.CFD_SPREAD_WIDE,
        ),
        (replace(PARAMS, zscore_filter=Decimal(2)), PERP_RICH, BookView(), ReasonCode.ZSCORE_UNAVAILABLE),
        (
            replace(PARAMS, zscore_filter=Decimal(2)),
            replace(PERP_RICH, zscore=Decimal("1.5")),
            BookView(),
            ReasonCode.ZSCORE_FILTER,
        ),
        (
            replace(PARAMS, exit_threshold=Decimal(-50)),
            PERP_RICH,
            BookView(hedges=(hedge(1, BUY),)),
            ReasonCode.OPPOSITE_HEDGE_OPEN,
        ),
    ]
    for params, view, book, code in cases:
        decision = decide(params, view, book, NOW)
        assert isinstance(decision, Hold), code
        assert reason(decision) is code


def test_the_zscore_filter_passes_a_dislocation_in_the_traded_direction() -> None:
    filtered = replace(PARAMS, zscore_filter=Decimal(2))
    assert isinstance(decide(filtered, replace(PERP_RICH, zscore=Decimal("2.5")), BookView(), NOW), Open)
    assert isinstance(decide(filtered, replace(PERP_CHEAP, zscore=Decimal("-2.5")), BookView(), NOW), Open)
    assert reason(decide(filtered, replace(PERP_CHEAP, zscore=Decimal("2.5")), BookView(), NOW)) is (
        ReasonCode.ZSCORE_FILTER
    )


def test_the_cooldown_ends() -> None:
    assert isinstance(decide(PARAMS, PERP_RICH, BookView(last_close_ms=NOW - 30_000), NOW), Open)


# --- nothing priced ---------------------------------------------------------------------------------------------
def test_it_never_prices_on_stale_missing_or_closed_markets() -> None:
    book = BookView(hedges=(hedge(),))  # a hedge that CALM would close
    cases = [
        (market(age_ms=PARAMS.max_quote_age_ms + 1), ReasonCode.STALE_QUOTE),
        (replace(CALM, perp=None), ReasonCode.NO_QUOTE),
        (replace(CALM, cfd=LegQuote(Decimal(5), Decimal(4), NOW)), ReasonCode.INVALID_QUOTE),
        (replace(CALM, usd_per_usdt_ts_ms=NOW - 301_000), ReasonCode.STALE_RATE),
        (replace(CALM, perp_open=False), ReasonCode.PERP_CLOSED),
        (replace(CALM, session=SessionView(False)), ReasonCode.CFD_CLOSED),
    ]
    for view, code in cases:
        decision = decide(PARAMS, view, book, NOW)
        assert isinstance(decision, Hold) and reason(decision) is code
    assert isinstance(decide(PARAMS, replace(CALM, usd_per_usdt_ts_ms=NOW - 1_000), book, NOW), Close)


# --- exits ------------------------------------------------------------------------------------------------------
def test_it_exits_when_the_remaining_edge_falls_to_the_exit_threshold() -> None:
    book = BookView(hedges=(hedge(7, SELL),))
    # Calm: closing a sell-perp hedge buys the perp at 4600.10 and sells the CFD at 4600.00: remaining 0.10.
    decision = decide(PARAMS, CALM, book, NOW)
    assert isinstance(decision, Close) and decision.hedge_id == 7 and reason(decision) is ReasonCode.EXIT_EDGE
    assert decision.reason.params["remaining"] == "0.10000000"
    # Still rich: 10.10 left to gain, keep it (and add another hedge in the same direction).
    assert isinstance(decide(PARAMS, PERP_RICH, book, NOW), Open)


def test_a_round_trip_captures_at_least_entry_minus_exit() -> None:
    # Open on PERP_RICH, close on the first book whose remaining edge is ≤ exit: the spread capture net of all
    # modelled costs is net_open − remaining_close ≥ entry − exit.
    opened = decide(PARAMS, PERP_RICH, BookView(), NOW)
    assert isinstance(opened, Open)
    for perp_bid in ("4604.00", "4603.00", "4601.00", "4600.40"):
        view = market(perp=(perp_bid, str(Decimal(perp_bid) + Decimal("0.10"))))
        decision = decide(PARAMS, view, BookView(hedges=(hedge(1, SELL),)), NOW)
        if isinstance(decision, Close):
            costs = strategy_costs(PARAMS, view)
            remaining = edges(view.perp, view.cfd, Decimal(1), costs).remaining(SELL)
            assert opened.expected_edge - remaining >= PARAMS.entry_threshold - PARAMS.exit_threshold
            break
    else:
        raise AssertionError("the hedge never closed")


def test_stops_and_gap_flattening() -> None:
    stop = replace(PARAMS, stop_loss_usd=Decimal(50), time_stop_minutes=60)
    losing = BookView(hedges=(hedge(1), hedge(2, unrealised_pnl_usd=Decimal(-50))))
    assert (decide(stop, PERP_RICH, losing, NOW).hedge_id, reason(decide(stop, PERP_RICH, losing, NOW))) == (
        2,
        ReasonCode.STOP_LOSS,
    )
    old = BookView(hedges=(hedge(1), hedge(2, opened_at_ms=NOW - 61 * MINUTE)))
    decision = decide(stop, PERP_RICH, old, NOW)
    assert isinstance(decision, Close) and decision.hedge_id == 2 and reason(decision) is ReasonCode.TIME_STOP

    near_close = replace(PERP_RICH, session=SessionView(True, NOW - HOUR, NOW + 4 * MINUTE))
    flatten = replace(PARAMS, gap_policy=GapPolicy.FLATTEN)
    book = BookView(hedges=(hedge(3, opened_at_ms=NOW - 1), hedge(4, opened_at_ms=NOW - HOUR)))
    decision = decide(flatten, near_close, book, NOW)
    assert isinstance(decision, Close) and decision.hedge_id == 4 and reason(decision) is ReasonCode.FLATTEN_BEFORE_GAP
    # Holding through the gap: no close, and no entry this close to the close either.
    assert reason(decide(PARAMS, near_close, book, NOW)) is ReasonCode.BEFORE_CLOSE


def test_hedges_in_flight_are_not_closed_from_here() -> None:
    decision = decide(PARAMS, CALM, BookView(hedges=(hedge(in_flight=True),)), NOW)
    assert isinstance(decision, Hold) and reason(decision) is ReasonCode.HEDGE_IN_FLIGHT


def test_decisions_serialise_for_the_status_panel() -> None:
    assert decide(PARAMS, PERP_RICH, BookView(), NOW).as_dict()["action"] == "open"
    held = decide(PARAMS, CALM, BookView(), NOW).as_dict()
    assert held["action"] == "hold" and held["reason"]["code"] == "below_entry"


# --- properties -------------------------------------------------------------------------------------------------
@st.composite
def markets(draw: st.DrawFn) -> MarketView:
    # Mostly fresh, open markets around a CFD price with a basis that is often worth trading either way.
    cfd_bid = draw(decimals("1000", "10000", 2))
    cfd_ask = cfd_bid + draw(decimals("0.01", "0.8", 2))
    perp_bid = cfd_bid + draw(decimals("-20", "20", 2))
    perp_ask = perp_bid + draw(decimals("0.01", "0.5", 2))
    ages = st.sampled_from([0, 0, 0, 50, 90, 500, 1_500, 5_000])
    mostly = st.sampled_from([True, True, True, True, False])
    cfd_open = draw(mostly)
    session = draw(
        st.sampled_from(
            [
                OPEN_SESSION,
                OPEN_SESSION,
                OPEN_SESSION,
                SessionView(True),  # the demo's always-open calendar
                SessionView(True, NOW - HOUR, NOW + 3 * MINUTE),  # about to close
                SessionView(True, NOW - 2 * MINUTE, NOW + HOUR),  # just opened
            ]
        )
    )
    return MarketView(
        perp=LegQuote(perp_bid, perp_ask, NOW - draw(ages)),
        cfd=LegQuote(cfd_bid, cfd_ask, NOW - draw(ages)),
        usd_per_usdt=draw(decimals("0.998", "1.002", 6)),
        session=session if cfd_open else SessionView(False),
        perp_open=draw(mostly),
        fees=Fees(perp_fee_rate=draw(decimals("0", "0.0005", 8))),
        carry=ZERO_CARRY,
        zscore=draw(st.none() | decimals("-4", "4", 2)),
    )


@st.composite
def book_views(draw: st.DrawFn) -> BookView:
    count = draw(st.sampled_from([0, 0, 1, 2, 3]))
    hedges = tuple(
        HedgeView(
            i + 1,
            draw(st.sampled_from(Direction)),
            Decimal(1),
            NOW - draw(st.integers(0, 48 * HOUR)),
            draw(st.none() | decimals("-200", "200", 2)),
            draw(st.sampled_from([False, False, False, True])),
        )
        for i in range(count)
    )
    return BookView(
        hedges=hedges,
        unhedged_oz=draw(st.sampled_from([Decimal(0), Decimal(0), Decimal("0.3"), Decimal(-2)])),
        last_close_ms=draw(st.none() | st.integers(NOW - HOUR, NOW)),
        halted=draw(st.sampled_from([False, False, True])),
    )


@st.composite
def strategy_params(draw: st.DrawFn) -> StrategyParams:
    entry = draw(decimals("0.1", "10", 2))
    return replace(
        PARAMS,
        entry_threshold=entry,
        exit_threshold=entry - draw(decimals("0.1", "20", 2)),
        zscore_filter=draw(st.sampled_from([None, None, Decimal(1), Decimal(2)])),
        stop_loss_usd=draw(st.none() | decimals("1", "100", 0)),
        time_stop_minutes=draw(st.none() | st.integers(1, 24 * 60)),
        gap_policy=draw(st.sampled_from(GapPolicy)),
        max_quote_age_ms=draw(st.sampled_from([100, 1_000, 2_000, 3_000])),
    )


PROPERTIES = settings(max_examples=400, deadline=None)


@PROPERTIES
@given(strategy_params(), markets(), book_views())
def test_it_never_opens_against_an_open_hedge_nor_below_the_threshold(
    params: StrategyParams, view: MarketView, book: BookView
) -> None:
    decision = decide(params, view, book, NOW)
    if isinstance(decision, Open):
        assert all(h.direction is decision.direction for h in book.hedges)
        assert Decimal(decision.reason.params["edge"]) >= params.entry_threshold
        # At most one direction can pass: the other's net edge is below the threshold.
        costs = strategy_costs(params, view)
        assert costs is not None
        net = edges(view.perp, view.cfd, view.usd_per_usdt, costs).net
        other = BUY if decision.direction is SELL else SELL
        assert net.of(other) < net.of(decision.direction)


@PROPERTIES
@given(strategy_params(), markets(), book_views())
def test_it_never_acts_on_a_stale_quote(params: StrategyParams, view: MarketView, book: BookView) -> None:
    decision = decide(params, view, book, NOW)
    stale = any(NOW - q.ts_ms > params.max_quote_age_ms for q in (view.perp, view.cfd) if q is not None)
    if stale:
        assert decision.action is Action.HOLD


@PROPERTIES
@given(strategy_params(), markets(), book_views())
def test_it_never_opens_when_halted(params: StrategyParams, view: MarketView, book: BookView) -> None:
    assert not isinstance(decide(params, view, replace(book, halted=True), NOW), Open)


@PROPERTIES
@given(strategy_params(), markets(), book_views())
def test_a_halt_never_blocks_an_exit(params: StrategyParams, view: MarketView, book: BookView) -> None:
    running = decide(params, view, replace(book, halted=False), NOW)
    halted = decide(params, view, replace(book, halted=True), NOW)
    if isinstance(running, Close):
        assert halted == running
    else:
        assert isinstance(halted, Hold)


@PROPERTIES
@given(strategy_params(), markets(), book_views())
def test_decisions_are_deterministic(params: StrategyParams, view: MarketView, book: BookView) -> None:
    first = decide(params, view, book, NOW)
    event(f"{first.action.value}: {first.reason.code.value}")
    # Equal but distinct inputs (rebuilt from their JSON/fields) give an equal decision.
    again = decide(StrategyParams.from_json(params.to_json()), replace(view), replace(book), NOW)
    assert first == again
    assert first.as_dict() == again.as_dict()
