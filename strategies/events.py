"""Channel-layer messages about strategies (the status panel refreshes on `strategy.changed`)."""

from __future__ import annotations

from typing import Literal, TypedDict


class StrategyChanged(TypedDict):
    """A strategy's state, lease, decision, hedges or kill switches changed; carries no data (the page fetches
    what its user may see)."""

    type: Literal["strategy.changed"]
    strategy_id: int


def strategy_group(strategy_id: int) -> str:
    return f"strategy.{strategy_id}"
