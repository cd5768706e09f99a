"""One delivery attempt and its bookkeeping. The Celery task (alerts.tasks.deliver) retries on our answer."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction

from quantarb import clock

from .choices import DeliveryStatus
from .models import Delivery
from .senders import SendError, send

MAX_ATTEMPTS = 5


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
        delivery.attempts += 1
        delivery.last_attempt_at = clock.now()
        delivery.save(update_fields=["attempts", "last_attempt_at"])
    entry: dict[str, object] = {"at": clock.now().isoformat(), "attempt": delivery.attempts}
    try:
        response = send(delivery.channel, delivery.alert)
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
