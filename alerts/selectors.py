"""Reads of alerts, channels, rules and deliveries, always for a member: through `for_member`, their tenant's rows
(accounts/scoping.py); no membership reads nothing."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from accounts.models import Membership

from .choices import AlertStatus, Category, Severity
from .models import Alert, AlertRule, Channel, Delivery


def alerts_for(*, membership: Membership | None, filters: dict[str, Any] | None = None) -> QuerySet[Alert]:
    """The member's tenant's alerts, newest activity first; `filters` may hold status, severity and category (unknown
    values are ignored rather than answering nothing)."""
    rows = Alert.objects.for_member(membership).select_related("acknowledged_by", "resolved_by", "rule")
    filters = filters or {}
    for field, choices in (("status", AlertStatus), ("severity", Severity), ("category", Category)):
        value = filters.get(field)
        if value and value in choices.values:
            rows = rows.filter(**{field: value})
    return rows.order_by("-last_seen", "-pk")


def alert_for(*, membership: Membership | None, alert_id: int) -> Alert | None:
    return alerts_for(membership=membership).filter(pk=alert_id).first()


def open_alert_count(*, membership: Membership | None) -> int:
    return Alert.objects.for_member(membership).filter(status=AlertStatus.OPEN).count()


def channels_for(*, membership: Membership | None) -> QuerySet[Channel]:
    return Channel.objects.for_member(membership).order_by("name")


def rules_for(*, membership: Membership | None) -> QuerySet[AlertRule]:
    return AlertRule.objects.for_member(membership).order_by("rule_type")


def deliveries_for(*, membership: Membership | None) -> QuerySet[Delivery]:
    return Delivery.objects.for_member(membership).select_related("channel", "alert").order_by("-created_at", "-pk")
