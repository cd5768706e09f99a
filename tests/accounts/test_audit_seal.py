"""Tamper evidence: the database seals each audit row and change-log entry with a key the
application's role cannot read; signed checkpoints outside the database catch a deleted tail; `verify_audit_chain`
reports a forged row, a deleted tail and an edited change-log entry.

PostgreSQL-only tests skip on SQLite, and fail there when QUANTARB_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from accounts.audit import GENESIS_HASH, audit_record, event_hash, verify_chain
from accounts.audit_checkpoint import checkpoint_breaks, checkpoint_write
from accounts.audit_seal import changelog_first_break, changelog_hash
from accounts.choices import AuditAction
from accounts.db_roles import grant_application_role
from accounts.models import AuditEvent, ChangeLogEntry, Tenant
from tests.helpers.databases import require_postgresql

pytestmark = pytest.mark.django_db
AUDIT = "accounts_auditevent"
CHANGELOG = "accounts_changelogentry"


@pytest.fixture
def checkpoints(tmp_path: Path, settings: Any) -> Path:
    path = tmp_path / "checkpoints.jsonl"
    settings.QUANTARB_AUDIT_CHECKPOINT_PATH = str(path)
    return path


@pytest.fixture
def app_role() -> str:
    """A role with exactly the application's privileges (accounts/db_roles.py), rolled back with the test."""
    require_postgresql()
    role = f"quantarb_app_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} NOLOGIN")
    grant_application_role(connection, role)
    return role


@contextmanager
def as_role(role: str) -> Iterator[Any]:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL ROLE {role}")
        yield cursor
        # A failed statement rolls the savepoint back, SET LOCAL with it; a successful block resets it here
        # (SET LOCAL outlives the savepoint's release).
        cursor.execute("RESET ROLE")


