"""Template filters of the risk pages: a limit's measured value to its metric's precision (templates load this
library; no app imports it)."""

from __future__ import annotations

from typing import Any

from django import template

from quantarb import formatting
from risk.domain.limits import SHOWN_PLACES, Metric

register = template.Library()


@register.filter
def metric_value(value: Any, metric: str) -> str:
    """A measured value of `metric` rounded to that metric's decimals, thousands grouped: a rate age of
    `5.112007` s reads `5`, an unhedged exposure of `0.10000000` oz reads `0.100`. An unknown metric keeps every
    significant decimal; no value reads as a dash."""
    number = formatting.to_decimal(value)
    if number is None:
        return formatting.trimmed(value, group=True)
    try:
        places = SHOWN_PLACES[Metric(metric)]
    except ValueError:
        return formatting.trimmed(number, group=True)
    return formatting.fixed(number, places, group=True)
