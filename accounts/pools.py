"""The hedge ratio of a pool, derived from the instruments' current specs each time it is needed (never stored).

One CFD lot is `cfd.contract_size` ounces; one perpetual contract is `perp.contract_size` ounces. A hedge of
one lot therefore needs `cfd.contract_size / perp.contract_size` perpetual contracts, and the smallest hedge
both legs can trade is the least common multiple of the two steps in ounces.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from trading.models import Instrument

from .models import AccountPool, VenueAccount
from .venue_kinds import spec_for


@dataclass(frozen=True)
class HedgeRatio:
    perp_symbol: str
    cfd_symbol: str
    ounces_per_lot: Decimal  # CFD
    ounces_per_contract: Decimal  # perpetual
    contracts_per_lot: Decimal
    perp_step_oz: Decimal
    cfd_step_oz: Decimal
    specs_read_at: object


def instrument_of(account: VenueAccount) -> Instrument | None:
    spec = spec_for(account.venue)
    if spec is None or spec.instrument_venue is None:
        return None  # `ccxt:<id>`: read from the venue's market at sizing time
    return Instrument.objects.filter(venue=spec.instrument_venue, symbol=spec.instrument_symbol).first()


def hedge_ratio(pool: AccountPool) -> HedgeRatio | None:
    perp, cfd = instrument_of(pool.perp_account), instrument_of(pool.cfd_account)
    if perp is None or cfd is None:
        return None
    return HedgeRatio(
        perp_symbol=perp.symbol,
        cfd_symbol=cfd.symbol,
        ounces_per_lot=cfd.contract_size,
        ounces_per_contract=perp.contract_size,
        contracts_per_lot=cfd.contract_size / perp.contract_size,
        perp_step_oz=perp.quantity_step * perp.contract_size,
        cfd_step_oz=cfd.quantity_step * cfd.contract_size,
        specs_read_at=max(filter(None, [perp.specs_read_at, cfd.specs_read_at]), default=None),
    )
