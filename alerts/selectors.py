"""Reads of alerts, channels, rules and deliveries, always scoped to a tenant."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from accounts.models import Tenant

from .choices import AlertStatus, Category, Severity
from .models import Alert, AlertRule, Channel, Delivery


def alerts_for(*, tenant: Tenant, filters: dict[str, Any] | None = None) -> QuerySet[Alert]:
    """The tenant's alerts, newest activity first; `filters` may hold status, severity and category (unknown
    values are ignored rather than answering nothing)."""
    rows = Alert.objects.filter(tenant=tenant).select_related("acknowledged_by", "resolved_by", "rule")
    filters = filters or {}
    for field, choices in (("status", AlertStatus), ("severity", Severity), ("category", Category)):
        value = filters.get(field)
        if value and value in choices.values:
            rows = rows.filter(**{field: value})
    return rows.order_by("-last_seen", "-pk")


def alert_for(*, tenant: Tenant, alert_id: int) -> Alert | None:
    return alerts_for(tenant=tenant).filter(pk=alert_id).first()


def open_alert_count(*, tenant: Tenant) -> int:
    return Alert.objects.filter(tenant=tenant, status=AlertStatus.OPEN).count()


def channels_for(*, tenant: Tenant) -> QuerySet[Channel]:
    return Channel.objects.filter(tenant=tenant).order_by("name")


def rules_for(*, tenant: Tenant) -> QuerySet[AlertRule]:
    return AlertRule.objects.filter(tenant=tenant).order_by("rule_type")


def deliveries_for(*, tenant: Tenant) -> QuerySet[Delivery]:
    return Delivery.objects.filter(tenant=tenant).select_related("channel", "alert").order_by("-created_at", "-pk")
