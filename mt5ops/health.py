"""Terminal health = ready to trade: each check probes the terminal (mt5ops/probe.py), classifies
what it found (mt5ops/domain/classify.py), records it (`TerminalHealth`), moves the terminal's state with the alert
debounced (mt5ops/domain/state.py, stored as `TerminalStatus`), writes every state change to the health log
(`TerminalEvent`), opens or resolves the terminal's alert, and takes the next recovery step when one is due
(mt5ops/services.py).

Cadence: the beat job `mt5-health` every 5 s (quantarb/schedule.py), claimed once per slot (quantarb/job_slots.py:
however many beats run, one check per terminal per slot). A beat job, not a loop in the engine, because terminals
must be watched whether or not an engine runs (a desk may trade by hand, or every strategy may be stopped while
positions are open), and because the embedded mode and the services mode both already run the schedule. Each
terminal is checked under a lease (`TerminalStatus.check_lease_until`), so a slow check is never doubled by the
next slot's; the job probes its terminals in parallel threads (a probe is network waits), then writes in order.

The recovery steps due after the checks are taken in parallel threads as well, each bounded by its own timeouts
(~8 s at most) and under the terminal's recovery lease, not its check lease: in the services mode (each slot's job
on a free worker) the next checks come on time while a step runs; in the embedded mode, whose scheduler runs one
job at a time, a step may delay the next checks by that much.

Detection: a probe takes at most ~3 s whatever the fault (probe.py's timeouts); two failing probes in a row make a
terminal `down` and raise its alert, so a fault is seen (degraded, opening orders refused) at the first check after
it — within 8 s — and alerted within 13 s.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from accounts.choices import AccountMode, AccountStatus
from alerts.rules import evaluate_types
from quantarb import clock
from trading.domain.calendar import SessionCalendar, bybit_mt5_gold, demo_always_open
from trading.models import Order, QuoteSource
from trading.venues.mt5.gateway import SYMBOL

from .domain.classify import ClassifyPolicy, Diagnosis, FailureClass, classify
from .domain.state import StatePolicy, Step, TerminalState, TerminalTracker, observe
from .models import TerminalEvent, TerminalHealth, TerminalInstance, TerminalStatus
from .probe import ProbeResult, ProbeTarget, probe, tick_age

log = logging.getLogger(__name__)

# Health rows older than this are pruned by the check job (the health log, `TerminalEvent`, keeps longer: uptime
# over 30 days is read from it).
KEEP_FOR = timedelta(days=7)
KEEP_EVENTS_FOR = timedelta(days=90)
CHECK_LEASE = timedelta(seconds=30)  # longer than any probe and recovery step of one check
STATE_POLICY = StatePolicy()
CLASSIFY_POLICY = ClassifyPolicy()
PROBE_THREADS = 8
ALERT_RULE = "mt5_terminal_down"


# --- what a probe needs -----------------------------------------------------------------------------------------
def terminal_accounts(terminal: TerminalInstance) -> list[Any]:
    """The terminal's active MT5 accounts, live first (their credentials name the login it must be logged in to)."""
    accounts = list(terminal.accounts.filter(status=AccountStatus.ACTIVE).order_by("pk"))
    return sorted(accounts, key=lambda account: account.mode != AccountMode.LIVE)


def expected_credentials(terminal: TerminalInstance) -> dict[str, Any] | None:
    """The stored credentials of the account the terminal must be logged in to (None: none stored)."""
    for account in terminal_accounts(terminal):
        credentials = account.credentials or {}
        if credentials.get("login"):
            return dict(credentials)
    return None


def symbol_and_calendar(terminal: TerminalInstance) -> tuple[str, SessionCalendar]:
    """The hedge symbol the terminal quotes and its session calendar: its quote source's instrument, else Bybit's
    XAUUSD.s with the venue's default hours (the demo's always-open calendar in the embedded demo)."""
    source = QuoteSource.objects.filter(terminal=terminal).select_related("instrument__calendar").first()
    if source is not None:
        return source.instrument.symbol, source.session_calendar(demo_calendar=settings.QUANTARB_DEMO_CALENDAR)
    return SYMBOL, demo_always_open() if settings.QUANTARB_DEMO_CALENDAR else bybit_mt5_gold()


