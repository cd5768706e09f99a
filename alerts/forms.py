"""The portal's forms of channels and rules: each reads its fields, then applies the checks the API's serializers
apply too (alerts/checks.py), and gives the services the checked values.

Channel secrets are write-only: password inputs that never render a value; an empty field keeps the stored one.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Tenant

from . import registry
from .checks import (
    SECRET_FIELDS,
    SECRET_MAX_LENGTH,
    STORED_NAME,
    ChannelValues,
    channel_check,
    rule_param_fields,
    rule_params_check,
)
from .choices import Category, Severity
from .models import AlertRule, Channel


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
                hint = self.instance.secret_hints.get(STORED_NAME[name])
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
        given = ChannelValues(
            name=str(cleaned.get("name") or ""),
            kind=str(cleaned.get("kind") or self.instance.kind),
            target=str(cleaned.get("target") or ""),
            categories=tuple(cleaned.get("categories") or ()),
            min_severity=str(cleaned.get("min_severity") or ""),
            quiet_start=cleaned.get("quiet_start"),
            quiet_end=cleaned.get("quiet_end"),
            repeat_after_s=cleaned.get("repeat_after_s") or 0,
            max_per_hour=cleaned.get("max_per_hour") or 0,
            enabled=bool(cleaned.get("enabled")),
            secrets={name: str(cleaned.get(name) or "") for name in SECRET_FIELDS},
        )
        channel = self.instance if self.instance.pk else None
        self.checked, errors = channel_check(
            tenant=self.tenant, channel=channel, values=given, failed=frozenset(self.errors)
        )
        if "name" not in self.errors:
            cleaned["name"] = self.checked.name
        cleaned["target"] = self.checked.target
        for name, messages in errors.items():
            for message in messages:
                self.add_error(name, message)
        return cleaned

    def values(self) -> ChannelValues:
        """The checked values of a valid form."""
        return self.checked


class RuleForm(forms.Form):
    enabled = forms.BooleanField(label=_("Enabled"), required=False)
    severity = forms.ChoiceField(label=_("Severity"), choices=Severity.choices)

    def __init__(self, *args: Any, rule: AlertRule, **kwargs: Any) -> None:
        self.rule = rule
        self.rule_type = registry.get(rule.rule_type)
        initial = {"enabled": rule.enabled, "severity": rule.severity, **rule.params}
        kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        self.fields.update(rule_param_fields(self.rule_type))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        params = self.rule_type.params if self.rule_type else ()
        given = {param.name: cleaned[param.name] for param in params if param.name in cleaned}
        cleaned["params"], errors = rule_params_check(self.rule_type, given)
        for name, messages in errors.items():
            for message in messages:
                self.add_error(name if name in self.fields else None, message)
        return cleaned
