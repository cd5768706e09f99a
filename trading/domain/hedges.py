"""The hedge state machine and the legging repair rule (ARCHITECTURE.md "Order safety", "Units and formulas").

A hedge holds a perp leg and a CFD leg of opposite signs. It is hedged when `perp_oz + cfd_oz == 0`; otherwise
it is *legged* — one leg done and the other not, or a venue changed a position on its own — and must be
repaired (complete the missing leg or unwind the done one) within the maximum legging time, or the kill switch
trips. `assess` is the one place that decides the repair; it is pure so live, paper and backtests share it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from trading.domain.orders import IllegalTransition, Leg

ZERO = Decimal(0)

__all__ = [
    "ALLOWED",
    "TERMINAL",
    "HedgeStatus",
    "IllegalTransition",
    "LegPosition",
    "RepairKind",
    "RepairOrder",
    "RepairPlan",
    "RepairPreference",
    "assess",
    "reduces",
    "transition",
    "unhedged_oz",
]


class HedgeStatus(StrEnum):
    PLANNED = "planned"
    OPENING = "opening"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"
    LEGGED = "legged"
    REPAIRING = "repairing"
    FAILED = "failed"
    NEEDS_RECONCILE = "needs_reconcile"


_S = HedgeStatus
# Every allowed move, and only those. `failed` is a hedge that never held a position (refused before the
# send, or both opening legs got nothing); `needs_reconcile` is one our records cannot vouch for (an
# unresolvable unknown order, a repair that ran out of legging time): only reconciliation moves it on, to the
# state the venues show.
ALLOWED: dict[HedgeStatus, frozenset[HedgeStatus]] = {
    _S.PLANNED: frozenset({_S.OPENING, _S.FAILED}),
    _S.OPENING: frozenset({_S.OPEN, _S.LEGGED, _S.FAILED, _S.NEEDS_RECONCILE}),
    # Open → legged: a venue changed a position on its own (liquidation, ADL, stop-out, manual trade).
    _S.OPEN: frozenset({_S.CLOSING, _S.LEGGED, _S.NEEDS_RECONCILE}),
    # Closing → open: both closing orders got nothing (IOC expired, market closed); the hedge is still whole.
    _S.CLOSING: frozenset({_S.CLOSED, _S.OPEN, _S.LEGGED, _S.NEEDS_RECONCILE}),
    # Legged → open/closed without a repair: a late fill (an unknown order resolved) balanced the legs.
    # Legged → closing: flattened (every leg it holds closed), not repaired back to its size.
    _S.LEGGED: frozenset({_S.REPAIRING, _S.CLOSING, _S.OPEN, _S.CLOSED, _S.NEEDS_RECONCILE}),
    # Repairing → legged: the repair orders filled partly or not at all; assess again.
    _S.REPAIRING: frozenset({_S.OPEN, _S.CLOSED, _S.LEGGED, _S.NEEDS_RECONCILE}),
    _S.NEEDS_RECONCILE: frozenset({_S.OPEN, _S.CLOSED, _S.LEGGED, _S.FAILED}),
    _S.CLOSED: frozenset(),
    _S.FAILED: frozenset(),
}
TERMINAL: frozenset[HedgeStatus] = frozenset({_S.CLOSED, _S.FAILED})


def transition(status: HedgeStatus, to: HedgeStatus) -> HedgeStatus:
    """`to` if the table allows the move, else `IllegalTransition` (staying put is not a move)."""
    if to not in ALLOWED[status]:
        raise IllegalTransition(f"a hedge cannot go from {status} to {to}")
    return to


@dataclass(frozen=True, slots=True)
class LegPosition:
    """Signed ounces held on each leg (positive long). Hedged when they sum to zero."""

    perp_oz: Decimal
    cfd_oz: Decimal

    @property
    def unhedged_oz(self) -> Decimal:
        return self.perp_oz + self.cfd_oz

    def of(self, leg: Leg) -> Decimal:
        return self.perp_oz if leg is Leg.PERP else self.cfd_oz

    def moved(self, leg: Leg, signed_oz: Decimal) -> LegPosition:
        if leg is Leg.PERP:
            return LegPosition(self.perp_oz + signed_oz, self.cfd_oz)
        return LegPosition(self.perp_oz, self.cfd_oz + signed_oz)


def unhedged_oz(perp_oz: Decimal, cfd_oz: Decimal) -> Decimal:
    return perp_oz + cfd_oz


def reduces(held_oz: Decimal, signed_oz: Decimal) -> bool:
    """Whether an order of `signed_oz` on a leg holding `held_oz` only shrinks it (opposite side, no more than is
    held): such an order is sent reduce-only and passes a kill switch; completing a missing leg is not one."""
    return held_oz != 0 and signed_oz != 0 and (signed_oz > 0) != (held_oz > 0) and abs(signed_oz) <= abs(held_oz)


class RepairKind(StrEnum):
    NONE = "none"
    COMPLETE_PERP = "complete_perp"
    COMPLETE_CFD = "complete_cfd"
    UNWIND_PERP = "unwind_perp"
    UNWIND_CFD = "unwind_cfd"
    TRIP_KILL_SWITCH = "trip_kill_switch"


class RepairPreference(StrEnum):
    """Which way to repair when both are possible: finish the hedge (the default) or back out of it."""

    COMPLETE = "complete"
    UNWIND = "unwind"


@dataclass(frozen=True, slots=True)
class RepairOrder:
    """One repair order: `signed_oz` on `leg` (positive buys). On the CFD it is a whole number of CFD steps."""

    leg: Leg
    kind: RepairKind
    signed_oz: Decimal


@dataclass(frozen=True, slots=True)
class RepairPlan:
    """What to do about a hedge's legs now. `kind` is the main action (the first order's kind, `NONE` or
    `TRIP_KILL_SWITCH`); `orders` are sent together; `residual_oz` is the exposure left once they fill (zero
    unless the exposure is not a whole number of perp steps: dust below the perp step cannot be traded)."""

    kind: RepairKind
    orders: tuple[RepairOrder, ...]
    unhedged_oz: Decimal
    residual_oz: Decimal

    def after(self, position: LegPosition) -> LegPosition:
        for order in self.orders:
            position = position.moved(order.leg, order.signed_oz)
        return position


def _toward_zero(value: Decimal, step: Decimal) -> Decimal:
    """The largest multiple of `step` not larger than |value|, with value's sign."""
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


