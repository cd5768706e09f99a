"""Delivery: a webhook signed for a receiver in another process, retries with backoff when it is down, a manual
retry that succeeds later; Telegram at its HTTP boundary (the exact request apprise sends); apprise's json://."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from alerts.choices import DeliveryStatus
from alerts.models import Channel, Delivery
from alerts.services import alert_raise, channel_send_test, delivery_retry
from tests.alerts.helpers import Receiver, webhook

pytestmark = pytest.mark.django_db


def raise_margin(alice: Any, committed: Any) -> Any:
    return committed(
        alert_raise,
        tenant=alice.tenant,
        category="account",
        severity="critical",
        title="Margin level 120 % on perp one",
        dedup_key="margin_low:1",
        detail={"margin_level": "120"},
    ).alert


def test_a_webhook_carries_a_signature_the_receiver_verifies(alice: Any, receiver: Receiver, committed: Any) -> None:
    receiver.start()
    webhook(alice, receiver.port)
    alert = raise_margin(alice, committed)
    [got] = receiver.received()
    assert got["verified"] is True
    body = json.loads(got["body"])
    assert body["id"] == alert.pk and body["severity"] == "critical" and body["tenant"] == "alpha"
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 1 and "HTTP 200" in delivery.response


def retries_until_settled(frozen_clock: Any) -> None:
    """Let each retry fall due and the sweeper send it, as beat would (eager tasks queue no countdown)."""
    from datetime import timedelta

    from alerts.delivery import SWEEP_GRACE_S
    from alerts.tasks import sweep_deliveries

    while (delivery := Delivery.objects.filter(status=DeliveryStatus.RETRYING).first()) is not None:
        assert delivery.next_attempt_at is not None
        frozen_clock.set(delivery.next_attempt_at + timedelta(seconds=SWEEP_GRACE_S + 1))
        sweep_deliveries.apply()


def test_a_wrong_key_is_refused_by_the_receiver_and_the_delivery_fails(
    alice: Any, receiver: Receiver, committed: Any, frozen_clock: Any
) -> None:
    receiver.start()
    channel = webhook(alice, receiver.port)
    channel.secrets = {"signing_key": "not-the-key-the-receiver-knows"}
    channel.save()
    raise_margin(alice, committed)
    retries_until_settled(frozen_clock)
    assert {entry["verified"] for entry in receiver.received()} == {False}
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and "HTTP 401" in delivery.error


def test_receiver_down_retries_with_backoff_ends_failed_and_a_later_manual_retry_succeeds(
    alice: Any, receiver: Receiver, committed: Any, frozen_clock: Any
) -> None:
    webhook(alice, receiver.port)  # nothing listens on the port yet
    raise_margin(alice, committed)
    retries_until_settled(frozen_clock)
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 5
    assert "ConnectionError" in delivery.error  # the error is kept
    waits = [entry["retry_in_s"] for entry in delivery.attempt_log]
    assert waits == [30.0, 60.0, 120.0, 240.0, None]  # exponential backoff, then it gives up
    receiver.start()
    committed(delivery_retry, delivery=delivery, actor=alice.user)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 1
    assert [entry["verified"] for entry in receiver.received()] == [True]  # nothing lost


def test_webhooks_to_private_addresses_are_refused_unless_allowed(
    alice: Any, receiver: Receiver, committed: Any, settings: Any, frozen_clock: Any
) -> None:
    settings.QUANTARB_OUTBOUND_ALLOW_PRIVATE = False  # production's default
    receiver.start()
    webhook(alice, receiver.port)
    raise_margin(alice, committed)
    retries_until_settled(frozen_clock)
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and "loopback, private" in delivery.error
    assert receiver.received() == []


def test_email_is_captured_by_the_test_mail_backend(alice: Any, committed: Any, mailoutbox: Any) -> None:
    Channel.objects.create(tenant=alice.tenant, name="mail", kind="email", target="a@x.test, b@x.test")
    raise_margin(alice, committed)
    [message] = mailoutbox
    assert message.to == ["a@x.test", "b@x.test"] and "Margin level 120" in message.subject


def test_telegram_sends_the_exact_request_apprise_makes(
    alice: Any, committed: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Telegram's host is fixed and unreachable here: the one fake, at the HTTP boundary (requests' adapter)."""
    sent: list[requests.PreparedRequest] = []

    def fake_send(self: Any, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        sent.append(request)
        response = requests.Response()
        response.status_code = 200
        response._content = b'{"ok": true, "result": {"message_id": 1}}'
        response.url = request.url or ""
        response.request = request
        return response

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", fake_send)
    token = "123456789:AAEexampleexampleexampleexample1234"
    Channel.objects.create(
        tenant=alice.tenant,
        name="tg",
        kind="telegram",
        target="-1001234567",
        secrets={"bot_token": token},  # type: ignore[misc]
    )
    raise_margin(alice, committed)
    [request] = sent
    assert request.method == "POST"
    assert request.url == f"https://api.telegram.org/bot{token}/sendMessage"
    payload = json.loads(request.body or b"{}")
    assert payload["chat_id"] == -1001234567 or str(payload["chat_id"]) == "-1001234567"
    assert "Margin level 120" in payload["text"]
    assert Delivery.objects.get().status == DeliveryStatus.SENT


def test_an_apprise_url_reaches_a_local_service(alice: Any, receiver: Receiver, committed: Any) -> None:
    receiver.start()
    Channel.objects.create(
        tenant=alice.tenant,
        name="apprise",
        kind="apprise",
        secrets={"url": f"json://127.0.0.1:{receiver.port}/any"},  # type: ignore[misc]
    )
    raise_margin(alice, committed)
    [got] = receiver.received()
    assert got["path"] == "/any" and "Margin level 120" in got["body"]


def test_send_test_delivers_a_test_notification(alice: Any, receiver: Receiver, committed: Any) -> None:
    receiver.start()
    channel = webhook(alice, receiver.port)
    delivery = committed(channel_send_test, channel=channel, actor=alice.user)
    delivery.refresh_from_db()
    assert delivery.is_test and delivery.status == DeliveryStatus.SENT
    assert json.loads(receiver.received()[0]["body"])["event"] == "test"
