"""Table headers that sort (`{% load tables %}`): `{% sort_th "size" _("Size (oz)") "text-end" %}` draws a header
cell whose link asks the page for that column's order (the other direction when it is already active), keeping
every filter in the query string and going back to page 1. The view puts its `quantarb.sorting.Sort` in the
context as `sort`; a table without one gets plain headers."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _

register = template.Library()

DROPPED = ("page", "partial")  # a new order starts at page 1; the HTMX partial flag belongs to the refresh only
ARROWS = {"ascending": "▲", "descending": "▼", "none": "↕"}


@register.simple_tag(takes_context=True)
def sort_th(context: template.Context, key: str, label: Any, classes: str = "", sort_name: str = "sort") -> str:
    sort = context.get(sort_name)
    if sort is None or key not in sort.columns:
        return format_html('<th class="{}">{}</th>', classes, label)
    request = context.get("request")
    params = request.GET.copy() if request is not None else None
    if params is not None:
        for name in (*DROPPED, sort.param):
            params.pop(name, None)
        params[sort.param] = sort.next_value(key)
        href = "?" + params.urlencode()
    else:
        href = f"?{sort.param}={sort.next_value(key)}"
    direction = sort.direction(key)
    return format_html(
        '<th class="{} qa-sortable" aria-sort="{}" data-sort-key="{}"><a class="qa-sort-link" href="{}" title="{}">'
        '{}<span class="qa-sort-arrow" aria-hidden="true">{}</span></a></th>',
        classes,
        direction,
        key,
        href,
        _("Sort by %(column)s") % {"column": label},
        label,
        ARROWS[direction],
    )
