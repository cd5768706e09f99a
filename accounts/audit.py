"""The domain audit trail: append-only, one hash chain per tenant (ARCHITECTURE.md "Security").

Every row's `hash` is the SHA-256 of a canonical JSON of its content and of the previous row's hash, so editing,
deleting or reordering any row breaks the chain from that row on; `verify_chain` finds the first broken link.
The last row of a chain has no successor to vouch for it: removing only the tail shows as a shorter chain, which
the signed checkpoints written outside the database catch (accounts/audit_checkpoint.py). On PostgreSQL the
database itself assigns each row's position, time and keyed hash (accounts/audit_seal.py).

Rows without a tenant form the platform's chain (events that belong to no desk).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone

from quantarb import correlation

from .audit_seal import database_first_break, sealed_by_database
from .choices import AuditAction
from .http import AuditContext
from .models import AuditEvent, Tenant, User

GENESIS_HASH = "0" * 64
# No username can contain parentheses, so these never name a real user.
SYSTEM_ACTOR = "(system)"  # a command or a job
ANONYMOUS_ACTOR = "(anonymous)"  # a request with no signed-in user, e.g. a failed login
MASK = "••••"
_SECRET_KEY = re.compile(r"pass(word|wd|phrase)|secret|api_?key|token|private_?key|credential|otp")
_NEVER_HINTED = re.compile(r"pass(word|wd|phrase)|otp")
_HINT_MIN_LENGTH = 12  # below this, four characters give away too much of the secret


# --- masking -----------------------------------------------------------------------------------------------
def mask_secrets(values: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `values` (nested dicts and lists included) where every value under a secret-looking key
    (password, secret, api_key, token, ...) is masked: '••••' plus its last 4 characters, so an operator can
    tell keys apart. Passwords and short values get no hint at all."""
    return {key: _mask_value(str(key), value) for key, value in values.items()}


def _mask_value(key: str, value: Any) -> Any:
    normalised = key.lower().replace("-", "_")
    if _SECRET_KEY.search(normalised) and value not in (None, ""):
        if isinstance(value, Mapping | list):
            return MASK
        text = str(value)
        if _NEVER_HINTED.search(normalised) or len(text) < _HINT_MIN_LENGTH:
            return MASK
        return MASK + text[-4:]
    if isinstance(value, Mapping):
        return mask_secrets(value)
    if isinstance(value, list):
        return [_mask_value(key, item) if isinstance(item, Mapping | list) else item for item in value]
    return value


# --- hashing -----------------------------------------------------------------------------------------------
def _canonical_json(value: Any) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(event: AuditEvent) -> str:
    """SHA-256 over the row's content and its `prev_hash`, as stored (so a row read back hashes the same)."""
    content = {
        "tenant": event.tenant_id,
        "seq": event.seq,
        "actor_id": event.actor_id,
        "actor_username": event.actor_username,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "summary": event.summary,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "correlation_id": event.correlation_id,
        "created_at": event.created_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "prev_hash": event.prev_hash,
    }
    return hashlib.sha256(_canonical_json(content).encode()).hexdigest()


# --- writing -----------------------------------------------------------------------------------------------
@transaction.atomic
def audit_record(
    *,
    tenant: Tenant | None,
    actor: User | None,
    action: AuditAction | str,
    obj: models.Model | None = None,
    summary: Mapping[str, Any] | None = None,
    context: AuditContext | None = None,
    correlation_id: str | None = None,
) -> AuditEvent:
    """Append one event to `tenant`'s chain (the platform's chain when `tenant` is None).

    `actor` None means the platform itself (a command, a job) or, with a `context` (a request's), an anonymous
    caller. The context gives the row its address, user agent and correlation id.
    Secrets in `summary` are masked before anything is stored. Appends to one chain are serialised: on
    PostgreSQL by a transaction-level advisory lock on the chain, held until the surrounding transaction ends;
    on SQLite by its database write lock, which every transaction takes at BEGIN (`transaction_mode: IMMEDIATE`
    in settings).
    """
    action = AuditAction(action)
    # The head read and the insert are one transaction whatever the caller holds (a job's thread may hold none):
    # without it two writers could both extend the same head.
    with transaction.atomic():
        return _append(
            tenant=tenant,
            actor=actor,
            action=action,
            obj=obj,
            summary=summary,
            context=context,
            correlation_id=correlation_id,
        )


