from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import serializers

from alerts import registry
from alerts.checks import SECRET_MAX_LENGTH, ChannelValues, channel_check, rule_param_fields, rule_params_check
from alerts.choices import Category, ChannelKind, Severity
from alerts.models import Alert, AlertRule, Channel, Delivery
from quantarb.api import WriteSerializer, field_errors

# The largest value the channel's integer columns hold on every database (PostgreSQL's integer).
_INTEGER_MAX = 2**31 - 1


class DeliverySerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    channel = serializers.CharField(source="channel.name", read_only=True)

    class Meta:
        model = Delivery
        fields = (
            "id",
            "alert",
            "channel",
            "is_test",
            "status",
            "attempts",
            "attempt_log",
            "response",
            "error",
            "created_at",
            "last_attempt_at",
            "next_attempt_at",
        )


class AlertSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    acknowledged_by = serializers.CharField(
        source="acknowledged_by.username", read_only=True, default=None, allow_null=True
    )
    resolved_by = serializers.CharField(source="resolved_by.username", read_only=True, default=None, allow_null=True)
    rule = serializers.CharField(source="rule.rule_type", read_only=True, default=None, allow_null=True)
    title = serializers.CharField(
        source="title_text", read_only=True, help_text="In the caller's language (Accept-Language); English by default."
    )

    class Meta:
        model = Alert
        fields: tuple[str, ...] = (
            "id",
            "category",
            "severity",
            "title",
            "detail",
            "rule",
            "source_type",
            "source_id",
            "status",
            "dedup_key",
            "count",
            "first_seen",
            "last_seen",
            "acknowledged_by",
            "acknowledged_at",
            "resolved_by",
            "resolved_at",
        )


class AlertDetailSerializer(AlertSerializer):
    deliveries = serializers.SerializerMethodField()

    class Meta(AlertSerializer.Meta):
        fields = (*AlertSerializer.Meta.fields, "deliveries")

    def get_deliveries(self, alert: Alert) -> list[dict[str, Any]]:
        rows = alert.deliveries.select_related("channel").order_by("-created_at")[:50]
        return [
            {"channel": row.channel.name, "status": row.status, "attempts": row.attempts, "created_at": row.created_at}
            for row in rows
        ]


class ChannelSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """A channel as the API shows it: secrets only as masked hints."""

    class Meta:
        model = Channel
        fields = (
            "id",
            "name",
            "kind",
            "target",
            "secret_hints",
            "categories",
            "min_severity",
            "quiet_start",
            "quiet_end",
            "repeat_after_s",
            "max_per_hour",
            "enabled",
        )


class ChannelSecretsSerializer(WriteSerializer):
    """A channel's secrets, write-only: the one its kind takes; one left out (or empty) keeps the stored one."""

    signing_key = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=SECRET_MAX_LENGTH["signing_key"]
    )
    bot_token = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=SECRET_MAX_LENGTH["bot_token"]
    )
    url = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=SECRET_MAX_LENGTH["apprise_url"]
    )

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise serializers.ValidationError([_("Send the secrets as an object.")])
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError([_("Unknown secret(s): %(names)s.") % {"names": ", ".join(unknown)}])
        return super().to_internal_value(data)


# The API's name of each secret, by its form field name.
SECRET_API_NAME = {"signing_key": "signing_key", "bot_token": "bot_token", "apprise_url": "url"}


class ChannelWriteSerializer(WriteSerializer):
    """Create (POST) or change (PATCH) a channel: secrets go in `secrets`, write-only; a bad field answers 400 with
    the portal form's message (a secret's under `secrets`). Needs `tenant` in its context; the channel changed is
    the serializer's instance (its kind stays). Valid, `checked` holds the values to save."""

    name = serializers.CharField(max_length=80)
    kind = serializers.ChoiceField(choices=ChannelKind.choices)
    target = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=500)
    categories = serializers.ListField(
        child=serializers.ChoiceField(choices=Category.choices), required=False, allow_null=True
    )
    min_severity = serializers.ChoiceField(choices=Severity.choices, default=Severity.WARNING)
    quiet_start = serializers.TimeField(required=False, allow_null=True)
    quiet_end = serializers.TimeField(required=False, allow_null=True)
    repeat_after_s = serializers.IntegerField(default=3600, min_value=0, max_value=_INTEGER_MAX)
    max_per_hour = serializers.IntegerField(default=30, min_value=0, max_value=_INTEGER_MAX)
    enabled = serializers.BooleanField(default=True, allow_null=True)
    secrets = ChannelSecretsSerializer(
        required=False,
        allow_null=True,
        write_only=True,
        help_text="signing_key (webhook), bot_token (telegram) or url (apprise).",
    )

    checked: ChannelValues

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        channel: Channel | None = self.instance
        secrets = attrs.get("secrets") or {}
        given = ChannelValues(
            name=attrs["name"],
            kind=channel.kind if channel is not None else attrs["kind"],
            target=attrs.get("target") or "",
            categories=tuple(attrs.get("categories") or ()),
            min_severity=attrs["min_severity"],
            quiet_start=attrs.get("quiet_start"),
            quiet_end=attrs.get("quiet_end"),
            repeat_after_s=attrs["repeat_after_s"],
            max_per_hour=attrs["max_per_hour"],
            enabled=bool(attrs.get("enabled")),
            secrets={name: secrets.get(api_name) or "" for name, api_name in SECRET_API_NAME.items()},
        )
        self.checked, errors = channel_check(tenant=self.context["tenant"], channel=channel, values=given)
        if errors:
            body: dict[str, Any] = {}
            for name, messages in errors.items():
                if name in SECRET_API_NAME:
                    body.setdefault("secrets", {})[SECRET_API_NAME[name]] = messages
                else:
                    body[name] = messages
            raise serializers.ValidationError(body)
        return attrs


class RuleWriteSerializer(WriteSerializer):
    """Change a rule (PATCH): on or off, its severity, and `params` (an object; the parameters sent replace the
    stored ones, each checked against the rule type; a bad one answers 400 on its name). Needs the rule as the
    serializer's instance. Valid, `checked_params` holds the parameters to save."""

    enabled = serializers.BooleanField(required=False)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    params = serializers.DictField(
        required=False, error_messages={"not_a_dict": gettext_lazy("Send the parameters as an object.")}
    )

    checked_params: dict[str, str]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        rule = self.instance
        assert isinstance(rule, AlertRule), "a rule is changed, never created, through the API"
        rule_type = registry.get(rule.rule_type)
        sent = attrs.get("params") or {}
        fields = rule_param_fields(rule_type)
        unknown = sorted(set(sent) - set(fields))
        if unknown and rule_type is not None:
            message = _("Unknown parameter(s): %(names)s.") % {"names": ", ".join(unknown)}
            raise serializers.ValidationError({"params": [message]})
        read: dict[str, Any] = {}
        errors: dict[str | None, list[str]] = {}
        for name, value in {**rule.params, **sent}.items():
            if name not in fields:
                continue
            try:
                read[name] = fields[name].clean(value)
            except DjangoValidationError as error:
                errors[name] = list(error.messages)
        if errors:
            raise serializers.ValidationError(field_errors(errors))
        self.checked_params, errors = rule_params_check(rule_type, read)
        if errors:
            raise serializers.ValidationError(field_errors(errors))
        return attrs


class RuleSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = AlertRule
        fields = ("id", "rule_type", "params", "severity", "enabled", "updated_at")
        read_only_fields = ("rule_type", "updated_at")
