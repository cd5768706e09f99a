"""MT5 operations' writes: staged recovery and manual intervention.

Recovery follows `mt5ops.domain.recovery.plan_recovery`: re-initialise the connection → log in again with the
account's stored credentials → restart terminal64.exe through the supervisor agent on its host, with backoff, an
hourly restart budget, and never while an order on one of the terminal's accounts is in flight (sent and not yet
answered, or being looked up: `SUBMITTING`/`UNKNOWN`) — the step waits for the order to settle. Every step, and
every wait that changes what recovery waits for, is in the health log; a manual action is also audited.

`mt5ops` sits below trading's order path: it reads orders through `trading.models` (the records layer), never
`trading.execution`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.choices import AuditAction
from accounts.http import AuditContext
from accounts.models import Tenant, User
from quantarb import clock
from trading.venues.errors import VenueError
from trading.venues.mt5.gateway import Mt5Gateway, transport_for

from .agent_client import AgentClient, AgentError, AgentKey
from .choices import ActionChoice, EventKind, Outcome
from .domain.classify import Diagnosis, FailureClass
from .domain.recovery import HOUR, PlanReason, RecoveryAttempt, RecoveryPlan, RecoveryPolicy, RecoveryStage
from .domain.recovery import plan_recovery as plan
from .domain.state import TerminalState, enter_maintenance, leave_maintenance
from .health import (
    STATE_POLICY,
    apply_step,
    evaluate_alert,
    expected_credentials,
    log_step,
    status_of,
    tracker_of,
)
from .models import TerminalEvent, TerminalInstance, TerminalStatus
from .terminal_rules import TerminalValues

log = logging.getLogger(__name__)

RECOVERY_POLICY = RecoveryPolicy()
# A recovery step's own timeouts: longer than a probe's (a terminal that is starting answers slowly), short enough
# not to hold the check job.
# (rpyc waits up to twice the request timeout: a step's call without an answer gives up within ~8 s.)
STEP_REQUEST_TIMEOUT_S = 4.0
STEP_CONNECT_TIMEOUT_S = 2.0
STEP_INITIALIZE_TIMEOUT_MS = 3_500
IN_FLIGHT_STATUSES = ("submitting", "unknown")
STAGE_OF_ACTION = {
    ActionChoice.REINITIALISE: RecoveryStage.REINITIALISE,
    ActionChoice.RELOGIN: RecoveryStage.RELOGIN,
    ActionChoice.RESTART: RecoveryStage.RESTART,
}


@dataclass(frozen=True)
class ActionResult:
    action: str
    outcome: str
    detail: str
    event: TerminalEvent


# --- reads ----------------------------------------------------------------------------------------------------
def order_in_flight(terminal: TerminalInstance | int) -> bool:
    """An order on one of the terminal's accounts was sent and not answered, or is being looked up."""

    order_model = apps.get_model("trading", "Order")
    terminal_id = terminal if isinstance(terminal, int) else terminal.pk
    return bool(order_model.objects.filter(account__terminal_id=terminal_id, status__in=IN_FLIGHT_STATUSES).exists())


def recovery_history(terminal: TerminalInstance, since: Any) -> list[RecoveryAttempt]:
    """Every recovery step on the terminal since `since` (automatic or manual), oldest first."""
    rows = TerminalEvent.objects.filter(
        terminal=terminal, kind=EventKind.ACTION, action__in=[stage.value for stage in RecoveryStage], at__gte=since
    ).order_by("at", "pk")
    return [RecoveryAttempt(RecoveryStage(row.action), row.at) for row in rows]


def restarts_last_hour(terminal: TerminalInstance) -> int:
    now = clock.now()
    return TerminalEvent.objects.filter(
        terminal=terminal,
        kind=EventKind.ACTION,
        action=ActionChoice.RESTART,
        outcome__in=(Outcome.DONE, Outcome.FAILED),
        at__gt=now - HOUR,
    ).count()


# --- the steps --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PreparedStep:
    """A recovery step with what it needs read beforehand: `perform` does network I/O only (no database), so the
    check job can take several terminals' steps in parallel threads."""

    terminal: TerminalInstance
    action: ActionChoice
    credentials: dict[str, Any] | None
    agent: AgentClient | None
    reason: str = ""
    actor: Any = None


def _step_gateway(terminal: TerminalInstance, credentials: dict[str, Any] | None = None) -> Mt5Gateway:
    transport = transport_for(
        str(terminal.backend),
        host=str(terminal.host or ""),
        port=terminal.bridge_port,
        terminal_path=str(terminal.terminal_path or ""),
        key=f"terminal:{terminal.pk}",
        timeout_s=STEP_REQUEST_TIMEOUT_S,
        connect_timeout_s=STEP_CONNECT_TIMEOUT_S,
    )
    credentials = credentials or {}
    login = credentials.get("login")
    return Mt5Gateway(
        transport,
        login=int(login) if login else None,
        password=credentials.get("password"),
        server=credentials.get("server"),
        terminal_path=str(terminal.terminal_path or "") if terminal.backend != "sim" else "",
        timeout_ms=STEP_INITIALIZE_TIMEOUT_MS,
    )


