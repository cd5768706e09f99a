"""The order state machine (trading.domain.orders): stateful and plain property tests.

The machine test drives one order through random events — every event in every state, fresh fills, replayed
fills, venue cumulatives and lookups — and checks each answer against the specification table below and the
invariants: refused events raise IllegalTransition and leave the view unchanged, filled never exceeds the
quantity and never decreases, terminal states absorb, `resolve` is idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from trading.domain.orders import (
    TERMINAL,
    FillEvent,
    IllegalTransition,
    OrderStatus,
    OrderView,
    OverFill,
    VenueOrderReport,
    accept,
    apply_cumulative,
    apply_fill,
    cancel,
    expire,
    mark_unknown,
    new_order,
    reject,
    resolve,
    submit,
)

S = OrderStatus
STEP = Decimal("0.001")
EVENTS: dict[str, Callable[[OrderView], OrderView]] = {
    "submit": submit,
    "accept": accept,
    "mark_unknown": mark_unknown,
    "reject": reject,
    "cancel": cancel,
    "expire": expire,
}
REFUSE = "refuse"
SAME = "same"
LIVE = {S.SUBMITTING, S.UNKNOWN, S.ACCEPTED, S.PARTIALLY_FILLED}


def specification(status: OrderStatus, event: str) -> OrderStatus | str:
    """What each status event must do, written out independently of the implementation."""
    if event == "submit":
        return S.SUBMITTING if status is S.NEW else REFUSE
    if event == "accept":
        if status in (S.SUBMITTING, S.UNKNOWN):
            return S.ACCEPTED
        return REFUSE if status in (S.NEW, S.REJECTED) else SAME
    if event == "mark_unknown":
        return {S.SUBMITTING: S.UNKNOWN, S.UNKNOWN: SAME}.get(status, REFUSE)
    if event == "reject":
        if status in (S.NEW, S.SUBMITTING, S.UNKNOWN):
            return S.REJECTED
        return SAME if status is S.REJECTED else REFUSE
    target = S.CANCELLED if event == "cancel" else S.EXPIRED
    if status in LIVE or (status is S.NEW and event == "cancel"):
        return target
    return SAME if status in (S.FILLED, S.CANCELLED, S.EXPIRED) else REFUSE


def oz(units: int) -> Decimal:
    return units * STEP


class OrderMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.order = new_order(Decimal(1))
        self.applied: list[FillEvent] = []
        self.next_fill = 0
        self.ever_terminal: OrderStatus | None = None
        self.highest_filled = Decimal(0)

    @initialize(units=st.integers(1, 20_000))
    def start(self, units: int) -> None:
        self.order = new_order(oz(units))

    def attempt(self, change: Callable[[OrderView], OrderView]) -> bool:
        """Apply `change`; on IllegalTransition assert the view we hold is unchanged. True when accepted."""
        before = self.order
        try:
            after = change(before)
        except IllegalTransition:
            assert self.order is before and self.order == before
            return False
        self.order = after
        return True

    @rule(event=st.sampled_from(sorted(EVENTS)))
    def status_event(self, event: str) -> None:
        before = self.order
        expected = specification(before.status, event)
        accepted = self.attempt(EVENTS[event])
        if expected == REFUSE:
            assert not accepted, f"{event} accepted on {before.status}"
        elif expected == SAME:
            assert accepted and self.order == before
        else:
            assert accepted and self.order.status is expected
            assert self.order.filled == before.filled and self.order.fill_ids == before.fill_ids

    @rule(
        units=st.integers(1, 20_000), price=st.decimals("1000", "10000", places=2), fee=st.decimals("0", "5", places=8)
    )
    def fresh_fill(self, units: int, price: Decimal, fee: Decimal) -> None:
        before = self.order
        fill = FillEvent(f"f{self.next_fill}", oz(units), price, fee, "USDT", 1_000 + self.next_fill)
        self.next_fill += 1
        fits = before.fill_qty + fill.quantity <= before.quantity
        legal = before.status not in (S.NEW, S.REJECTED) and fits
        try:
            after = apply_fill(before, fill)
        except OverFill:
            assert not fits
            return
        except IllegalTransition:
            assert not legal
            return
        assert legal
        self.order = after
        self.applied.append(fill)
        assert after.fill_qty == before.fill_qty + fill.quantity

    @precondition(lambda self: bool(self.applied))
    @rule(data=st.data())
    def replayed_fill(self, data: st.DataObject) -> None:
        fill = data.draw(st.sampled_from(self.applied))
        assert apply_fill(self.order, fill) == self.order  # duplicates change nothing, in any state

    @rule(units=st.integers(0, 20_000), price=st.decimals("1000", "10000", places=8))
    def venue_cumulative(self, units: int, price: Decimal) -> None:
        before = self.order
        reported = oz(units)
        accepted = self.attempt(lambda o: apply_cumulative(o, reported, price))
        if reported <= before.venue_filled:
            assert accepted and self.order == before
        elif reported > before.quantity or before.status in (S.NEW, S.REJECTED):
            assert not accepted

    @rule(
        found=st.booleans(),
        status=st.sampled_from([S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.REJECTED, S.EXPIRED]),
        share=st.integers(0, 1000),
        price=st.decimals("1000", "10000", places=8),
    )
    def venue_lookup(self, found: bool, status: OrderStatus, share: int, price: Decimal) -> None:
        filled = (self.order.quantity * share / 1000).quantize(STEP)
        if status is S.FILLED:
            filled = self.order.quantity
        if status is S.REJECTED:
            filled = Decimal(0)
        report = (
            VenueOrderReport(found=True, status=status, filled=filled, avg_price=price if filled else None)
            if found
            else VenueOrderReport.not_found()
        )
        before = self.order
        if self.attempt(lambda o: resolve(o, report)):
            assert resolve(self.order, report) == self.order  # idempotent
            if not found:
                assert before.status in (S.NEW, S.SUBMITTING, S.UNKNOWN, S.REJECTED)
                assert self.order.status is S.REJECTED
        elif not found:
            assert before.status not in (S.NEW, S.SUBMITTING, S.UNKNOWN, S.REJECTED)

    @invariant()
    def filled_within_quantity_and_never_decreasing(self) -> None:
        order = self.order
        assert 0 <= order.fill_qty <= order.filled <= order.quantity
        assert order.filled >= self.highest_filled
        self.highest_filled = order.filled

    @invariant()
    def status_agrees_with_fills(self) -> None:
        order = self.order
        assert (order.status is S.FILLED) == (order.filled == order.quantity)
        if order.status is S.PARTIALLY_FILLED:
            assert 0 < order.filled < order.quantity
        if order.status in (S.NEW, S.SUBMITTING, S.UNKNOWN, S.ACCEPTED, S.REJECTED):
            assert order.filled == 0
        assert order.fill_ids == {fill.fill_id for fill in self.applied}

    @invariant()
    def terminal_states_absorb(self) -> None:
        status = self.order.status
        if self.ever_terminal is not None:
            assert status in TERMINAL
            if self.ever_terminal is S.REJECTED:
                assert status is S.REJECTED
            elif status is not self.ever_terminal:
                assert status is S.FILLED  # a late fill completed a cancelled or expired order
        if status in TERMINAL:
            self.ever_terminal = status


OrderMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestOrderMachine = OrderMachine.TestCase


# --- the same fills in any order ----------------------------------------------------------------------------
@st.composite
def fill_sets(draw: st.DrawFn) -> tuple[Decimal, list[FillEvent]]:
    sizes = draw(st.lists(st.integers(1, 5_000), min_size=1, max_size=8))
    spare = draw(st.integers(0, 5_000))
    fills = [
        FillEvent(
            f"t{index}",
            oz(units),
            draw(st.decimals("1000", "10000", places=8)),
            draw(st.decimals("0", "3", places=8)),
            draw(st.sampled_from(["USDT", "BNB"])),
            index,
        )
        for index, units in enumerate(sizes)
    ]
    return oz(sum(sizes) + spare), fills


@settings(max_examples=300, deadline=None)
@given(data=fill_sets(), order_seed=st.randoms(use_true_random=False), accept_at=st.integers(0, 8))
def test_the_same_fills_in_any_order_duplicated_or_around_a_cancel_give_the_same_order(
    data: tuple[Decimal, list[FillEvent]], order_seed: object, accept_at: int
) -> None:
    quantity, fills = data
    reference = new_order(quantity)
    reference = accept(submit(reference))
    for fill in fills:
        reference = apply_fill(reference, fill)

    shuffled = list(fills) + list(fills[: len(fills) // 2])  # duplicates mixed in
    order_seed.shuffle(shuffled)  # type: ignore[attr-defined]
    other = submit(new_order(quantity))  # the acknowledgement comes late, after some fills
    for index, fill in enumerate(shuffled):
        if index == accept_at:
            other = accept(other)
        other = apply_fill(other, fill)
    other = accept(other)

    assert other.filled == reference.filled == sum(f.quantity for f in fills)
    assert other.avg_price == reference.avg_price
    assert other.fees == reference.fees
    assert other.status is reference.status

    # A cancel (or expiry) before or after the same fills ends in the same place.
    cancelled_first = cancel(submit(new_order(quantity)))
    cancelled_last = submit(new_order(quantity))
    for fill in shuffled:
        cancelled_first = apply_fill(cancelled_first, fill)
        cancelled_last = apply_fill(cancelled_last, fill)
    cancelled_last = cancel(cancelled_last)
    assert cancelled_first == cancelled_last
    expected = S.FILLED if reference.filled == quantity else S.CANCELLED
    assert cancelled_first.status is expected


def test_a_fill_beyond_the_quantity_is_refused_not_clamped() -> None:
    order = accept(submit(new_order(Decimal("1.000"))))
    order = apply_fill(order, FillEvent("a", Decimal("0.600"), Decimal("4600"), Decimal(0), "USDT", 1))
    with pytest.raises(OverFill):
        apply_fill(order, FillEvent("b", Decimal("0.500"), Decimal("4600"), Decimal(0), "USDT", 2))
    assert order.filled == Decimal("0.600") and order.status is S.PARTIALLY_FILLED


def test_a_cumulative_then_the_fills_it_covers_are_not_counted_twice() -> None:
    order = accept(submit(new_order(Decimal("2.000"))))
    order = apply_cumulative(order, Decimal("1.500"), Decimal("4600.5"))
    assert order.filled == Decimal("1.500") and order.avg_price == Decimal("4600.5")
    order = apply_fill(order, FillEvent("a", Decimal("1.000"), Decimal("4600"), Decimal(0), "USDT", 1))
    assert order.filled == Decimal("1.500")
    order = apply_fill(order, FillEvent("b", Decimal("0.500"), Decimal("4601.5"), Decimal(0), "USDT", 2))
    assert order.filled == Decimal("1.500") and order.avg_price == Decimal("4600.50000000")
    assert apply_cumulative(order, Decimal("1.000"), Decimal("4600")) == order  # never decreases


def test_an_unknown_order_the_venue_never_saw_resolves_to_rejected_and_one_it_filled_to_filled() -> None:
    unknown = mark_unknown(submit(new_order(Decimal("1.000"))))
    assert resolve(unknown, VenueOrderReport.not_found()).status is S.REJECTED
    filled = resolve(unknown, VenueOrderReport(True, S.FILLED, Decimal("1.000"), Decimal("4600.1")))
    assert filled.status is S.FILLED and filled.filled == Decimal("1.000") and filled.avg_price == Decimal("4600.1")
    expired = resolve(unknown, VenueOrderReport(True, S.EXPIRED, Decimal("0.400"), Decimal("4600.1")))
    assert expired.status is S.EXPIRED and expired.filled == Decimal("0.400")


def test_a_venue_that_loses_an_acknowledged_order_is_not_believed() -> None:
    accepted = accept(submit(new_order(Decimal("1.000"))))
    with pytest.raises(IllegalTransition):
        resolve(accepted, VenueOrderReport.not_found())
    rejected = reject(submit(new_order(Decimal("1.000"))))
    with pytest.raises(IllegalTransition):
        apply_fill(rejected, FillEvent("late", Decimal("1.000"), Decimal("4600"), Decimal(0), "USDT", 1))
