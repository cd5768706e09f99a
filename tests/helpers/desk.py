"""The objects of a trading desk as the strategy, risk and portfolio pages show them: a persona's paper pool, an
open hedge with its filled orders, and bravo's own strategy, hedge, kill switch, report and command (which alpha's
personas must never see)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from quantarb import clock
from risk.models import KillSwitch
from strategies.domain.params import StrategyParams
from tests.factories import AccountPoolFactory, StrategyFactory, hedge_with_orders
from trading.models import Hedge, ManualCommand, ReconciliationReport


def make_hedge(strategy: Any, status: str = "open") -> Hedge:
    """A hedge of `strategy` with its two opening orders filled, 2.5 of spread PnL and 0.4 of fees paid."""
    return hedge_with_orders(strategy=strategy, status=status, pnl_spread=Decimal("2.5"), pnl_fees=Decimal("-0.4"))


def pool_of(persona: Any, name: str) -> Any:
    """`persona`'s paper pool "<name> pool" on "<name> perp" and "<name> CFD", 1000 allocated to each."""
    return AccountPoolFactory.create(
        tenant=persona.tenant,
        owner=persona.user,
        name=f"{name} pool",
        perp_account__label=f"{name} perp",
        cfd_account__label=f"{name} CFD",
        perp_allocation=Decimal(1000),
        cfd_allocation=Decimal(1000),
    )


def bravo_objects(charlie: Any) -> dict[str, Any]:
    """Bravo's own strategy, pool, hedge, kill switch, reconciliation report and manual command, by their keys."""
    pool = pool_of(charlie, "Bravo")
    strategy = StrategyFactory.create(pool=pool, name="Bravo", params=StrategyParams(), actor=charlie.user)
    hedge = make_hedge(strategy)
    switch = KillSwitch.objects.create(
        scope="tenant", tenant=charlie.tenant, trigger="manual", reason="bravo", tripped_at=clock.now()
    )
    report = ReconciliationReport.objects.create(
        tenant=charlie.tenant, pool=pool, trigger="manual", status="mismatch", started_at=clock.now()
    )
    command = ManualCommand.objects.create(
        tenant=charlie.tenant, pool=pool, kind="cancel_orders", requested_by=charlie.user, requested_at=clock.now()
    )
    return {
        "bravo_strategy": strategy,
        "bravo_pool": pool,
        "bravo_hedge": hedge,
        "bravo_switch": switch,
        "bravo_report": report,
        "bravo_command": command,
    }
