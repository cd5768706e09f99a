"""One delivery attempt and its bookkeeping. The Celery task (alerts.tasks.deliver) retries on our answer.

At least once, recorded once: the task may run twice — redelivered after its worker died, re-queued by
the sweeper, or duplicated by a second beat — so an attempt first claims the delivery under a row lock: an attempt
that started less than `ATTEMPT_TIMEOUT_S` ago and recorded no outcome may still be running, and a retry that is not
due yet stays waiting. Every send carries the delivery's idempotency key (the webhook's `Idempotency-Key` header,
the mail's `Message-ID`), so a receiver recognises a notification repeated after a crash. An attempt whose worker
died is recorded as interrupted when the next one starts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from quantarb import clock

from .choices import DeliveryStatus
from .models import Delivery
from .senders import SendError, send

MAX_ATTEMPTS = 5
# The task's hard time limit: an attempt older than this that recorded nothing is dead, not running.
ATTEMPT_TIMEOUT_S = 60
# How late a due delivery may be before the sweeper re-queues it (its own task may just be on its way).
SWEEP_GRACE_S = 60


def idempotency_key(delivery: Delivery) -> str:
    """The same for every attempt of one delivery, different for every delivery (even after a database reset)."""
    return f"quantarb-delivery-{delivery.pk}-{int(delivery.created_at.timestamp())}"


def backoff_s(attempts: int) -> float:
    """Seconds before the next attempt after `attempts` failed ones: base · 2^(attempts-1), capped."""
    base: float = settings.QUANTARB_ALERT_RETRY_BASE_S
    return float(min(base * 2 ** (attempts - 1), 3600.0))


def attempt(delivery_id: int) -> float | None:
    """Try a pending delivery once. Returns the seconds to wait before the next attempt, or None when it is
    done (sent, failed for good, or not pending any more — idempotent for a task run twice)."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("channel__tenant", "alert")
            .get(pk=delivery_id)
        )
        if delivery.status not in (DeliveryStatus.PENDING, DeliveryStatus.RETRYING):
            return None
        now = clock.now()
        if delivery.attempts > len(delivery.attempt_log) and delivery.last_attempt_at is not None:
            running_until = delivery.last_attempt_at + timedelta(seconds=ATTEMPT_TIMEOUT_S)
            if now < running_until:
                return (running_until - now).total_seconds()  # another worker may be sending it right now
            delivery.attempt_log = [
                *delivery.attempt_log,
                {
                    "at": delivery.last_attempt_at.isoformat(),
                    "attempt": delivery.attempts,
                    "ok": False,
                    "error": "interrupted: the worker stopped before recording the outcome",
                    "retry_in_s": 0,
                },
            ]
        elif delivery.next_attempt_at is not None and now < delivery.next_attempt_at:
            return (delivery.next_attempt_at - now).total_seconds()  # an early duplicate: the retry is not due
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.save(update_fields=["attempts", "last_attempt_at", "attempt_log"])
    entry: dict[str, object] = {"at": clock.now().isoformat(), "attempt": delivery.attempts}
    try:
        response = send(delivery.channel, delivery.alert, idempotency_key=idempotency_key(delivery))
    except SendError as error:
        failed_for_good = delivery.attempts >= MAX_ATTEMPTS
        retry_in = None if failed_for_good else backoff_s(delivery.attempts)
        entry.update(ok=False, error=str(error), retry_in_s=retry_in)
        delivery.error = str(error)
        delivery.status = DeliveryStatus.FAILED if failed_for_good else DeliveryStatus.RETRYING
        delivery.next_attempt_at = None if retry_in is None else clock.now() + timedelta(seconds=retry_in)
    else:
        entry.update(ok=True, response=response)
        delivery.response = response
        delivery.status = DeliveryStatus.SENT
        delivery.next_attempt_at = None
        retry_in = None
    delivery.attempt_log = [*delivery.attempt_log, entry]
    delivery.save(update_fields=["status", "error", "response", "next_attempt_at", "attempt_log"])
    return retry_in


def deliveries_due(*, now: datetime | None = None) -> list[int]:
    """Deliveries whose task was lost or is late: pending and never tried, tried by a worker that died (no outcome
    within the attempt's time limit), or retrying past their time. The sweeper re-queues them."""
    now = now or clock.now()
    late = now - timedelta(seconds=SWEEP_GRACE_S)
    dead = now - timedelta(seconds=ATTEMPT_TIMEOUT_S + SWEEP_GRACE_S)
    open_deliveries = Delivery.objects.filter(status__in=(DeliveryStatus.PENDING, DeliveryStatus.RETRYING))
    never_tried = Q(last_attempt_at__isnull=True, created_at__lt=late)
    retry_late = Q(status=DeliveryStatus.RETRYING, next_attempt_at__lt=late)
    tried_long_ago = Q(last_attempt_at__lt=dead) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=late))
    return list(
        open_deliveries.filter(never_tried | retry_late | tried_long_ago).order_by("pk").values_list("pk", flat=True)
    )
