"""Alert rule types of strategies (alerts/registry.py finds this module): a strategy that stopped on an error."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy, gettext_noop

from alerts.registry import Condition, RuleType, register
from quantarb.phrases import phrase

from .choices import StrategyState
from .models import Strategy


def strategy_error(tenant: Any, params: dict[str, Decimal]) -> Iterator[Condition]:
    for strategy in Strategy.objects.filter(tenant_id=tenant.pk, state=StrategyState.ERROR):
        yield Condition(
            key=f"strategy_error:{strategy.pk}",
            title=phrase(
                gettext_noop("Strategy %(name)s stopped on an error: %(reason)s"),
                name=strategy.name,
                reason=strategy.state_reason_phrase,
            ),
            detail={"reason": strategy.state_reason},
            source=strategy,
        )


register(
    RuleType(
        key="strategy_error",
        label=gettext_lazy("Strategy in error"),
        description=gettext_lazy("A strategy stopped itself (a failed reconciliation, a runner failure)."),
        category="execution",
        default_severity="critical",
        params=(),
        evaluate=strategy_error,
    )
)