def _reinitialise(step: PreparedStep) -> str:
    """A new bridge connection, the package's connection to the terminal shut down and initialised again."""
    gateway = _step_gateway(step.terminal)
    try:
        try:
            gateway.shutdown()
        except VenueError as exc:
            if exc.code is None:
                raise  # no answer at all: an initialize would wait as long again
        status = gateway.connect()
    finally:
        gateway.close()
    return _("initialised (build %(build)s)") % {"build": status.build}


def _relogin(step: PreparedStep) -> str:
    """Log the terminal in again with its account's stored credentials."""
    if not step.credentials:
        raise _Skipped(_("no stored MT5 credentials for this terminal's accounts"))
    gateway = _step_gateway(step.terminal, step.credentials)
    try:
        gateway.connect()
        gateway.login()
    finally:
        gateway.close()
    return _("logged in to %(login)s") % {"login": step.credentials.get("login")}


def _restart(step: PreparedStep) -> str:
    """Restart terminal64.exe through the host's supervisor agent."""
    if step.agent is None:
        raise _Skipped(_("no supervisor agent is configured for this terminal"))
    process = step.agent.restart().terminal
    return _("restarted by the agent (process %(pid)s, %(state)s)") % {"pid": process.pid, "state": process.state}


def agent_for(terminal: TerminalInstance) -> AgentClient | None:
    key = (terminal.agent_key or {}).get("line")
    if not terminal.agent_host or not terminal.agent_port or not key:
        return None
    try:
        parsed = AgentKey.parse(str(key))
    except ValueError:
        return None
    return AgentClient(terminal.agent_host, int(terminal.agent_port), parsed)


class _Skipped(Exception):
    """The step cannot be taken on this terminal (nothing was tried)."""


STEPS = {
    ActionChoice.REINITIALISE: _reinitialise,
    ActionChoice.RELOGIN: _relogin,
    ActionChoice.RESTART: _restart,
}


def prepare(terminal: TerminalInstance, action: ActionChoice, *, reason: str = "", actor: Any = None) -> PreparedStep:
    return PreparedStep(
        terminal=terminal,
        action=action,
        credentials=expected_credentials(terminal) if action == ActionChoice.RELOGIN else None,
        agent=agent_for(terminal) if action == ActionChoice.RESTART else None,
        reason=reason,
        actor=actor,
    )


@dataclass(frozen=True)
class StepOutcome:
    step: PreparedStep
    at: Any
    outcome: str
    detail: str


def perform(step: PreparedStep) -> StepOutcome:
    """Take the step now (network only)."""
    at = clock.now()
    try:
        detail = STEPS[step.action](step)
        outcome = Outcome.DONE
    except _Skipped as exc:
        outcome, detail = Outcome.SKIPPED, str(exc)
    except (VenueError, AgentError, ValueError) as exc:
        outcome, detail = Outcome.FAILED, str(exc)
    if step.reason:
        detail = f"{step.reason} — {detail}"
    return StepOutcome(step, at, outcome.value, detail)


def log_outcome(done: StepOutcome) -> TerminalEvent:
    step = done.step
    event = TerminalEvent.objects.create(
        terminal=step.terminal,
        at=done.at,
        kind=EventKind.ACTION,
        action=step.action.value,
        outcome=done.outcome,
        automatic=step.actor is None,
        actor=step.actor,
        detail=done.detail[:500],
    )
    if step.actor is None:
        TerminalStatus.objects.filter(pk=step.terminal.pk).update(next_recovery="", next_recovery_at=None)
    log.info("MT5 terminal %s: %s %s (%s)", step.terminal.pk, step.action.value, done.outcome, done.detail)
    return event


def run_step(
    terminal: TerminalInstance, action: ActionChoice, *, actor: Any = None, reason: str = ""
) -> tuple[str, str, TerminalEvent]:
    """Take one recovery step now and log it: (outcome, detail, event)."""
    done = perform(prepare(terminal, action, reason=reason, actor=actor))
    return done.outcome, done.detail, log_outcome(done)


# --- automatic recovery ---------------------------------------------------------------------------------------------
def recovery_plan(terminal: TerminalInstance, status: TerminalStatus, failure: FailureClass) -> RecoveryPlan:
    now = clock.now()
    outage = status.outage_started_at or now
    since = min(outage, now - HOUR)
    return plan(
        now=now,
        failure=failure,
        outage_started_at=outage,
        history=recovery_history(terminal, since),
        order_in_flight=order_in_flight(terminal),
        maintenance=status.state == TerminalState.MAINTENANCE,
        policy=RECOVERY_POLICY,
    )


