"""Helpers shared by the benchmarks that need PostgreSQL, Redis or Django (not a benchmark itself).

A benchmark that needs the database creates a uniquely named one, migrates it and drops it at the end; one
that needs Redis takes a database number that must be empty when it starts and empties it again when done.
Everything talks to 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def database_url(name: str) -> str:
    return f"postgres://postgres@127.0.0.1:5432/{name}"


@contextlib.contextmanager
def scratch_database(prefix: str, keep: bool = False) -> Iterator[str]:
    """Create `<prefix>_<pid>` on the shared server, yield its name, drop it afterwards (unless `keep`)."""
    import psycopg

    name = f"{prefix}_{os.getpid()}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        if not keep:
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def django_env(db_name: str, redis_url: str = "") -> dict[str, str]:
    """The environment a bench's Django (in-process or a subprocess) runs with: local settings, no .env file."""
    env = {
        "DJANGO_SETTINGS_MODULE": "quantarb.settings.local",
        "DATABASE_URL": database_url(db_name),
        "DJANGO_SECRET_KEY": "bench-only-not-secret",
        "DJANGO_DEBUG": "false",  # DEBUG keeps every query in memory: not how production runs
        "QUANTARB_ENV_FILE": "/nonexistent",
        "QUANTARB_LOG_LEVEL": "WARNING",
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def setup_django(db_name: str, redis_url: str = "") -> None:
    """Configure Django in this process on `db_name`, then migrate it."""
    os.environ.update(django_env(db_name, redis_url))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


@contextlib.contextmanager
def scratch_redis_db(number: int) -> Iterator[str]:
    """Yield redis://127.0.0.1:6379/<number>; refuse a database that holds keys; empty it when done."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, db=number)
    try:
        if client.dbsize():
            raise SystemExit(f"Redis db {number} is not empty (someone else uses it): pick another with --redis-db")
        yield f"redis://127.0.0.1:6379/{number}"
    finally:
        with contextlib.suppress(Exception):
            client.flushdb()
        client.close()


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (nan when empty)."""
    if not sorted_values:
        return float("nan")
    rank = math.ceil(fraction * len(sorted_values))
    return sorted_values[max(0, min(len(sorted_values), rank) - 1)]
