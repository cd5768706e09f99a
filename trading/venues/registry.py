"""What the venue SDKs know that the rest of quantarb asks about. Which venues exist, their legs and credentials are
data (accounts/venue_kinds.py); which exchanges ccxt knows is read here, once, lazily — only this package imports
ccxt — and installed into the venue kinds by the composition root (quantarb/wiring.py).
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def ccxt_exchange_ids() -> frozenset[str]:
    import ccxt

    return frozenset(ccxt.exchanges)
