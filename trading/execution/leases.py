"""A runner's lease as the order path sees it: the strategy, the runner holding it and its epoch, and the fence
every order write takes inside its transaction. `strategies` takes and renews leases (its lifecycle); execution
only checks them, so a runner whose lease was taken over or ran out writes nothing.

The lease columns live on the strategy's row (`strategies.Strategy`: `runner_id`, `lease_epoch`, `lease_until`),
named here by the model's label as any model of a higher app is (ARCHITECTURE.md "Layers"); the fenced SQL of
`trading.execution.services` reads the same columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps import apps

from quantarb import clock


@dataclass(frozen=True)
class Lease:
    strategy_id: int
    runner_id: str
    epoch: int


class LeaseLost(Exception):
    """The runner's lease was taken over or expired: it must stop at once and write nothing."""


def fence(lease: Lease) -> Any:
    """Inside an order write's transaction: lock the strategy row and check the lease is still this runner's
    and unexpired; returns the strategy. Precondition: called within `transaction.atomic`."""
    strategy = (
        apps.get_model("strategies", "Strategy")
        .objects.select_for_update()
        .filter(pk=lease.strategy_id, runner_id=lease.runner_id, lease_epoch=lease.epoch, lease_until__gte=clock.now())
        .first()
    )
    if strategy is None:
        raise LeaseLost(f"strategy {lease.strategy_id}: lease epoch {lease.epoch} is not current")
    return strategy
