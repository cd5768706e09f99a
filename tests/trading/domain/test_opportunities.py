"""Opportunity detection: a spell in which one direction's net edge stays at or above the entry threshold."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading.domain.engine import SpreadEngine
from trading.domain.fixed import EDGE_SCALE
from trading.domain.opportunities import Opportunity, OpportunityTracker
from trading.domain.quotes import Verdict
from trading.domain.spread import Direction

from .builders import T0, cfd_quote, make_engine, perp_quote

EXAMPLES = settings(max_examples=200, deadline=None)
USD = EDGE_SCALE  # one USD/oz in tick-path edge units
THRESHOLD = USD // 2  # 0.50 USD/oz


def tracker() -> OpportunityTracker:
    return OpportunityTracker(entry_threshold=THRESHOLD)


# --- the tracker on its own -----------------------------------------------------------------------------
def test_it_opens_when_a_net_edge_reaches_the_threshold() -> None:
    spells = tracker()

    opened, closed = spells.update(T0, THRESHOLD, -3 * USD)  # exactly at the threshold counts

    assert closed is None
    assert opened is not None and opened is spells.current
    assert opened.direction is Direction.SELL_PERP
    assert opened.started_ms == T0
    assert opened.peak_net_edge == THRESHOLD
    assert opened.threshold_usd == Decimal("0.5")


def test_it_stays_flat_below_the_threshold() -> None:
    spells = tracker()

    assert spells.update(T0, THRESHOLD - 1, -3 * USD) == (None, None)
    assert spells.current is None


def test_it_opens_in_the_buy_perp_direction_when_that_edge_is_the_one_above() -> None:
    spells = tracker()

    opened, _ = spells.update(T0, -3 * USD, USD)

    assert opened is not None and opened.direction is Direction.BUY_PERP


def test_it_tracks_the_peak_while_open() -> None:
    spells = tracker()
    spells.update(T0, USD, -3 * USD)

    for offset, edge in [(100, 2 * USD), (200, 3 * USD), (300, 2 * USD), (400, THRESHOLD)]:
        assert spells.update(T0 + offset, edge, -4 * USD) == (None, None)

    current = spells.current
    assert current is not None
    assert (current.peak_net_edge, current.peak_ms) == (3 * USD, T0 + 200)
    assert current.peak_usd == Decimal("3.00000000")


def test_it_closes_when_the_edge_falls_below_the_threshold() -> None:
    spells = tracker()
    opened, _ = spells.update(T0, USD, -3 * USD)

    again, closed = spells.update(T0 + 500, THRESHOLD - 1, -3 * USD)

    assert again is None
    assert closed is opened
    assert closed is not None and closed.ended_ms == T0 + 500
    assert spells.current is None


def test_a_close_and_an_open_in_the_other_direction_can_happen_on_one_sample() -> None:
    spells = tracker()
    first, _ = spells.update(T0, USD, -3 * USD)

    second, closed = spells.update(T0 + 100, -3 * USD, USD)

    assert closed is first
    assert second is not None and second.direction is Direction.BUY_PERP
    assert spells.current is second


def test_an_interrupt_ends_the_open_opportunity() -> None:
    spells = tracker()
    opened, _ = spells.update(T0, USD, -3 * USD)

    closed = spells.interrupt(T0 + 900)

    assert closed is opened
    assert closed is not None and closed.ended_ms == T0 + 900
    assert spells.current is None
    assert spells.interrupt(T0 + 1_000) is None  # nothing left to end


edge_units = st.integers(-5 * USD, 5 * USD)


@EXAMPLES
@given(st.lists(st.tuples(edge_units, edge_units, st.booleans()), min_size=1, max_size=60))
def test_at_most_one_opportunity_is_open_and_events_alternate(
    feed: list[tuple[int, int, bool]],
) -> None:
    spells = tracker()
    open_one = None

    for step, (net_sell_perp, net_buy_perp, interrupt) in enumerate(feed):
        ts = T0 + step * 100
        if interrupt:
            closed = spells.interrupt(ts)
            opened = None
        else:
            opened, closed = spells.update(ts, net_sell_perp, net_buy_perp)

        # A close always ends the one that was open, and an open never stacks on another.
        if closed is not None:
            assert closed is open_one
            open_one = None
        if opened is not None:
            assert open_one is None
            open_one = opened
        assert spells.current is open_one
        if open_one is not None and not interrupt:
            edge = net_sell_perp if open_one.direction is Direction.SELL_PERP else net_buy_perp
            assert edge >= THRESHOLD
            assert open_one.peak_net_edge >= edge


# --- inside the engine ----------------------------------------------------------------------------------
def dislocated_engine() -> tuple[SpreadEngine, Opportunity]:
    """An engine (no costs, 0.50 USD/oz threshold) with a sell_perp opportunity open at T0."""
    engine = make_engine(entry_threshold=Decimal("0.5"))
    engine.on_quote(perp_quote("4602.00", "4602.02", T0), now_ms=T0)
    result = engine.on_quote(cfd_quote("4600.00", "4600.30", T0), now_ms=T0)  # e_sp = 1.70
    assert result.opened is not None and result.opened.direction is Direction.SELL_PERP
    return engine, result.opened


def test_the_engine_opens_and_closes_an_opportunity_as_the_spread_converges() -> None:
    engine, opened = dislocated_engine()

    result = engine.on_quote(perp_quote("4600.50", "4600.52", T0 + 100), now_ms=T0 + 100)  # e_sp = 0.20

    assert result.closed is opened
    assert result.sample is not None and result.sample.net_usd.sell_perp == Decimal("0.2")


def test_the_engine_interrupts_an_opportunity_on_a_stale_leg() -> None:
    engine, opened = dislocated_engine()
    later = T0 + 5_001  # the CFD's last quote (T0) is now stale

    result = engine.on_quote(perp_quote("4602.10", "4602.12", later), now_ms=later)

    assert result.verdict is Verdict.OK
    assert result.sample is None  # a stale leg prices nothing
    assert result.closed is opened
    assert engine.tracker.current is None


def test_the_engine_interrupts_an_opportunity_when_the_cfd_closes() -> None:
    engine, opened = dislocated_engine()

    closed = engine.set_cfd_open(False, T0 + 200)
    while_closed = engine.on_quote(perp_quote("4603.00", "4603.02", T0 + 300), now_ms=T0 + 300)
    cfd_while_closed = engine.on_quote(cfd_quote("4600.00", "4600.30", T0 + 400), now_ms=T0 + 400)

    assert closed is opened
    assert closed is not None and closed.ended_ms == T0 + 200
    # Nothing is priced while the CFD is closed, even though the perp keeps trading.
    assert while_closed.sample is None and while_closed.opened is None
    assert cfd_while_closed.sample is None and cfd_while_closed.opened is None


def test_the_engine_prices_again_after_the_cfd_reopens() -> None:
    engine, _ = dislocated_engine()
    engine.set_cfd_open(False, T0 + 200)
    engine.set_cfd_open(True, T0 + 3_600_000)
    reopen = T0 + 3_600_000 + 10
    engine.on_quote(perp_quote("4602.00", "4602.02", reopen), now_ms=reopen)

    result = engine.on_quote(cfd_quote("4600.00", "4600.30", reopen), now_ms=reopen)

    assert result.sample is not None
    assert result.opened is not None  # a new spell, not the one the close ended


def test_a_repeated_close_does_not_end_anything_twice() -> None:
    engine, _ = dislocated_engine()
    engine.set_cfd_open(False, T0 + 200)

    assert engine.set_cfd_open(False, T0 + 300) is None


def test_it_keeps_an_opportunity_open_between_the_exit_and_entry_thresholds() -> None:
    # Hysteresis: an edge hovering just under the entry level must not open and close on every tick.
    tracker = OpportunityTracker(entry_threshold=100, exit_threshold=40)
    opened, _ = tracker.update(1, 120, -500)

    held = tracker.update(2, 60, -500)
    _, closed = tracker.update(3, 39, -500)

    assert opened is not None
    assert held == (None, None)
    assert closed is opened and closed.ended_ms == 3


def test_it_refuses_an_exit_threshold_above_the_entry_threshold() -> None:
    with pytest.raises(ValueError, match="exit threshold"):
        OpportunityTracker(entry_threshold=10, exit_threshold=11)