def _kind(leg: Leg, target: LegPosition, actual: LegPosition, signed_oz: Decimal) -> RepairKind:
    """Complete if the order brings the leg closer to its target, else unwind."""
    before = abs(actual.of(leg) - target.of(leg))
    after = abs(actual.of(leg) + signed_oz - target.of(leg))
    if leg is Leg.PERP:
        return RepairKind.COMPLETE_PERP if after < before else RepairKind.UNWIND_PERP
    return RepairKind.COMPLETE_CFD if after < before else RepairKind.UNWIND_CFD


_COMPLETES = frozenset({RepairKind.COMPLETE_PERP, RepairKind.COMPLETE_CFD})


def assess(
    *,
    target: LegPosition,
    actual: LegPosition,
    perp_step_oz: Decimal,
    cfd_step_oz: Decimal,
    legged_ms: int,
    max_legging_ms: int,
    prefer: RepairPreference = RepairPreference.COMPLETE,
) -> RepairPlan:
    """The repair for a hedge whose legs hold `actual` while it should hold `target` (open: ±size; closing: 0).

    Precondition: `target` is hedged (`perp + cfd == 0`). Rules:
    - hedged (or legged by less than one perp step, which no venue can trade): nothing to do — a hedge whose
      legs balance at a size other than the target is whole, if smaller;
    - legged for `max_legging_ms` or more: trip the kill switch (no more orders from here);
    - otherwise the exposure `u = perp + cfd` is traded away exactly once, either on the perp alone (`-u`) or
      on the CFD in whole CFD steps with the remainder — below one CFD step — on the perp: "a perp residual
      below the CFD step is unwound on the perp". Orders add up to |u| (rounded down to the perp step): never
      more than needed.
    - Of the two, the one whose main order goes the preferred way is chosen — complete: toward the leg's
      target; unwind: shrinking the leg that is ahead back toward flat. Failing that, the other way, as long as
      it completes or shrinks a leg; an unwind that grows a leg (re-opening what a closing hedge closed) only
      when nothing else can trade the exposure, which is when it is below one CFD step and the perp must.
    """
    if target.unhedged_oz != 0:
        raise ValueError("a hedge's target must be hedged")
    if perp_step_oz <= 0 or cfd_step_oz <= 0:
        raise ValueError("steps must be positive")
    exposure = actual.unhedged_oz
    tradable = _toward_zero(exposure, perp_step_oz)
    if tradable == 0:
        return RepairPlan(RepairKind.NONE, (), exposure, exposure)
    if legged_ms >= max_legging_ms:
        return RepairPlan(RepairKind.TRIP_KILL_SWITCH, (), exposure, exposure)

    perp_alone = (RepairOrder(Leg.PERP, _kind(Leg.PERP, target, actual, -tradable), -tradable),)
    candidates: list[tuple[RepairOrder, ...]] = []
    cfd_oz = _toward_zero(-exposure, cfd_step_oz)
    if cfd_oz != 0:
        cfd_first = [RepairOrder(Leg.CFD, _kind(Leg.CFD, target, actual, cfd_oz), cfd_oz)]
        rest = _toward_zero(-(exposure + cfd_oz), perp_step_oz)
        if rest != 0:
            after_cfd = actual.moved(Leg.CFD, cfd_oz)
            cfd_first.append(RepairOrder(Leg.PERP, _kind(Leg.PERP, target, after_cfd, rest), rest))
        candidates.append(tuple(cfd_first))
    candidates.append(perp_alone)

    def rank(orders: tuple[RepairOrder, ...]) -> int:
        main = orders[0]
        completes = main.kind in _COMPLETES
        position = actual.of(main.leg)
        shrinks = abs(position + main.signed_oz) < abs(position)
        if prefer is RepairPreference.COMPLETE:
            return 0 if completes else 1 if shrinks else 2
        return 0 if shrinks and not completes else 1 if completes else 2

    chosen = min(candidates, key=rank)  # the first of the best: the CFD-first plan on a tie
    residual = exposure + sum((order.signed_oz for order in chosen), ZERO)
    return RepairPlan(chosen[0].kind, chosen, exposure, residual)
