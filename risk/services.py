"""Kill switch writes: trip (by hand or automatically) and reset (by hand only), each audited and alerted.

A tripped switch covers: global → every strategy of every tenant; tenant → every strategy of the tenant;
strategy → that strategy. While covered, a strategy sends only orders that reduce exposure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.choices import AuditAction
from accounts.http import AuditContext
from accounts.models import Tenant, User
from alerts.choices import Category, Severity
from alerts.models import Alert
from alerts.rules import rule_dedup_key
from alerts.services import alert_raise, alert_resolve
from quantarb import clock, reasons

from .alert_rules import kill_switch_condition
from .choices import KillScope, KillTrigger
from .live import push_risk, push_risk_everywhere
from .models import KillSwitch
from .reasons import SWITCH_REASONS
from .signals import kill_switch_changed

if TYPE_CHECKING:  # a switch may cover one strategy: named in annotations only
    from strategies.models import Strategy


def active_switches() -> QuerySet[KillSwitch]:
    return KillSwitch.objects.filter(reset_at__isnull=True)


def switches_covering(strategy: Strategy) -> QuerySet[KillSwitch]:
    """The tripped switches that halt `strategy` (global, its tenant's, its own)."""
    return active_switches().filter(
        Q(scope=KillScope.GLOBAL)
        | Q(scope=KillScope.TENANT, tenant_id=strategy.tenant_id)
        | Q(scope=KillScope.STRATEGY, strategy_id=strategy.pk)
    )


def is_halted(strategy: Strategy) -> bool:
    return switches_covering(strategy).exists()


def _legacy_dedup_key(scope: str, tenant_id: int | None, strategy_id: int | None) -> str:
    return f"kill_switch:{scope}:{tenant_id or '-'}:{strategy_id or '-'}"


@transaction.atomic
def kill_switch_trip(
    *,
    scope: str,
    trigger: str,
    reason: str = "",
    code: str = "",
    params: Mapping[str, Any] | None = None,
    tenant: Tenant | None = None,
    strategy: Strategy | None = None,
    actor: User | None = None,
    context: AuditContext | None = None,
) -> KillSwitch:
    """Trip a switch. Tripping one that is already tripped for the same target returns it unchanged (an
    automatic trigger firing every second must not pile up switches or alerts beyond the alert's count).

    An automatic trip gives its reason as a `code` of risk/reasons.py and its `params` (translated when shown);
    a person's `reason` is kept as typed."""
    scope = KillScope(scope)
    trigger = KillTrigger(trigger)
    if scope == KillScope.STRATEGY:
        if strategy is None:
            raise ValidationError({"strategy": [_("Choose the strategy to halt.")]})
        tenant = strategy.tenant
    elif scope == KillScope.TENANT:
        if tenant is None:
            raise ValidationError({"tenant": [_("Choose the desk to halt.")]})
        strategy = None
    else:
        tenant, strategy = None, None
    stored_params = reasons.plain(params)
    if code:
        reason = reasons.english(SWITCH_REASONS, code, stored_params)
    reason = reason.strip()[:500] or str(trigger.label)
    existing = (
        active_switches()
        .select_for_update()
        .filter(scope=scope, tenant=tenant, strategy=strategy)
        .order_by("tripped_at")
        .first()
    )
    if existing is not None:
        return existing
    switch = KillSwitch.objects.create(
        scope=scope,
        tenant=tenant,
        strategy=strategy,
        trigger=trigger,
        reason=reason,
        reason_code=code,
        reason_params=stored_params,
        tripped_by=actor,
        tripped_at=clock.now(),
    )
    summary = {
        "event": "tripped",
        "scope": scope.value,
        "trigger": trigger.value,
        "reason": reason,
        "strategy": strategy.name if strategy else None,
    }
    tenants = [tenant] if tenant is not None else list(Tenant.objects.all())
    # The alert the `kill_switch_active` rule keeps open while the switch stays tripped, raised now rather than at
    # the rule's next round: the same dedup key, so one trip is one alert (risk/alert_rules.py).
    condition = kill_switch_condition(switch)
    for each in tenants:
        audit_record(
            tenant=each, actor=actor, action=AuditAction.KILL_SWITCH, obj=switch, summary=summary, context=context
        )
        alert_raise(
            tenant=each,
            category=Category.RISK,
            severity=Severity.CRITICAL,
            title=condition.title,
            dedup_key=rule_dedup_key("kill_switch_active", condition.key),
            detail=condition.detail,
            source=condition.source,
        )
    _push(switch)
    return switch


@transaction.atomic
def kill_switch_reset(
    *, switch: KillSwitch, actor: User, note: str = "", context: AuditContext | None = None
) -> KillSwitch:
    """Reset a tripped switch (only ever by a person). The switch's alert resolves with it."""
    switch = KillSwitch.objects.select_for_update().get(pk=switch.pk)
    if switch.reset_at is not None:
        raise ValidationError(_("This kill switch was already reset."))
    switch.reset_at = clock.now()
    switch.reset_by = actor
    switch.reset_note = note.strip()[:300]
    switch.save(update_fields=["reset_at", "reset_by", "reset_note"])
    tenants = [switch.tenant] if switch.tenant is not None else list(Tenant.objects.all())

    # The switch's alert, and one under the key trips used before they shared the rule's.
    keys = (
        rule_dedup_key("kill_switch_active", kill_switch_condition(switch).key),
        _legacy_dedup_key(switch.scope, switch.tenant_id, switch.strategy_id),
    )
    for each in tenants:
        audit_record(
            tenant=each,
            actor=actor,
            action=AuditAction.KILL_SWITCH,
            obj=switch,
            summary={"event": "reset", "scope": switch.scope, "note": switch.reset_note},
            context=context,
        )
        for alert in Alert.objects.filter(tenant=each, dedup_key__in=keys).exclude(status="resolved"):
            alert_resolve(alert=alert, actor=actor, code="kill_switch_reset")
    _push(switch)
    return switch


def _push(switch: KillSwitch) -> None:
    """Tell the pages of the strategies the switch covers, once the change is committed (risk/signals.py)."""
    scope, tenant_id, strategy_id = switch.scope, switch.tenant_id, switch.strategy_id
    if switch.tenant_id is not None:
        push_risk([switch.tenant_id])  # the risk centres show the active switches
    else:
        push_risk_everywhere()
    transaction.on_commit(
        lambda: kill_switch_changed.send(sender=KillSwitch, scope=scope, tenant_id=tenant_id, strategy_id=strategy_id)
    )
