"""Why a strategy is in its state, when the system put it there: codes and their templates (translated when
shown, quantarb/reasons.py). A person's pause or stop keeps the words they typed."""

from __future__ import annotations

from django.utils.translation import gettext_noop

STATE_REASONS: dict[str, str] = {
    "runner_failed": gettext_noop("The runner failed: %(error)s"),
    "no_pair": gettext_noop("No quote source pair streams this pool's instruments."),
    "reconciliation_refused": gettext_noop(
        "Reconciliation #%(report)s with the venues: %(status)s (%(differences)s differences)."
    ),
    "reconciled": gettext_noop("Reconciled with the venues."),
    "stopped": gettext_noop("Stopped by its runner."),
    "mt5_terminal_paused": gettext_noop("MT5 terminal %(terminal)s is %(state)s (%(failure)s)."),
    "risk_limit": gettext_noop("Limit breached: %(limit)s"),
}
