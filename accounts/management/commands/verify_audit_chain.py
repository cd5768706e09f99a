"""Verify the hash chains of the audit trail; exit non-zero at the first broken link of any chain."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.audit import all_chains, describe_chain, first_chain_break
from accounts.models import Tenant


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
        if broken:
            raise CommandError(f"broken audit chain: {', '.join(broken)}")
        self.stdout.write(self.style.SUCCESS(f"{len(chains)} audit chain(s) intact."))
