"""Channel-layer messages about strategies (the status panel refreshes on `strategy.changed`)."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from quantarb.live import send_on_commit
from risk.choices import KillScope

from .models import Strategy


class StrategyChanged(TypedDict):
    """A strategy's state, lease, decision, hedges or kill switches changed; carries no data (the page fetches
    what its user may see)."""

    type: Literal["strategy.changed"]
    strategy_id: int


def strategy_group(strategy_id: int) -> str:
    return f"strategy.{strategy_id}"


def push_kill_switch_change(*, scope: str, tenant_id: int | None, strategy_id: int | None, **_: Any) -> None:
    """risk's `kill_switch_changed`: every strategy page the switch covers refreshes (a platform switch covers all,
    a desk's its strategies, a strategy's that one)."""
    strategies = Strategy.objects.all()
    if scope == KillScope.STRATEGY and strategy_id is not None:
        strategies = strategies.filter(pk=strategy_id)
    elif scope == KillScope.TENANT and tenant_id is not None:
        strategies = strategies.filter(tenant_id=tenant_id)
    for each in strategies.values_list("pk", flat=True):
        send_on_commit(strategy_group(each), {"type": "strategy.changed", "strategy_id": each})
