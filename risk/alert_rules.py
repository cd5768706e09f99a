"""Alert rule types of risk (alerts/registry.py finds this module): kill switches that stay tripped and hedges
left legged (a strategy in error is strategies/alert_rules.py's). The kill switch also raises its own alert the
moment it trips (risk/services.py); these rules keep an alert open for as long as the condition lasts and resolve it
when it clears."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext_lazy, gettext_noop

from alerts.registry import Condition, Param, RuleType, register
from quantarb import clock
from quantarb.phrases import phrase, words
from trading.choices import HedgeStatus
from trading.models import Hedge

from .choices import KillScope
from .limits import limit_condition, limit_key
from .models import KillSwitch, RiskLimitState


def kill_switch_condition(switch: KillSwitch) -> Condition:
    """The alert condition of one tripped switch. The trip raises it at once (risk/services.py) and this rule keeps
    it open: the same key, so one trip is one alert."""
    target = switch.strategy.name if switch.strategy is not None else words(KillScope(switch.scope).label)
    return Condition(
        key=f"kill_switch_active:{switch.pk}",
        title=phrase(
            gettext_noop("Kill switch tripped (%(target)s): %(reason)s"), target=target, reason=switch.reason_phrase
        ),
        detail={
            "scope": switch.scope,
            "trigger": switch.trigger,
            "reason": switch.reason,
            "since": switch.tripped_at.isoformat(),
        },
        source=switch.strategy or switch,
    )


def kill_switch_active(tenant: Any, params: dict[str, Decimal]) -> Iterator[Condition]:
    """Every tripped switch covering the tenant (its own, its strategies', the global one)."""
    switches = KillSwitch.objects.filter(reset_at__isnull=True).filter(
        Q(scope=KillScope.GLOBAL) | Q(tenant_id=tenant.pk)
    )
    for switch in switches.select_related("strategy"):
        yield kill_switch_condition(switch)


def hedge_legged(tenant: Any, params: dict[str, Decimal]) -> Iterator[Condition]:
    """Hedges legged (being repaired, or waiting for reconciliation) for longer than the limit. Every hedge also
    raises an alert of its own the moment it becomes legged (trading/execution/services.py); this one says it lasted."""
    since = clock.now() - timedelta(seconds=float(params["max_seconds"]))
    hedges = Hedge.objects.filter(
        tenant_id=tenant.pk,
        status__in=[HedgeStatus.LEGGED, HedgeStatus.REPAIRING, HedgeStatus.NEEDS_RECONCILE],
    ).filter(Q(legged_at__lte=since) | Q(legged_at__isnull=True, planned_at__lte=since))
    for hedge in hedges:
        unhedged = hedge.perp_oz + hedge.cfd_oz
        yield Condition(
            key=f"hedge_legged:{hedge.pk}",
            title=phrase(gettext_noop("Hedge #%(id)s is legged: %(oz)s oz unhedged"), id=hedge.pk, oz=unhedged),
            detail={"perp_oz": str(hedge.perp_oz), "cfd_oz": str(hedge.cfd_oz), "status": hedge.status},
            source=hedge,
        )


register(
    RuleType(
        key="kill_switch_active",
        label=gettext_lazy("Kill switch tripped"),
        description=gettext_lazy("A kill switch covering the desk is tripped (until someone resets it)."),
        category="risk",
        default_severity="critical",
        params=(),
        evaluate=kill_switch_active,
    )
)
register(
    RuleType(
        key="hedge_legged",
        label=gettext_lazy("Hedge legged"),
        description=gettext_lazy("A hedge has one leg without the other for longer than the limit."),
        category="execution",
        default_severity="critical",
        params=(Param("max_seconds", gettext_lazy("Seconds legged"), Decimal(30), Decimal(1), Decimal(86400), "s"),),
        evaluate=hedge_legged,
    )
)


def _limits_at(tenant: Any, level: str) -> Iterator[Condition]:
    states = RiskLimitState.objects.filter(tenant_id=tenant.pk, limit__enabled=True, level=level).select_related(
        "limit__pool", "limit__strategy", "limit__account"
    )
    for state in states:
        condition = limit_condition(state.limit, state.level, state.value)
        yield Condition(
            key=limit_key(state.limit_id), title=condition["title"], detail=condition["detail"], source=state.limit
        )


def risk_limit_warning(tenant: Any, params: dict[str, Decimal]) -> Iterator[Condition]:
    """Every enabled limit of the desk at its warning level, as its last evaluation left it (risk/limits.py raises
    the alert the moment the level is reached; this rule keeps it open while it lasts and resolves it after)."""
    return _limits_at(tenant, "warning")


def risk_limit_breach(tenant: Any, params: dict[str, Decimal]) -> Iterator[Condition]:
    """Every enabled limit of the desk at its breach level (see `risk_limit_warning`)."""
    return _limits_at(tenant, "breach")


register(
    RuleType(
        key="risk_limit_warning",
        label=gettext_lazy("Risk limit: warning level"),
        description=gettext_lazy("A limit of the limits page is at its warning level (only this alert, no action)."),
        category="risk",
        default_severity="warning",
        params=(),
        evaluate=risk_limit_warning,
    )
)
register(
    RuleType(
        key="risk_limit_breach",
        label=gettext_lazy("Risk limit: breach"),
        description=gettext_lazy("A limit of the limits page is breached: its action is taken (or awaits a person)."),
        category="risk",
        default_severity="critical",
        params=(),
        evaluate=risk_limit_breach,
    )
)