@contextmanager
def append_only_lifted(table: str) -> Iterator[Any]:
    """As the owner (the superuser tests connect as): lift the append-only triggers, as someone with the owner's
    access would to edit or delete rows. The sealing trigger stays."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for trigger in (f"{table}_no_update_delete", f"{table}_no_truncate"):
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        try:
            yield cursor
        finally:
            for trigger in (f"{table}_no_update_delete", f"{table}_no_truncate"):
                cursor.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {trigger}")


def record(tenant: Tenant | None, n: int) -> list[AuditEvent]:
    return [
        audit_record(tenant=tenant, actor=None, action=AuditAction.SETTINGS_CHANGED, summary={"n": i}) for i in range(n)
    ]


def verify_output() -> str:
    out = StringIO()
    with pytest.raises(CommandError, match="broken audit chain"):
        call_command("verify_audit_chain", stdout=out)
    return out.getvalue()


def change_tenant_name(tenant: Tenant, name: str) -> None:
    tenant.name = name
    tenant.save()


# --- PostgreSQL: the database seals ----------------------------------------------------------------------------
def test_the_database_assigns_position_time_and_a_keyed_hash(alice: Any) -> None:
    require_postgresql()
    claimed = timezone.now().replace(year=2020)
    event = AuditEvent(
        tenant=alice.tenant, seq=99, action="login", created_at=claimed, prev_hash="f" * 64, hash="e" * 64
    )
    event.save(force_insert=True)
    event.refresh_from_db()
    assert (event.seq, event.prev_hash) == (1, GENESIS_HASH)  # not what the writer claimed
    assert event.created_at.year != 2020 and event.hash != "e" * 64
    # Keyed: the plain SHA-256 of the content (what anyone could compute) is not the hash.
    assert event.hash != event_hash(event)
    assert verify_chain(alice.tenant) is None


def test_the_application_role_cannot_read_the_key(alice: Any, app_role: str) -> None:
    require_postgresql()
    with pytest.raises(DatabaseError, match="permission denied"), as_role(app_role) as cursor:
        cursor.execute("SELECT key FROM accounts_audit_key")
    # …but appends through the sealing trigger and verifies through the database's function.
    with as_role(app_role):
        record(alice.tenant, 2)
        assert verify_chain(alice.tenant) is None


def test_a_row_forged_as_the_application_role_is_sealed_or_detected(alice: Any, app_role: str) -> None:
    """The application's role can only INSERT: whatever position, time and hash it writes, the trigger replaces
    them, so it cannot back-date a row or slot one mid-chain. A forged row that skipped the trigger (written with
    the owner's rights) is detected: only the database's key makes a valid hash."""
    require_postgresql()
    record(alice.tenant, 2)
    head = AuditEvent.objects.filter(tenant=alice.tenant).order_by("-seq").first()
    assert head is not None
    forged = AuditEvent(
        tenant=alice.tenant,
        seq=3,
        actor_username="mallory",
        action="role_changed",
        created_at=head.created_at,
        prev_hash=head.hash,
    )
    forged.hash = event_hash(forged)  # the old, public, unkeyed hash: a consistent-looking row
    columns = "tenant_id, seq, actor_username, action, object_type, object_id, summary, user_agent, correlation_id"
    values = "%s, %s, %s, %s, '', '', '{}', '', '', %s, %s, %s"
    with as_role(app_role) as cursor:
        cursor.execute(
            f"INSERT INTO {AUDIT} ({columns}, created_at, prev_hash, hash) VALUES ({values}) RETURNING id",  # noqa: S608
            [alice.tenant.pk, 3, "mallory", "role_changed", head.created_at.replace(year=2020), head.hash, forged.hash],
        )
        forged_id = cursor.fetchone()[0]
    stored = AuditEvent.objects.get(pk=forged_id)
    assert stored.created_at.year != 2020 and stored.hash != forged.hash  # sealed by the database
    assert verify_chain(alice.tenant) is None

    # The same row appended behind the trigger's back (the owner's rights) does not verify.
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE {AUDIT} DISABLE TRIGGER {AUDIT}_sealed")
        try:
            forged.seq, forged.prev_hash = stored.seq + 1, stored.hash
            forged.hash = event_hash(forged)
            forged.save(force_insert=True)
        finally:
            cursor.execute(f"ALTER TABLE {AUDIT} ENABLE ALWAYS TRIGGER {AUDIT}_sealed")
    assert verify_chain(alice.tenant) == forged
    assert "keyed hash" in verify_output()


def test_a_deleted_tail_is_detected_by_the_checkpoint(alice: Any, checkpoints: Path) -> None:
    require_postgresql()
    record(alice.tenant, 3)
    assert checkpoint_write() >= 1
    with append_only_lifted(AUDIT) as cursor:
        cursor.execute(f"DELETE FROM {AUDIT} WHERE tenant_id = %s AND seq = 3", [alice.tenant.pk])  # noqa: S608
    assert verify_chain(alice.tenant) is None  # the shorter chain is consistent in itself…
    [found] = checkpoint_breaks()
    assert (found.table, found.chain, found.seq) == ("audit", alice.tenant.pk, 3)  # …the checkpoint is not
    assert "rows were deleted" in verify_output()


def test_an_edited_change_log_row_is_detected(alice: Any) -> None:
    require_postgresql()
    change_tenant_name(alice.tenant, "Alpha desk")
    change_tenant_name(alice.tenant, "Alpha desk 2")
    entries = list(ChangeLogEntry.objects.filter(tenant=alice.tenant).order_by("seq"))
    assert len(entries) >= 2 and [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert changelog_first_break(alice.tenant.pk) is None
    with append_only_lifted(CHANGELOG) as cursor:
        cursor.execute(
            f"UPDATE {CHANGELOG} SET changes_text = 'nothing happened' WHERE id = %s",  # noqa: S608
            [entries[0].pk],
        )
    found = changelog_first_break(alice.tenant.pk)
    assert found is not None and found.seq == entries[0].seq
    assert "changelog of tenant 'alpha'" in verify_output()


# --- both databases --------------------------------------------------------------------------------------------
def test_the_change_log_is_chained(alice: Any) -> None:
    change_tenant_name(alice.tenant, "Alpha desk")
    change_tenant_name(alice.tenant, "Alpha desk 2")
    entries = list(ChangeLogEntry.objects.filter(tenant=alice.tenant).order_by("seq"))
    assert entries[0].prev_hash == GENESIS_HASH
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
    assert changelog_first_break(alice.tenant.pk) is None


def test_embedded_an_edited_change_log_row_is_detected(alice: Any) -> None:
    if connection.vendor == "postgresql":
        pytest.skip("the PostgreSQL variant above lifts the triggers first")
    change_tenant_name(alice.tenant, "Alpha desk")
    entry = ChangeLogEntry.objects.filter(tenant=alice.tenant).order_by("seq").first()
    assert entry is not None and changelog_hash(entry) == entry.hash
    ChangeLogEntry.objects.filter(pk=entry.pk).update(changes_text="nothing happened")
    found = changelog_first_break(alice.tenant.pk)
    assert found is not None and found.seq == entry.seq


def test_embedded_a_deleted_tail_is_detected_by_the_checkpoint(alice: Any, checkpoints: Path) -> None:
    if connection.vendor == "postgresql":
        pytest.skip("the PostgreSQL variant above lifts the triggers first")
    record(alice.tenant, 3)
    checkpoint_write()
    AuditEvent.objects.filter(tenant=alice.tenant, seq=3).delete()
    assert [b.seq for b in checkpoint_breaks() if b.table == "audit"] == [3]


def test_an_edited_checkpoint_line_is_detected(alice: Any, checkpoints: Path) -> None:
    record(alice.tenant, 2)
    checkpoint_write()
    lines = checkpoints.read_text().splitlines()
    doctored = json.loads(lines[0])
    doctored["seq"] = 1  # hide a deleted tail by lowering the checkpoint
    checkpoints.write_text("\n".join([json.dumps(doctored), *lines[1:]]) + "\n")
    assert any(b.table == "checkpoint" for b in checkpoint_breaks())


def test_checkpoints_of_an_intact_trail_report_nothing(alice: Any, checkpoints: Path) -> None:
    record(alice.tenant, 2)
    change_tenant_name(alice.tenant, "Alpha desk")
    checkpoint_write()
    record(alice.tenant, 1)  # rows appended after a checkpoint are fine
    assert checkpoint_breaks() == []
    assert hashlib.sha256(checkpoints.read_bytes()).hexdigest()  # the file exists and is not empty
