"""Why the system resolved an alert: codes and their templates (translated when shown, quantarb/reasons.py). The
alert keeps the code, its parameters and the English rendering; a person's resolve has no code."""

from __future__ import annotations

from django.utils.translation import gettext_noop

RESOLVE_REASONS: dict[str, str] = {
    "condition_cleared": gettext_noop("The rule's condition cleared."),
    "limit_level_changed": gettext_noop("The limit's level changed."),
    "limit_disabled": gettext_noop("The limit was disabled."),
    "kill_switch_reset": gettext_noop("The kill switch was reset."),
    "equity_agrees": gettext_noop("The equity series agrees with the venue again."),
    "hedge_whole": gettext_noop("The hedge is whole again."),
}
