"""Verify the hash chains of the audit trail and the change log, and the signed checkpoints of their heads; exit
non-zero at the first broken link of any chain, a chain shorter than its last checkpoint, or an altered checkpoint."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.audit import all_chains, describe_chain, first_chain_break
from accounts.audit_checkpoint import checkpoint_breaks
from accounts.audit_seal import chains_of, changelog_first_break
from accounts.models import ChangeLogEntry, Tenant


class Command(BaseCommand):
    help = "Verify the audit trail's hash chains (every tenant's and the platform's, or one tenant's)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--tenant", metavar="SLUG", help="Verify only this tenant's chain.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["tenant"]:
            tenant = Tenant.objects.filter(slug=options["tenant"]).first()
            if tenant is None:
                raise CommandError(f"no tenant with the slug '{options['tenant']}'")
            chains: list[Tenant | int | None] = [tenant]
        else:
            chains = list(all_chains())
        broken = []
        for chain in chains:
            chain_break = first_chain_break(chain)
            if chain_break is None:
                self.stdout.write(f"{describe_chain(chain)}: intact")
                continue
            event = chain_break.event
            broken.append(describe_chain(chain))
            self.stdout.write(
                self.style.ERROR(
                    f"{describe_chain(chain)}: broken at seq {event.seq} (row id {event.pk}, {event.action}, "
                    f"{event.created_at.isoformat()}): {chain_break.reason}"
                )
            )
        # The change log's chains and the signed checkpoints (deleted tails), unless one tenant was asked for.
        if not options["tenant"]:
            for other in [
                *[found for c in chains_of(ChangeLogEntry) if (found := changelog_first_break(c)) is not None],
                *checkpoint_breaks(),
            ]:
                broken.append(f"{other.table} of {describe_chain(other.chain)}")
                self.stdout.write(
                    self.style.ERROR(
                        f"{other.table} of {describe_chain(other.chain)}: broken at seq {other.seq}: {other.reason}"
                    )
                )
        if broken:
            raise CommandError(f"broken audit chain: {', '.join(broken)}")
        self.stdout.write(self.style.SUCCESS(f"{len(chains)} audit chain(s) intact."))
