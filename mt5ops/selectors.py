"""MT5 operations' reads for the layers above: risk's pre-trade gate, the strategy runner, the
dashboard and the pool pages read a terminal's readiness here; `mt5ops` never reaches up into them.

`terminal_blocks` says, per account, why its terminal takes no opening orders: a terminal that is not healthy
(degraded, down, in maintenance), or whose last check is older than `STALE_AFTER` (the health job stopped: its
state can no longer be vouched for). A terminal the health job has not checked yet is not judged (its first check
comes within one slot of the job, 5 s).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import Count

from accounts.models import VenueAccount
from quantarb import clock

from .domain.state import TerminalState, blocks_opening_orders
from .models import TerminalEvent, TerminalHealth, TerminalInstance, TerminalStatus

if TYPE_CHECKING:
    from accounts.models import Membership

STALE_AFTER = timedelta(seconds=60)


@dataclass(frozen=True)
class TerminalBlock:
    """Why a terminal takes no opening orders now."""

    terminal_id: int
    label: str
    state: str  # healthy (with a stale check), degraded, down, maintenance
    failure: str  # the failure class, "" when none (recovering, maintenance, stale)
    stale_for_s: int | None = None  # the last check is this old (the state is not vouched for)


def block_of(
    terminal: TerminalInstance, status: TerminalStatus | None, now: datetime | None = None
) -> TerminalBlock | None:
    if status is None:
        return None
    now = now or clock.now()
    if blocks_opening_orders(TerminalState(status.state)):
        return TerminalBlock(terminal.pk, terminal.label, status.state, status.failure)
    if status.last_check_at is None or now - status.last_check_at > STALE_AFTER:
        age = None if status.last_check_at is None else int((now - status.last_check_at).total_seconds())
        return TerminalBlock(terminal.pk, terminal.label, status.state, "", stale_for_s=age)
    return None


def terminal_blocks(account_ids: Iterable[int]) -> dict[int, TerminalBlock]:
    """Account id → why its terminal takes no opening orders (accounts whose terminal does are absent)."""

    ids = [int(account_id) for account_id in account_ids]
    accounts = VenueAccount.objects.filter(pk__in=ids, terminal__isnull=False).select_related("terminal")
    terminals = {account.terminal_id: account.terminal for account in accounts if account.terminal is not None}
    statuses = {row.terminal_id: row for row in TerminalStatus.objects.filter(terminal_id__in=terminals)}
    now = clock.now()
    out: dict[int, TerminalBlock] = {}
    for account in accounts:
        terminal = account.terminal
        if terminal is None:
            continue
        block = block_of(terminal, statuses.get(terminal.pk), now)
        if block is not None:
            out[account.pk] = block
    return out


def account_terminal_block(account_id: int) -> TerminalBlock | None:
    return terminal_blocks([account_id]).get(account_id)


# --- pages -----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TerminalRow:
    terminal: TerminalInstance
    state: str  # healthy / degraded / down / maintenance / unknown (never checked) / stale
    failure: str
    last_check_at: datetime | None
    rtt_p50_ms: Decimal | None
    rtt_p99_ms: Decimal | None
    tick_age_s: Decimal | None
    accounts: list[Any]


def display_state(status: TerminalStatus | None, now: datetime) -> str:
    if status is None or status.last_check_at is None:
        return "unknown"
    if status.state == TerminalState.HEALTHY and now - status.last_check_at > STALE_AFTER:
        return "stale"
    return status.state


def terminal_rows(*, membership: Membership | None) -> list[TerminalRow]:
    """The member's tenant's terminals with their state, last check, bridge latency and accounts (the MT5 page's
    list)."""

    now = clock.now()
    terminals = list(
        TerminalInstance.objects.for_member(membership, "view")
        .annotate(account_count=Count("accounts"))
        .order_by("label")
    )
    ids = [terminal.pk for terminal in terminals]
    statuses = {row.terminal_id: row for row in TerminalStatus.objects.filter(terminal_id__in=ids)}
    latest: dict[int, TerminalHealth] = {}
    for terminal_id in ids:
        row = TerminalHealth.objects.filter(terminal_id=terminal_id).order_by("-at", "-pk").first()
        if row is not None:
            latest[terminal_id] = row
    accounts: dict[int, list[Any]] = {}
    for account in VenueAccount.objects.filter(terminal_id__in=ids).defer("credentials").order_by("label"):
        if account.terminal_id is not None:
            accounts.setdefault(account.terminal_id, []).append(account)
    rows = []
    for terminal in terminals:
        status = statuses.get(terminal.pk)
        health = latest.get(terminal.pk)
        rows.append(
            TerminalRow(
                terminal=terminal,
                state=display_state(status, now),
                failure=status.failure if status is not None else "",
                last_check_at=status.last_check_at if status is not None else None,
                rtt_p50_ms=health.rtt_p50_ms if health is not None else None,
                rtt_p99_ms=health.rtt_p99_ms if health is not None else None,
                tick_age_s=health.tick_age_s if health is not None else None,
                accounts=accounts.get(terminal.pk, []),
            )
        )
    return rows


@dataclass(frozen=True)
class Incident:
    started_at: datetime
    ended_at: datetime | None  # None: still going on
    failure: str
    went_down: bool

    @property
    def recovered_after_s(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


def incidents(terminal: TerminalInstance, since: datetime) -> list[Incident]:
    """Outages since `since`, newest first: from the first failing check to healthy again (from the health log)."""
    events = list(TerminalEvent.objects.filter(terminal=terminal, kind="state", at__gte=since).order_by("at", "pk"))
    found: list[Incident] = []
    current: dict[str, Any] | None = None
    for event in events:
        if event.after in (TerminalState.DEGRADED, TerminalState.DOWN) and event.failure:
            if current is None:
                current = {"started_at": event.at, "failure": event.failure, "went_down": False}
            if event.after == TerminalState.DOWN:
                current["went_down"] = True
                current["failure"] = event.failure
        elif event.after == TerminalState.HEALTHY:
            if current is not None:
                start = event.outage_started_at or current["started_at"]
                found.append(Incident(start, event.at, current["failure"], current["went_down"]))
            current = None
        elif event.after == TerminalState.MAINTENANCE and current is not None:
            found.append(Incident(current["started_at"], event.at, current["failure"], current["went_down"]))
            current = None
    if current is not None:
        found.append(Incident(current["started_at"], None, current["failure"], current["went_down"]))
    return list(reversed(found))


def uptime(terminal: TerminalInstance, window: timedelta, now: datetime | None = None) -> Decimal | None:
    """The share of `window` (percent, 2 dp) the terminal was healthy, from its health log; time in maintenance is
    left out (planned). None: no state known over the window."""
    now = now or clock.now()
    start = now - window
    before = TerminalEvent.objects.filter(terminal=terminal, kind="state", at__lt=start).order_by("-at", "-pk").first()
    events = list(
        TerminalEvent.objects.filter(terminal=terminal, kind="state", at__gte=start, at__lte=now).order_by("at", "pk")
    )
    state = before.after if before is not None else None
    cursor = start
    healthy = timedelta(0)
    counted = timedelta(0)
    for event in events:
        if state is not None and state != TerminalState.MAINTENANCE:
            counted += event.at - cursor
            if state == TerminalState.HEALTHY:
                healthy += event.at - cursor
        state, cursor = event.after, event.at
    if state is not None and state != TerminalState.MAINTENANCE:
        counted += now - cursor
        if state == TerminalState.HEALTHY:
            healthy += now - cursor
    if counted <= timedelta(0):
        return None
    return (Decimal(healthy.total_seconds()) / Decimal(counted.total_seconds()) * 100).quantize(Decimal("0.01"))


def latency_series(terminal: TerminalInstance, since: datetime) -> list[dict[str, Any]]:
    """The bridge round trips (p50, p99 per check) since `since`, oldest first, for the latency chart."""
    rows = (
        TerminalHealth.objects.filter(terminal=terminal, at__gte=since, rtt_p50_ms__isnull=False)
        .order_by("at")
        .values_list("at", "rtt_p50_ms", "rtt_p99_ms")
    )
    return [
        {"time": int(at.timestamp()), "p50": float(p50), "p99": float(p99 if p99 is not None else p50)}
        for at, p50, p99 in rows
        if p50 is not None
    ]


@dataclass(frozen=True)
class StripState:
    id: int
    label: str
    state: str
    failure: str


def strip_states(*, membership: Membership | None) -> list[StripState]:
    """The member's tenant's terminals for the dashboard's health strip (one query)."""
    now = clock.now()
    terminals = TerminalInstance.objects.for_member(membership, "view").select_related("status").order_by("label")
    out = []
    for terminal in terminals:
        try:
            status = terminal.status
        except TerminalStatus.DoesNotExist:
            status = None
        out.append(
            StripState(terminal.pk, terminal.label, display_state(status, now), status.failure if status else "")
        )
    return out
