"""Staged recovery of a failing terminal: which step next, and when.

Stages, mildest first: `reinitialise` (a new bridge connection and `initialize()`), `relogin` (`login()` with the
account's stored credentials), `restart_via_agent` (the supervisor agent on the host restarts `terminal64.exe`).
Each failure class has its ladder (`DEFAULT_LADDERS`; none for AutoTrading off, which needs an operator). Within one
outage each stage is tried `attempts_per_stage` times before the next; the last stage repeats.

Between two attempts of an outage the wait doubles from `first_delay` up to `max_delay`; after a restart it is at
least `restart_settle` (the terminal's start-up). A restart is never planned when it would make more than
`max_restarts_per_hour` restarts in any rolling hour (the window (t − 1 h, t]): it waits until the oldest restart
in the window leaves it. Nothing is done while an order on the terminal is in flight (sent, or being looked up):
the plan says what waits, and the caller plans again once the order has settled.

`history` is every recovery action on the terminal, automatic or manual, at least over the last hour and the
current outage; the current outage's attempts are those at or after `outage_started_at`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from .classify import FailureClass

HOUR = timedelta(hours=1)


class RecoveryStage(StrEnum):
    REINITIALISE = "reinitialise"
    RELOGIN = "relogin"
    RESTART = "restart_via_agent"


DEFAULT_LADDERS: Mapping[FailureClass, tuple[RecoveryStage, ...]] = MappingProxyType(
    {
        # The bridge is a service of its own on the host (restarted by its service manager): reconnect until it is
        # back; restarting the terminal would not bring it.
        FailureClass.BRIDGE_DOWN: (RecoveryStage.REINITIALISE,),
        FailureClass.NOT_RESPONDING: (RecoveryStage.REINITIALISE, RecoveryStage.RESTART),
        FailureClass.IPC_TIMEOUT: (RecoveryStage.REINITIALISE, RecoveryStage.RESTART),
        FailureClass.NOT_LOGGED_IN: (RecoveryStage.REINITIALISE, RecoveryStage.RELOGIN, RecoveryStage.RESTART),
        FailureClass.WRONG_ACCOUNT: (RecoveryStage.REINITIALISE, RecoveryStage.RELOGIN, RecoveryStage.RESTART),
        FailureClass.TICKS_STALE: (RecoveryStage.REINITIALISE, RecoveryStage.RELOGIN, RecoveryStage.RESTART),
        # Algo Trading is a button in the terminal: an operator switches it on (or a restart does, with a start-up
        # configuration that enables it: then give this class a ladder ending in a restart).
        FailureClass.AUTOTRADING_OFF: (),
    }
)


@dataclass(frozen=True, slots=True)
class RecoveryPolicy:
    attempts_per_stage: int = 2
    first_delay: timedelta = timedelta(seconds=5)
    max_delay: timedelta = timedelta(minutes=5)
    restart_settle: timedelta = timedelta(seconds=90)
    max_restarts_per_hour: int = 3
    ladders: Mapping[FailureClass, tuple[RecoveryStage, ...]] = field(default_factory=lambda: DEFAULT_LADDERS)

    def __post_init__(self) -> None:
        if self.attempts_per_stage < 1:
            raise ValueError("attempts_per_stage must be at least 1")
        if self.max_restarts_per_hour < 0:
            raise ValueError("max_restarts_per_hour cannot be negative")
        if self.first_delay <= timedelta(0) or self.max_delay < self.first_delay:
            raise ValueError("delays must be positive, max_delay at least first_delay")


@dataclass(frozen=True, slots=True)
class RecoveryAttempt:
    stage: RecoveryStage
    at: datetime


class PlanReason(StrEnum):
    DUE = "due"  # do `action` now
    BACKOFF = "backoff"  # do `action` at `at` (the wait after the previous attempt)
    RESTART_BUDGET = "restart_budget"  # the hourly restart budget is spent: `at` is when it allows one
    ORDER_IN_FLIGHT = "order_in_flight"  # `action` is due but waits for the terminal's order in flight
    NEEDS_OPERATOR = "needs_operator"  # no automatic stage for this failure
    NOT_NEEDED = "not_needed"  # healthy, or in maintenance


@dataclass(frozen=True, slots=True)
class RecoveryPlan:
    action: RecoveryStage | None
    at: datetime | None  # when to act (≥ now); None when there is nothing to do or it waits for an order
    reason: PlanReason


def restarts_in_window(history: Sequence[RecoveryAttempt], at: datetime) -> list[datetime]:
    """The restarts that count against the budget at `at`: those in (at − 1 h, at], oldest first."""
    return sorted(a.at for a in history if a.stage is RecoveryStage.RESTART and at - HOUR < a.at <= at)


def restart_allowed_at(history: Sequence[RecoveryAttempt], earliest: datetime, policy: RecoveryPolicy) -> datetime:
    """The first instant from `earliest` at which one more restart keeps every rolling hour within the budget
    (`history` holds nothing after `earliest`)."""
    window = restarts_in_window(history, earliest)
    excess = len(window) - policy.max_restarts_per_hour + 1
    if excess <= 0:
        return earliest
    if policy.max_restarts_per_hour == 0:
        raise ValueError("no restart is ever allowed with max_restarts_per_hour 0")
    # Once the `excess` oldest restarts of the window have left it (exactly an hour after each), one more fits.
    return max(earliest, window[excess - 1] + HOUR)


def _next_stage(
    ladder: tuple[RecoveryStage, ...], attempts: Sequence[RecoveryAttempt], per_stage: int
) -> RecoveryStage:
    """The first stage of the ladder not yet tried `per_stage` times in this outage; the last stage repeats."""
    for stage in ladder[:-1]:
        if sum(1 for attempt in attempts if attempt.stage is stage) < per_stage:
            return stage
    return ladder[-1]


def plan_recovery(
    *,
    now: datetime,
    failure: FailureClass,
    outage_started_at: datetime,
    history: Sequence[RecoveryAttempt],
    order_in_flight: bool,
    maintenance: bool = False,
    policy: RecoveryPolicy | None = None,
) -> RecoveryPlan:
    """The next recovery step for a terminal failing with `failure` since `outage_started_at` (the state machine's
    `TerminalTracker.outage_started_at`), given what was done (`history`, none of it after `now`)."""
    policy = policy or RecoveryPolicy()
    if maintenance or failure is FailureClass.HEALTHY:
        return RecoveryPlan(None, None, PlanReason.NOT_NEEDED)
    ladder = tuple(policy.ladders.get(failure, ()))
    if not ladder:
        return RecoveryPlan(None, None, PlanReason.NEEDS_OPERATOR)
    attempts = sorted((a for a in history if a.at >= outage_started_at), key=lambda attempt: attempt.at)
    stage = _next_stage(ladder, attempts, policy.attempts_per_stage)
    if stage is RecoveryStage.RESTART and policy.max_restarts_per_hour == 0:
        return RecoveryPlan(None, None, PlanReason.NEEDS_OPERATOR)  # restarts are off: the ladder ends here
    due = now
    reason = PlanReason.DUE
    if attempts:
        last = attempts[-1]
        doublings = min(len(attempts) - 1, 30)  # beyond 2^30 × first_delay every delay is max_delay anyway
        delay = min(policy.max_delay, policy.first_delay * (2**doublings))
        if last.stage is RecoveryStage.RESTART:
            delay = max(delay, policy.restart_settle)
        if last.at + delay > now:
            due, reason = last.at + delay, PlanReason.BACKOFF
    if stage is RecoveryStage.RESTART:
        allowed = restart_allowed_at(history, due, policy)
        if allowed > due:
            due, reason = allowed, PlanReason.RESTART_BUDGET
    if reason is PlanReason.DUE and order_in_flight:
        return RecoveryPlan(stage, None, PlanReason.ORDER_IN_FLIGHT)
    return RecoveryPlan(stage, due, reason)
