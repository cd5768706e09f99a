"""The database seals the audit trail and the change log (accounts/audit_seal.py).

On PostgreSQL: pgcrypto; a one-row key table only the owner reads; a BEFORE INSERT trigger on each table that
assigns sequence, time and previous hash and computes the keyed hash (SECURITY DEFINER: it runs as the owner, so
the application's role uses the key without being able to read it); a verifier per table, in the database too.
Existing rows: the audit trail is re-sealed in place and the change log chained, once, here, as the owner.
On SQLite the change log's existing entries are chained by the application's hash.
"""

from django.db import migrations, models

KEY_TABLE = "accounts_audit_key"

# The canonical content each hash covers: a JSON array, so no field can run into the next.
AUDIT_PAYLOAD = """
jsonb_build_array(r.tenant_id, r.seq, r.actor_id, r.actor_username, r.action, r.object_type, r.object_id, r.summary,
    host(r.ip), r.user_agent, r.correlation_id,
    to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), r.prev_hash)::text
"""
CHANGELOG_PAYLOAD = """
jsonb_build_array(r.tenant_id, r.seq, r.content_type_id, r.object_pk, r.object_id, r.object_repr,
    r.serialized_data, r.action, r.changes_text, r.changes, r.cid, host(r.remote_addr), r.remote_port,
    to_char(r."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), r.additional_data, r.actor_id,
    r.actor_email, r.prev_hash)::text
"""


def _sql_for(table, payload, time_column, lock_prefix):
    return f"""
CREATE OR REPLACE FUNCTION {table}_payload(r {table}) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT {payload} $$;

CREATE OR REPLACE FUNCTION {table}_seal() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path FROM CURRENT AS $$
DECLARE
    head_seq bigint;
    head_hash text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('{lock_prefix}:' || coalesce(NEW.tenant_id::text, 'platform')));
    IF NEW.tenant_id IS NULL THEN
        SELECT t.seq, t.hash INTO head_seq, head_hash FROM {table} t
            WHERE t.tenant_id IS NULL AND t.seq IS NOT NULL ORDER BY t.seq DESC LIMIT 1;
    ELSE
        SELECT t.seq, t.hash INTO head_seq, head_hash FROM {table} t
            WHERE t.tenant_id = NEW.tenant_id AND t.seq IS NOT NULL ORDER BY t.seq DESC LIMIT 1;
    END IF;
    NEW.seq := coalesce(head_seq, 0) + 1;
    NEW.prev_hash := coalesce(head_hash, repeat('0', 64));
    NEW.{time_column} := clock_timestamp();
    NEW.hash := encode(hmac(convert_to({table}_payload(NEW), 'UTF8'), (SELECT k.key FROM {KEY_TABLE} k WHERE k.id = 1), 'sha256'), 'hex');
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION {table}_first_break(chain bigint) RETURNS TABLE(seq bigint, reason text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    r {table};
    expected bigint := 1;
    previous text := repeat('0', 64);
    secret bytea := (SELECT k.key FROM {KEY_TABLE} k WHERE k.id = 1);
BEGIN
    FOR r IN SELECT * FROM {table} t
             WHERE t.seq IS NOT NULL AND ((chain IS NULL AND t.tenant_id IS NULL) OR t.tenant_id = chain)
             ORDER BY t.seq
    LOOP
        IF r.seq <> expected THEN
            seq := r.seq; reason := format('sequence %s where %s was expected (a row was removed)', r.seq, expected);
            RETURN NEXT; RETURN;
        END IF;
        IF r.prev_hash <> previous THEN
            seq := r.seq; reason := 'its previous hash does not match the row before it';
            RETURN NEXT; RETURN;
        END IF;
        IF r.hash <> encode(hmac(convert_to({table}_payload(r), 'UTF8'), secret, 'sha256'), 'hex') THEN
            seq := r.seq; reason := 'its hash is not the database''s keyed hash of its content (changed or forged)';
            RETURN NEXT; RETURN;
        END IF;
        expected := expected + 1;
        previous := r.hash;
    END LOOP;
END
$$;

DROP TRIGGER IF EXISTS {table}_sealed ON {table};
CREATE TRIGGER {table}_sealed BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION {table}_seal();
ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_sealed;
REVOKE ALL ON FUNCTION {table}_seal() FROM PUBLIC;
"""


