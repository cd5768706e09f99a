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