def _append(
    *,
    tenant: Tenant | None,
    actor: User | None,
    action: AuditAction,
    obj: models.Model | None,
    summary: Mapping[str, Any] | None,
    context: AuditContext | None,
    correlation_id: str | None,
) -> AuditEvent:
    _lock_chain(tenant)
    # JSON round trip: the row hashes exactly what the database will give back (Decimal → str, dates → ISO).
    stored_summary = json.loads(_canonical_json(mask_secrets(summary or {})))
    head = _chain(tenant).order_by("-seq").values("seq", "hash").first()
    event = AuditEvent(
        tenant=tenant,
        seq=(head["seq"] + 1) if head else 1,
        actor_id=actor.pk if actor is not None else None,
        actor_username=_actor_name(actor, context),
        action=action.value,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        summary=stored_summary,
        ip=context.ip if context is not None else None,
        user_agent=context.user_agent if context is not None else "",
        correlation_id=(
            correlation_id or (context.correlation_id if context is not None else "") or correlation.current() or ""
        )[:64],
        created_at=timezone.now(),
        prev_hash=head["hash"] if head else GENESIS_HASH,
    )
    event.hash = event_hash(event)
    event.save(force_insert=True)
    if sealed_by_database():
        # The trigger assigned the position, the time and the keyed hash (accounts/audit_seal.py): read them back.
        event.refresh_from_db(fields=["seq", "created_at", "prev_hash", "hash"])
    return event


def _actor_name(actor: User | None, context: AuditContext | None) -> str:
    if actor is not None:
        return actor.get_username()
    return ANONYMOUS_ACTOR if context is not None else SYSTEM_ACTOR


def _lock_chain(tenant: Tenant | None) -> None:
    """Serialise appends to one chain. Must run inside the transaction that inserts the row.

    The tenant's change-log chain is locked first (its trigger takes that lock when a tracked row is written), then
    the audit chain: every transaction takes the two in that order, so one that saved a tracked row before auditing
    and one that audits before saving one (deleting a risk limit) queue instead of deadlocking."""
    if connection.vendor == "postgresql":
        owner = tenant.pk if tenant is not None else "platform"
        with connection.cursor() as cursor:
            for chain in ("accounts.changelogentry", "accounts.auditevent"):
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"{chain}:{owner}"])


def _chain(tenant: Tenant | int | None) -> models.QuerySet[AuditEvent]:
    """The rows of a chain: a tenant's (by object or id, the tenant may have been deleted), or the platform's."""
    if tenant is None:
        return AuditEvent.objects.filter(tenant__isnull=True)
    return AuditEvent.objects.filter(tenant_id=tenant.pk if isinstance(tenant, Tenant) else tenant)


# --- verifying ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChainBreak:
    event: AuditEvent
    reason: str


def first_chain_break(tenant: Tenant | int | None) -> ChainBreak | None:
    """The first row of a chain (a tenant, a tenant id, or None for the platform's) that does not follow from
    the one before it, and why; None when the chain is intact."""
    if sealed_by_database():
        chain_id = tenant.pk if isinstance(tenant, Tenant) else tenant
        found = database_first_break("audit", chain_id)
        if found is None:
            return None
        return ChainBreak(_chain(tenant).get(seq=found.seq), found.reason)
    expected_seq, prev_hash = 1, GENESIS_HASH
    for event in _chain(tenant).order_by("seq").iterator(chunk_size=2000):
        if event.seq != expected_seq:
            return ChainBreak(event, f"sequence {event.seq} where {expected_seq} was expected (a row was removed)")
        if event.prev_hash != prev_hash:
            return ChainBreak(event, "its previous hash does not match the row before it")
        if event_hash(event) != event.hash:
            return ChainBreak(event, "its content does not match its hash (the row was changed)")
        expected_seq, prev_hash = expected_seq + 1, event.hash
    return None


def verify_chain(tenant: Tenant | None) -> AuditEvent | None:
    """The first broken row of `tenant`'s chain (None: the platform's chain), or None when the chain is intact."""
    broken = first_chain_break(tenant)
    return broken.event if broken else None


def all_chains() -> list[int | None]:
    """Every chain that has rows, by tenant id: the platform's (None) first, then each tenant's, deleted ones too."""
    tenant_ids = AuditEvent.objects.order_by("tenant_id").values_list("tenant_id", flat=True).distinct()
    return sorted(tenant_ids, key=lambda tenant_id: (tenant_id is not None, tenant_id or 0))


def describe_chain(tenant: Tenant | int | None) -> str:
    if tenant is None:
        return "the platform"
    if isinstance(tenant, Tenant):
        return f"tenant '{tenant.slug}'"
    slug = Tenant.objects.filter(pk=tenant).values_list("slug", flat=True).first()
    return f"tenant '{slug}'" if slug is not None else f"tenant #{tenant} (deleted)"
