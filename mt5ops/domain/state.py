"""A terminal's state from its probes, with the alert debounced: a flapping terminal raises one
alert, not one per flap.

States:
- `healthy` — the latest probe was healthy (after an outage that went `down`: `recover_after_successes` healthy
  probes in a row).
- `degraded` — failing, not yet confirmed (fewer than `down_after_failures` failing probes in a row); or recovering
  from `down` (healthy probes, not yet enough); or not probed yet. Opening orders wait, as for `down`.
- `down` — `down_after_failures` failing probes in a row; once an outage has been down, any failing probe in it
  keeps it down.
- `maintenance` — set by an operator: probes are still counted, the state does not move and no alert is raised.

The alert: raised on entering `down` when it is *armed*. It is armed at first, disarmed by raising it, and armed
again once the terminal has been healthy for `rearm_after` without a break. A terminal that fails again before
that raises no new alert — unless `quiet_period` has passed since the last alert (a terminal that keeps flapping
for hours is still news now and then). Leaving maintenance arms it (the operator is done: a failure is news).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from .classify import FailureClass


class TerminalState(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    DOWN = "down"
    MAINTENANCE = "maintenance"


@dataclass(frozen=True, slots=True)
class StatePolicy:
    down_after_failures: int = 2  # failing probes in a row that make a terminal down (one probe every 5 s: 10 s)
    recover_after_successes: int = 2  # healthy probes in a row that end an outage that went down
    rearm_after: timedelta = timedelta(seconds=120)  # healthy this long without a break re-arms the alert
    quiet_period: timedelta = timedelta(minutes=30)  # this long after an alert, a new outage alerts even unarmed

    def __post_init__(self) -> None:
        if self.down_after_failures < 1 or self.recover_after_successes < 1:
            raise ValueError("down_after_failures and recover_after_successes must be at least 1")


@dataclass(frozen=True, slots=True)
class TerminalTracker:
    """What the state machine carries from one probe to the next (store it with the terminal)."""

    state: TerminalState
    since: datetime  # when the terminal entered `state`
    failure: FailureClass | None = None  # the latest failing probe's class in the current outage (None: none)
    failures: int = 0  # failing probes in a row
    successes: int = 0  # healthy probes in a row
    healthy_since: datetime | None = None  # the first of the current run of healthy probes
    outage_started_at: datetime | None = None  # the first failing probe of the current outage
    outage_went_down: bool = False  # the current outage reached `down` (so recovering needs several successes)
    alert_armed: bool = True
    last_alert_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StateChange:
    at: datetime
    before: TerminalState
    after: TerminalState
    failure: FailureClass | None  # the failure that moved it (None on recovery and maintenance)
    outage_started_at: datetime | None  # on recovery: when the outage began (time to recover = at - this)


@dataclass(frozen=True, slots=True)
class Step:
    tracker: TerminalTracker
    change: StateChange | None = None
    raise_alert: bool = False  # raise the terminal's alert now (at most once per outage, see the module docstring)


def new_tracker(at: datetime) -> TerminalTracker:
    """A terminal not probed yet: degraded (nothing says it is ready) with the alert armed."""
    return TerminalTracker(state=TerminalState.DEGRADED, since=at)


def _counted(tracker: TerminalTracker, failure: FailureClass, at: datetime) -> TerminalTracker:
    """The tracker with one more probe counted (the state itself unchanged)."""
    if failure is FailureClass.HEALTHY:
        return replace(
            tracker,
            failures=0,
            successes=tracker.successes + 1,
            healthy_since=tracker.healthy_since or at,
        )
    return replace(
        tracker,
        failure=failure,
        failures=tracker.failures + 1,
        successes=0,
        healthy_since=None,
        outage_started_at=tracker.outage_started_at or at,
    )


def _target(tracker: TerminalTracker, policy: StatePolicy) -> TerminalState:
    """The state the counters call for (outside maintenance)."""
    if tracker.failures:
        if tracker.outage_went_down or tracker.failures >= policy.down_after_failures:
            return TerminalState.DOWN
        return TerminalState.DEGRADED
    if tracker.successes:
        if not tracker.outage_went_down or tracker.successes >= policy.recover_after_successes:
            return TerminalState.HEALTHY
        return TerminalState.DEGRADED
    return TerminalState.DEGRADED  # never probed


def _move(tracker: TerminalTracker, target: TerminalState, at: datetime, policy: StatePolicy) -> Step:
    """Enter `target` (from a state other than maintenance), raising the alert on entering down when due."""
    before = tracker.state
    raise_alert = False
    if target is TerminalState.DOWN:
        if before is not TerminalState.DOWN:
            quiet = tracker.last_alert_at is None or at - tracker.last_alert_at >= policy.quiet_period
            raise_alert = tracker.alert_armed or quiet
            if raise_alert:
                tracker = replace(tracker, alert_armed=False, last_alert_at=at)
        tracker = replace(tracker, outage_went_down=True)
    outage_started_at = tracker.outage_started_at
    if target is TerminalState.HEALTHY:
        tracker = replace(tracker, failure=None, outage_started_at=None, outage_went_down=False)
        healthy_since = tracker.healthy_since or at
        if not tracker.alert_armed and at - healthy_since >= policy.rearm_after:
            tracker = replace(tracker, alert_armed=True)
    if target is before:
        return Step(tracker, None, raise_alert)
    tracker = replace(tracker, state=target, since=at)
    failure = tracker.failure if target in (TerminalState.DOWN, TerminalState.DEGRADED) else None
    change = StateChange(
        at=at,
        before=before,
        after=target,
        failure=failure if tracker.failures else None,
        outage_started_at=outage_started_at if target is TerminalState.HEALTHY else tracker.outage_started_at,
    )
    return Step(tracker, change, raise_alert)


def observe(tracker: TerminalTracker, failure: FailureClass, at: datetime, policy: StatePolicy | None = None) -> Step:
    """Count one probe (its `classify(...).failure`, taken at `at`) and move the state. Probes must come in time
    order."""
    policy = policy or StatePolicy()
    counted = _counted(tracker, failure, at)
    if tracker.state is TerminalState.MAINTENANCE:
        return Step(counted)
    return _move(counted, _target(counted, policy), at, policy)


def enter_maintenance(tracker: TerminalTracker, at: datetime) -> Step:
    """An operator put the terminal in maintenance: no alerts, opening orders wait, probes still counted."""
    if tracker.state is TerminalState.MAINTENANCE:
        return Step(tracker)
    before = tracker.state
    tracker = replace(tracker, state=TerminalState.MAINTENANCE, since=at)
    return Step(tracker, StateChange(at, before, TerminalState.MAINTENANCE, None, tracker.outage_started_at))


def leave_maintenance(tracker: TerminalTracker, at: datetime, policy: StatePolicy | None = None) -> Step:
    """An operator took the terminal out of maintenance: its state follows the probes counted meanwhile, the alert
    armed (a terminal that is down as maintenance ends raises it)."""
    policy = policy or StatePolicy()
    if tracker.state is not TerminalState.MAINTENANCE:
        return Step(tracker)
    # Out of maintenance as a terminal that has not been down: the counters decide afresh.
    fresh = replace(tracker, state=TerminalState.DEGRADED, outage_went_down=False, alert_armed=True)
    step = _move(fresh, _target(fresh, policy), at, policy)
    after = step.tracker.state
    change = StateChange(
        at=at,
        before=TerminalState.MAINTENANCE,
        after=after,
        failure=step.tracker.failure if after is not TerminalState.HEALTHY else None,
        outage_started_at=step.tracker.outage_started_at,
    )
    return Step(replace(step.tracker, since=at), change, step.raise_alert)


def blocks_opening_orders(state: TerminalState) -> bool:
    """Only a healthy terminal takes opening orders; reducing orders pass in every state."""
    return state is not TerminalState.HEALTHY
