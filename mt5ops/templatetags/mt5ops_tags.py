"""Template tags of MT5 operations: a terminal's state as a badge — a word beside the colour — for the MT5 pages,
the pool pages and the dashboard (templates load this library; no app imports it)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext as _

from mt5ops.choices import FailureChoice, TerminalStateChoice
from mt5ops.models import TerminalStatus
from mt5ops.selectors import display_state
from quantarb import clock

register = template.Library()

# Colour per state (UI.md: colour means one thing each — green ready, amber warning, red down, grey planned); the
# word is always written beside it.
BADGE_CLASS = {
    "healthy": "bg-green-lt",
    "degraded": "bg-yellow-lt",
    "down": "bg-red-lt",
    "maintenance": "bg-secondary-lt",
    "stale": "bg-yellow-lt",
    "unknown": "bg-secondary-lt",
}
LIGHT_STATE = {"healthy": "ok", "degraded": "warn", "down": "fail", "maintenance": "closed", "stale": "warn"}


def state_word(state: str) -> str:
    if state == "stale":
        return _("not checked lately")
    if state == "unknown":
        return _("not checked yet")
    try:
        return str(TerminalStateChoice(state).label)
    except ValueError:
        return state


@register.filter
def terminal_state_word(state: str) -> str:
    return state_word(str(state))


@register.filter
def failure_word(failure: str) -> str:
    try:
        return str(FailureChoice(str(failure)).label) if failure else ""
    except ValueError:
        return str(failure)


@register.filter
def light_state(state: str) -> str:
    return LIGHT_STATE.get(str(state), "warn")


@register.inclusion_tag("mt5ops/partials/_state_badge.html")
def terminal_state_badge(state: str, failure: str = "") -> dict[str, Any]:
    return {
        "state": state,
        "word": state_word(str(state)),
        "failure": failure_word(failure) if state in ("degraded", "down") else "",
        "css": BADGE_CLASS.get(str(state), "bg-secondary-lt"),
    }


@register.inclusion_tag("mt5ops/partials/_account_terminal.html")
def account_terminal(account: Any) -> dict[str, Any]:
    """The state of the terminal an MT5 account runs in (nothing for an account without one)."""
    terminal_id = getattr(account, "terminal_id", None)
    if not terminal_id:
        return {"terminal": None}
    status = TerminalStatus.objects.filter(terminal_id=terminal_id).select_related("terminal").first()
    terminal = status.terminal if status is not None else account.terminal
    state = display_state(status, clock.now())
    return {"terminal": terminal, "state": state, "failure": status.failure if status is not None else ""}
