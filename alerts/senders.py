"""The channel kinds: how one notification leaves the platform. Each sender returns a short response text or
raises `SendError` with what went wrong (kept in the delivery history, never a secret)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import requests
from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import translation
from django.utils.translation import gettext as _

from quantarb import outbound

from .choices import ChannelKind
from .models import Alert, Channel

SIGNATURE_HEADER = "X-Quantarb-Signature"
# The same for every attempt of one delivery: a receiver drops a repeat (https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/).
IDEMPOTENCY_HEADER = "Idempotency-Key"
TIMESTAMP_HEADER = "X-Quantarb-Timestamp"
WEBHOOK_TIMEOUT_S = 10


class SendError(Exception):
    pass


def message_for(alert: Alert | None, channel: Channel) -> dict[str, Any]:
    """The notification's content: JSON for webhooks, title and body for people."""
    if alert is None:
        return {
            "event": "test",
            "tenant": channel.tenant.slug,
            "channel": channel.name,
            "title": str(_("quantarb test notification")),
            "body": str(_("This channel works.")),
        }
    return {
        "event": "alert",
        "tenant": alert.tenant.slug,
        "id": alert.pk,
        "category": alert.category,
        "severity": alert.severity,
        "status": alert.status,
        "title": alert.title,
        "detail": alert.detail,
        "dedup_key": alert.dedup_key,
        "count": alert.count,
        "first_seen": alert.first_seen.isoformat(),
        "last_seen": alert.last_seen.isoformat(),
        "body": _("%(severity)s · %(category)s · seen %(count)s time(s)")
        % {"severity": alert.get_severity_display(), "category": alert.get_category_display(), "count": alert.count},
    }


def sign(key: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>": a receiver recomputes it and rejects old timestamps (replay)."""
    digest = hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def send(channel: Channel, alert: Alert | None, *, idempotency_key: str | None = None) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        message = message_for(alert, channel)
    secrets = channel.secrets or {}
    if channel.kind == ChannelKind.EMAIL:
        return _send_email(channel, message, idempotency_key)
    if channel.kind == ChannelKind.WEBHOOK:
        return _send_webhook(channel.target, secrets.get("signing_key", ""), message, idempotency_key)
    if channel.kind == ChannelKind.TELEGRAM:
        return _send_apprise(f"tgram://{secrets.get('bot_token', '')}/{channel.target}", message)
    if channel.kind == ChannelKind.APPRISE:
        return _send_apprise(secrets.get("url", ""), message)
    raise SendError(f"unknown channel kind {channel.kind}")


def _send_email(channel: Channel, message: dict[str, Any], idempotency_key: str | None = None) -> str:
    recipients = [address.strip() for address in channel.target.split(",") if address.strip()]
    body = json.dumps(message.get("detail", {}), indent=2, ensure_ascii=False, default=str)
    text = f"{message['body']}\n\n{body}" if message["event"] == "alert" else message["body"]
    try:
        mail = EmailMessage(f"[quantarb] {message['title']}", text, None, recipients)
        if idempotency_key:
            # A repeated delivery keeps its Message-ID: mail clients and archives show it once.
            mail.extra_headers["Message-ID"] = f"<{idempotency_key}@quantarb>"
        sent = mail.send()
    except Exception as error:
        raise SendError(f"mail: {error}") from None
    return f"mail sent to {sent and len(recipients)} recipient(s)"


def _send_webhook(url: str, key: str, message: dict[str, Any], idempotency_key: str | None = None) -> str:
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False, default=str).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "quantarb-alerts/1",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(key, timestamp, body),
    }
    if idempotency_key:
        headers[IDEMPOTENCY_HEADER] = idempotency_key
    try:
        # Vetted on the connection itself (quantarb/outbound.py): what the name resolves to now is what is checked.
        with outbound.guarded():
            response = requests.post(url, data=body, headers=headers, timeout=WEBHOOK_TIMEOUT_S, allow_redirects=False)
    except outbound.DestinationRefused as error:
        raise SendError(f"webhook: {error}") from None
    except requests.RequestException as error:
        refused = _refusal_in(error)
        if refused is not None:
            raise SendError(f"webhook: {refused}") from None
        raise SendError(f"webhook: {type(error).__name__}: {str(error)[:300]}") from None
    if not 200 <= response.status_code < 300:
        raise SendError(f"webhook answered HTTP {response.status_code}: {response.text[:300]}")
    return f"HTTP {response.status_code} {response.text[:200]}"


def _send_apprise(url: str, message: dict[str, Any]) -> str:
    # apprise takes ~80 ms to import (after Django's start-up): imported only when an apprise channel sends
    import apprise

    try:
        outbound.check_apprise_url(url)
    except outbound.DestinationRefused as error:
        raise SendError(f"apprise: {error}") from None
    # Sequential delivery in this thread: the connection guard (a context variable) does not follow a worker thread.
    notifier = apprise.Apprise(asset=apprise.AppriseAsset(async_mode=False))
    if not url or not notifier.add(url):
        raise SendError("apprise does not understand this URL")
    with apprise.LogCapture(level=apprise.logging.WARNING) as captured, outbound.guarded():  # type: ignore[no-untyped-call]
        ok = notifier.notify(title=message["title"], body=message["body"])
        log_text = captured.getvalue().strip()
    if not ok:
        # apprise logs the URL it called, which carries the token: keep only the lines' gist.
        raise SendError(f"apprise failed: {_redact(log_text, url)[:300] or 'no detail'}")
    return "apprise: sent"


def _refusal_in(error: BaseException) -> outbound.DestinationRefused | None:
    """The policy's refusal behind a requests error (urllib3 wraps what `create_connection` raised)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, outbound.DestinationRefused):
            return current
        seen.add(id(current))
        reason = getattr(current, "reason", None)
        current = reason if isinstance(reason, BaseException) else (current.__context__ or current.__cause__)
    return None


def _redact(text: str, url: str) -> str:
    for part in url.replace("://", "/").split("/"):
        if len(part) >= 8:
            text = text.replace(part, "••••")
    return text
