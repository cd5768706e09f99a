from __future__ import annotations

from typing import Any

from rest_framework import serializers

from alerts.choices import Category, Severity
from alerts.forms import SECRET_MAX_LENGTH
from alerts.models import Alert, AlertRule, Channel, Delivery

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


class ChannelWriteSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """The schema of a channel write (validated by the portal's form): secrets go in `secrets`, write-only."""

    name = serializers.CharField(max_length=80)
    kind = serializers.ChoiceField(choices=["email", "webhook", "telegram", "apprise"])
    target = serializers.CharField(required=False, max_length=500)
    categories = serializers.ListField(child=serializers.ChoiceField(choices=Category.choices), required=False)
    min_severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    quiet_start = serializers.TimeField(required=False, allow_null=True)
    quiet_end = serializers.TimeField(required=False, allow_null=True)
    repeat_after_s = serializers.IntegerField(required=False, min_value=0, max_value=_INTEGER_MAX)
    max_per_hour = serializers.IntegerField(required=False, min_value=0, max_value=_INTEGER_MAX)
    enabled = serializers.BooleanField(required=False)
    secrets = serializers.DictField(
        child=serializers.CharField(max_length=max(SECRET_MAX_LENGTH.values())),
        required=False,
        write_only=True,
        help_text="signing_key (webhook), bot_token (telegram) or apprise_url (apprise).",
    )


class RuleSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = AlertRule
        fields = ("id", "rule_type", "params", "severity", "enabled", "updated_at")
        read_only_fields = ("rule_type", "updated_at")