def refused_for_autotrading(terminal: TerminalInstance) -> int | None:
    """The retcode (10027 AutoTrading off in the terminal, 10026 on the server) of an order on the terminal's
    accounts refused for it since the terminal's previous check (None: none). One such refusal makes the next check
    fail (`autotrading_off`); the check after clears unless orders keep being refused."""
    status = status_of(terminal)
    if status.last_check_at is None:
        return None
    refused = Order.objects.filter(
        account__terminal=terminal, status="rejected", created_at__gt=status.last_check_at
    ).filter(Q(error__contains="MT5 retcode 10027") | Q(error__contains="MT5 retcode 10026"))
    row = refused.order_by("-created_at").values_list("error", flat=True).first()
    if row is None:
        return None
    return 10027 if "MT5 retcode 10027" in row else 10026


def probe_target(terminal: TerminalInstance) -> ProbeTarget:
    credentials = expected_credentials(terminal) or {}
    login = credentials.get("login")
    symbol, calendar = symbol_and_calendar(terminal)
    return ProbeTarget(
        terminal_id=terminal.pk,
        backend=str(terminal.backend),
        host=str(terminal.host or ""),
        port=terminal.bridge_port,
        terminal_path=str(terminal.terminal_path or ""),
        symbol=symbol,
        calendar=calendar,
        expected_login=int(login) if login else None,
        expected_server=str(credentials.get("server") or "") or None,
        last_order_retcode=refused_for_autotrading(terminal),
    )


# --- the stored state ---------------------------------------------------------------------------------------------
def status_of(terminal: TerminalInstance | int) -> TerminalStatus:
    """The terminal's state row (created, degraded — nothing says it is ready — on first use)."""
    terminal_id = terminal if isinstance(terminal, int) else terminal.pk
    status, _created = TerminalStatus.objects.get_or_create(terminal_id=terminal_id, defaults={"since": clock.now()})
    return status


def tracker_of(status: TerminalStatus) -> TerminalTracker:
    return TerminalTracker(
        state=TerminalState(status.state),
        since=status.since,
        failure=FailureClass(status.failure) if status.failure and status.failure != FailureClass.HEALTHY else None,
        failures=status.failures,
        successes=status.successes,
        healthy_since=status.healthy_since,
        outage_started_at=status.outage_started_at,
        outage_went_down=status.outage_went_down,
        alert_armed=status.alert_armed,
        last_alert_at=status.last_alert_at,
    )


def store_tracker(status: TerminalStatus, tracker: TerminalTracker) -> None:
    status.state = tracker.state.value
    status.since = tracker.since
    status.failure = tracker.failure.value if tracker.failure is not None else ""
    status.failures = tracker.failures
    status.successes = tracker.successes
    status.healthy_since = tracker.healthy_since
    status.outage_started_at = tracker.outage_started_at
    status.outage_went_down = tracker.outage_went_down
    status.alert_armed = tracker.alert_armed
    status.last_alert_at = tracker.last_alert_at


def log_step(terminal_id: int, step: Step, *, detail: str = "", actor: Any = None) -> TerminalEvent | None:
    """The state change of `step` in the health log (None: the state did not change)."""
    change = step.change
    if change is None:
        return None
    return TerminalEvent.objects.create(
        terminal_id=terminal_id,
        at=change.at,
        kind="state",
        before=change.before.value,
        after=change.after.value,
        failure=change.failure.value if change.failure is not None else "",
        automatic=actor is None,
        actor=actor,
        detail=detail[:500],
        outage_started_at=change.outage_started_at if change.after is TerminalState.HEALTHY else None,
    )


# --- one check ------------------------------------------------------------------------------------------------------
def take_lease(terminal_id: int, field: str = "check_lease_until") -> bool:
    """Claim the terminal's check (or, `recovery_lease_until`, its recovery step) for this caller; False: another
    is under way. A lease outlives no crash: it lapses after `CHECK_LEASE`."""
    now = clock.now()
    status_of(terminal_id)
    free = Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lte": now})
    claimed = TerminalStatus.objects.filter(free, terminal_id=terminal_id).update(**{field: now + CHECK_LEASE})
    return claimed == 1


