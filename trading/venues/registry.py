"""The one way from a venue account to its venue: `gateway_for(account)`. Which venues exist, their legs and
credentials are data (accounts/venue_kinds.py); which exchanges ccxt knows is read here, once, lazily — only this
package imports ccxt — and installed into the venue kinds by the composition root (quantarb/wiring.py).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from accounts.venue_kinds import Venue
from trading.venues.errors import VenueError, VenueErrorKind
from trading.venues.mt5.gateway import Mt5Gateway, terminal_gateway

if TYPE_CHECKING:
    from accounts.models import VenueAccount
    from trading.venues.binance.gateway import BinanceUsdmGateway


@lru_cache(maxsize=1)
def ccxt_exchange_ids() -> frozenset[str]:
    # ccxt costs ~0.6 s and 35 MB to import: only a process that lists or opens a ccxt venue loads it
    import ccxt

    return frozenset(ccxt.exchanges)


def gateway_for(account: VenueAccount, **options: Any) -> BinanceUsdmGateway | Mt5Gateway:
    """The gateway of a live venue account, not yet connected: Binance signed with the account's keys, through its
    endpoint override or Binance's futures testnet; MT5 through the account's terminal, logged in with its MT5 login.
    `options` go to the gateway (timeouts, retries, throttling). A venue quantarb has no gateway for, or an MT5
    account without a terminal, is a `VenueError`."""
    credentials = account.credentials or {}
    if account.venue == Venue.BINANCE_USDM:
        # ccxt takes seconds to import: it loads with the first Binance gateway, not in every process importing this.
        from trading.venues.binance.gateway import BinanceUsdmGateway

        return BinanceUsdmGateway(
            api_key=str(credentials.get("api_key", "")) or None,
            api_secret=str(credentials.get("api_secret", "")) or None,
            rest_url=account.rest_endpoint or None,
            ws_url=account.ws_endpoint or None,
            testnet=account.binance_testnet,
            **options,
        )
    if account.venue == Venue.BYBIT_MT5:
        if account.terminal is None:
            raise VenueError(VenueErrorKind.UNREACHABLE, f"Account {account.label} has no MT5 terminal.")
        return terminal_gateway(account.terminal, credentials, **options)
    raise VenueError(VenueErrorKind.MARKET, f"Live execution is not available for {account.venue} accounts.")
