"""Writes for alerts: raise (with dedup), acknowledge, resolve, and the notifications a raise sends.

`alert_raise` is what every producer calls (rule evaluation, later the strategies and reconciliation). It is safe
under concurrency: the active alert of a key is locked (SELECT FOR UPDATE) while it is bumped, and the partial
unique constraint on (tenant, dedup_key) turns a race between two first raises into one row and one bump.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from django.db import IntegrityError, models, transaction
from django.db.models import F

from accounts.audit import audit_record
from accounts.choices import AuditAction
from accounts.crypto import mask
from accounts.http import AuditContext
from accounts.models import Membership, Tenant, User
from quantarb import clock, reasons
from quantarb.events import user_group
from quantarb.live import send_on_commit
from quantarb.phrases import Phrase

from .checks import SECRET_FOR_KIND, STORED_NAME, ChannelValues
from .choices import ACTIVE_STATUSES, AlertStatus, DeliveryStatus, severity_at_least
from .models import Alert, AlertRule, Channel, Delivery
from .reasons import RESOLVE_REASONS

log = logging.getLogger(__name__)


class AlertStateError(ValueError):
    """The alert is not in a state that allows the action (e.g. acknowledging a resolved alert)."""


@dataclass(frozen=True)
class Raised:
    alert: Alert
    created: bool


# --- raising ------------------------------------------------------------------------------------------------
def alert_raise(
    *,
    tenant: Tenant,
    category: str,
    severity: str,
    title: str | Phrase,
    dedup_key: str,
    detail: dict[str, Any] | None = None,
    source: models.Model | None = None,
    rule: AlertRule | None = None,
) -> Raised:
    """Open an alert, or bump the active one with the same `dedup_key` (count + 1, last seen now, detail and
    severity refreshed). Notifications go out on commit, through each matching channel's throttle.

    A `Phrase` title is kept as written and shown in each reader's language (`Alert.title_text`); the `title` column
    keeps its English rendering, which notifications and the audit trail carry."""
    written = title if isinstance(title, Phrase) else None
    english = title.english() if isinstance(title, Phrase) else title
    for attempt in range(3):
        try:
            return _raise_once(
                tenant=tenant,
                category=category,
                severity=severity,
                title=english[:200],
                title_phrase=written.as_json() if written is not None else {},
                dedup_key=dedup_key[:200],
                detail=detail or {},
                source=source,
                rule=rule,
            )
        except IntegrityError:
            # Another transaction opened the same key between our lookup and our insert: bump theirs.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@transaction.atomic
def _raise_once(
    *,
    tenant: Tenant,
    category: str,
    severity: str,
    title: str,
    title_phrase: dict[str, Any],
    dedup_key: str,
    detail: dict[str, Any],
    source: models.Model | None,
    rule: AlertRule | None,
) -> Raised:
    now = clock.now()
    active = (
        Alert.objects.select_for_update().filter(tenant=tenant, dedup_key=dedup_key, status__in=ACTIVE_STATUSES).first()
    )
    if active is not None:
        Alert.objects.filter(pk=active.pk).update(
            count=F("count") + 1,
            last_seen=now,
            detail=detail,
            severity=severity,
            title=title,
            title_phrase=title_phrase,
        )
        active.refresh_from_db()
        _notify(alert=active, now=now, repeat=True)
        return Raised(active, created=False)
    with transaction.atomic():  # a savepoint: the IntegrityError of a lost race leaves the outer block usable
        alert = Alert.objects.create(
            tenant=tenant,
            category=category,
            severity=severity,
            title=title,
            title_phrase=title_phrase,
            detail=detail,
            dedup_key=dedup_key,
            rule=rule,
            source_type=source._meta.label_lower if source is not None else "",
            source_id=str(source.pk) if source is not None else "",
            first_seen=now,
            last_seen=now,
        )
    _notify(alert=alert, now=now, repeat=False)
    _push_changed(tenant)
    return Raised(alert, created=True)


# --- acknowledging and resolving ----------------------------------------------------------------------------
@transaction.atomic
def alert_acknowledge(*, alert: Alert, actor: User, context: AuditContext | None = None) -> Alert:
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.status != AlertStatus.OPEN:
        raise AlertStateError("Only an open alert can be acknowledged.")
    alert.status = AlertStatus.ACKNOWLEDGED
    alert.acknowledged_by = actor
    alert.acknowledged_at = clock.now()
    alert.save(update_fields=["status", "acknowledged_by", "acknowledged_at"])
    audit_record(
        tenant=alert.tenant,
        actor=actor,
        action=AuditAction.ALERT_ACKNOWLEDGED,
        obj=alert,
        summary={"title": alert.title, "dedup_key": alert.dedup_key, "count": alert.count},
        context=context,
    )
    _push_changed(alert.tenant)
    return alert


@transaction.atomic
def alert_resolve(
    *,
    alert: Alert,
    actor: User | None,
    context: AuditContext | None = None,
    code: str = "",
    params: Mapping[str, Any] | None = None,
) -> Alert:
    """Resolve an active alert: by a user (audited with them), or automatically when its condition cleared
    (`actor` None: audited as the system). `code` (alerts/reasons.py) and `params` say why, when the system
    resolves it; they are kept on the alert and shown in the reader's language."""
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.status == AlertStatus.RESOLVED:
        raise AlertStateError("This alert is already resolved.")
    alert.status = AlertStatus.RESOLVED
    alert.resolved_by = actor
    alert.resolved_at = clock.now()
    alert.resolved_reason_code = code
    alert.resolved_reason_params = reasons.plain(params) if code else {}
    alert.resolved_reason = reasons.english(RESOLVE_REASONS, code, alert.resolved_reason_params)[:300] if code else ""
    alert.save(
        update_fields=[
            "status",
            "resolved_by",
            "resolved_at",
            "resolved_reason",
            "resolved_reason_code",
            "resolved_reason_params",
        ]
    )
    audit_record(
        tenant=alert.tenant,
        actor=actor,
        action=AuditAction.ALERT_RESOLVED,
        obj=alert,
        summary={
            "title": alert.title,
            "dedup_key": alert.dedup_key,
            "automatic": actor is None,
            "reason": alert.resolved_reason,
        },
        context=context,
    )
    _push_changed(alert.tenant)
    return alert


