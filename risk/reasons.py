"""Why an automatic kill switch tripped: codes and their templates (translated when shown, quantarb/reasons.py).
A switch a person tripped keeps the words they typed."""

from __future__ import annotations

from django.utils.translation import gettext_noop

SWITCH_REASONS: dict[str, str] = {
    "reconciliation_mismatch": gettext_noop("Reconciliation #%(report)s found %(differences)s differences."),
    "reconciliation_refused": gettext_noop(
        "Reconciliation #%(report)s with the venues: %(status)s (%(differences)s differences)."
    ),
    "legging_unknown": gettext_noop("Hedge %(hedge)s legged by %(oz)s oz with orders still unknown."),
    "legging_timeout": gettext_noop("Hedge %(hedge)s legged by %(oz)s oz for more than %(seconds)s s."),
    "loss_limit": gettext_noop("Loss %(loss)s USD reached the limit of %(limit)s USD."),
    "drawdown_limit": gettext_noop("Drawdown %(drawdown)s USD reached the limit of %(limit)s USD."),
}

# What a limit breach's action did, when the system wrote it: a note is a list of parts (each a code and its
# parameters, risk.models.Breach.action_note_parts), joined as sentences when shown.
BREACH_NOTES: dict[str, str] = {
    "awaiting_confirmation": gettext_noop("Waiting for an admin to confirm the action on the limits page."),
    "entries_refused": gettext_noop("Opening orders in the scope are refused while the breach lasts."),
    "paused": gettext_noop("Paused: %(names)s."),
    "nothing_to_pause": gettext_noop(
        "No running strategy in the scope to pause; opening orders are refused while the breach lasts."
    ),
    "flattening": gettext_noop("Flattening through the strategies' runners: %(names)s."),
    "nothing_to_flatten": gettext_noop(
        "No strategy runs in the scope to flatten it: flatten the pool by hand. Entries are refused."
    ),
    "flattened": gettext_noop("Flattened: %(name)s."),
    "limit_disabled": gettext_noop("The limit was disabled."),
}
