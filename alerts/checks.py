"""The values of a notification channel and of an alert rule, and the checks they pass before they are saved.

The portal's forms (alerts/forms.py) and the API's write serializers (alerts/api/serializers.py) each read their
own input, then apply the same checks here, so both answer a bad value with the same message on the same field; the
services (alerts/services.py) take the checked values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import time
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.utils.translation import gettext as _

from accounts.models import Tenant
from quantarb import outbound

from . import registry
from .choices import ChannelKind, Severity
from .models import Channel

# A channel's secrets by their form field names; each kind takes at most one.
SECRET_FIELDS = ("signing_key", "bot_token", "apprise_url")
# The longest secret each field takes (kept encrypted in a JSON column).
SECRET_MAX_LENGTH = {"signing_key": 256, "bot_token": 128, "apprise_url": 2000}
SECRET_FOR_KIND: dict[str, str] = {
    ChannelKind.WEBHOOK: "signing_key",
    ChannelKind.TELEGRAM: "bot_token",
    ChannelKind.APPRISE: "apprise_url",
}
# The key each secret is stored (and hinted) under.
STORED_NAME = {"signing_key": "signing_key", "bot_token": "bot_token", "apprise_url": "url"}
_TELEGRAM_TOKEN = re.compile(r"^[0-9]{5,12}:[A-Za-z0-9_-]{30,}$")
_TELEGRAM_CHAT = re.compile(r"^(-?[0-9]{1,20}|@[A-Za-z0-9_]{5,32})$")


# --- channels ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChannelValues:
    """A channel as its editor gives it. `secrets` by form field name: a secret left empty keeps the stored one."""

    name: str
    kind: str
    target: str = ""
    categories: tuple[str, ...] = ()
    min_severity: str = Severity.WARNING
    quiet_start: time | None = None
    quiet_end: time | None = None
    repeat_after_s: int = 3600
    max_per_hour: int = 30
    enabled: bool = True
    secrets: dict[str, str] = field(default_factory=dict)


def channel_check(
    *, tenant: Tenant, channel: Channel | None, values: ChannelValues, failed: frozenset[str] = frozenset()
) -> tuple[ChannelValues, dict[str, list[str]]]:
    """The values tidied (name, target and secrets stripped) and the errors by field (secrets by their form field
    names), for a new channel (`channel` None) or a change of `channel`. `failed`: fields whose input could not be
    read (their checks are skipped)."""
    errors: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    name = values.name.strip()
    others = Channel.objects.filter(tenant=tenant)
    if channel is not None:
        others = others.exclude(pk=channel.pk)
    if "name" not in failed and others.filter(name=name).exists():
        add("name", _("Another channel of this tenant already has this name."))
    kind = values.kind
    target = values.target.strip()
    stored = (channel.secrets or {}) if channel is not None else {}
    given = {secret: str(values.secrets.get(secret) or "").strip() for secret in SECRET_FIELDS}
    wanted = SECRET_FOR_KIND.get(kind)
    for secret, value in given.items():
        if value and secret != wanted:
            add(secret, _("This kind of channel takes no such secret."))
    if kind == ChannelKind.EMAIL:
        addresses = [address.strip() for address in target.split(",") if address.strip()]
        if not addresses:
            add("target", _("Enter at least one email address."))
        for address in addresses:
            try:
                EmailValidator()(address)
            except ValidationError:
                add("target", _("“%(address)s” is not an email address.") % {"address": address[:80]})
                break
    elif kind == ChannelKind.WEBHOOK:
        try:
            URLValidator(schemes=["http", "https"])(target)
        except ValidationError:
            add("target", _("Enter the webhook's http:// or https:// URL."))
        else:
            _check_destination(add, "target", outbound.check_url, target)
        if given["signing_key"] and len(given["signing_key"]) < 16:
            add("signing_key", _("Use 16 characters or more."))
    elif kind == ChannelKind.TELEGRAM:
        if not _TELEGRAM_CHAT.match(target):
            add("target", _("A Telegram chat id is a number (groups: negative) or @channelname."))
        if given["bot_token"] and not _TELEGRAM_TOKEN.match(given["bot_token"]):
            add("bot_token", _("A bot token looks like 123456789:AA… (from @BotFather)."))
    elif kind == ChannelKind.APPRISE and given["apprise_url"]:
        import apprise  # slow to import (it loads every plugin): only when an apprise URL is checked

        if not apprise.Apprise().add(given["apprise_url"]):
            add("apprise_url", _("apprise does not know this URL."))
        else:
            _check_destination(add, "apprise_url", outbound.check_apprise_url, given["apprise_url"])
    if (values.quiet_start is None) != (values.quiet_end is None):
        add("quiet_end", _("Give both ends of the quiet hours, or neither."))
    if wanted is not None and not given[wanted] and not stored.get(STORED_NAME[wanted]):
        add(wanted, _("Required for this kind of channel."))
    return replace(values, name=name, target=target, secrets=given), errors


def _check_destination(add: Any, name: str, check: Any, value: str) -> None:
    """The outbound-address policy (quantarb/outbound.py), on saving; it is applied on each delivery too."""
    try:
        check(value)
    except outbound.DestinationRefused as error:
        add(name, str(error))


# --- rules -------------------------------------------------------------------------------------------------------
def rule_param_fields(rule_type: registry.RuleType | None) -> dict[str, forms.DecimalField]:
    """The fields that read a rule type's parameters, the form's and the serializer's."""
    return {
        # Kept in a JSON column: bounded like the platform's other decimals (20 digits, 8 decimals).
        param.name: forms.DecimalField(
            label=str(param.label),
            min_value=param.minimum,
            max_value=param.maximum,
            max_digits=20,
            decimal_places=8,
            help_text=param.unit,
        )
        for param in (rule_type.params if rule_type else ())
    }


def rule_params_check(
    rule_type: registry.RuleType | None, given: dict[str, Decimal]
) -> tuple[dict[str, str], dict[str | None, list[str]]]:
    """The parameters as stored (strings) and the errors by parameter (None: the rule as a whole), of parameters
    each read by its field (`rule_param_fields`)."""
    if rule_type is None:
        return {}, {None: [_("This rule type is no longer registered.")]}
    params, errors = rule_type.clean_params(given)
    return params, {name: [str(message)] for name, message in errors.items()}
