"""The hedge state machine and the legging repair rule (trading.domain.hedges): stateful property tests.

A hedge is driven through random status moves (every status is tried from every state) and random leg
changes — partial and full fills of either leg, a venue changing a position on its own, targets opening and
closing, repair orders filling fully or in part, time passing. In every reachable leg state `assess` must
bring `perp + cfd` back to zero (to within one perp step), never trade more than the exposure, keep CFD
orders to whole CFD steps, unwind a perp residual below the CFD step on the perp, and trip the kill switch
once the maximum legging time has passed.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from trading.domain.hedges import (
    HedgeStatus,
    IllegalTransition,
    LegPosition,
    RepairKind,
    RepairPlan,
    RepairPreference,
    assess,
    transition,
    unhedged_oz,
)
from trading.domain.orders import Leg

H = HedgeStatus
ZERO = Decimal(0)
MAX_LEGGING_MS = 30_000
# The specification of allowed moves, written out as edges independently of the implementation's table.
EDGES = {
    (H.PLANNED, H.OPENING),
    (H.PLANNED, H.FAILED),
    (H.OPENING, H.OPEN),
    (H.OPENING, H.LEGGED),
    (H.OPENING, H.FAILED),
    (H.OPENING, H.NEEDS_RECONCILE),
    (H.OPEN, H.CLOSING),
    (H.OPEN, H.LEGGED),
    (H.OPEN, H.NEEDS_RECONCILE),
    (H.CLOSING, H.CLOSED),
    (H.CLOSING, H.OPEN),
    (H.CLOSING, H.LEGGED),
    (H.CLOSING, H.NEEDS_RECONCILE),
    (H.LEGGED, H.REPAIRING),
    (H.LEGGED, H.CLOSING),
    (H.LEGGED, H.OPEN),
    (H.LEGGED, H.CLOSED),
    (H.LEGGED, H.NEEDS_RECONCILE),
    (H.REPAIRING, H.OPEN),
    (H.REPAIRING, H.CLOSED),
    (H.REPAIRING, H.LEGGED),
    (H.REPAIRING, H.NEEDS_RECONCILE),
    (H.NEEDS_RECONCILE, H.OPEN),
    (H.NEEDS_RECONCILE, H.CLOSED),
    (H.NEEDS_RECONCILE, H.LEGGED),
    (H.NEEDS_RECONCILE, H.FAILED),
}


def check_plan(plan: RepairPlan, *, actual: LegPosition, perp_step: Decimal, cfd_step: Decimal, legged_ms: int) -> None:
    exposure = actual.unhedged_oz
    assert plan.unhedged_oz == exposure
    if abs(exposure) < perp_step:
        assert plan.kind is RepairKind.NONE and plan.orders == ()
        return
    if legged_ms >= MAX_LEGGING_MS:
        assert plan.kind is RepairKind.TRIP_KILL_SWITCH and plan.orders == ()
        return
    assert plan.orders and plan.kind is plan.orders[0].kind
    after = plan.after(actual)
    # Back to hedged, to within the perp step (exactly, when the exposure is a whole number of perp steps).
    assert after.unhedged_oz == plan.residual_oz
    assert abs(plan.residual_oz) < perp_step
    if exposure % perp_step == 0:
        assert plan.residual_oz == 0
    # Never more than needed, never trading against itself.
    traded = sum(abs(order.signed_oz) for order in plan.orders)
    assert traded <= abs(exposure)
    assert all(order.signed_oz != 0 and (order.signed_oz > 0) == (exposure < 0) for order in plan.orders)
    for order in plan.orders:
        step = cfd_step if order.leg is Leg.CFD else perp_step
        assert order.signed_oz % step == 0
    assert len({order.leg for order in plan.orders}) == len(plan.orders)
    if abs(exposure) < cfd_step:
        # A residual below the CFD step cannot be hedged on the CFD: it is traded on the perp...
        assert [order.leg for order in plan.orders] == [Leg.PERP]
        if (exposure > 0) == (actual.perp_oz > 0) and actual.perp_oz != 0:
            # ...and when the perp is the leg ahead, it is unwound there (its position shrinks).
            assert abs(actual.perp_oz + plan.orders[0].signed_oz) < abs(actual.perp_oz)


class HedgeMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.status = H.PLANNED
        self.perp_step = Decimal("0.001")
        self.cfd_step = Decimal(1)
        self.size = Decimal(1)
        self.target = LegPosition(ZERO, ZERO)
        self.actual = LegPosition(ZERO, ZERO)
        self.legged_ms = 0

    @initialize(
        perp_step=st.sampled_from([Decimal("0.001"), Decimal("0.01")]),
        cfd_step=st.sampled_from([Decimal("0.1"), Decimal(1), Decimal(10)]),
        multiple=st.integers(1, 20),
        sign=st.sampled_from([-1, 1]),
    )
    def start(self, perp_step: Decimal, cfd_step: Decimal, multiple: int, sign: int) -> None:
        self.perp_step, self.cfd_step = perp_step, cfd_step
        self.size = cfd_step * multiple  # a multiple of both steps
        self.target = LegPosition(sign * self.size, -sign * self.size)

    # --- statuses --------------------------------------------------------------------------------------------
    @rule(to=st.sampled_from(list(H)))
    def move(self, to: HedgeStatus) -> None:
        allowed = (self.status, to) in EDGES
        try:
            result = transition(self.status, to)
        except IllegalTransition:
            assert not allowed, f"{self.status} → {to} refused"
            return
        assert allowed, f"{self.status} → {to} accepted"
        assert result is to
        self.status = to

    # --- legs ------------------------------------------------------------------------------------------------
    @rule(units=st.integers(-20_000, 20_000))
    def perp_fill(self, units: int) -> None:
        self.actual = self.actual.moved(Leg.PERP, units * self.perp_step)

    @rule(steps=st.integers(-20, 20))
    def cfd_fill(self, steps: int) -> None:
        self.actual = self.actual.moved(Leg.CFD, steps * self.cfd_step)

    @rule(share=st.integers(0, 100))
    def venue_cuts_the_perp(self, share: int) -> None:
        """A liquidation or auto-deleverage takes part of the perp position."""
        kept = (self.actual.perp_oz * share / 100 / self.perp_step).to_integral_value() * self.perp_step
        self.actual = LegPosition(kept, self.actual.cfd_oz)

    @rule(open_=st.booleans())
    def retarget(self, open_: bool) -> None:
        sign = -1 if self.target.perp_oz < 0 else 1
        self.target = LegPosition(sign * self.size, -sign * self.size) if open_ else LegPosition(ZERO, ZERO)

    @rule(ms=st.integers(0, 20_000))
    def time_passes(self, ms: int) -> None:
        self.legged_ms = self.legged_ms + ms if self.actual.unhedged_oz else 0

    @rule(prefer=st.sampled_from(list(RepairPreference)), perp_share=st.integers(0, 100), cfd_fills=st.booleans())
    def repair(self, prefer: RepairPreference, perp_share: int, cfd_fills: bool) -> None:
        """Send the plan; the perp order may fill in part (IOC), the CFD order fully or not at all (market)."""
        plan = self.plan(prefer)
        for order in plan.orders:
            if order.leg is Leg.PERP:
                done = (order.signed_oz * perp_share / 100 / self.perp_step).to_integral_value() * self.perp_step
                self.actual = self.actual.moved(Leg.PERP, done)
            elif cfd_fills:
                self.actual = self.actual.moved(Leg.CFD, order.signed_oz)
        if perp_share == 100 and cfd_fills and plan.orders:
            assert abs(self.actual.unhedged_oz) < self.perp_step

    def plan(self, prefer: RepairPreference) -> RepairPlan:
        return assess(
            target=self.target,
            actual=self.actual,
            perp_step_oz=self.perp_step,
            cfd_step_oz=self.cfd_step,
            legged_ms=self.legged_ms,
            max_legging_ms=MAX_LEGGING_MS,
            prefer=prefer,
        )

    @invariant()
    def every_leg_state_has_a_sound_plan(self) -> None:
        for prefer in RepairPreference:
            plan = self.plan(prefer)
            check_plan(
                plan,
                actual=self.actual,
                perp_step=self.perp_step,
                cfd_step=self.cfd_step,
                legged_ms=self.legged_ms,
            )
            if plan.orders:
                # An unwind never grows the leg it trades (re-opening a leg a closing hedge closed) unless
                # nothing else can trade the exposure: below one CFD step, only the perp can.
                main = plan.orders[0]
                position = self.actual.of(main.leg)
                grows = abs(position + main.signed_oz) > abs(position)
                unwind = main.kind in (RepairKind.UNWIND_PERP, RepairKind.UNWIND_CFD)
                assert not (grows and unwind) or abs(self.actual.unhedged_oz) < self.cfd_step


HedgeMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestHedgeMachine = HedgeMachine.TestCase


# --- worked examples -----------------------------------------------------------------------------------------
ONE = Decimal(1)
PERP_STEP = Decimal("0.001")


def plan_for(perp: str, cfd: str, *, target: str = "10", legged_ms: int = 0, prefer: str = "complete") -> RepairPlan:
    size = Decimal(target)
    return assess(
        target=LegPosition(-size, size),
        actual=LegPosition(Decimal(perp), Decimal(cfd)),
        perp_step_oz=PERP_STEP,
        cfd_step_oz=ONE,
        legged_ms=legged_ms,
        max_legging_ms=MAX_LEGGING_MS,
        prefer=RepairPreference(prefer),
    )


def orders_of(plan: RepairPlan) -> list[tuple[str, str, Decimal]]:
    return [(order.leg.value, order.kind.value, order.signed_oz) for order in plan.orders]


def test_a_hedged_position_needs_nothing() -> None:
    assert plan_for("-10", "10").kind is RepairKind.NONE
    assert plan_for("-4", "4").kind is RepairKind.NONE  # whole at a smaller size
    assert unhedged_oz(Decimal("-10"), Decimal("10")) == 0


def test_a_missing_cfd_leg_is_completed_or_the_perp_unwound() -> None:
    assert orders_of(plan_for("-10", "0")) == [("cfd", "complete_cfd", Decimal(10))]
    assert orders_of(plan_for("-10", "0", prefer="unwind")) == [("perp", "unwind_perp", Decimal(10))]


def test_a_perp_residual_below_the_cfd_step_is_unwound_on_the_perp() -> None:
    # The perp IOC filled 0.5 oz, the CFD nothing: half an ounce cannot be hedged with 1 oz CFD steps.
    assert orders_of(plan_for("-0.5", "0")) == [("perp", "unwind_perp", Decimal("0.5"))]
    # 10.5 oz: the CFD takes the whole steps, the perp unwinds the rest.
    plan = plan_for("-10.5", "0", target="11")
    assert orders_of(plan) == [("cfd", "complete_cfd", Decimal(10)), ("perp", "unwind_perp", Decimal("0.5"))]
    assert plan.residual_oz == 0


def test_a_closing_hedge_completes_the_close_and_never_reopens_a_leg() -> None:
    for prefer in ("complete", "unwind"):
        plan = plan_for("0", "10", target="0", prefer=prefer)
        assert orders_of(plan) == [("cfd", "complete_cfd", Decimal(-10))]


def test_after_the_maximum_legging_time_the_kill_switch_trips() -> None:
    assert plan_for("-10", "0", legged_ms=MAX_LEGGING_MS).kind is RepairKind.TRIP_KILL_SWITCH
    assert plan_for("-10", "10", legged_ms=MAX_LEGGING_MS).kind is RepairKind.NONE


def test_closed_and_failed_hedges_go_nowhere_and_staying_put_is_not_a_move() -> None:
    for terminal in (H.CLOSED, H.FAILED):
        for to in H:
            with pytest.raises(IllegalTransition):
                transition(terminal, to)
    with pytest.raises(IllegalTransition):
        transition(H.OPEN, H.OPEN)