def due_step(terminal: TerminalInstance, diagnosis: Diagnosis) -> PreparedStep | None:
    """After a check: the recovery step due now, if any; notes in the health log what recovery waits for when
    that changes (an order in flight, the restart budget, an operator)."""
    status = status_of(terminal)
    if diagnosis.healthy or status.state == TerminalState.MAINTENANCE:
        if status.next_recovery:
            TerminalStatus.objects.filter(pk=status.pk).update(next_recovery="", next_recovery_at=None)
        return None
    current = recovery_plan(terminal, status, diagnosis.failure)
    if current.reason is PlanReason.DUE and current.action is not None:
        reason = _("automatic, %(failure)s") % {"failure": diagnosis.failure.value}
        return prepare(terminal, ActionChoice(current.action.value), reason=reason)
    waiting = f"{current.reason.value}:{current.action.value if current.action else ''}"
    if waiting != status.next_recovery:
        if current.reason in (PlanReason.ORDER_IN_FLIGHT, PlanReason.RESTART_BUDGET, PlanReason.NEEDS_OPERATOR):
            TerminalEvent.objects.create(
                terminal=terminal,
                at=clock.now(),
                kind=EventKind.WAIT,
                action=current.action.value if current.action else "",
                failure=diagnosis.failure.value,
                detail=_wait_text(current)[:500],
            )
        TerminalStatus.objects.filter(pk=status.pk).update(next_recovery=waiting, next_recovery_at=current.at)
    return None


def _wait_text(current: RecoveryPlan) -> str:
    if current.reason is PlanReason.ORDER_IN_FLIGHT:
        return _("recovery waits: an order on this terminal is in flight")
    if current.reason is PlanReason.RESTART_BUDGET:
        return _("recovery waits: the hourly restart budget is spent until %(at)s") % {
            "at": current.at.strftime("%H:%M:%S UTC") if current.at else "?"
        }
    return _("recovery needs an operator (no automatic step for this failure)")


# --- manual intervention --------------------------------------------------------------------------------------------
def terminal_action(
    *, terminal: TerminalInstance, action: str, actor: Any, context: AuditContext | None = None
) -> ActionResult:
    """An admin's action on a terminal (confirmed by the page or the API caller), logged and audited:
    reconnect, re-login, restart, maintenance on/off. A reconnect, re-login or restart never runs while an order on
    the terminal is in flight: it is queued (outcome `queued`, in the health log) and taken by the first check
    after the order has settled (`queued_step`); a later request replaces a queued one."""

    chosen = ActionChoice(action)
    if chosen in STEPS and order_in_flight(terminal):
        result = _queue(terminal, chosen, actor)
    elif chosen in (ActionChoice.MAINTENANCE_ON, ActionChoice.MAINTENANCE_OFF):
        result = _maintenance(terminal, on=chosen == ActionChoice.MAINTENANCE_ON, actor=actor)
    else:
        outcome, detail, event = run_step(terminal, chosen, actor=actor)
        result = ActionResult(chosen.value, outcome, detail, event)
    audit_record(
        tenant=terminal.tenant,
        actor=actor,
        action=AuditAction.TERMINAL_ACTION,
        obj=terminal,
        summary={"terminal": terminal.label, "action": chosen.value, "outcome": result.outcome},
        context=context,
    )
    if chosen in STEPS and result.outcome == Outcome.DONE:
        # See at once what the action did (the log shows the terminal healthy again, or not).
        from .health import check_terminal

        check_terminal(terminal, recover=False)
    return result


def _queue(terminal: TerminalInstance, action: ActionChoice, actor: Any) -> ActionResult:
    at = clock.now()
    with transaction.atomic():
        status = TerminalStatus.objects.select_for_update().get(pk=status_of(terminal).pk)
        replaced = status.queued_action
        status.queued_action, status.queued_by, status.queued_at = action.value, actor, at
        status.save(update_fields=["queued_action", "queued_by", "queued_at"])
        detail = _("waits for the order in flight on this terminal; runs at the first check after it has settled")
        if replaced and replaced != action.value:
            detail = _("%(detail)s (replaces the queued %(replaced)s)") % {
                "detail": detail,
                "replaced": ActionChoice(replaced).label,
            }
        event = TerminalEvent.objects.create(
            terminal=terminal,
            at=at,
            kind=EventKind.WAIT,
            action=action.value,
            outcome=Outcome.QUEUED,
            automatic=False,
            actor=actor,
            detail=str(detail)[:500],
        )
    return ActionResult(action.value, Outcome.QUEUED.value, event.detail, event)