def release_lease(terminal_id: int, field: str = "check_lease_until") -> None:
    TerminalStatus.objects.filter(terminal_id=terminal_id).update(**{field: None})


RECOVERY_LEASE = "recovery_lease_until"


def _due(terminal: TerminalInstance, diagnosis: Diagnosis) -> Any:
    """The recovery step due after a check, with the terminal's recovery lease held for it (None: nothing due, or
    another worker is taking a step on it)."""
    # mt5ops.services imports this module (STATE_POLICY) at load: deferred to break the cycle
    from .services import due_step, queued_step

    status = status_of(terminal)
    if diagnosis.healthy and not status.next_recovery and not status.queued_action:
        return None
    if not take_lease(terminal.pk, RECOVERY_LEASE):
        return None
    # An operator's action queued behind an order in flight goes first, once the order has settled.
    step = (queued_step(terminal) if status.queued_action else None) or due_step(terminal, diagnosis)
    if step is None:
        release_lease(terminal.pk, RECOVERY_LEASE)
    return step


def _take_steps(steps: list[Any]) -> None:
    """Take the due recovery steps (in parallel: network only), log them, release their leases."""
    # mt5ops.services imports this module (STATE_POLICY) at load: deferred to break the cycle
    from .services import log_outcome, perform

    try:
        if len(steps) > 1:
            with ThreadPoolExecutor(max_workers=min(PROBE_THREADS, len(steps))) as pool:
                outcomes = list(pool.map(perform, steps))
        else:
            outcomes = [perform(step) for step in steps]
        for outcome in outcomes:
            log_outcome(outcome)
    finally:
        for step in steps:
            release_lease(step.terminal.pk, RECOVERY_LEASE)


def _decimal_seconds(value: timedelta | None) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(round(value.total_seconds(), 3)))


def record(terminal: TerminalInstance, result: ProbeResult) -> tuple[TerminalHealth, Diagnosis, Step]:
    """Record one probe: its health row, the state it moves the terminal to, the health log, the alert."""
    diagnosis = classify(result.facts, CLASSIFY_POLICY)
    facts = result.facts
    age = diagnosis.tick_age if diagnosis.tick_age is not None else tick_age(result)
    health = TerminalHealth(
        terminal=terminal,
        at=facts.at,
        ok=diagnosis.healthy,
        reachable=facts.bridge_reachable and facts.answered and facts.last_error_code not in _UNREACHABLE_CODES,
        connected=bool(facts.terminal_connected),
        trade_allowed=bool(facts.terminal_trade_allowed),
        ping_ms=result.ping_ms,
        build=result.build,
        error_code=result.error_code,
        error=result.error or _fault_text(diagnosis),
        failure=diagnosis.failure.value,
        reason=diagnosis.reason.value,
        rtt_p50_ms=result.p50,
        rtt_p99_ms=result.p99,
        login=facts.account_login,
        tradeapi_disabled=facts.tradeapi_disabled,
        account_trade_allowed=facts.account_trade_allowed,
        account_trade_expert=facts.account_trade_expert,
        tick_age_s=_decimal_seconds(age),
        session_open=facts.session_open,
        duration_ms=Decimal(str(round(result.duration_ms, 3))),
    )
    with transaction.atomic():
        health.save()
        status = TerminalStatus.objects.select_for_update().get(pk=status_of(terminal).pk)
        step = observe(tracker_of(status), diagnosis.failure, facts.at, STATE_POLICY)
        alert_was_open = status.alert_open
        apply_step(status, step, reason=diagnosis.reason.value)
        status.last_check_at = facts.at
        status.save()
        log_step(terminal.pk, step, detail=health.error if not diagnosis.healthy else "")
    if status.alert_open != alert_was_open or (status.alert_open and step.change is not None):
        evaluate_alert(terminal)
    return health, diagnosis, step


