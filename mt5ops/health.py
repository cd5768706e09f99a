"""Terminal health: each check reaches the terminal through the MT5 gateway, as trading does, and records what it
found (`TerminalHealth`). A terminal is healthy when it answers, is connected to the broker's trade server and has
AutoTrading on."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from quantarb import clock
from trading.venues.errors import VenueError
from trading.venues.mt5.gateway import terminal_gateway

from .models import TerminalHealth, TerminalInstance

# Health rows older than this are pruned by the check job.
KEEP_FOR = timedelta(days=7)


def _login_of(terminal: TerminalInstance) -> dict[str, Any] | None:
    """The credentials of an active live MT5 account in this terminal (None: check the terminal as it is logged in)."""
    from accounts.choices import AccountMode, AccountStatus

    account = terminal.accounts.filter(mode=AccountMode.LIVE, status=AccountStatus.ACTIVE).order_by("pk").first()
    return account.credentials if account is not None else None


def terminal_health_check(*, terminal: TerminalInstance) -> TerminalHealth:
    """Check one terminal now and record the result."""
    health = TerminalHealth(terminal=terminal, at=clock.now(), ok=False, reachable=False)
    try:
        gateway = terminal_gateway(terminal, _login_of(terminal), timeout_ms=5_000)
        try:
            status = gateway.connect()
        finally:
            gateway.close()
    except VenueError as exc:
        health.error_code, health.error = exc.code, str(exc)[:500]
        # An answer that was an error (e.g. a refused login) still means the terminal is there.
        health.reachable = exc.code is not None and exc.code not in (-10003, -10004, -10005)
    else:
        health.reachable = True
        health.connected, health.trade_allowed = status.connected, status.trade_allowed
        health.ping_ms, health.build = status.ping_ms, status.build
        health.ok = status.connected and status.trade_allowed
        if not status.connected:
            health.error = "not connected to the broker's trade server"
        elif not status.trade_allowed:
            health.error = "AutoTrading is off"
    health.save()
    return health


def check_terminals() -> dict[str, int]:
    """Check every terminal instance; prune old health rows. A terminal whose health changed (it disconnected, or
    came back) opens or resolves its alert now (the `mt5_terminal_down` rule, mt5ops/alert_rules.py)."""
    from alerts.rules import evaluate_types

    counts = {"ok": 0, "fault": 0}
    changed: dict[int, Any] = {}
    for terminal in TerminalInstance.objects.select_related("tenant"):
        before = latest_health(terminal)
        health = terminal_health_check(terminal=terminal)
        counts["ok" if health.ok else "fault"] += 1
        if before is None or before.ok != health.ok or not health.ok:
            changed[terminal.tenant_id] = terminal.tenant
    TerminalHealth.objects.filter(at__lt=clock.now() - KEEP_FOR).delete()
    for tenant in changed.values():
        evaluate_types(tenant=tenant, rule_types=("mt5_terminal_down",))
    return counts


def latest_health(terminal: TerminalInstance) -> TerminalHealth | None:
    return terminal.health.order_by("-at").first()
