"""Model instances from a hand-written SELECT, converted exactly as the ORM converts them.

For the few reads on every request where the ORM's building and compiling of a query costs far more than the query
(bench/api_load.py: ~2 ms of CPU against ~0.2 ms for the round trip): the SQL is written once, the columns of each
model are listed from its fields, and each row is read back through the same database converters the ORM applies
(SQLite's decimals, datetimes and booleans arrive as numbers and text), so the instances are the ORM's own.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, TypeVar

from django.db import connections, models
from django.db.backends.base.base import BaseDatabaseWrapper

M = TypeVar("M", bound=models.Model)


def column_list(model: type[models.Model], alias: str, connection: BaseDatabaseWrapper) -> str:
    """`alias."col1", alias."col2", …`: every concrete column of `model`, in the order `instance_from` reads."""
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(field.column)}" for field in model._meta.concrete_fields)


def column_count(model: type[models.Model]) -> int:
    return len(model._meta.concrete_fields)


def instance_from(model: type[M], values: Sequence[Any], connection: BaseDatabaseWrapper) -> M:
    """An instance of `model` from its `column_list` values, as the ORM would have built it."""
    fields, readers = _readers(model, connection.vendor, connection.alias)
    converted = []
    for value, (column, converters) in zip(values, readers, strict=True):
        for converter in converters:
            value = converter(value, column, connection)
        converted.append(value)
    return model.from_db(connection.alias, fields, converted)


@functools.cache
def _readers(model: type[models.Model], vendor: str, alias: str) -> tuple[list[str], list[tuple[Any, list[Any]]]]:
    """`model`'s attribute names and, per column, the converters the ORM applies on `alias` (worked out once: SQLite
    builds a decimal converter afresh each time it is asked)."""
    connection = connections[alias]
    readers = []
    for field in model._meta.concrete_fields:
        column = field.get_col(model._meta.db_table)
        readers.append((column, connection.ops.get_db_converters(column) + column.get_db_converters(connection)))
    return [field.attname for field in model._meta.concrete_fields], readers
