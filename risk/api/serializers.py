"""Shapes of the risk limits API: a limit (read, and its writable fields), a breach of the log."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from quantarb.api_decimals import PlainDecimalField

from ..choices import LimitAction, LimitDirection, LimitMetric, LimitScopeKind
from ..models import Breach, RiskLimit


class RiskLimitSerializer(serializers.ModelSerializer[RiskLimit]):
    label = serializers.CharField(read_only=True)  # type: ignore[assignment]
    scope_label = serializers.CharField(read_only=True)
    effective_direction = serializers.CharField(read_only=True, help_text="The direction in force: max or min.")
    direction = serializers.ChoiceField(
        choices=LimitDirection.choices,
        allow_blank=True,
        read_only=True,
        help_text='As set: "" (the metric\'s natural direction), "max" or "min".',
    )
    level = serializers.CharField(source="current_level", read_only=True, help_text="ok, warning or breach")
    value = PlainDecimalField(
        source="state.value", max_digits=30, decimal_places=8, read_only=True, default=None, allow_null=True
    )
    evaluated_at = serializers.DateTimeField(source="state.evaluated_at", read_only=True, default=None, allow_null=True)

    class Meta:
        model = RiskLimit
        fields = [
            "id",
            "name",
            "label",
            "scope_kind",
            "pool",
            "strategy",
            "account",
            "scope_label",
            "metric",
            "warning_level",
            "breach_level",
            "direction",
            "effective_direction",
            "action",
            "confirm",
            "hysteresis",
            "enabled",
            "level",
            "value",
            "evaluated_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class RiskLimitWriteSerializer(serializers.Serializer[Any]):
    """A limit's writable fields (the limits editor's form and checks; a 400 names the field). Levels are decimal
    strings in the metric's unit; `direction` "" (the metric's natural one), "max" or "min"; the scope's object
    (`pool`, `strategy` or `account`, an id of this desk) matches `scope_kind`. PATCH sends only what changes."""

    name = serializers.CharField(required=False, max_length=120, allow_blank=True)
    scope_kind = serializers.ChoiceField(choices=LimitScopeKind.choices)
    pool = serializers.IntegerField(required=False, allow_null=True)
    strategy = serializers.IntegerField(required=False, allow_null=True)
    account = serializers.IntegerField(required=False, allow_null=True)
    metric = serializers.ChoiceField(choices=LimitMetric.choices)
    warning_level = serializers.CharField(required=False, allow_null=True, max_length=40)
    breach_level = serializers.CharField(required=False, allow_null=True, max_length=40)
    direction = serializers.ChoiceField(choices=LimitDirection.choices, required=False, allow_blank=True)
    action = serializers.ChoiceField(choices=LimitAction.choices, required=False)
    confirm = serializers.BooleanField(required=False)
    hysteresis = serializers.CharField(required=False, max_length=40)
    enabled = serializers.BooleanField(required=False)


class BreachSerializer(serializers.ModelSerializer[Breach]):
    confirmed_by = serializers.CharField(source="confirmed_by.username", read_only=True, default=None, allow_null=True)
    action_note_text = serializers.CharField(
        read_only=True,
        help_text="The action's note in the request's language (`action_note` keeps it in English).",
    )
    action_note_parts = serializers.ListField(
        child=serializers.DictField(),
        read_only=True,
        help_text="The note's parts, each a `code` and its `params` (empty for a breach written before the codes).",
    )

    class Meta:
        model = Breach
        fields = [
            "id",
            "limit",
            "limit_label",
            "metric",
            "scope_kind",
            "scope_ref",
            "scope_label",
            "threshold",
            "started_at",
            "start_value",
            "peak_value",
            "peak_at",
            "ended_at",
            "action",
            "action_status",
            "action_note",
            "action_note_parts",
            "action_note_text",
            "action_done_at",
            "confirmed_by",
            "confirmed_at",
        ]
        read_only_fields = fields
