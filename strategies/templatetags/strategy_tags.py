"""Small display helpers of the strategy, hedge and risk pages: ages, signed money with its colour class, state
badges, dictionary lookups and decision reasons in the operator's language."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext as _

from quantarb import formatting
from strategies.messages import reason_text

register = template.Library()

STATE_BADGES = {
    "stopped": "bg-secondary-lt",
    "starting": "bg-azure-lt",
    "running": "bg-green-lt",
    "paused": "bg-yellow-lt",
    "stopping": "bg-azure-lt",
    "error": "bg-red-lt",
    # hedges
    "planned": "bg-secondary-lt",
    "opening": "bg-azure-lt",
    "open": "bg-green-lt",
    "closing": "bg-azure-lt",
    "closed": "bg-secondary-lt",
    "legged": "bg-red-lt",
    "repairing": "bg-yellow-lt",
    "failed": "bg-red-lt",
    "needs_reconcile": "bg-red-lt",
    # orders
    "new": "bg-secondary-lt",
    "submitting": "bg-azure-lt",
    "accepted": "bg-azure-lt",
    "partially_filled": "bg-yellow-lt",
    "filled": "bg-green-lt",
    "cancelled": "bg-secondary-lt",
    "rejected": "bg-red-lt",
    "expired": "bg-secondary-lt",
    "unknown": "bg-yellow-lt",
    # commands, reports
    "queued": "bg-secondary-lt",
    "done": "bg-green-lt",
    "matched": "bg-green-lt",
    "mismatch": "bg-red-lt",
    "synced": "bg-azure-lt",
}


@register.filter
def state_badge(state: str) -> str:
    return STATE_BADGES.get(str(state), "bg-secondary-lt")


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def age(seconds: float | None) -> str:
    """An age as the operator reads it: "0.4 s ago", "12 s ago", "3 min ago", "2 h ago"; "never" for none."""
    if seconds is None:
        return _("never")
    if seconds < 10:
        return _("%(n)s s ago") % {"n": f"{max(seconds, 0):.1f}"}
    if seconds < 120:
        return _("%(n)s s ago") % {"n": int(seconds)}
    if seconds < 7200:
        return _("%(n)s min ago") % {"n": int(seconds // 60)}
    return _("%(n)s h ago") % {"n": int(seconds // 3600)}


@register.filter
def money(value: Any, places: int = 2) -> str:
    """A signed amount to `places` decimals with an explicit + for gains (colour is never the only sign); the same
    as `formatting`'s `pnl`, kept under this name for the templates that load `strategy_tags`."""
    return formatting.pnl(value, int(places))


@register.filter
def sign_class(value: Any) -> str:
    number = formatting.to_decimal(value)
    if number is None or number == 0:
        return ""
    return "qa-pos" if number > 0 else "qa-neg"


@register.filter
def plain_decimal(value: Any) -> str:
    """A Decimal without exponent and without trailing zeros ("1.000" → "1", "1E+9" → "1000000000")."""
    return formatting.trimmed(value)


@register.filter
def reason(value: Any) -> str:
    return reason_text(value) if isinstance(value, dict) else ""