# --- notifications ---------------------------------------------------------------------------------------------
def _in_quiet_hours(channel: Channel, at: datetime) -> bool:
    start, end = channel.quiet_start, channel.quiet_end
    if start is None or end is None or start == end:
        return False
    now = time(at.hour, at.minute, at.second)
    return start <= now < end if start < end else (now >= start or now < end)


def channel_accepts(channel: Channel, alert: Alert) -> bool:
    """Routing: the channel takes the alert's category (no categories: all) at or above its minimum severity."""
    if channel.categories and alert.category not in channel.categories:
        return False
    return severity_at_least(alert.severity, channel.min_severity)


def _notify(*, alert: Alert, now: datetime, repeat: bool) -> None:
    """Plan one delivery per matching channel. Must run in the transaction that holds the alert's row lock.

    Throttles, per channel: an alert that keeps firing is sent again only after `repeat_after_s`; and a channel
    sends at most `max_per_hour` notifications in any hour, the rest recorded as throttled (so nothing is lost
    from the history). Quiet hours hold back everything below critical."""
    channels = Channel.objects.select_for_update().filter(tenant=alert.tenant, enabled=True).order_by("pk")
    for channel in channels:
        if not channel_accepts(channel, alert):
            continue
        if repeat:
            last = (
                Delivery.objects.filter(channel=channel, alert=alert)
                .exclude(status=DeliveryStatus.THROTTLED)
                .order_by("-created_at")
                .values_list("created_at", flat=True)
                .first()
            )
            if last is not None and (now - last).total_seconds() < channel.repeat_after_s:
                continue  # the count on the alert says how often it fired; the channel already knows
        status = DeliveryStatus.PENDING
        if alert.severity != "critical" and _in_quiet_hours(channel, now):
            status = DeliveryStatus.QUIET
        else:
            sent_last_hour = (
                Delivery.objects.filter(channel=channel, is_test=False, created_at__gt=now - timedelta(hours=1))
                .exclude(status__in=(DeliveryStatus.THROTTLED, DeliveryStatus.QUIET))
                .count()
            )
            if sent_last_hour >= channel.max_per_hour:
                status = DeliveryStatus.THROTTLED
        delivery = Delivery.objects.create(
            tenant=alert.tenant, alert=alert, channel=channel, status=status, created_at=now
        )
        if status == DeliveryStatus.PENDING:
            _enqueue_on_commit(delivery.pk)


def _enqueue_on_commit(delivery_id: int) -> None:
    # alerts.tasks imports alerts.rules, which imports this module at load: deferred to break that cycle
    from .tasks import deliver

    transaction.on_commit(lambda: deliver.delay(delivery_id))


