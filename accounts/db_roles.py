"""Privileges of the application's database role when migrations run as a separate owner (PostgreSQL).

With DATABASE_OWNER_URL set, `manage.py migrate` connects as the owner (quantarb/settings/base.py) and, once
every migration has run, grants the application's role (the user of DATABASE_URL) what the platform needs:
read and write on every table, except the audit trail, which it may only read and append to. Owning no table,
that role cannot drop the triggers that keep the audit trail append-only either, nor grant itself more.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

log = logging.getLogger(__name__)

AUDIT_TABLES = ("accounts_auditevent", "accounts_changelogentry")


def grant_application_role(connection: BaseDatabaseWrapper, role: str) -> None:
    """Grant `role` the platform's privileges in the connection's current schema; no UPDATE, DELETE or TRUNCATE
    on the audit tables. Run as the owner of the tables, after the migrations; safe to repeat."""
    quoted = connection.ops.quote_name(role)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = connection.ops.quote_name(cursor.fetchone()[0])
        cursor.execute(f"GRANT USAGE ON SCHEMA {schema} TO {quoted}")
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {quoted}")
        cursor.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {schema} TO {quoted}")
        # The audit trail's HMAC key (migration 0015): only the owner's SECURITY DEFINER trigger and verifier read it.
        cursor.execute("SELECT to_regclass('accounts_audit_key') IS NOT NULL")
        if cursor.fetchone()[0]:
            cursor.execute(f"REVOKE ALL ON accounts_audit_key FROM {quoted}, PUBLIC")
        for table in AUDIT_TABLES:
            table_name = connection.ops.quote_name(table)
            # PUBLIC too: a privilege granted to every role would reach the application's role through it.
            cursor.execute(
                f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {table_name} FROM {quoted}, PUBLIC"
            )


def grant_application_role_after_migrate(using: str = "default", **kwargs: Any) -> None:
    """post_migrate receiver: grant the application's role when migrations ran as a separate owner."""
    role = getattr(settings, "QUANTARB_DATABASE_APP_ROLE", "")
    connection = connections[using]
    if not role or connection.vendor != "postgresql":
        return
    if role == connection.settings_dict["USER"]:
        log.warning("DATABASE_OWNER_URL and DATABASE_URL name the same role %s: the audit trail is not protected", role)
        return
    grant_application_role(connection, role)
