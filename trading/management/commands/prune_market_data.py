"""Apply the market-data retention policy now (the beat job `prune-market-data` runs it hourly)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from trading.marketdata.store import prune_market_data


class Command(BaseCommand):
    help = "Delete raw quotes, rates and spread samples older than --days, and candles older than --candle-days."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--days", type=int, default=settings.QUANTARB_RETAIN_QUOTES_DAYS)
        parser.add_argument("--candle-days", type=int, default=settings.QUANTARB_RETAIN_CANDLES_DAYS)

    def handle(self, *args: Any, **options: Any) -> None:
        days, candle_days = options["days"], options["candle_days"]
        if days < 1 or candle_days < days:
            raise CommandError("--days must be at least 1 and --candle-days at least --days")
        deleted = prune_market_data(quotes_days=days, candles_days=candle_days)
        summary = ", ".join(f"{count} {table}" for table, count in deleted.items())
        self.stdout.write(self.style.SUCCESS(f"Deleted {summary}."))
