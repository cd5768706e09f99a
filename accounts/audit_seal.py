"""Tamper evidence for the audit trail and the field-level change log.

PostgreSQL (services mode): the database seals every row. A BEFORE INSERT trigger (migration 0015) takes the
chain's lock, assigns the row's sequence number, time (`clock_timestamp()`) and previous hash, and computes its hash
as HMAC-SHA256 under a key kept in `accounts_audit_key` — a table the application's role cannot read (the trigger
and the verifier run as the table owner, SECURITY DEFINER). Whatever the application's role writes, the row gets
the database's position, time and keyed hash: it cannot back-date a row or slot one into the middle of a chain, and
a row whose hash the trigger did not make (written with the triggers lifted, restored from a doctored dump) fails
verification, which also runs in the database (`accounts_<table>_first_break`).

SQLite (embedded): the application computes the same chain with plain SHA-256 (accounts/audit.py). Anyone who can
write the database file can rewrite a chain consistently, and can delete rows; the chain only catches edits made
without recomputing what follows, and the signed checkpoints (accounts/audit_checkpoint.py) catch a shortened chain
only if the checkpoint file is kept out of that person's reach. docs/operations.md says so.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models

from .models import AuditEvent, ChangeLogEntry

GENESIS_HASH = "0" * 64
TABLES: dict[str, type[models.Model]] = {"audit": AuditEvent, "changelog": ChangeLogEntry}


def sealed_by_database() -> bool:
    return connection.vendor == "postgresql"


@dataclass(frozen=True)
class Break:
    table: str  # "audit" or "changelog"
    chain: int | None  # tenant id; None: the platform's chain
    seq: int
    reason: str


def chain_rows(model: type[models.Model], chain: int | None) -> models.QuerySet[Any]:
    rows: models.QuerySet[Any] = model._default_manager.all()
    return rows.filter(tenant__isnull=True) if chain is None else rows.filter(tenant_id=chain)


def chains_of(model: type[models.Model]) -> list[int | None]:
    manager: Any = model._default_manager
    ids = manager.filter(seq__isnull=False).order_by("tenant_id").values_list("tenant_id", flat=True).distinct()
    return sorted(set(ids), key=lambda chain: (chain is not None, chain or 0))


def database_first_break(table: str, chain: int | None) -> Break | None:
    """Ask the database to recompute a chain with its key (PostgreSQL only)."""
    function = {"audit": "accounts_auditevent_first_break", "changelog": "accounts_changelogentry_first_break"}[table]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT seq, reason FROM {function}(%s)", [chain])  # noqa: S608 (a constant name)
        row = cursor.fetchone()
    return Break(table, chain, int(row[0]), str(row[1])) if row else None


# --- the change log on SQLite: chained by the application ------------------------------------------------------
def _canonical_json(value: Any) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def changelog_hash(entry: ChangeLogEntry) -> str:
    """SHA-256 over an entry's content and its `prev_hash`, as stored (the embedded mode's chain)."""
    content = {
        "tenant": entry.tenant_id,
        "seq": entry.seq,
        "content_type": entry.content_type_id,
        # As the database gives them back: auditlog fills them with the object's pk, of whatever type.
        "object_pk": str(entry.object_pk),
        "object_id": int(entry.object_id) if entry.object_id is not None else None,
        "object_repr": entry.object_repr,
        "serialized_data": entry.serialized_data,
        "action": int(entry.action),
        "changes_text": entry.changes_text,
        "changes": entry.changes,
        "cid": entry.cid,
        "remote_addr": entry.remote_addr,
        "remote_port": entry.remote_port,
        "timestamp": entry.timestamp.astimezone(UTC).isoformat(timespec="microseconds"),
        "additional_data": entry.additional_data,
        "actor": entry.actor_id,
        "actor_email": entry.actor_email,
        "prev_hash": entry.prev_hash,
    }
    return hashlib.sha256(_canonical_json(content).encode()).hexdigest()


def changelog_chain(entry: ChangeLogEntry) -> None:
    """`pre_save` of a new change-log entry on SQLite: take the next position of its tenant's chain. (SQLite's
    write lock, taken at BEGIN, serialises appends; on PostgreSQL the trigger does all of this.)"""
    if sealed_by_database() or entry.pk is not None:
        return
    # The JSON fields as the database will give them back, so the entry read back hashes the same.
    for field in ("serialized_data", "changes", "additional_data"):
        value = getattr(entry, field)
        if value is not None:
            setattr(entry, field, json.loads(_canonical_json(value)))
    head = chain_rows(ChangeLogEntry, entry.tenant_id).filter(seq__isnull=False).order_by("-seq").first()
    entry.seq = (head.seq or 0) + 1 if head is not None else 1
    entry.prev_hash = head.hash if head is not None else GENESIS_HASH
    entry.hash = changelog_hash(entry)


def changelog_first_break(chain: int | None) -> Break | None:
    if sealed_by_database():
        return database_first_break("changelog", chain)
    expected, prev_hash = 1, GENESIS_HASH
    rows = chain_rows(ChangeLogEntry, chain).filter(seq__isnull=False).order_by("seq")
    for entry in rows.iterator(chunk_size=2000):
        if entry.seq != expected:
            return Break("changelog", chain, entry.seq, f"sequence {entry.seq} where {expected} was expected")
        if entry.prev_hash != prev_hash:
            return Break("changelog", chain, entry.seq, "its previous hash does not match the entry before it")
        if changelog_hash(entry) != entry.hash:
            return Break("changelog", chain, entry.seq, "its content does not match its hash (the entry was changed)")
        expected, prev_hash = expected + 1, entry.hash
    return None


def changelog_pre_save(sender: Any, instance: ChangeLogEntry, raw: bool = False, **kwargs: Any) -> None:
    if not raw:
        changelog_chain(instance)
