"""The pre-trade limits that apply to orders on a pool, as the pre-trade gate (risk/gate.py) reads them.

`risk` sits below `strategies` and cannot read a strategy's parameters itself; the composition root hands it this
function (quantarb/wiring.py)."""

from __future__ import annotations

from accounts.models import AccountPool
from risk.domain.checks import RiskLimits

from .domain.params import StrategyParams
from .models import Strategy
from .services import current_params


def params_for_pool(pool: AccountPool, strategy_id: int | None = None) -> StrategyParams:
    """The parameters orders on `pool` are held to: the given strategy's; for orders by hand, those of the pool's
    newest strategy (the desk's own limits for that pool); the defaults when it has none."""
    strategies = Strategy.objects.select_related("current_version")
    if strategy_id is not None:
        strategy = strategies.filter(pk=strategy_id, pool=pool).first()
    else:
        strategy = strategies.filter(pool=pool).order_by("-pk").first()
    if strategy is None or strategy.current_version is None:
        return StrategyParams()
    return current_params(strategy)


def risk_limits_for(pool: AccountPool, strategy_id: int | None) -> RiskLimits:
    return params_for_pool(pool, strategy_id).risk_limits()
