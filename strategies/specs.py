"""The venue specs a strategy is validated and sized against, read from the pool's instruments (the last reading
from the venues: `exchangeInfo`, `symbol_info`)."""

from __future__ import annotations

from accounts.models import AccountPool
from accounts.pools import instrument_of
from trading.domain.sizing import VenueSpecs


def pool_specs(pool: AccountPool) -> VenueSpecs:
    perp, cfd = instrument_of(pool.perp_account), instrument_of(pool.cfd_account)
    if perp is None or cfd is None:
        return VenueSpecs()  # a ccxt venue's market is read at sizing time; until then the defaults
    return VenueSpecs(
        perp_tick=perp.tick_size,
        perp_step_oz=perp.quantity_step * perp.contract_size,
        perp_min_qty_oz=perp.min_quantity * perp.contract_size,
        perp_min_notional_usdt=perp.min_notional,
        cfd_contract_size_oz=cfd.contract_size,
        cfd_volume_min_lots=cfd.min_quantity,
        cfd_volume_step_lots=cfd.quantity_step,
        cfd_digits=cfd.price_places,
    )
