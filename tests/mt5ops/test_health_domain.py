"""MT5 operations' pure rules (mt5ops/domain): a probe's failure class, the terminal state with its alert debounce,
and staged recovery with its hourly restart budget."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mt5ops.domain.classify import ClassifyPolicy, FailureClass, ProbeFacts, Reason, classify
from mt5ops.domain.recovery import (
    HOUR,
    PlanReason,
    RecoveryAttempt,
    RecoveryPolicy,
    RecoveryStage,
    plan_recovery,
    restart_allowed_at,
)
from mt5ops.domain.state import (
    StatePolicy,
    TerminalState,
    TerminalTracker,
    blocks_opening_orders,
    enter_maintenance,
    leave_maintenance,
    new_tracker,
    observe,
)

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
LOGIN = 81234567
F = FailureClass


def healthy_facts(**changes: object) -> ProbeFacts:
    """A probe of a terminal ready to trade, its symbol in session with a fresh tick."""
    facts = ProbeFacts(
        at=T0,
        terminal_connected=True,
        terminal_trade_allowed=True,
        tradeapi_disabled=False,
        expected_login=LOGIN,
        expected_server="Bybit-Live",
        account_login=LOGIN,
        account_server="Bybit-Live",
        account_trade_allowed=True,
        account_trade_expert=True,
        last_error_code=1,
        session_open=True,
        session_opened_at=T0 - timedelta(hours=3),
        last_tick_at=T0 - timedelta(seconds=2),
    )
    return replace(facts, **changes)


# --- classification --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "failure", "reason"),
    [
        ({}, F.HEALTHY, Reason.OK),
        ({"bridge_reachable": False, "last_error_code": None}, F.BRIDGE_DOWN, Reason.BRIDGE_UNREACHABLE),
        ({"process_running": False, "last_error_code": -10005}, F.NOT_RESPONDING, Reason.PROCESS_NOT_RUNNING),
        ({"last_error_code": -10005, "account_login": None}, F.IPC_TIMEOUT, Reason.IPC_TIMEOUT),
        ({"answered": False, "account_login": None}, F.NOT_RESPONDING, Reason.NO_ANSWER),
        ({"last_error_code": -10004}, F.NOT_RESPONDING, Reason.IPC_UNAVAILABLE),
        ({"last_error_code": -10003}, F.NOT_RESPONDING, Reason.IPC_UNAVAILABLE),
        ({"last_error_code": -6, "account_login": None}, F.NOT_LOGGED_IN, Reason.LOGIN_REFUSED),
        ({"account_login": 0}, F.NOT_LOGGED_IN, Reason.NO_ACCOUNT),
        ({"account_login": None}, F.NOT_LOGGED_IN, Reason.NO_ACCOUNT),
        ({"terminal_connected": False}, F.NOT_LOGGED_IN, Reason.DISCONNECTED),
        ({"account_login": 70000001}, F.WRONG_ACCOUNT, Reason.OTHER_LOGIN),
        ({"account_server": "Bybit-Demo"}, F.WRONG_ACCOUNT, Reason.OTHER_SERVER),
        ({"account_server": " bybit-live "}, F.HEALTHY, Reason.OK),  # the same server, spelt loosely
        ({"terminal_trade_allowed": False}, F.AUTOTRADING_OFF, Reason.TERMINAL_AUTOTRADING_OFF),
        ({"tradeapi_disabled": True}, F.AUTOTRADING_OFF, Reason.TRADEAPI_DISABLED),
        ({"last_error_code": -8}, F.AUTOTRADING_OFF, Reason.AUTOTRADING_DISABLED_ERROR),
        ({"last_order_retcode": 10027}, F.AUTOTRADING_OFF, Reason.ORDER_REFUSED_CLIENT),
        ({"last_order_retcode": 10026}, F.AUTOTRADING_OFF, Reason.ORDER_REFUSED_SERVER),
        ({"last_order_retcode": 10009}, F.HEALTHY, Reason.OK),  # done: nothing wrong
        ({"account_trade_allowed": False}, F.AUTOTRADING_OFF, Reason.ACCOUNT_TRADE_DISABLED),
        ({"account_trade_expert": False}, F.AUTOTRADING_OFF, Reason.ACCOUNT_EXPERT_DISABLED),
        ({"last_error_code": -2}, F.NOT_RESPONDING, Reason.TERMINAL_ERROR),
        ({"last_tick_at": T0 - timedelta(seconds=61)}, F.TICKS_STALE, Reason.TICK_AGE),
        ({"last_tick_at": None, "session_opened_at": None}, F.TICKS_STALE, Reason.NO_TICK),
    ],
)
def test_each_failure_is_classified(changes: dict[str, object], failure: FailureClass, reason: Reason) -> None:
    diagnosis = classify(healthy_facts(**changes))
    assert (diagnosis.failure, diagnosis.reason) == (failure, reason)
    assert diagnosis.healthy is (failure is F.HEALTHY)


def test_the_first_cause_wins_when_several_facts_are_wrong() -> None:
    # A hung terminal also answers no account and no tick: the cause is the IPC timeout, not a lost login.
    hung = healthy_facts(last_error_code=-10005, account_login=None, terminal_connected=None, last_tick_at=None)
    assert classify(hung).failure is F.IPC_TIMEOUT
    # No bridge: whatever else was (not) learnt.
    assert classify(replace(hung, bridge_reachable=False)).failure is F.BRIDGE_DOWN
    # Logged in to another account with AutoTrading off: the account is the first thing to fix.
    assert classify(healthy_facts(account_login=1, terminal_trade_allowed=False)).failure is F.WRONG_ACCOUNT


def test_ticks_are_stale_only_during_the_symbols_session() -> None:
    old_tick = T0 - timedelta(hours=40)
    weekend = healthy_facts(session_open=False, session_opened_at=None, last_tick_at=old_tick)
    assert classify(weekend).failure is F.HEALTHY and classify(weekend).tick_age is None
    # The session opened 20 s ago and no tick since Friday: give the first tick the threshold from the open.
    just_opened = healthy_facts(session_opened_at=T0 - timedelta(seconds=20), last_tick_at=old_tick)
    diagnosis = classify(just_opened)
    assert diagnosis.failure is F.HEALTHY and diagnosis.tick_age == timedelta(seconds=20)
    a_while_after = replace(just_opened, at=T0 + timedelta(seconds=41))
    assert classify(a_while_after).failure is F.TICKS_STALE
    assert classify(a_while_after).tick_age == timedelta(seconds=61)
    # The threshold is the policy's.
    tight = ClassifyPolicy(stale_after=timedelta(seconds=5))
    assert classify(healthy_facts(last_tick_at=T0 - timedelta(seconds=6)), tight).failure is F.TICKS_STALE
    assert classify(healthy_facts(last_tick_at=T0 - timedelta(seconds=60))).failure is F.HEALTHY


def test_a_probe_that_read_no_account_is_not_judged_on_it() -> None:
    # The existing probe (initialize + terminal_info) reads no account: with no expected login it is not a fault.
    facts = ProbeFacts(at=T0, terminal_connected=True, terminal_trade_allowed=True, last_error_code=1)
    assert classify(facts).failure is F.HEALTHY


# --- terminal state and alerts ----------------------------------------------------------------------------------
def run(
    probes: list[tuple[float, FailureClass]], policy: StatePolicy | None = None
) -> tuple[TerminalTracker, list[tuple[datetime, TerminalState]], list[datetime]]:
    """Feed (seconds after T0, class) probes; the final tracker, the states after each probe and the alert times."""
    tracker = new_tracker(T0)
    states, alerts = [], []
    for seconds, failure in probes:
        at = T0 + timedelta(seconds=seconds)
        step = observe(tracker, failure, at, policy)
        tracker = step.tracker
        states.append((at, tracker.state))
        if step.raise_alert:
            alerts.append(at)
    return tracker, states, alerts


def test_a_fault_is_down_and_alerted_within_two_probes_and_recovers() -> None:
    probes = [(0, F.HEALTHY), (5, F.IPC_TIMEOUT), (10, F.IPC_TIMEOUT), (15, F.IPC_TIMEOUT), (20, F.HEALTHY)]
    probes += [(25, F.HEALTHY)]
    tracker, states, alerts = run(probes)
    assert [state for _at, state in states] == [
        TerminalState.HEALTHY,
        TerminalState.DEGRADED,  # one failing probe: opening orders already wait
        TerminalState.DOWN,
        TerminalState.DOWN,
        TerminalState.DEGRADED,  # recovering: one healthy probe is not enough after a down
        TerminalState.HEALTHY,
    ]
    assert alerts == [T0 + timedelta(seconds=10)]
    assert tracker.outage_started_at is None and tracker.failure is None


def test_the_change_to_healthy_says_when_the_outage_began() -> None:
    tracker = new_tracker(T0)
    for seconds in (0, 5):
        tracker = observe(tracker, F.NOT_LOGGED_IN, T0 + timedelta(seconds=seconds)).tracker
    assert tracker.state is TerminalState.DOWN and tracker.failure is F.NOT_LOGGED_IN
    assert observe(tracker, F.HEALTHY, T0 + timedelta(seconds=10)).change is not None  # down → degraded
    tracker = observe(tracker, F.HEALTHY, T0 + timedelta(seconds=10)).tracker
    recovered = observe(tracker, F.HEALTHY, T0 + timedelta(seconds=15))
    assert recovered.change is not None and recovered.change.after is TerminalState.HEALTHY
    assert recovered.change.outage_started_at == T0  # time to recover: 15 s


def test_a_blip_is_degraded_without_an_alert() -> None:
    _tracker, states, alerts = run([(0, F.HEALTHY), (5, F.TICKS_STALE), (10, F.HEALTHY)])
    assert [state for _at, state in states] == [TerminalState.HEALTHY, TerminalState.DEGRADED, TerminalState.HEALTHY]
    assert alerts == []


def test_a_flapping_terminal_raises_one_alert() -> None:
    # Down for two probes, healthy for two, for 20 minutes: one alert, not one per flap.
    probes = []
    for cycle in range(60):
        base = cycle * 20
        probes += [(base, F.IPC_TIMEOUT), (base + 5, F.IPC_TIMEOUT), (base + 10, F.HEALTHY), (base + 15, F.HEALTHY)]
    _tracker, states, alerts = run(probes)
    assert sum(1 for _at, state in states if state is TerminalState.HEALTHY) == 60  # it really came back each time
    assert sum(1 for _at, state in states if state is TerminalState.DOWN) == 60
    assert alerts == [T0 + timedelta(seconds=5)]


def test_it_alerts_again_after_a_long_healthy_spell_or_a_quiet_period() -> None:
    policy = StatePolicy(rearm_after=timedelta(seconds=120), quiet_period=timedelta(minutes=30))
    down = [(0, F.IPC_TIMEOUT), (5, F.IPC_TIMEOUT)]
    healthy_long = [(10 + 5 * n, F.HEALTHY) for n in range(30)]  # 10 s … 155 s: healthy 145 s
    down_again = [(160, F.BRIDGE_DOWN), (165, F.BRIDGE_DOWN)]
    _tracker, _states, alerts = run(down + healthy_long + down_again, policy)
    assert alerts == [T0 + timedelta(seconds=5), T0 + timedelta(seconds=165)]
    # A short healthy spell, but 30 minutes since the last alert: news again.
    late = [(1800, F.HEALTHY), (1805, F.HEALTHY), (1810, F.IPC_TIMEOUT), (1815, F.IPC_TIMEOUT)]
    _tracker, _states, alerts = run([*down, (10, F.HEALTHY), (15, F.HEALTHY), *late], policy)
    assert alerts == [T0 + timedelta(seconds=5), T0 + timedelta(seconds=1815)]


def test_maintenance_holds_the_state_and_raises_nothing() -> None:
    tracker = observe(new_tracker(T0), F.HEALTHY, T0).tracker
    step = enter_maintenance(tracker, T0 + timedelta(seconds=1))
    assert step.change is not None and step.change.after is TerminalState.MAINTENANCE
    tracker = step.tracker
    for seconds in range(5, 300, 5):  # the operator restarts the terminal: failing probes meanwhile
        step = observe(tracker, F.NOT_RESPONDING, T0 + timedelta(seconds=seconds))
        tracker = step.tracker
        assert tracker.state is TerminalState.MAINTENANCE and not step.raise_alert and step.change is None
    assert blocks_opening_orders(tracker.state)
    # Taken out while still failing: down, and alerted (the operator is done; a failure now is news).
    out = leave_maintenance(tracker, T0 + timedelta(seconds=300))
    assert out.tracker.state is TerminalState.DOWN and out.raise_alert
    assert out.change is not None and out.change.before is TerminalState.MAINTENANCE
    # Taken out after healthy probes: healthy at once, no alert.
    tracker = enter_maintenance(observe(new_tracker(T0), F.HEALTHY, T0).tracker, T0).tracker
    tracker = observe(tracker, F.IPC_TIMEOUT, T0 + timedelta(seconds=5)).tracker
    tracker = observe(tracker, F.HEALTHY, T0 + timedelta(seconds=10)).tracker
    out = leave_maintenance(tracker, T0 + timedelta(seconds=11))
    assert out.tracker.state is TerminalState.HEALTHY and not out.raise_alert
    assert not blocks_opening_orders(out.tracker.state)


def test_a_terminal_not_probed_yet_takes_no_opening_orders() -> None:
    assert new_tracker(T0).state is TerminalState.DEGRADED and blocks_opening_orders(TerminalState.DEGRADED)
    assert blocks_opening_orders(TerminalState.DOWN) and not blocks_opening_orders(TerminalState.HEALTHY)


FAILURES = [failure for failure in FailureClass if failure is not F.HEALTHY]
probe_histories = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=400),  # seconds since the previous probe
        st.one_of(st.just(F.HEALTHY), st.sampled_from(FAILURES)),
    ),
    min_size=1,
    max_size=300,
)
state_policies = st.builds(
    StatePolicy,
    down_after_failures=st.integers(1, 4),
    recover_after_successes=st.integers(1, 4),
    rearm_after=st.integers(10, 600).map(lambda s: timedelta(seconds=s)),
    quiet_period=st.integers(60, 7200).map(lambda s: timedelta(seconds=s)),
)


@settings(max_examples=300, deadline=None)
@given(history=probe_histories, policy=state_policies)
def test_alerts_never_outnumber_distinct_outages(history: list[tuple[int, FailureClass]], policy: StatePolicy) -> None:
    probes, seconds = [], 0
    for gap, failure in history:
        seconds += gap
        probes.append((seconds, failure))
    _tracker, states, alerts = run(probes, policy)
    entries_into_down = sum(
        1
        for index, (_at, state) in enumerate(states)
        if state is TerminalState.DOWN and (index == 0 or states[index - 1][1] is not TerminalState.DOWN)
    )
    # At most one alert each time the terminal goes down…
    assert len(alerts) <= entries_into_down
    # …and a second alert only for a distinct outage: one after a healthy spell of `rearm_after` without a break,
    # or one a quiet period after the alert before.
    times = [T0 + timedelta(seconds=s) for s, _failure in probes]
    for previous, current in pairwise(alerts):
        if current - previous >= policy.quiet_period:
            continue
        between = [(at, f) for at, f in zip(times, (f for _s, f in probes), strict=True) if previous < at < current]
        longest, run_start, last_at = timedelta(0), None, None
        for at, failure in between:
            if failure is F.HEALTHY:
                run_start = run_start or at
                longest = max(longest, at - run_start)
            else:
                run_start = None
            last_at = at
        assert longest >= policy.rearm_after, (previous, current, last_at)
    # The first outage is never silent.
    if entries_into_down:
        assert alerts


# --- recovery ------------------------------------------------------------------------------------------------
def plan(
    history: list[RecoveryAttempt],
    *,
    now: datetime,
    failure: FailureClass = F.IPC_TIMEOUT,
    outage: datetime = T0,
    in_flight: bool = False,
    policy: RecoveryPolicy | None = None,
) -> tuple[RecoveryStage | None, datetime | None, PlanReason]:
    result = plan_recovery(
        now=now,
        failure=failure,
        outage_started_at=outage,
        history=history,
        order_in_flight=in_flight,
        policy=policy,
    )
    return result.action, result.at, result.reason


def test_recovery_climbs_the_ladder_with_backoff() -> None:
    policy = RecoveryPolicy(attempts_per_stage=2, first_delay=timedelta(seconds=5), restart_settle=timedelta(0))
    history: list[RecoveryAttempt] = []
    now = T0
    seen = []
    for _ in range(5):
        action, at, reason = plan(history, now=now, failure=F.NOT_LOGGED_IN, policy=policy)
        if reason is PlanReason.BACKOFF:
            assert at is not None and at > now
            now = at
            action, at, reason = plan(history, now=now, failure=F.NOT_LOGGED_IN, policy=policy)
        assert reason is PlanReason.DUE and at == now and action is not None
        history.append(RecoveryAttempt(action, now))
        seen.append((action, (now - T0).total_seconds()))
    assert seen == [
        (RecoveryStage.REINITIALISE, 0),
        (RecoveryStage.REINITIALISE, 5),  # waits 5 s …
        (RecoveryStage.RELOGIN, 15),  # … then 10 s …
        (RecoveryStage.RELOGIN, 35),  # … then 20 s
        (RecoveryStage.RESTART, 75),
    ]


def test_recovery_waits_for_an_order_in_flight() -> None:
    action, at, reason = plan([], now=T0, in_flight=True)
    assert (action, at, reason) == (RecoveryStage.REINITIALISE, None, PlanReason.ORDER_IN_FLIGHT)
    # Once it has settled, the same step is due.
    assert plan([], now=T0 + timedelta(seconds=3)) == (
        RecoveryStage.REINITIALISE,
        T0 + timedelta(seconds=3),
        PlanReason.DUE,
    )


def test_a_restart_is_given_time_to_start_before_anything_else() -> None:
    policy = RecoveryPolicy(attempts_per_stage=1, restart_settle=timedelta(seconds=90))
    history = [
        RecoveryAttempt(RecoveryStage.REINITIALISE, T0),
        RecoveryAttempt(RecoveryStage.RESTART, T0 + timedelta(seconds=5)),
    ]
    action, at, reason = plan(history, now=T0 + timedelta(seconds=6), policy=policy)
    assert action is RecoveryStage.RESTART and reason is PlanReason.BACKOFF and at == T0 + timedelta(seconds=95)


def test_the_hourly_restart_budget_holds_a_restart_back() -> None:
    policy = RecoveryPolicy(attempts_per_stage=1, max_restarts_per_hour=2, restart_settle=timedelta(seconds=30))
    earlier = [RecoveryAttempt(RecoveryStage.RESTART, T0 - timedelta(minutes=m)) for m in (50, 20)]
    outage = T0
    history = [*earlier, RecoveryAttempt(RecoveryStage.REINITIALISE, outage)]
    action, at, reason = plan(history, now=T0 + timedelta(minutes=1), outage=outage, policy=policy)
    # Two restarts in the last hour: the next waits until the one 50 minutes ago is an hour old.
    assert action is RecoveryStage.RESTART and reason is PlanReason.RESTART_BUDGET
    assert at == T0 + timedelta(minutes=10)
    assert restart_allowed_at(history, T0 + timedelta(minutes=10), policy) == T0 + timedelta(minutes=10)


def test_autotrading_off_and_maintenance_and_health_need_no_automatic_step() -> None:
    assert plan([], now=T0, failure=F.AUTOTRADING_OFF)[2] is PlanReason.NEEDS_OPERATOR
    assert plan([], now=T0, failure=F.HEALTHY)[2] is PlanReason.NOT_NEEDED
    result = plan_recovery(
        now=T0, failure=F.IPC_TIMEOUT, outage_started_at=T0, history=[], order_in_flight=False, maintenance=True
    )
    assert result.reason is PlanReason.NOT_NEEDED and result.action is None
    # A bridge that is down is reconnected to, never "fixed" by restarting the terminal.
    bridge_history = [RecoveryAttempt(RecoveryStage.REINITIALISE, T0 + timedelta(seconds=s)) for s in range(0, 50, 10)]
    assert plan(bridge_history, now=T0 + timedelta(hours=1), failure=F.BRIDGE_DOWN)[0] is RecoveryStage.REINITIALISE
    # Restarts switched off: the ladder ends with an operator.
    no_restarts = RecoveryPolicy(attempts_per_stage=1, max_restarts_per_hour=0)
    history = [RecoveryAttempt(RecoveryStage.REINITIALISE, T0)]
    assert plan(history, now=T0 + timedelta(hours=1), policy=no_restarts)[2] is PlanReason.NEEDS_OPERATOR


def test_a_new_failure_class_in_the_same_outage_continues_from_what_was_tried() -> None:
    policy = RecoveryPolicy(attempts_per_stage=1)
    # An IPC timeout was met with a re-initialisation and a restart; now the terminal is up but logged out.
    history = [
        RecoveryAttempt(RecoveryStage.REINITIALISE, T0),
        RecoveryAttempt(RecoveryStage.RESTART, T0 + timedelta(seconds=5)),
    ]
    action, _at, _reason = plan(history, now=T0 + timedelta(minutes=5), failure=F.NOT_LOGGED_IN, policy=policy)
    assert action is RecoveryStage.RELOGIN


# Spells of probes: (seconds between probes, the class they find, an order in flight on the terminal, how many).
fault_histories = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=300),
        st.sampled_from(list(FailureClass)),
        st.booleans(),
        st.integers(min_value=1, max_value=60),
    ),
    min_size=1,
    max_size=40,
)
recovery_policies = st.builds(
    RecoveryPolicy,
    attempts_per_stage=st.integers(1, 3),
    first_delay=st.integers(1, 60).map(lambda s: timedelta(seconds=s)),
    max_delay=st.just(timedelta(minutes=5)),
    restart_settle=st.integers(0, 180).map(lambda s: timedelta(seconds=s)),
    max_restarts_per_hour=st.integers(1, 5),
)


@settings(max_examples=300, deadline=None)
@given(history=fault_histories, policy=recovery_policies)
def test_restarts_never_exceed_the_budget_in_any_rolling_hour(
    history: list[tuple[int, FailureClass, bool, int]], policy: RecoveryPolicy
) -> None:
    """Run the planner as the health job would (acting on each due step) over a generated fault history."""
    done: list[RecoveryAttempt] = []
    now, outage_started_at = T0, None
    probes = [(gap, failure, in_flight) for gap, failure, in_flight, count in history for _ in range(count)]
    for gap, failure, in_flight in probes:
        now += timedelta(seconds=gap)
        if failure is F.HEALTHY:
            outage_started_at = None
            continue
        outage_started_at = outage_started_at or now
        result = plan_recovery(
            now=now,
            failure=failure,
            outage_started_at=outage_started_at,
            history=done,
            order_in_flight=in_flight,
            policy=policy,
        )
        if result.reason is PlanReason.DUE:
            assert not in_flight  # never while an order is in flight
            assert result.action is not None and result.at == now
            previous = [a for a in done if a.at >= outage_started_at]
            if previous:
                assert now - previous[-1].at >= policy.first_delay  # backoff between attempts
            done.append(RecoveryAttempt(result.action, now))
        else:
            assert result.reason is not PlanReason.ORDER_IN_FLIGHT or in_flight
    restarts = [a.at for a in done if a.stage is RecoveryStage.RESTART]
    for end in restarts:  # the busiest rolling hour ends at a restart
        assert sum(1 for at in restarts if end - HOUR < at <= end) <= policy.max_restarts_per_hour
