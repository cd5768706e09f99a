"""Opportunity detection: a spell in which one direction's net edge stays at or above the entry threshold.

Works on tick-path edge units (integers of 1e-16 USD/oz, `trading.domain.fixed`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from trading.domain.fixed import edge_decimal
from trading.domain.spread import Direction


@dataclass(slots=True)
class Opportunity:
    direction: Direction
    started_ms: int
    threshold: int
    peak_net_edge: int
    peak_ms: int
    ended_ms: int | None = None

    @property
    def peak_usd(self) -> Decimal:
        return edge_decimal(self.peak_net_edge)

    @property
    def threshold_usd(self) -> Decimal:
        return edge_decimal(self.threshold)


@dataclass(slots=True)
class OpportunityTracker:
    """Opens an opportunity when a net edge reaches `entry_threshold`, follows its peak, and closes it when the
    edge falls below `exit_threshold` (default: the entry threshold) or pricing stops (`interrupt`). The gap
    between the two keeps an edge that hovers at the entry level from opening and closing on every tick.
    At most one is open at a time: on a valid book both edges cannot be positive together."""

    entry_threshold: int
    exit_threshold: int | None = None
    current: Opportunity | None = None

    def __post_init__(self) -> None:
        if self.exit_threshold is None:
            self.exit_threshold = self.entry_threshold
        elif self.exit_threshold > self.entry_threshold:
            raise ValueError("the exit threshold cannot be above the entry threshold")

    def update(
        self, ts_ms: int, net_sell_perp: int, net_buy_perp: int
    ) -> tuple[Opportunity | None, Opportunity | None]:
        """Feed one sample; returns (opened, closed), each None when nothing happened."""
        current = self.current
        closed = None
        if current is not None:
            edge = net_sell_perp if current.direction is Direction.SELL_PERP else net_buy_perp
            if edge >= self.exit_threshold:  # type: ignore[operator]
                if edge > current.peak_net_edge:
                    current.peak_net_edge = edge
                    current.peak_ms = ts_ms
                return None, None
            current.ended_ms = ts_ms
            self.current = None
            closed = current
        if net_sell_perp >= net_buy_perp:
            direction, edge = Direction.SELL_PERP, net_sell_perp
        else:
            direction, edge = Direction.BUY_PERP, net_buy_perp
        if edge >= self.entry_threshold:
            self.current = Opportunity(direction, ts_ms, self.entry_threshold, edge, ts_ms)
            return self.current, closed
        return None, closed

    def interrupt(self, ts_ms: int) -> Opportunity | None:
        """Close the open opportunity because quotes stopped being valid (stale, closed market)."""
        current, self.current = self.current, None
        if current is not None:
            current.ended_ms = ts_ms
        return current
