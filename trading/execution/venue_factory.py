"""Which execution venue trades each account of a pool: the paper venue for paper accounts (fills against the
pool's live quotes), the venue gateways for live ones (trading/venues/)."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings

from accounts.choices import AccountMode
from accounts.models import AccountPool, VenueAccount
from accounts.venue_kinds import Venue
from trading.execution.paper import PaperVenue
from trading.instruments import instrument_of, spec_of
from trading.models import SourcePair
from trading.venues.base import ExecutionVenue
from trading.venues.errors import VenueError, VenueErrorKind
from trading.venues.mt5.gateway import Mt5Gateway
from trading.venues.mt5.orders import Mt5ExecutionVenue
from trading.venues.registry import gateway_for

log = logging.getLogger(__name__)


def execution_venues(pool: AccountPool, pair_id: int, market: Any) -> dict[int, ExecutionVenue]:
    """One execution venue per account of the pool. `market.snapshot(pair_id)` gives the latest quotes."""
    return {
        pool.perp_account_id: _venue(pool.perp_account, "perp", pair_id, market),
        pool.cfd_account_id: _venue(pool.cfd_account, "cfd", pair_id, market),
    }


def _fee_rate(pair_id: int, leg: str, default: Decimal) -> Decimal:
    """The pair's configured taker fee of the leg (what the net edge assumes), else the instrument's."""
    pair = SourcePair.objects.filter(pk=pair_id).first()
    if pair is None:
        return default
    return pair.perp_fee_rate if leg == "perp" else pair.cfd_fee_rate


def _venue(account: VenueAccount, leg: str, pair_id: int, market: Any) -> ExecutionVenue:
    instrument = instrument_of(account)
    if instrument is None:
        raise VenueError(VenueErrorKind.MARKET, f"No instrument is known for account {account.label}.")
    if account.mode == AccountMode.PAPER:

        def quote() -> Any:
            snapshot = market.snapshot(pair_id)
            return None if snapshot is None else (snapshot.perp if leg == "perp" else snapshot.cfd)

        displayed = settings.QUANTARB_PAPER_DISPLAYED_OZ
        return PaperVenue(
            account=account,
            quote=quote,
            step_oz=spec_of(instrument).step_oz,
            tick=instrument.tick_size,
            fee_rate=_fee_rate(pair_id, leg, instrument.taker_fee_rate),
            fee_currency=instrument.quote_currency,
            latency_ms=settings.QUANTARB_PAPER_LATENCY_MS,
            slippage_bps=Decimal(str(settings.QUANTARB_PAPER_SLIPPAGE_BPS)),
            displayed_oz=None if not displayed else Decimal(str(displayed)),
        )
    if account.venue == Venue.BYBIT_MT5:
        # One lookup inside the gateway: a lost answer comes back AMBIGUOUS at once, and the executor persists the
        # order as unknown before it looks it up again (so even a crash in between cannot lead to a blind resend).
        gateway = gateway_for(account, lookup_attempts=1, lookup_interval_s=0)
    else:
        gateway = gateway_for(account)
    if isinstance(gateway, Mt5Gateway):
        return Mt5ExecutionVenue(gateway)
    # ccxt takes seconds to import: the Binance venue loads with the first live Binance account, not at start-up.
    from trading.venues.binance.orders import BinanceExecutionVenue

    return BinanceExecutionVenue(gateway)


async def close_venues(venues: Mapping[int, Any]) -> None:
    """Close every venue that holds connections (a live Binance venue's ccxt session): await it, on the event loop
    that used the venues, in a `finally` — an unclosed ccxt session is a leaked socket and an "Unclosed client
    session" at exit. Bounded, so a half-open socket cannot hold the caller up; a failure to close is logged."""
    for venue in venues.values():
        close = getattr(venue, "close", None)
        if close is None:
            continue
        try:
            result = close()
            if inspect.isawaitable(result):
                await asyncio.wait_for(asyncio.shield(result), 5)
        except Exception:
            log.warning("closing venue %s failed", type(venue).__name__, exc_info=True)
