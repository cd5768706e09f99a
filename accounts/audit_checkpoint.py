"""Signed checkpoints of every chain's head, written outside the database.

A chain vouches for every row but its last: deleting the tail leaves a shorter chain that verifies. So a beat job
(`accounts.tasks.write_audit_checkpoint`) appends each chain's head — table, tenant, sequence number and hash — to a
JSON-lines file outside the database, each line signed with HMAC-SHA256 under a key that is not in the database
(`QUANTARB_AUDIT_CHECKPOINT_KEY`, else one derived from SECRET_KEY). Verification compares the last checkpoint of
each chain with the database: a chain whose row at that position is gone (a deleted tail) or differs is broken,
and so is a line whose signature does not match (the file was edited). Keep the file where the database's
administrators cannot write (another host, append-only storage, or ship it to the log pipeline).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.crypto import salted_hmac

from quantarb import clock

from .audit_seal import TABLES, Break, chain_rows, chains_of


def checkpoint_path() -> Path | None:
    """None: checkpoints are off (the test settings' default; each test that needs them names a file)."""
    configured: str = settings.QUANTARB_AUDIT_CHECKPOINT_PATH
    return Path(configured) if configured else None


def _key() -> bytes:
    configured: str = settings.QUANTARB_AUDIT_CHECKPOINT_KEY
    if configured:
        return configured.encode()
    return salted_hmac("quantarb.audit.checkpoint", "key", algorithm="sha256").digest()


def _signature(record: dict[str, Any]) -> str:
    body = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(_key(), body, hashlib.sha256).hexdigest()


def checkpoint_write(*, path: Path | None = None) -> int:
    """Append the head of every chain of both tables; the number of heads written."""
    target = path or checkpoint_path()
    if target is None:
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    at = clock.now().isoformat()
    lines = []
    for table, model in TABLES.items():
        for chain in chains_of(model):
            head = chain_rows(model, chain).filter(seq__isnull=False).order_by("-seq").values("seq", "hash").first()
            if head is None:
                continue
            record = {"table": table, "chain": chain, "seq": head["seq"], "hash": head["hash"], "at": at}
            lines.append(json.dumps({**record, "sig": _signature(record)}, sort_keys=True))
    if lines:
        with target.open("a", encoding="utf-8") as file:
            file.write("\n".join(lines) + "\n")
    return len(lines)


def checkpoint_breaks(*, path: Path | None = None) -> list[Break]:
    """Chains the database no longer matches at their last checkpoint, and checkpoint lines that were altered."""
    source = path or checkpoint_path()
    if source is None or not source.exists():
        return []
    latest: dict[tuple[str, int | None], dict[str, Any]] = {}
    breaks = []
    for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            signed = json.loads(line)
            record = {key: signed[key] for key in ("table", "chain", "seq", "hash", "at")}
            valid = hmac.compare_digest(str(signed.get("sig", "")), _signature(record))
        except (ValueError, KeyError, TypeError):
            valid, record = False, {}
        if not valid or record.get("table") not in TABLES:
            breaks.append(
                Break("checkpoint", None, number, f"line {number} of {source.name} is not a valid signed line")
            )
            continue
        latest[(record["table"], record["chain"])] = record
    for (table, chain), record in latest.items():
        stored = chain_rows(TABLES[table], chain).filter(seq=record["seq"]).values_list("hash", flat=True).first()
        if stored is None:
            head = chain_rows(TABLES[table], chain).filter(seq__isnull=False).order_by("-seq").values("seq").first()
            now_at = head["seq"] if head else 0
            breaks.append(
                Break(
                    table,
                    chain,
                    record["seq"],
                    f"the checkpoint of {record['at']} saw seq {record['seq']}, the chain now ends at {now_at} "
                    "(rows were deleted)",
                )
            )
        elif stored != record["hash"]:
            breaks.append(
                Break(table, chain, record["seq"], f"seq {record['seq']} differs from the checkpoint of {record['at']}")
            )
    return breaks
