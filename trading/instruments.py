"""The instruments venue accounts trade, and their specs (trading/domain/sizing.py `InstrumentSpec`).

Which instrument an account trades follows from its venue (accounts/venue_kinds.py); the specs are the last reading
stored on the instrument (refreshed from the venue). They size and price hedges and give a pool its hedge ratio: one
CFD lot is `cfd.contract_size` ounces, one perpetual contract `perp.contract_size` ounces, so a hedge of one lot
needs `cfd.contract_size / perp.contract_size` contracts, and the smallest hedge both legs can trade is the least
common multiple of their steps in ounces. On pages they shape how a row's figures are written: prices to the
instrument's tick, quantities to its step, CFD ounces beside their lots (`quantarb.formatting`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db.models import F, Q

from accounts.models import AccountPool, VenueAccount
from accounts.venue_kinds import spec_for
from trading.domain.sizing import CFD_DEFAULTS, PERP_DEFAULTS, InstrumentSpec
from trading.models import Instrument, SourcePair


def instrument_of(account: VenueAccount) -> Instrument | None:
    """The stored instrument `account` trades; None for a venue whose market is read at sizing time (`ccxt:<id>`)."""
    spec = spec_for(account.venue)
    if spec is None or spec.instrument_venue is None:
        return None
    return Instrument.objects.filter(venue=spec.instrument_venue, symbol=spec.instrument_symbol).first()


def spec_of(instrument: Instrument) -> InstrumentSpec:
    """An instrument's last reading as the one spec type."""
    return InstrumentSpec(
        symbol=instrument.symbol,
        contract_size=instrument.contract_size,
        quantity_step=instrument.quantity_step,
        min_quantity=instrument.min_quantity,
        tick=instrument.tick_size,
        digits=instrument.price_places,
        min_notional=instrument.min_notional,
        taker_fee_rate=instrument.taker_fee_rate,
        read_at=instrument.specs_read_at,
    )


def pool_specs(pool: AccountPool) -> tuple[InstrumentSpec, InstrumentSpec] | None:
    """The specs of the pool's perpetual and CFD instruments; None while either is read only at sizing time."""
    perp, cfd = instrument_of(pool.perp_account), instrument_of(pool.cfd_account)
    if perp is None or cfd is None:
        return None
    return spec_of(perp), spec_of(cfd)


def sizing_specs(pool: AccountPool) -> tuple[InstrumentSpec, InstrumentSpec]:
    """The specs a strategy of the pool is validated and sized against: the pool's, else (a ccxt venue's market is
    read at sizing time) the gold pair's usual ones."""
    return pool_specs(pool) or (PERP_DEFAULTS, CFD_DEFAULTS)


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


def pair_id_for_pool(pool: AccountPool) -> int | None:
    """The source pair that prices this pool: the pair whose sources quote the instruments of its accounts."""
    perp, cfd = instrument_of(pool.perp_account), instrument_of(pool.cfd_account)
    if perp is None or cfd is None:
        return None
    pairs = SourcePair.objects.filter(enabled=True, perp_source__instrument=perp, cfd_source__instrument=cfd)
    # The pool's desk's own pairs and the platform's — never another desk's (its admins configure its costs).
    pairs = pairs.filter(Q(tenant_id=pool.tenant_id) | Q(tenant__isnull=True)).order_by(
        F("tenant_id").asc(nulls_last=True), "pk"
    )
    endpoint = pool.perp_account.rest_endpoint
    preferred = pairs.filter(perp_source__endpoint=endpoint).values_list("pk", flat=True).first()
    return preferred or pairs.values_list("pk", flat=True).first()
