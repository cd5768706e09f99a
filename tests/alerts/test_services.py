"""Alerts: dedup on raise, acknowledge and resolve (audited), routing, quiet hours and throttling, the storm."""

from __future__ import annotations

import threading
from datetime import time, timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import connection

from accounts.models import AuditEvent
from alerts.choices import AlertStatus, DeliveryStatus
from alerts.models import Alert, Channel, Delivery
from alerts.services import AlertStateError, alert_acknowledge, alert_raise, alert_resolve
from tests.helpers.databases import require_postgresql

pytestmark = pytest.mark.django_db(transaction=False)


def raise_stale(tenant: Any, severity: str = "warning") -> Any:
    return _commit(
        alert_raise,
        tenant=tenant,
        category="system",
        severity=severity,
        title="Feed binance is stale",
        dedup_key="feed_stale:binance",
        detail={"age_s": 45},
    )


_commit: Any = None


@pytest.fixture(autouse=True)
def _committing(committed: Any) -> Any:
    global _commit
    _commit = committed
    yield
    _commit = None


def test_raising_the_same_key_bumps_the_count_instead_of_adding_a_row(alice: Any, frozen_clock: Any) -> None:
    first = raise_stale(alice.tenant)
    frozen_clock.advance(5)
    again = raise_stale(alice.tenant)
    assert first.created and not again.created
    alert = Alert.objects.get()
    assert alert.count == 2
    assert alert.last_seen - alert.first_seen == timedelta(seconds=5)


def test_a_resolved_alert_is_history_and_the_same_condition_opens_a_new_one(alice: Any) -> None:
    first = raise_stale(alice.tenant).alert
    alert_resolve(alert=first, actor=alice.user)
    second = raise_stale(alice.tenant).alert
    assert second.pk != first.pk and second.status == AlertStatus.OPEN
    assert Alert.objects.count() == 2


def test_the_same_key_in_another_tenant_is_another_alert(alice: Any, charlie: Any) -> None:
    raise_stale(alice.tenant)
    raise_stale(charlie.tenant)
    assert Alert.objects.filter(tenant=alice.tenant).count() == 1
    assert Alert.objects.filter(tenant=charlie.tenant).count() == 1


def test_acknowledge_and_resolve_record_who_and_when_in_the_audit_trail(alice: Any, tom: Any) -> None:
    alert = raise_stale(alice.tenant).alert
    alert_acknowledge(alert=alert, actor=tom.user)
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED and alert.acknowledged_by == tom.user
    assert alert.acknowledged_at is not None
    with pytest.raises(AlertStateError):
        alert_acknowledge(alert=alert, actor=tom.user)
    alert_resolve(alert=alert, actor=alice.user)
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED and alert.resolved_by == alice.user
    actions = list(
        AuditEvent.objects.filter(tenant=alice.tenant, object_id=str(alert.pk)).values_list("action", "actor_username")
    )
    assert actions == [("alert_acknowledged", "tom"), ("alert_resolved", "alice")]


def test_email_is_routed_by_category_and_minimum_severity(alice: Any, email_channel: Any) -> None:
    Channel.objects.create(tenant=alice.tenant, name="risk only", kind="email", target="r@x.test", categories=["risk"])
    Channel.objects.create(
        tenant=alice.tenant, name="critical", kind="email", target="c@x.test", min_severity="critical"
    )
    raise_stale(alice.tenant, severity="warning")
    assert [message.to for message in mail.outbox] == [["desk@example.test"]]
    assert "Feed binance is stale" in mail.outbox[0].subject
    assert Delivery.objects.get().status == DeliveryStatus.SENT


def test_quiet_hours_hold_back_all_but_critical(alice: Any, email_channel: Any, frozen_clock: Any) -> None:
    email_channel.quiet_start, email_channel.quiet_end = time(11, 0), time(13, 0)  # the clock says 12:00 UTC
    email_channel.save()
    raise_stale(alice.tenant, severity="warning")
    _commit(alert_raise, tenant=alice.tenant, category="risk", severity="critical", title="Margin", dedup_key="margin")
    statuses = dict(Delivery.objects.values_list("alert__dedup_key", "status"))
    assert statuses == {"feed_stale:binance": DeliveryStatus.QUIET, "margin": DeliveryStatus.SENT}
    assert len(mail.outbox) == 1


def test_storm_of_a_thousand_triggers_is_one_alert_and_one_notification_per_channel(
    alice: Any, email_channel: Any, frozen_clock: Any
) -> None:
    """1,000 triggers of one condition within a minute: one alert counting 1,000; each channel hears once."""
    second = Channel.objects.create(
        tenant=alice.tenant, name="second", kind="email", target="two@x.test", min_severity="info", max_per_hour=5
    )
    for _ in range(1000):
        raise_stale(alice.tenant)
        frozen_clock.advance(0.059)  # 1,000 × 59 ms = 59 s
    alert = Alert.objects.get()
    assert alert.count == 1000
    assert (alert.last_seen - alert.first_seen).total_seconds() < 60
    for channel in (email_channel, second):
        assert Delivery.objects.filter(channel=channel).count() == 1  # repeat_after_s (1 h) holds the rest back
    assert len(mail.outbox) == 2


def test_a_channel_never_sends_more_than_its_hourly_cap(alice: Any, email_channel: Any, frozen_clock: Any) -> None:
    email_channel.max_per_hour = 10
    email_channel.save()
    for number in range(50):
        _commit(
            alert_raise, tenant=alice.tenant, category="system", severity="warning", title="x", dedup_key=f"k{number}"
        )
        frozen_clock.advance(1)
    deliveries = Delivery.objects.filter(channel=email_channel)
    assert deliveries.filter(status=DeliveryStatus.SENT).count() == 10
    assert deliveries.filter(status=DeliveryStatus.THROTTLED).count() == 40  # kept in the history, not sent
    assert len(mail.outbox) == 10


def test_an_alert_that_keeps_firing_is_repeated_after_the_channel_s_interval(
    alice: Any, email_channel: Any, frozen_clock: Any
) -> None:
    email_channel.repeat_after_s = 600
    email_channel.save()
    raise_stale(alice.tenant)
    frozen_clock.advance(599)
    raise_stale(alice.tenant)
    frozen_clock.advance(2)
    raise_stale(alice.tenant)
    assert len(mail.outbox) == 2


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_raises_of_one_key_make_one_alert(alice: Any) -> None:
    """Row locks and the partial unique constraint under real concurrency: PostgreSQL (the in-memory SQLite
    test database serialises nothing, it refuses with "table is locked")."""

    require_postgresql()
    threads, errors = [], []

    def storm() -> None:
        try:
            for _ in range(25):
                raise_stale(alice.tenant)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    for _ in range(8):
        threads.append(threading.Thread(target=storm))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    alert = Alert.objects.get()
    assert alert.count == 200
