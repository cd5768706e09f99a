"""Evaluating rules: every enabled rule of every tenant, raising what holds and resolving what cleared."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import transaction

from accounts.models import Tenant

from . import registry
from .choices import ACTIVE_STATUSES
from .models import Alert, AlertRule
from .services import alert_raise, alert_resolve

log = logging.getLogger(__name__)


def rules_ensure_defaults(*, tenant: Tenant) -> list[AlertRule]:
    """Every registered rule type has a rule in the tenant (defaults: enabled, the type's severity/params)."""
    existing = {rule.rule_type: rule for rule in AlertRule.objects.filter(tenant=tenant)}
    for key, rule_type in registry.rule_types().items():
        if key not in existing:
            existing[key], _ = AlertRule.objects.get_or_create(
                tenant=tenant,
                rule_type=key,
                defaults={"params": rule_type.defaults(), "severity": rule_type.default_severity},
            )
    return sorted(existing.values(), key=lambda rule: rule.rule_type)


def rule_dedup_key(rule_type: str, condition_key: str) -> str:
    """The dedup key of the alert a rule raises for a condition: a producer that raises the same alert the moment
    it happens (before the rule looks) uses it, so the two are one alert."""
    return f"rule:{rule_type}:{condition_key}"


def evaluate_rule(rule: AlertRule) -> tuple[int, int]:
    """Raise an alert for each condition that holds; resolve the rule's active alerts whose condition cleared
    (a disabled rule or an unknown type clears them all). Returns (raised, resolved)."""
    rule_type = registry.get(rule.rule_type)
    held: set[str] = set()
    raised = 0
    if rule.enabled and rule_type is not None:
        for condition in rule_type.evaluate(rule.tenant, rule_type.values(rule.params)):
            dedup_key = rule_dedup_key(rule.rule_type, condition.key)
            held.add(dedup_key)
            alert_raise(
                tenant=rule.tenant,
                category=rule_type.category,
                severity=rule.severity,
                title=condition.title,
                dedup_key=dedup_key,
                detail=condition.detail,
                source=condition.source,
                rule=rule,
            )
            raised += 1
    resolved = 0
    for alert in Alert.objects.filter(tenant=rule.tenant, rule=rule, status__in=ACTIVE_STATUSES):
        if alert.dedup_key not in held:
            alert_resolve(alert=alert, actor=None, code="condition_cleared")
            resolved += 1
    return raised, resolved


def evaluate_all() -> None:
    for tenant in Tenant.objects.order_by("pk"):
        for rule in rules_ensure_defaults(tenant=tenant):
            try:
                evaluate_rule(rule)
            except Exception:  # one broken rule must not silence the others
                log.exception("alert rule %s of tenant %s failed", rule.rule_type, tenant.slug)


def evaluate_types(*, tenant: Tenant, rule_types: Iterable[str]) -> None:
    """Evaluate some rule types of one tenant now: the event-driven path (an account changed state, a sync wrote
    snapshots), so an alert opens or clears without waiting for the beat job."""
    wanted = set(rule_types)
    for rule in rules_ensure_defaults(tenant=tenant):
        if rule.rule_type in wanted:
            try:
                evaluate_rule(rule)
            except Exception:
                log.exception("alert rule %s of tenant %s failed", rule.rule_type, tenant.slug)


def evaluate_on_commit(*, tenant: Tenant, rule_types: Iterable[str]) -> None:
    """`evaluate_types` once the surrounding transaction has committed (the change it reacts to is visible)."""
    types = tuple(rule_types)
    transaction.on_commit(lambda: evaluate_types(tenant=tenant, rule_types=types))