@transaction.atomic
def channel_send_test(*, channel: Channel, actor: User, context: AuditContext | None = None) -> Delivery:
    delivery = Delivery.objects.create(
        tenant=channel.tenant, channel=channel, is_test=True, status=DeliveryStatus.PENDING, created_at=clock.now()
    )
    _enqueue_on_commit(delivery.pk)
    return delivery


@transaction.atomic
def delivery_retry(*, delivery: Delivery, actor: User | None, context: AuditContext | None = None) -> Delivery:
    """Send a failed (or throttled, or held) delivery again, from a fresh set of attempts."""
    delivery = Delivery.objects.select_for_update().get(pk=delivery.pk)
    if delivery.status in (DeliveryStatus.SENT, DeliveryStatus.PENDING, DeliveryStatus.RETRYING):
        raise AlertStateError("Only a failed, throttled or held delivery can be retried.")
    delivery.status = DeliveryStatus.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = None
    delivery.save(update_fields=["status", "attempts", "next_attempt_at"])
    audit_record(
        tenant=delivery.tenant,
        actor=actor,
        action=AuditAction.ALERT_DELIVERY_RETRIED,
        obj=delivery,
        summary={"channel": delivery.channel.name, "alert": delivery.alert_id},
        context=context,
    )
    _enqueue_on_commit(delivery.pk)
    return delivery


# --- live -----------------------------------------------------------------------------------------------------
def _push_changed(tenant: Tenant) -> None:
    """Tell the tenant's signed-in members that their alert badge changed (one small frame per user)."""

    for user_id in Membership.objects.filter(tenant=tenant).values_list("user_id", flat=True):
        send_on_commit(user_group(user_id), {"type": "alerts.changed", "user_id": user_id, "tenant_id": tenant.pk})


# --- channels and rules ------------------------------------------------------------------------------------------
@transaction.atomic
def channel_save(
    *,
    tenant: Tenant,
    channel: Channel | None,
    values: ChannelValues,
    actor: User,
    context: AuditContext | None = None,
) -> Channel:
    """Create a channel (`channel` None) or change `channel` (its kind stays) from checked values
    (`channel_check`): a new secret encrypted, an empty one keeping the stored one, their masked hints kept;
    audited without the secrets."""
    created = channel is None
    stored = {} if channel is None else (channel.secrets or {})
    if channel is None:
        channel = Channel(tenant=tenant, kind=values.kind)
    channel.name = values.name
    channel.target = values.target
    channel.categories = list(values.categories)
    channel.min_severity = values.min_severity
    channel.quiet_start, channel.quiet_end = values.quiet_start, values.quiet_end
    channel.repeat_after_s, channel.max_per_hour = values.repeat_after_s, values.max_per_hour
    channel.enabled = values.enabled
    wanted = SECRET_FOR_KIND.get(channel.kind)
    channel.secrets = None
    if wanted is not None:
        key = STORED_NAME[wanted]
        channel.secrets = {key: values.secrets.get(wanted) or stored.get(key, "")}
    channel.secret_hints = {name: mask(value) for name, value in (channel.secrets or {}).items()}
    channel.save()
    audit_record(
        tenant=channel.tenant,
        actor=actor,
        action=AuditAction.ALERT_CHANNEL_SAVED,
        obj=channel,
        summary={"name": channel.name, "kind": channel.kind, "created": created, "secret_hints": channel.secret_hints},
        context=context,
    )
    return channel


@transaction.atomic
def channel_delete(*, channel: Channel, actor: User, context: AuditContext | None = None) -> None:
    audit_record(
        tenant=channel.tenant,
        actor=actor,
        action=AuditAction.ALERT_CHANNEL_DELETED,
        obj=channel,
        summary={"name": channel.name, "kind": channel.kind},
        context=context,
    )
    channel.delete()


@transaction.atomic
def rule_save(
    *,
    rule: AlertRule,
    enabled: bool,
    severity: str,
    params: dict[str, str],
    actor: User,
    context: AuditContext | None = None,
) -> AlertRule:
    """Change a tenant's rule: on or off, its severity, its parameters as checked (`rule_params_check`)."""
    rule.enabled = enabled
    rule.severity = severity
    rule.params = params
    rule.save()
    audit_record(
        tenant=rule.tenant,
        actor=actor,
        action=AuditAction.ALERT_RULE_SAVED,
        obj=rule,
        summary={
            "rule_type": rule.rule_type,
            "enabled": rule.enabled,
            "severity": rule.severity,
            "params": rule.params,
        },
        context=context,
    )
    return rule
