"""Spread edges, costs, carry and net edges for a perp/CFD gold hedge (ARCHITECTURE.md "Units and formulas").

All money here is `Decimal` in USD per troy ounce. Perp prices are USDT/oz and are converted with
`usd_per_usdt` (the USD value of one USDT); CFD prices are USD/oz.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

ZERO = Decimal(0)
TWO = Decimal(2)
HOURS_PER_NIGHT = Decimal(24)
BPS = Decimal(10_000)


class Direction(StrEnum):
    """Which leg is sold. `SELL_PERP` sells the perp and buys the CFD (edge `e_sp`)."""

    SELL_PERP = "sell_perp"
    BUY_PERP = "buy_perp"


@dataclass(frozen=True, slots=True)
class Edges:
    """A pair of edges in USD/oz: selling the perp (`sell_perp`, e_sp) and buying it (`buy_perp`, e_bp)."""

    sell_perp: Decimal
    buy_perp: Decimal

    def of(self, direction: Direction) -> Decimal:
        return self.sell_perp if direction is Direction.SELL_PERP else self.buy_perp

    def best(self) -> tuple[Direction, Decimal]:
        if self.sell_perp >= self.buy_perp:
            return Direction.SELL_PERP, self.sell_perp
        return Direction.BUY_PERP, self.buy_perp


def spread_edges(
    *, perp_bid: Decimal, perp_ask: Decimal, cfd_bid: Decimal, cfd_ask: Decimal, usd_per_usdt: Decimal
) -> Edges:
    """Raw edges: `e_sp = perp_bid·usd_per_usdt − cfd_ask`, `e_bp = cfd_bid − perp_ask·usd_per_usdt`.

    On a valid book (bid < ask on both legs) `e_sp + e_bp = −(perp_spread·usd_per_usdt + cfd_spread) < 0`,
    so at most one direction can be profitable.
    """
    return Edges(
        sell_perp=perp_bid * usd_per_usdt - cfd_ask,
        buy_perp=cfd_bid - perp_ask * usd_per_usdt,
    )


def basis(*, perp_mid: Decimal, cfd_mid: Decimal, usd_per_usdt: Decimal) -> Decimal:
    """Perp minus CFD in USD/oz, at mid prices."""
    return perp_mid * usd_per_usdt - cfd_mid


@dataclass(frozen=True, slots=True)
class CostModel:
    """What a hedge costs besides the spread, all per ounce.

    A hedge pays four fills (open and close of both legs). Fee rates are fractions of notional per fill.
    `funding_rate` is the expected rate per funding event, signed as Binance publishes it (positive: longs pay
    shorts). Swaps are signed USD per ounce per night as the broker books them (negative: the holder pays).
    """

    perp_fee_rate: Decimal = Decimal("0.0005")
    cfd_fee_rate: Decimal = ZERO
    cfd_commission_per_oz: Decimal = ZERO
    slippage_usd_per_oz: Decimal = ZERO
    expected_holding_hours: Decimal = ZERO
    funding_rate: Decimal = ZERO
    funding_interval_hours: Decimal = Decimal(8)
    swap_long_per_oz_night: Decimal = ZERO
    swap_short_per_oz_night: Decimal = ZERO

    def __post_init__(self) -> None:
        for name in ("perp_fee_rate", "cfd_fee_rate", "cfd_commission_per_oz", "slippage_usd_per_oz"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} cannot be negative")
        if self.expected_holding_hours < 0:
            raise ValueError("expected_holding_hours cannot be negative")
        if self.funding_interval_hours <= 0:
            raise ValueError("funding_interval_hours must be positive")


def round_trip_fees(costs: CostModel, *, perp_price: Decimal, cfd_price: Decimal, usd_per_usdt: Decimal) -> Decimal:
    """Fees of the four fills in USD/oz: open and close on the perp and on the CFD."""
    perp = TWO * costs.perp_fee_rate * perp_price * usd_per_usdt
    cfd = TWO * (costs.cfd_fee_rate * cfd_price + costs.cfd_commission_per_oz)
    return perp + cfd


def expected_carry(costs: CostModel, direction: Direction, *, perp_mark: Decimal, usd_per_usdt: Decimal) -> Decimal:
    """Signed carry in USD/oz expected over the holding time: funding on the perp, swap on the CFD.

    With a positive funding rate the short perp receives and the long pays; the CFD leg earns or pays the
    broker's swap for its side. Positive means the hedge is paid to hold.
    """
    hours = costs.expected_holding_hours
    if hours == 0:
        return ZERO
    funding_events = hours / costs.funding_interval_hours
    nights = hours / HOURS_PER_NIGHT
    funding_to_short = costs.funding_rate * perp_mark * usd_per_usdt * funding_events
    if direction is Direction.SELL_PERP:
        return funding_to_short + costs.swap_long_per_oz_night * nights
    return -funding_to_short + costs.swap_short_per_oz_night * nights


def net_edges(
    edges: Edges,
    costs: CostModel,
    *,
    perp_mid: Decimal,
    cfd_mid: Decimal,
    usd_per_usdt: Decimal,
) -> Edges:
    """Edges net of four fills' fees, the slippage buffer and the signed expected carry."""
    fixed = round_trip_fees(costs, perp_price=perp_mid, cfd_price=cfd_mid, usd_per_usdt=usd_per_usdt)
    fixed += costs.slippage_usd_per_oz
    return Edges(
        sell_perp=edges.sell_perp
        - fixed
        + expected_carry(costs, Direction.SELL_PERP, perp_mark=perp_mid, usd_per_usdt=usd_per_usdt),
        buy_perp=edges.buy_perp
        - fixed
        + expected_carry(costs, Direction.BUY_PERP, perp_mark=perp_mid, usd_per_usdt=usd_per_usdt),
    )


def to_bps(edge: Decimal, reference_price: Decimal) -> Decimal:
    """An edge in basis points of a reference price (the CFD mid on the dashboard)."""
    if reference_price <= 0:
        raise ValueError("reference price must be positive")
    return edge / reference_price * BPS