def apply_step(status: TerminalStatus, step: Step, *, reason: str = "") -> None:
    """Store `step`'s tracker on `status`, with the alert: opened when the state machine raises it, closed once the
    terminal is healthy long enough for it to re-arm, or in maintenance (no alerts)."""
    store_tracker(status, step.tracker)
    if step.tracker.state is not TerminalState.HEALTHY:
        status.reason = reason if step.tracker.state is not TerminalState.MAINTENANCE else status.reason
    else:
        status.reason = ""
    if step.raise_alert:
        status.alert_open = True
    elif status.alert_open and (
        step.tracker.state is TerminalState.MAINTENANCE
        or (step.tracker.state is TerminalState.HEALTHY and step.tracker.alert_armed)
    ):
        status.alert_open = False


def evaluate_alert(terminal: TerminalInstance) -> None:
    """Open, refresh or resolve the terminal's alert now (after the state it reads was written)."""
    evaluate_types(tenant=terminal.tenant, rule_types=(ALERT_RULE,))


_UNREACHABLE_CODES = frozenset({-10000, -10001, -10002, -10003, -10004, -10005})


def _fault_text(diagnosis: Diagnosis) -> str:
    if diagnosis.healthy:
        return ""
    if diagnosis.tick_age is not None:
        return f"{diagnosis.reason.value}: last tick {diagnosis.tick_age.total_seconds():.0f} s ago"
    return diagnosis.reason.value


def check_terminal(terminal: TerminalInstance, *, result: ProbeResult | None = None, recover: bool = True) -> Any:
    """Check one terminal now (probe, record, then the recovery step when due). None when another check holds
    it."""
    if not take_lease(terminal.pk):
        return None
    try:
        if result is None:
            result = probe(probe_target(terminal))
        health, diagnosis, _step = record(terminal, result)
    finally:
        release_lease(terminal.pk)
    if recover:
        step = _due(terminal, diagnosis)
        if step is not None:
            _take_steps([step])
    return health


def terminal_health_check(*, terminal: TerminalInstance) -> TerminalHealth:
    """Probe and record one terminal now, without a recovery step (the terminal form's "test" and the tests)."""
    result = probe(probe_target(terminal))
    health, _diagnosis, _step = record(terminal, result)
    return health


def check_terminals() -> dict[str, int]:
    """The `mt5-health` job: check every terminal (probes in parallel), then take the due recovery steps (in
    parallel too), prune old rows. A terminal's check lease is released once its check is recorded, before any
    recovery step: a step (up to ~8 s) holds only the terminal's recovery lease, so the next slot's job checks the
    terminal on time meanwhile (in the services mode, where each slot's job runs on a free worker)."""
    counts = {"ok": 0, "fault": 0, "skipped": 0}
    terminals = list(TerminalInstance.objects.select_related("tenant").order_by("pk"))
    claimed = [terminal for terminal in terminals if take_lease(terminal.pk)]
    counts["skipped"] = len(terminals) - len(claimed)
    diagnoses = []
    try:
        targets = [probe_target(terminal) for terminal in claimed]
        if len(targets) > 1:
            with ThreadPoolExecutor(max_workers=min(PROBE_THREADS, len(targets))) as pool:
                results = list(pool.map(probe, targets))
        else:
            results = [probe(target) for target in targets]
        for terminal, result in zip(claimed, results, strict=True):
            try:
                health, diagnosis, _step = record(terminal, result)
                counts["ok" if health.ok else "fault"] += 1
                diagnoses.append((terminal, diagnosis))
            except Exception:  # one terminal's failure must not stop the others' checks
                log.exception("MT5 terminal %s: the check failed", terminal.pk)
    finally:
        for terminal in claimed:
            release_lease(terminal.pk)
    steps = []
    for terminal, diagnosis in diagnoses:
        try:
            step = _due(terminal, diagnosis)
        except Exception:
            log.exception("MT5 terminal %s: planning its recovery failed", terminal.pk)
            continue
        if step is not None:
            steps.append(step)
    _take_steps(steps)
    now = clock.now()
    TerminalHealth.objects.filter(at__lt=now - KEEP_FOR).delete()
    TerminalEvent.objects.filter(at__lt=now - KEEP_EVENTS_FOR).delete()
    return counts


def latest_health(terminal: TerminalInstance) -> TerminalHealth | None:
    return terminal.health.order_by("-at", "-pk").first()
