"""Shapes of the risk limits API: a limit (read, and its writable fields), a breach of the log."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from quantarb.api import WriteSerializer, field_errors
from quantarb.api_decimals import PlainDecimalField

from ..choices import LimitAction, LimitDirection, LimitMetric, LimitScopeKind
from ..models import LEVEL, SCOPE_CHOICE, Breach, RiskLimit


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


class RiskLimitWriteSerializer(WriteSerializer):
    """A limit's writable fields (the limits editor's checks, `RiskLimit.clean`; a 400 names the field). Levels are
    decimal strings in the metric's unit; `direction` "" (the metric's natural one), "max" or "min"; the scope's
    object (`pool`, `strategy` or `account`, an id of this desk) matches `scope_kind`. PATCH sends only what changes.
    Needs `tenant` in its context; valid, `row` is the limit with the body's values, not yet saved."""

    name = serializers.CharField(required=False, max_length=120, allow_blank=True)
    scope_kind = serializers.ChoiceField(choices=LimitScopeKind.choices)
    pool = serializers.IntegerField(required=False, allow_null=True)
    strategy = serializers.IntegerField(required=False, allow_null=True)
    account = serializers.IntegerField(required=False, allow_null=True)
    metric = serializers.ChoiceField(choices=LimitMetric.choices)
    warning_level = PlainDecimalField(**LEVEL, required=False, allow_null=True)
    breach_level = PlainDecimalField(**LEVEL, required=False, allow_null=True)
    direction = serializers.ChoiceField(choices=LimitDirection.choices, required=False, allow_blank=True)
    action = serializers.ChoiceField(choices=LimitAction.choices, required=False)
    confirm = serializers.BooleanField(required=False, allow_null=True)
    hysteresis = PlainDecimalField(**LEVEL, required=False, allow_null=True)
    enabled = serializers.BooleanField(required=False, allow_null=True, default=True)

    row: RiskLimit

    def _scope_object(self, name: str, pk: int | None) -> Any:
        if pk is None:
            return None
        model: Any = RiskLimit._meta.get_field(name).related_model
        rows = model.objects.filter(tenant=self.context["tenant"], pk=pk)
        found = (rows.defer("credentials") if name == "account" else rows).first()
        if found is None:
            raise serializers.ValidationError(str(SCOPE_CHOICE))
        return found

    def validate_pool(self, pk: int | None) -> Any:
        return self._scope_object("pool", pk)

    def validate_strategy(self, pk: int | None) -> Any:
        return self._scope_object("strategy", pk)

    def validate_account(self, pk: int | None) -> Any:
        return self._scope_object("account", pk)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        row = self.instance if self.instance is not None else RiskLimit()
        row.tenant = self.context["tenant"]
        row.name = attrs.get("name") or ""
        row.scope_kind = attrs["scope_kind"]
        row.pool, row.strategy, row.account = attrs.get("pool"), attrs.get("strategy"), attrs.get("account")
        row.metric = attrs["metric"]
        row.warning_level, row.breach_level = attrs.get("warning_level"), attrs.get("breach_level")
        row.direction = attrs.get("direction") or ""
        row.action = attrs.get("action") or LimitAction.ALERT
        row.confirm = bool(attrs.get("confirm"))
        hysteresis = attrs.get("hysteresis")
        row.hysteresis = Decimal(0) if hysteresis is None else hysteresis
        row.enabled = bool(attrs.get("enabled"))
        try:
            row.full_clean()
        except DjangoValidationError as error:
            raise serializers.ValidationError(
                field_errors(
                    {
                        None if field == NON_FIELD_ERRORS else field: messages
                        for field, messages in error.message_dict.items()
                    }
                )
            ) from error
        self.row = row
        return attrs


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
