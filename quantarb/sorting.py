"""Server-side sorting of the portal's tables: `?sort=<column>` ascending, `?sort=-<column>` descending.

Each table names its sortable columns and what they order by (model fields or expressions for a queryset, a key
function for a list). The sort travels in the query string with the filters, so pagination, the HTMX refresh and
the CSV export keep it; a sort the table does not know is ignored (the table keeps its default order), never an
error. Ties are broken by the primary key, so a page boundary never shows a row twice.

    SORTS = {"size": ("size_oz",), "total": (F("pnl_spread") + F("pnl_fees"),)}
    sort = sort_from(request.GET, SORTS)
    rows = sort.apply(rows)               # a QuerySet or a list
    context["query"] = sort.extend(filters.query)

Templates draw the headers with `{% sort_th "size" _("Size (oz)") %}` (`quantarb/templatetags/tables.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode

from django.db.models import F, QuerySet
from django.db.models.expressions import BaseExpression, OrderBy

SORT_PARAM = "sort"
MAX_SORT_LENGTH = 64  # longer is not a column name; do not echo it back

Column = Sequence[Any] | Callable[[Any], Any]
Rows = TypeVar("Rows")


@dataclass(frozen=True)
class Sort:
    columns: Mapping[str, Column]
    key: str = ""
    descending: bool = False
    param: str = SORT_PARAM
    defaults_descending: frozenset[str] = field(default_factory=frozenset)

    @property
    def value(self) -> str:
        """The query value of the active sort ("" for the table's default order)."""
        if not self.key:
            return ""
        return f"-{self.key}" if self.descending else self.key

    def next_value(self, key: str) -> str:
        """What a click on `key`'s header asks for: the other direction of the active column, else the column's
        first direction (descending for figures where the largest matters first)."""
        if key == self.key:
            return key if self.descending else f"-{key}"
        return f"-{key}" if key in self.defaults_descending else key

    def direction(self, key: str) -> str:
        """`aria-sort` of a header: ascending, descending or none."""
        if key != self.key:
            return "none"
        return "descending" if self.descending else "ascending"

    def extend(self, query: str) -> str:
        """A query string (the filters') with this sort appended, for pager, refresh and export links."""
        if not self.value:
            return query
        own = urlencode({self.param: self.value})
        return f"{query}&{own}" if query else own

    def apply(self, rows: Rows) -> Rows:
        """`rows` (a QuerySet or a list) in this order; unchanged when no column is active."""
        if not self.key:
            return rows
        column = self.columns[self.key]
        if isinstance(rows, QuerySet):
            assert not callable(column), f"sort column {self.key!r} orders a queryset: give fields"
            return rows.order_by(*[self._order(part) for part in column], "-pk" if self.descending else "pk")
        assert callable(column), f"sort column {self.key!r} orders a list: give a key function"
        listed = list(rows)  # type: ignore[call-overload] # a list of rows
        present = [row for row in listed if column(row) is not None]
        missing = [row for row in listed if column(row) is None]
        return sorted(present, key=column, reverse=self.descending) + missing  # type: ignore[return-value]

    def _order(self, part: Any) -> OrderBy:
        expression = F(part) if isinstance(part, str) else part
        assert isinstance(expression, BaseExpression | F), part
        if self.descending:
            return expression.desc(nulls_last=True)
        return expression.asc(nulls_last=True)


def sort_from(
    params: Mapping[str, Any],
    columns: Mapping[str, Column],
    *,
    param: str = SORT_PARAM,
    defaults_descending: Sequence[str] = (),
) -> Sort:
    """The sort a request asks for, or the default order when it names no known column."""
    raw = str(params.get(param, "") or "").strip()[:MAX_SORT_LENGTH]
    descending = raw.startswith("-")
    key = raw[1:] if descending else raw
    if key not in columns:
        key, descending = "", False
    return Sort(
        columns=columns, key=key, descending=descending, param=param, defaults_descending=frozenset(defaults_descending)
    )
