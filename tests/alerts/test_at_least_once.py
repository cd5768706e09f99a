"""Deliveries at least once and recorded once: a worker killed mid-delivery, a duplicate task,
a retry stuck past its time. The receiver is a real process that logs each request's Idempotency-Key."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import requests

from alerts.choices import DeliveryStatus
from alerts.delivery import ATTEMPT_TIMEOUT_S, SWEEP_GRACE_S, attempt, deliveries_due, idempotency_key
from alerts.models import Alert, Delivery
from alerts.tasks import deliver, sweep_deliveries
from tests.alerts.helpers import Receiver, webhook

pytestmark = pytest.mark.django_db


class WorkerKilled(BaseException):
    """What a SIGKILL looks like from inside the attempt: nothing after it runs (not even `except Exception`)."""


def pending_delivery(alice: Any, port: int, frozen_clock: Any) -> Delivery:
    alert = Alert.objects.create(
        tenant=alice.tenant,
        category="account",
        severity="critical",
        title="Margin level 120 % on perp one",
        dedup_key="margin_low:1",
        detail={},
        first_seen=frozen_clock.now(),
        last_seen=frozen_clock.now(),
    )
    return Delivery.objects.create(
        tenant=alice.tenant,
        alert=alert,
        channel=webhook(alice, port),
        status=DeliveryStatus.PENDING,
        created_at=frozen_clock.now(),
    )


def test_a_worker_killed_mid_delivery_completes_it_once_recorded(
    alice: Any, receiver: Receiver, frozen_clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver.start()
    delivery = pending_delivery(alice, receiver.port, frozen_clock)
    real_post = requests.post

    def post_then_die(*args: Any, **kwargs: Any) -> Any:
        real_post(*args, **kwargs)  # the receiver has it…
        raise WorkerKilled  # …and the worker dies before recording anything

    monkeypatch.setattr(requests, "post", post_then_die)
    with pytest.raises(WorkerKilled):
        attempt(delivery.pk)
    monkeypatch.setattr(requests, "post", real_post)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING  # what used to stay pending forever

    # The task redelivered at once (reject_on_worker_lost) finds the attempt possibly still running: it waits.
    assert attempt(delivery.pk) == pytest.approx(ATTEMPT_TIMEOUT_S)
    assert deliveries_due(now=frozen_clock.now()) == []

    # Past the attempt's time limit the sweeper re-queues it, and it completes.
    frozen_clock.advance(ATTEMPT_TIMEOUT_S + SWEEP_GRACE_S + 1)
    assert sweep_deliveries.apply().get() == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    outcomes = [(entry["ok"], entry["attempt"]) for entry in delivery.attempt_log]
    assert outcomes == [(False, 1), (True, 2)]  # the interrupted attempt, then one success: recorded once
    received = receiver.received()
    # Sent twice (at least once) with the same key: the receiver recognises the repeat.
    assert len(received) == 2
    assert {r["idempotency_key"] for r in received} == {idempotency_key(delivery)}

    # Another copy of the task, or the sweeper again, changes nothing.
    deliver.apply(args=[delivery.pk])
    assert sweep_deliveries.apply().get() == 0
    delivery.refresh_from_db()
    assert len(delivery.attempt_log) == 2 and len(receiver.received()) == 2


def test_a_stuck_retrying_delivery_is_requeued_by_the_sweeper(
    alice: Any, receiver: Receiver, frozen_clock: Any
) -> None:
    delivery = pending_delivery(alice, receiver.port, frozen_clock)
    deliver.apply(args=[delivery.pk])  # the receiver is down: the attempt fails and the task would retry
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRYING and delivery.next_attempt_at is not None
    # The retry's message is lost (a worker restart, a flushed broker): nothing would send it again.
    receiver.start()
    frozen_clock.set(delivery.next_attempt_at + timedelta(seconds=SWEEP_GRACE_S - 1))
    assert sweep_deliveries.apply().get() == 0  # not late yet: its own task may be on its way
    frozen_clock.advance(2)
    assert sweep_deliveries.apply().get() == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    assert [entry["ok"] for entry in delivery.attempt_log] == [False, True]


def test_an_early_duplicate_of_a_retry_waits_for_its_time(alice: Any, receiver: Receiver, frozen_clock: Any) -> None:
    delivery = pending_delivery(alice, receiver.port, frozen_clock)
    assert attempt(delivery.pk) is not None  # receiver down: retrying
    receiver.start()
    delivery.refresh_from_db()
    wait = attempt(delivery.pk)
    assert wait is not None and wait > 0
    assert receiver.received() == []
    assert Delivery.objects.get(pk=delivery.pk).attempts == 1


def test_a_wait_longer_than_the_broker_holds_is_left_to_the_sweeper(
    alice: Any, receiver: Receiver, frozen_clock: Any, settings: Any
) -> None:
    settings.QUANTARB_ALERT_RETRY_BASE_S = 3000.0  # beyond quantarb.jobs.MAX_COUNTDOWN_S
    delivery = pending_delivery(alice, receiver.port, frozen_clock)
    deliver.apply(args=[delivery.pk])  # eager retry would raise Retry if a countdown were queued
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRYING and delivery.attempts == 1
    receiver.start()
    assert delivery.next_attempt_at is not None
    frozen_clock.set(delivery.next_attempt_at + timedelta(seconds=SWEEP_GRACE_S + 1))
    assert sweep_deliveries.apply().get() == 1
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SENT
