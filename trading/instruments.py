"""The instruments that say how a row's figures are written: prices to the instrument's tick, quantities to its
step, CFD ounces beside their lots (`quantarb.formatting`). The specs are the last reading stored on the
instrument (refreshed from the venue); they only shape the display, never an order."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from accounts.models import AccountPool, VenueAccount
from accounts.venue_kinds import spec_for
from trading.models import Instrument


def instruments_by_venue(venues: Iterable[str]) -> dict[str, Instrument]:
    """The stored instrument of each account venue (one query); venues read at sizing time (`ccxt:<id>`) have none."""
    wanted: dict[tuple[str, str], str] = {}
    for venue in set(venues):
        spec = spec_for(venue)
        if spec is not None and spec.instrument_venue is not None and spec.instrument_symbol is not None:
            wanted[(spec.instrument_venue, spec.instrument_symbol)] = venue
    if not wanted:
        return {}
    found: dict[str, Instrument] = {}
    for instrument in Instrument.objects.filter(venue__in={v for v, _ in wanted}):
        account_venue = wanted.get((instrument.venue, instrument.symbol))
        if account_venue is not None:
            found[account_venue] = instrument
    return found


def attach_instruments(rows: Iterable[Any], *, account: Callable[[Any], VenueAccount]) -> None:
    """Set `row.instrument` (or None) on each row, from the account `account(row)` names."""
    rows = list(rows)
    instruments = instruments_by_venue(account(row).venue for row in rows)
    for row in rows:
        row.instrument = instruments.get(account(row).venue)


def pool_instruments(pool: AccountPool) -> dict[str, Instrument | None]:
    """The pool's two instruments by leg: `{"perp": ..., "cfd": ...}`."""
    instruments = instruments_by_venue([pool.perp_account.venue, pool.cfd_account.venue])
    return {"perp": instruments.get(pool.perp_account.venue), "cfd": instruments.get(pool.cfd_account.venue)}