def _reseal(table, time_column, order):
    """Chain the rows already there, in their order, as the owner (the append-only trigger lifted meanwhile)."""
    return f"""
ALTER TABLE {table} DISABLE TRIGGER {table}_no_update_delete;
DO $$
DECLARE
    r {table};
    last_chain text := '';
    expected bigint;
    previous text;
    secret bytea := (SELECT k.key FROM {KEY_TABLE} k WHERE k.id = 1);
BEGIN
    FOR r IN SELECT * FROM {table} ORDER BY tenant_id NULLS FIRST, {order} LOOP
        IF coalesce(r.tenant_id::text, 'platform') <> last_chain THEN
            last_chain := coalesce(r.tenant_id::text, 'platform');
            expected := 1;
            previous := repeat('0', 64);
        END IF;
        r.seq := expected;
        r.prev_hash := previous;
        r.hash := encode(hmac(convert_to({table}_payload(r), 'UTF8'), secret, 'sha256'), 'hex');
        UPDATE {table} SET seq = r.seq, prev_hash = r.prev_hash, hash = r.hash WHERE id = r.id;
        expected := expected + 1;
        previous := r.hash;
    END LOOP;
END
$$;
ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_no_update_delete;
"""


CREATE = (
    f"""
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE TABLE IF NOT EXISTS {KEY_TABLE} (id smallint PRIMARY KEY CHECK (id = 1), key bytea NOT NULL);
INSERT INTO {KEY_TABLE} (id, key) VALUES (1, gen_random_bytes(32)) ON CONFLICT (id) DO NOTHING;
REVOKE ALL ON {KEY_TABLE} FROM PUBLIC;
"""
    + _sql_for("accounts_auditevent", AUDIT_PAYLOAD, "created_at", "accounts.auditevent")
    + _sql_for("accounts_changelogentry", CHANGELOG_PAYLOAD, '"timestamp"', "accounts.changelogentry")
    + _reseal("accounts_auditevent", "created_at", "seq")
    + _reseal("accounts_changelogentry", '"timestamp"', "id")
)

DROP = """
DROP TRIGGER IF EXISTS accounts_auditevent_sealed ON accounts_auditevent;
DROP TRIGGER IF EXISTS accounts_changelogentry_sealed ON accounts_changelogentry;
DROP FUNCTION IF EXISTS accounts_auditevent_first_break(bigint);
DROP FUNCTION IF EXISTS accounts_changelogentry_first_break(bigint);
DROP FUNCTION IF EXISTS accounts_auditevent_seal();
DROP FUNCTION IF EXISTS accounts_changelogentry_seal();
DROP FUNCTION IF EXISTS accounts_auditevent_payload(accounts_auditevent);
DROP FUNCTION IF EXISTS accounts_changelogentry_payload(accounts_changelogentry);
DROP TABLE IF EXISTS accounts_audit_key;
"""


def seal(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)
        return
    from accounts.audit_seal import GENESIS_HASH, changelog_hash

    entry_model = apps.get_model("accounts", "ChangeLogEntry")
    heads = {}
    for entry in entry_model.objects.order_by("tenant_id", "id"):
        seq, previous = heads.get(entry.tenant_id, (0, GENESIS_HASH))
        entry.seq, entry.prev_hash = seq + 1, previous
        entry.hash = changelog_hash(entry)
        entry_model.objects.filter(pk=entry.pk).update(seq=entry.seq, prev_hash=entry.prev_hash, hash=entry.hash)
        heads[entry.tenant_id] = (entry.seq, entry.hash)


def unseal(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0015_portal_sessions_and_token_grants"),
    ]

    operations = [
        migrations.AddField(
            model_name="changelogentry",
            name="hash",
            field=models.CharField(blank=True, default="", max_length=64, verbose_name="hash"),
        ),
        migrations.AddField(
            model_name="changelogentry",
            name="prev_hash",
            field=models.CharField(blank=True, default="", max_length=64, verbose_name="previous hash"),
        ),
        migrations.AddField(
            model_name="changelogentry",
            name="seq",
            field=models.PositiveBigIntegerField(blank=True, null=True, verbose_name="sequence"),
        ),
        migrations.RunPython(seal, unseal, elidable=False),
    ]
