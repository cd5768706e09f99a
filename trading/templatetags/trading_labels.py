"""Words for trading's internal codes where a page has only the code (`{% load trading_labels %}`)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext as _

from accounts.venue_kinds import CCXT_PREFIX, Venue

register = template.Library()


@register.filter
def venue_label(code: Any) -> str:
    """`binance-usdm` → "Binance USDⓈ-M"; any ccxt venue `ccxt:<id>` → "<id> (ccxt)"."""
    text = str(code or "")
    if text in Venue.values:
        return str(Venue(text).label)
    if text.startswith(CCXT_PREFIX):
        return _("%(exchange)s (ccxt)") % {"exchange": text[len(CCXT_PREFIX) :]}
    return text
