"""Alert rule types of MT5 operations (alerts/registry.py finds this module): a terminal that is not ready to trade.
The terminal's state machine (mt5ops/domain/state.py) decides when its alert opens — on going `down`, debounced so a
flapping terminal raises one alert, not one per flap — and the health check stores that as
`TerminalStatus.alert_open` and evaluates this rule at once, so the alert opens within the check that found the
terminal down. It stays open while the terminal flaps and resolves once the terminal has been healthy long enough to
re-arm its alert; a terminal in maintenance raises none."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy, gettext_noop

from alerts.registry import Condition, RuleType, register
from quantarb.phrases import Phrase, phrase

from .choices import FailureChoice, TerminalStateChoice
from .models import TerminalStatus


def terminal_not_ready(tenant: Any, params: dict[str, Decimal]) -> Iterator[Condition]:
    rows = TerminalStatus.objects.filter(terminal__tenant_id=tenant.pk, alert_open=True).select_related("terminal")
    for status in rows.order_by("terminal_id"):
        terminal = status.terminal
        state = TerminalStateChoice(status.state).label
        failure = FailureChoice(status.failure).label if status.failure else gettext_lazy("recovering")
        latest = terminal.health.filter(ok=False).order_by("-at", "-pk").first()
        error: Phrase | str = latest.error if latest is not None else ""
        if status.failure == FailureChoice.BRIDGE_DOWN:
            error = phrase(gettext_noop("no bridge answered at %(address)s"), address=terminal.address)
        words = {"label": terminal.label, "state": state, "failure": failure}
        title = (
            phrase(gettext_noop("MT5 terminal %(label)s is %(state)s: %(failure)s (%(error)s)"), error=error, **words)
            if error
            else phrase(gettext_noop("MT5 terminal %(label)s is %(state)s: %(failure)s"), **words)
        )
        yield Condition(
            key=f"mt5_terminal:{terminal.pk}",
            title=title,
            detail={
                "terminal": terminal.pk,
                "state": status.state,
                "failure": status.failure,
                "reason": status.reason,
                "error_code": latest.error_code if latest is not None else None,
                "error": error.english() if isinstance(error, Phrase) else error,
                "since": status.since.isoformat(),
                "outage_started_at": status.outage_started_at.isoformat() if status.outage_started_at else None,
                "checked_at": status.last_check_at.isoformat() if status.last_check_at else None,
            },
            source=terminal,
        )


register(
    RuleType(
        key="mt5_terminal_down",
        label=gettext_lazy("MT5 terminal not ready"),
        description=gettext_lazy(
            "An MT5 terminal is down (bridge down, not responding, IPC timeout, not logged in, wrong account, "
            "AutoTrading off or ticks stale): opening orders on its accounts are refused until it recovers."
        ),
        category="mt5",
        default_severity="critical",
        params=(),
        evaluate=terminal_not_ready,
    )
)
