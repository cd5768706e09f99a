import logging

from celery import shared_task

log = logging.getLogger("quantarb.compliance")


@shared_task(name="accounts.tasks.verify_audit_chains", ignore_result=True, time_limit=3600, soft_time_limit=3300)
def verify_audit_chains() -> dict[str, int]:
    """Daily: verify every tenant's audit chain and the platform's, and raise each broken one to compliance.

    For now "raise to compliance" means an ERROR on the `quantarb.compliance` logger, which the log pipeline
    collects; alerts to the tenant's compliance users come with the alerts issue. Read-only, so safe to repeat.
    """
    from .audit import all_chains, describe_chain, first_chain_break

    checked = broken = 0
    for tenant in all_chains():
        checked += 1
        chain_break = first_chain_break(tenant)
        if chain_break is not None:
            broken += 1
            event = chain_break.event
            log.error(
                "audit chain of %s is broken at seq %s (row id %s): %s",
                describe_chain(tenant),
                event.seq,
                event.pk,
                chain_break.reason,
            )
    return {"checked": checked, "broken": broken}


@shared_task(name="accounts.tasks.sync_accounts", ignore_result=True, time_limit=120, soft_time_limit=100)
def sync_accounts() -> dict[str, int]:
    """Every minute: balance, equity and margin snapshots of the venue accounts (accounts/venue_services.py)."""
    from .venue_services import sync_accounts as sync

    return sync()