def queued_step(terminal: TerminalInstance) -> PreparedStep | None:
    """The operator's queued action once no order on the terminal is in flight (taken off the queue: the caller
    performs and logs it); None while there is none or it still waits."""
    status = status_of(terminal)
    if not status.queued_action or order_in_flight(terminal):
        return None
    action, actor, queued_at = ActionChoice(status.queued_action), status.queued_by, status.queued_at
    taken = TerminalStatus.objects.filter(pk=status.pk, queued_action=action.value, queued_at=queued_at).update(
        queued_action="", queued_by=None, queued_at=None
    )
    if not taken:
        return None  # another check took it (or it was replaced meanwhile: the next check takes the new one)
    reason = _("queued at %(at)s, run once the order in flight had settled") % {
        "at": queued_at.strftime("%H:%M:%S UTC") if queued_at else "?"
    }
    return prepare(terminal, action, reason=reason, actor=actor)


def _maintenance(terminal: TerminalInstance, *, on: bool, actor: Any) -> ActionResult:
    at = clock.now()
    with transaction.atomic():
        status = TerminalStatus.objects.select_for_update().get(pk=status_of(terminal).pk)
        tracker = tracker_of(status)
        step = enter_maintenance(tracker, at) if on else leave_maintenance(tracker, at, STATE_POLICY)
        action = ActionChoice.MAINTENANCE_ON if on else ActionChoice.MAINTENANCE_OFF
        alert_was_open = status.alert_open
        apply_step(status, step, reason=status.reason)
        status.save()
        changed = step.change is not None
        event = TerminalEvent.objects.create(
            terminal=terminal,
            at=at,
            kind=EventKind.ACTION,
            action=action.value,
            outcome=(Outcome.DONE if changed else Outcome.SKIPPED).value,
            automatic=False,
            actor=actor,
            detail="" if changed else str(_("already so")),
        )
        log_step(terminal.pk, step, actor=actor)
    if status.alert_open != alert_was_open:
        evaluate_alert(terminal)
    return ActionResult(action.value, event.outcome, event.detail, event)


def manual_actions(terminal: TerminalInstance, limit: int = 20) -> list[TerminalEvent]:
    """The last actions by hand on the terminal (and those queued behind an order in flight), newest first (who
    and when)."""
    rows = TerminalEvent.objects.filter(terminal=terminal, kind__in=(EventKind.ACTION, EventKind.WAIT), automatic=False)
    return list(rows.select_related("actor").order_by("-at", "-pk")[:limit])


# --- adding and removing terminals ------------------------------------------------------------------------------
class TerminalInUse(Exception):
    """Accounts still run in the terminal: nothing was deleted (the message says what to do)."""


@transaction.atomic
def terminal_add(
    *, tenant: Tenant, values: TerminalValues, actor: User, context: AuditContext | None = None
) -> TerminalInstance:
    """Add a terminal from validated values (terminal_rules.terminal_problems and the model's clean() found
    nothing), audited; the agent's key is stored encrypted, never in the audit."""
    terminal = TerminalInstance(
        tenant=tenant,
        label=values.label,
        backend=values.backend,
        host=values.host,
        bridge_port=values.bridge_port,
        terminal_path=values.terminal_path,
        agent_host=values.agent_host,
        agent_port=values.agent_port,
    )
    set_agent_key(terminal, values.agent_key, clear=not terminal.agent_host)
    terminal.save()
    audit_record(
        tenant=terminal.tenant,
        actor=actor,
        action=AuditAction.TERMINAL_ADDED,
        obj=terminal,
        summary={"terminal": terminal.label, "backend": terminal.backend},
        context=context,
    )
    return terminal


def set_agent_key(terminal: TerminalInstance, line: str, *, clear: bool = False) -> None:
    """Store the agent's key encrypted (its id, not secret, beside it); an empty line keeps the stored key."""
    if line:
        terminal.agent_key = {"line": line}
        terminal.agent_key_id = AgentKey.parse(line).key_id
    elif clear:
        terminal.agent_key = None
        terminal.agent_key_id = ""


def terminal_delete(*, terminal: TerminalInstance, actor: User, context: AuditContext | None = None) -> None:
    """Delete a terminal no account runs in, audited; TerminalInUse (and nothing recorded) while one does."""
    terminal_id, label, tenant = terminal.pk, terminal.label, terminal.tenant
    try:
        with transaction.atomic():
            terminal.delete()
            audit_record(
                tenant=tenant,
                actor=actor,
                action=AuditAction.TERMINAL_DELETED,
                summary={"terminal": label, "id": terminal_id},
                context=context,
            )
    except ProtectedError:
        raise TerminalInUse(_("Accounts run in %(label)s: move or delete them first.") % {"label": label}) from None
