import logging

from celery import shared_task
from django.utils.translation import gettext_noop

from quantarb import alerting
from quantarb.phrases import phrase

from . import audit
from .audit_checkpoint import checkpoint_breaks, checkpoint_write
from .audit_seal import chains_of, changelog_first_break
from .models import ChangeLogEntry, Tenant

log = logging.getLogger("quantarb.compliance")


@shared_task(name="accounts.tasks.verify_audit_chains", ignore_result=True, time_limit=3600, soft_time_limit=3300)
def verify_audit_chains() -> dict[str, int]:
    """Daily: verify every tenant's audit chain and the platform's, and raise each broken one to compliance.

    Each broken chain is an ERROR on the `quantarb.compliance` logger, which the log pipeline collects, and a
    tenant's broken chain is also a critical system alert in that tenant (one per chain while it stays broken).
    Read-only on the trail, so safe to repeat.
    """
    checked = broken = 0
    for tenant in audit.all_chains():
        checked += 1
        chain_break = audit.first_chain_break(tenant)
        if chain_break is not None:
            broken += 1
            event = chain_break.event
            log.error(
                "audit chain of %s is broken at seq %s (row id %s): %s",
                audit.describe_chain(tenant),
                event.seq,
                event.pk,
                chain_break.reason,
            )
            owner = Tenant.objects.filter(pk=tenant).first() if tenant is not None else None
            if owner is not None:
                alerting.raise_alert(
                    tenant=owner,
                    category="system",
                    severity="critical",
                    title=phrase(gettext_noop("Audit trail broken at seq %(seq)s"), seq=event.seq),
                    dedup_key="audit_chain_broken",
                    detail={"seq": event.seq, "row_id": event.pk, "reason": chain_break.reason},
                )
    # The change log's chains and the signed checkpoints (a deleted tail, an edited checkpoint file).
    others = [found for chain in chains_of(ChangeLogEntry) if (found := changelog_first_break(chain)) is not None]
    for other in [*others, *checkpoint_breaks()]:
        checked += 1
        broken += 1
        log.error(
            "%s chain of %s is broken at seq %s: %s",
            other.table,
            audit.describe_chain(other.chain),
            other.seq,
            other.reason,
        )
        owner = Tenant.objects.filter(pk=other.chain).first() if other.chain is not None else None
        if owner is not None:
            alerting.raise_alert(
                tenant=owner,
                category="system",
                severity="critical",
                title=phrase(gettext_noop("Audit trail broken at seq %(seq)s"), seq=other.seq),
                dedup_key=f"audit_chain_broken:{other.table}",
                detail={"seq": other.seq, "table": other.table, "reason": other.reason},
            )
    return {"checked": checked, "broken": broken}


@shared_task(name="accounts.tasks.write_audit_checkpoint", ignore_result=True, time_limit=300, soft_time_limit=280)
def write_audit_checkpoint() -> int:
    """Every 15 minutes: append each chain's signed head to the checkpoint file outside the database, so a deleted
    tail is caught (accounts/audit_checkpoint.py). Appending the same heads twice is harmless."""
    return checkpoint_write()
