"""Which hedge a venue's funding payment belongs to (ARCHITECTURE.md "Units and formulas": funding is charged to
whoever holds the perp position at the funding instant).

Binance books one FUNDING_FEE per account and funding time, on the account's net position. A hedge's share is the
part its own perp position made of that net position just before the funding instant:

    share_h = payment · position_h / Σ positions

with positions signed (long > 0). When every hedge holds the same side this is a plain pro-rata split; when hedges
hold opposite sides the shares have opposite signs — each hedge gets exactly the funding its own position paid or
received at the implied `mark · rate = −payment / Σ positions`. A hedge that held nothing at that instant gets
nothing, whether it opened later or closed earlier; a hedge closed since is not spared (it held the position then).
When our hedges net to zero the payment cannot be explained by them (a position outside quantarb, or fills not yet
recorded): no share is given and the caller books the payment as unattributed.

Shares are booked at 8 dp and always add up to the payment exactly: each is rounded down in units of 1e-8 and the
units left over go, one each, to the largest remainders (ties by the order the holdings were given).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, localcontext
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

ZERO = Decimal(0)
MONEY_QUANTUM = Decimal("0.00000001")
PRECISION = 60
MINUTE_MS = 60_000


def funding_instant_ms(booked_ms: int) -> int:
    """The funding time a payment booked at `booked_ms` belongs to: funding happens on whole hours and Binance books
    the income within seconds after, so the payment's minute (floored) is the instant. Fills in that minute after
    the funding are few seconds late at most; a fill strictly before the instant counts as held."""
    return booked_ms - booked_ms % MINUTE_MS


def position_before(fills: Iterable[tuple[int, Decimal]], instant_ms: int) -> Decimal:
    """A leg's signed position just before `instant_ms`, from its fills as (time ms, signed quantity)."""
    return sum((quantity for at_ms, quantity in fills if at_ms < instant_ms), ZERO)


def funding_shares(amount: Decimal, holdings: Mapping[K, Decimal]) -> dict[K, Decimal]:
    """Split a funding payment (`amount`, signed as the venue books it: > 0 received) among `holdings`, each
    holder's signed perp position just before the funding instant. Holders with no position get no entry; when the
    positions net to zero nothing is attributed (empty result). The shares add up to `amount` quantized to 8 dp,
    exactly."""
    held = {key: position for key, position in holdings.items() if position != 0}
    booked = amount.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)
    with localcontext(prec=PRECISION):
        net = sum(held.values(), ZERO)
        if net == 0:
            return {}
        total_units = int(booked / MONEY_QUANTUM)
        exact = {key: booked / MONEY_QUANTUM * position / net for key, position in held.items()}
        units = {key: int(value.to_integral_value(rounding=ROUND_FLOOR)) for key, value in exact.items()}
        remainders = {key: exact[key] - units[key] for key in exact}
    order = list(held)
    left_over = total_units - sum(units.values())
    # Largest remainders first take a unit each; should rounding at 60 digits ever overshoot, the smallest give back.
    ranked = sorted(order, key=lambda key: (-remainders[key], order.index(key)))
    step = 1 if left_over > 0 else -1
    if step < 0:
        ranked.reverse()
    for index in range(abs(left_over)):
        units[ranked[index % len(ranked)]] += step
    return {key: Decimal(count) * MONEY_QUANTUM for key, count in units.items()}
