"""Write the equity series from history (trading/portfolio/equity.py): hourly points over the whole window, minute
points over its last 7 days. Points already there are written again with the same figures, so it can be run again
(or stopped and resumed) safely."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Min
from django.utils.dateparse import parse_datetime

from accounts.models import Tenant
from quantarb import clock
from trading.models import CashFlow, EquityResolution, Fill
from trading.portfolio.equity import KEEP_MINUTES, SETTLE, equity_write, floor_to


class Command(BaseCommand):
    help = "Back-fill the equity series of one desk (--tenant) or all, from --since (default: its first flow or fill)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--tenant", help="The desk's slug (default: every desk).")
        parser.add_argument("--since", help="ISO 8601 time, UTC (default: the desk's first cash flow or fill).")
        parser.add_argument("--until", help="ISO 8601 time, UTC (default: the last settled minute).")

    def handle(self, *args: Any, **options: Any) -> None:
        tenants = Tenant.objects.all()
        if options["tenant"]:
            tenants = tenants.filter(slug=options["tenant"])
            if not tenants.exists():
                raise CommandError(f"No desk has the slug {options['tenant']!r}.")
        now = clock.now()
        until = self._time(options["until"], "--until") or floor_to(now - SETTLE, EquityResolution.MINUTE)
        for tenant in tenants:
            since = self._time(options["since"], "--since") or self._first(tenant)
            if since is None or since > until:
                self.stdout.write(f"{tenant.slug}: nothing to back-fill.")
                continue
            self._run(tenant, EquityResolution.HOUR, since, until)
            self._run(tenant, EquityResolution.MINUTE, max(since, now - KEEP_MINUTES), until)

    def _run(self, tenant: Tenant, resolution: str, since: datetime, until: datetime) -> None:
        """One clock of one desk, with its progress every tenth."""
        shown = {"tenth": -1}

        def progress(done: int, total: int) -> None:
            tenth = done * 10 // total
            if tenth != shown["tenth"]:
                shown["tenth"] = tenth
                self.stdout.write(f"{tenant.slug} {resolution}: {done}/{total} ticks ({tenth * 10} %)")

        written = equity_write(tenant=tenant, since=since, until=until, resolution=resolution, progress=progress)
        self.stdout.write(
            self.style.SUCCESS(f"{tenant.slug} {resolution}: {written} points from {since:%Y-%m-%d %H:%M}.")
        )

    @staticmethod
    def _first(tenant: Tenant) -> datetime | None:
        moments = [
            CashFlow.objects.filter(tenant=tenant).aggregate(first=Min("at"))["first"],
            Fill.objects.filter(tenant=tenant).aggregate(first=Min("at"))["first"],
        ]
        known = [moment for moment in moments if moment is not None]
        return min(known) - timedelta(minutes=1) if known else None

    @staticmethod
    def _time(text: str | None, option: str) -> datetime | None:
        if not text:
            return None
        moment = parse_datetime(text)
        if moment is None or moment.tzinfo is None:
            raise CommandError(f"{option} takes an ISO 8601 time with its zone, e.g. 2026-01-05T00:00:00Z.")
        return moment
