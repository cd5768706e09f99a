"""Validation of channels and rules, shared by the portal's forms and the API (which feeds these forms).

Channel secrets are write-only: password inputs that never render a value; an empty field keeps the stored one.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.validators import EmailValidator, URLValidator
from django.utils.translation import gettext_lazy as _

from accounts.crypto import mask
from accounts.models import Tenant
from quantarb import outbound

from . import registry
from .choices import Category, ChannelKind, Severity
from .models import AlertRule, Channel

SECRET_FIELDS = ("signing_key", "bot_token", "apprise_url")
# The longest secret each field takes (kept encrypted in a JSON column; the API's serializer documents the longest).
SECRET_MAX_LENGTH = {"signing_key": 256, "bot_token": 128, "apprise_url": 2000}
_SECRET_FOR_KIND = {
    ChannelKind.WEBHOOK: "signing_key",
    ChannelKind.TELEGRAM: "bot_token",
    ChannelKind.APPRISE: "apprise_url",
}
_STORED_NAME = {"signing_key": "signing_key", "bot_token": "bot_token", "apprise_url": "url"}
_TELEGRAM_TOKEN = re.compile(r"^[0-9]{5,12}:[A-Za-z0-9_-]{30,}$")
_TELEGRAM_CHAT = re.compile(r"^(-?[0-9]{1,20}|@[A-Za-z0-9_]{5,32})$")


def _secret_input() -> forms.PasswordInput:
    return forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"})


class ChannelForm(forms.ModelForm):  # type: ignore[type-arg]
    categories = forms.MultipleChoiceField(
        label=_("Categories"),
        choices=Category.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every category."),
    )
    signing_key = forms.CharField(
        label=_("Signing key"),
        required=False,
        max_length=SECRET_MAX_LENGTH["signing_key"],
        widget=_secret_input(),
        help_text=_("Webhooks: the HMAC-SHA256 key your receiver verifies (16 characters or more)."),
    )
    bot_token = forms.CharField(
        label=_("Bot token"), required=False, max_length=SECRET_MAX_LENGTH["bot_token"], widget=_secret_input()
    )
    apprise_url = forms.CharField(
        label=_("Apprise URL"),
        required=False,
        max_length=SECRET_MAX_LENGTH["apprise_url"],
        widget=_secret_input(),
        help_text=_("Any service apprise supports, e.g. slack://… or json://host/path (it may hold tokens)."),
    )

    class Meta:
        model = Channel
        fields = (
            "name",
            "kind",
            "target",
            "categories",
            "min_severity",
            "quiet_start",
            "quiet_end",
            "repeat_after_s",
            "max_per_hour",
            "enabled",
        )
        help_texts = {
            "target": _("Email: addresses separated by commas. Webhook: the URL. Telegram: the chat id."),
            "quiet_start": _("HH:MM, UTC. Below critical, nothing is sent between start and end."),
        }

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        self.tenant = tenant
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["kind"].disabled = True  # the secrets belong to the kind: create another channel
            for name in SECRET_FIELDS:
                hint = self.instance.secret_hints.get(_STORED_NAME[name])
                if hint:
                    self.fields[name].widget.attrs["placeholder"] = hint
                    self.fields[name].help_text = _("Stored. Leave empty to keep it.")

    def clean_name(self) -> str:
        name = str(self.cleaned_data["name"]).strip()
        if Channel.objects.filter(tenant=self.tenant, name=name).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(_("Another channel of this tenant already has this name."))
        return name

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        kind = cleaned.get("kind") or self.instance.kind
        target = str(cleaned.get("target") or "").strip()
        cleaned["target"] = target
        stored = (self.instance.secrets or {}) if self.instance.pk else {}
        given = {name: str(cleaned.get(name) or "").strip() for name in SECRET_FIELDS}
        wanted = _SECRET_FOR_KIND.get(kind)
        for name, value in given.items():
            if value and name != wanted:
                self.add_error(name, _("This kind of channel takes no such secret."))
        if kind == ChannelKind.EMAIL:
            addresses = [address.strip() for address in target.split(",") if address.strip()]
            if not addresses:
                self.add_error("target", _("Enter at least one email address."))
            for address in addresses:
                try:
                    EmailValidator()(address)
                except forms.ValidationError:
                    self.add_error("target", _("“%(address)s” is not an email address.") % {"address": address[:80]})
                    break
        elif kind == ChannelKind.WEBHOOK:
            try:
                URLValidator(schemes=["http", "https"])(target)
            except forms.ValidationError:
                self.add_error("target", _("Enter the webhook's http:// or https:// URL."))
            else:
                self._check_destination("target", outbound.check_url, target)
            if given["signing_key"] and len(given["signing_key"]) < 16:
                self.add_error("signing_key", _("Use 16 characters or more."))
        elif kind == ChannelKind.TELEGRAM:
            if not _TELEGRAM_CHAT.match(target):
                self.add_error("target", _("A Telegram chat id is a number (groups: negative) or @channelname."))
            if given["bot_token"] and not _TELEGRAM_TOKEN.match(given["bot_token"]):
                self.add_error("bot_token", _("A bot token looks like 123456789:AA… (from @BotFather)."))
        elif kind == ChannelKind.APPRISE and given["apprise_url"]:
            import apprise

            if not apprise.Apprise().add(given["apprise_url"]):
                self.add_error("apprise_url", _("apprise does not know this URL."))
            else:
                self._check_destination("apprise_url", outbound.check_apprise_url, given["apprise_url"])
        if (cleaned.get("quiet_start") is None) != (cleaned.get("quiet_end") is None):
            self.add_error("quiet_end", _("Give both ends of the quiet hours, or neither."))
        if wanted is not None and not given[wanted] and not stored.get(_STORED_NAME[wanted]):
            self.add_error(wanted, _("Required for this kind of channel."))
        self.new_secrets: dict[str, str] | None = None
        if wanted is not None:
            key = _STORED_NAME[wanted]
            self.new_secrets = {key: given[wanted] or stored.get(key, "")}
        return cleaned

    def _check_destination(self, field: str, check: Any, value: str) -> None:
        """The outbound-address policy (quantarb/outbound.py), on saving; it is applied on each delivery too."""
        try:
            check(value)
        except outbound.DestinationRefused as error:
            self.add_error(field, str(error))

    def secret_hints(self) -> dict[str, str]:
        return {name: mask(value) for name, value in (self.new_secrets or {}).items()}


class RuleForm(forms.Form):
    enabled = forms.BooleanField(label=_("Enabled"), required=False)
    severity = forms.ChoiceField(label=_("Severity"), choices=Severity.choices)

    def __init__(self, *args: Any, rule: AlertRule, **kwargs: Any) -> None:
        self.rule = rule
        self.rule_type = registry.get(rule.rule_type)
        initial = {"enabled": rule.enabled, "severity": rule.severity, **rule.params}
        kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        for param in self.rule_type.params if self.rule_type else ():
            # Kept in a JSON column: bounded like the platform's other decimals (20 digits, 8 decimals).
            self.fields[param.name] = forms.DecimalField(
                label=str(param.label),
                min_value=param.minimum,
                max_value=param.maximum,
                max_digits=20,
                decimal_places=8,
                help_text=param.unit,
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.rule_type is None:
            raise forms.ValidationError(_("This rule type is no longer registered."))
        given = {param.name: cleaned[param.name] for param in self.rule_type.params if param.name in cleaned}
        params, errors = self.rule_type.clean_params(given)
        for name, message in errors.items():
            self.add_error(name if name in self.fields else None, message)
        cleaned["params"] = params
        return cleaned
