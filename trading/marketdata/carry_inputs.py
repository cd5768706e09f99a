"""Carry inputs recorded from now on: the funding rate of every funding time and the MT5 swap terms
of every day, per quote source. Later backtests and the risk view need their history, and no venue serves past
swap terms.

`record_carry_inputs` is a beat job (quantarb/schedule.py). For every enabled pair's Binance perp source it reads
the settled rates since the last one recorded (`GET /fapi/v1/fundingRate`, public: no account needed, the source's
endpoint override honoured); for every MT5 CFD source it reads `symbol_info`'s swap fields through the terminal of
a live account (the terminal that quotes the source) once a day. Idempotent: one row per (source, funding time) and
per (source, day), a repeated run adds nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from asgiref.sync import async_to_sync

from accounts.venue_kinds import Venue
from quantarb import clock
from trading.marketdata.pipeline import binance_gateway, mt5_account_for_source
from trading.models import FundingRateRecord, QuoteSource, SourcePair, SwapTermsRecord
from trading.venues.binance.gateway import BinanceUsdmGateway, FundingRateRow
from trading.venues.errors import VenueError
from trading.venues.mt5.gateway import connected

log = logging.getLogger(__name__)

# A source recorded for the first time is read this far back (Binance serves the history; pages of 1,000).
FIRST_READ = timedelta(days=90)
PAGE = 1000


def _sources(venue: str, leg: str) -> list[QuoteSource]:
    pairs = SourcePair.objects.filter(enabled=True)
    ids = set(pairs.values_list(f"{leg}_source_id", flat=True))
    return list(QuoteSource.objects.filter(pk__in=ids, venue=venue).order_by("pk"))


async def _funding_history(gateway: BinanceUsdmGateway, since_ms: int) -> list[FundingRateRow]:
    rows: list[FundingRateRow] = []
    try:
        while True:
            page = await gateway.fetch_funding_rate_history(since_ms, limit=PAGE)
            rows.extend(page)
            if len(page) < PAGE:
                return rows
            since_ms = page[-1].funding_ms + 1
    finally:
        await gateway.close()


def record_funding_rates(source: QuoteSource, now: datetime | None = None) -> int:
    """The settled funding rates of a Binance source since the last one recorded. Returns the rows added."""
    now = now or clock.now()
    last = FundingRateRecord.objects.filter(source=source).order_by("-funding_time").first()
    since = last.funding_time + timedelta(milliseconds=1) if last is not None else now - FIRST_READ
    rows = async_to_sync(_funding_history)(binance_gateway(source), int(since.timestamp() * 1000))
    before = FundingRateRecord.objects.filter(source=source).count()
    FundingRateRecord.objects.bulk_create(
        [
            FundingRateRecord(
                source=source,
                funding_time=datetime.fromtimestamp(row.funding_ms / 1000, UTC),
                rate=row.rate,
                mark_price=row.mark_price,
                recorded_at=now,
            )
            for row in rows
        ],
        ignore_conflicts=True,
    )
    return FundingRateRecord.objects.filter(source=source).count() - before


def record_swap_terms(source: QuoteSource, now: datetime | None = None) -> bool:
    """Today's swap terms of an MT5 source, read from `symbol_info` through the terminal of the live account that
    quotes it; nothing when today's are recorded already or no such account exists. Returns whether a row was
    added."""
    now = now or clock.now()
    day = now.astimezone(UTC).date()
    if SwapTermsRecord.objects.filter(source=source, day=day).exists():
        return False
    account: Any = mt5_account_for_source(source)
    if account is None or account.terminal is None:
        return False
    with connected(account.terminal, account.credentials or {}) as gateway:
        spec = gateway.symbol_spec()
    _, created = SwapTermsRecord.objects.get_or_create(
        source=source,
        day=day,
        defaults={
            "swap_mode": spec.swap_mode,
            "swap_long": spec.swap_long,
            "swap_short": spec.swap_short,
            "swap_rollover3days": spec.swap_rollover3days,
            "point": spec.point,
            "contract_size": spec.contract_size,
            "currency_profit": spec.currency_profit,
            "recorded_at": now,
        },
    )
    return created


def record_carry_inputs(now: datetime | None = None) -> dict[str, int]:
    """Record the funding rates and the swap terms of every enabled pair's venue sources (see the module)."""
    counts = {"funding_rates": 0, "swap_terms": 0, "failed": 0}
    for source in _sources(Venue.BINANCE_USDM, "perp"):
        try:
            counts["funding_rates"] += record_funding_rates(source, now)
        except VenueError as exc:
            log.warning("funding rates of %s not recorded: %s", source.key, exc)
            counts["failed"] += 1
    for source in _sources(Venue.BYBIT_MT5, "cfd"):
        try:
            counts["swap_terms"] += int(record_swap_terms(source, now))
        except VenueError as exc:
            log.warning("swap terms of %s not recorded: %s", source.key, exc)
            counts["failed"] += 1
    return counts
