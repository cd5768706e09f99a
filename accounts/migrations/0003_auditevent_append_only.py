"""Append-only in the database itself: on PostgreSQL, triggers refuse UPDATE, DELETE and TRUNCATE of audit rows
for every role, the owner and superusers included (ENABLE ALWAYS: they fire even under
`session_replication_role = replica`). Only a superuser or the owner can lift them, with ALTER TABLE, which
PostgreSQL logs. SQLite has no roles to defend against: nothing to do there.

The application's role gets no UPDATE, DELETE or TRUNCATE on the table either when migrations run as a
separate owner (DATABASE_OWNER_URL, see accounts/db_roles.py).
"""

from django.db import migrations

TABLE = "accounts_auditevent"

CREATE = f"""
CREATE OR REPLACE FUNCTION {TABLE}_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER {TABLE}_no_update_delete BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION {TABLE}_refuse_change();
CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_refuse_change();
ALTER TABLE {TABLE} ENABLE ALWAYS TRIGGER {TABLE}_no_update_delete;
ALTER TABLE {TABLE} ENABLE ALWAYS TRIGGER {TABLE}_no_truncate;
"""

DROP = f"""
DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON {TABLE};
DROP TRIGGER IF EXISTS {TABLE}_no_update_delete ON {TABLE};
DROP FUNCTION IF EXISTS {TABLE}_refuse_change();
"""


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)  # no params: the `%` in RAISE are not query parameters


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_auditevent")]

    operations = [migrations.RunPython(create_triggers, drop_triggers, elidable=False)]
