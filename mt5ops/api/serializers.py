from __future__ import annotations

from typing import Any, NoReturn

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from mt5ops.choices import API_ACTIONS, Backend
from mt5ops.models import TerminalEvent, TerminalHealth, TerminalInstance, TerminalStatus
from mt5ops.selectors import display_state
from mt5ops.terminal_rules import TerminalValues, terminal_problems
from quantarb import clock
from quantarb.api import WriteSerializer


class TerminalSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """A terminal with its state (the agent's key is write-only: only its id is shown)."""

    state = serializers.SerializerMethodField()
    failure = serializers.SerializerMethodField()
    last_check_at = serializers.SerializerMethodField()
    has_agent_key = serializers.SerializerMethodField()
    accounts = serializers.SerializerMethodField()

    class Meta:
        model = TerminalInstance
        fields = (
            "id",
            "label",
            "backend",
            "host",
            "bridge_port",
            "terminal_path",
            "agent_host",
            "agent_port",
            "agent_key_id",
            "has_agent_key",
            "state",
            "failure",
            "last_check_at",
            "accounts",
            "created_at",
        )

    def _status(self, obj: TerminalInstance) -> Any:

        try:
            return obj.status
        except TerminalStatus.DoesNotExist:  # never checked yet
            return None

    def get_state(self, obj: TerminalInstance) -> str:

        return display_state(self._status(obj), clock.now())

    def get_failure(self, obj: TerminalInstance) -> str:
        status = self._status(obj)
        return status.failure if status is not None else ""

    def get_last_check_at(self, obj: TerminalInstance) -> str | None:
        status = self._status(obj)
        return status.last_check_at.isoformat() if status is not None and status.last_check_at else None

    def get_has_agent_key(self, obj: TerminalInstance) -> bool:
        return bool(obj.agent_key_id)

    def get_accounts(self, obj: TerminalInstance) -> list[dict[str, Any]]:
        return [{"id": account.pk, "label": account.label} for account in obj.accounts.order_by("label")]


class TerminalWriteSerializer(WriteSerializer):
    """What adding a terminal takes. The rules about the terminal as a whole are the portal form's
    (mt5ops/terminal_rules.py and the model's clean()): a 400 names the field with the same words. Context:
    `tenant`."""

    label = serializers.CharField(max_length=120)  # type: ignore[assignment]
    backend = serializers.ChoiceField(choices=Backend.choices)
    host = serializers.CharField(required=False, allow_blank=True, max_length=255)
    bridge_port = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=65535)
    terminal_path = serializers.CharField(required=False, allow_blank=True, max_length=500)
    agent_host = serializers.CharField(required=False, allow_blank=True, max_length=255)
    agent_port = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=65535)
    agent_key = serializers.CharField(required=False, allow_blank=True, write_only=True, max_length=200)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        tenant = self.context["tenant"]
        problems = terminal_problems(tenant=tenant, terminal=None, values=attrs)
        fields = {name: value for name, value in attrs.items() if name != "agent_key"}
        try:
            TerminalInstance(tenant=tenant, **fields).clean()
        except DjangoValidationError as error:
            for name, messages in error.message_dict.items():
                if name not in problems:
                    for message in messages:
                        problems.add(name, message)
        if problems:
            raise ValidationError(problems)
        return attrs

    def values(self) -> TerminalValues:
        """The validated terminal, as services.terminal_add takes it."""
        return TerminalValues(**self.validated_data)


class HealthSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = TerminalHealth
        fields = (
            "at",
            "ok",
            "failure",
            "reason",
            "reachable",
            "connected",
            "trade_allowed",
            "tradeapi_disabled",
            "login",
            "account_trade_allowed",
            "account_trade_expert",
            "tick_age_s",
            "session_open",
            "rtt_p50_ms",
            "rtt_p99_ms",
            "ping_ms",
            "build",
            "error_code",
            "error",
            "duration_ms",
        )


class EventSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    by = serializers.SerializerMethodField()

    class Meta:
        model = TerminalEvent
        fields = ("at", "kind", "before", "after", "failure", "action", "outcome", "automatic", "by", "detail")

    def get_by(self, obj: TerminalEvent) -> str | None:
        return obj.actor.username if obj.actor is not None else None


class ActionSerializer(WriteSerializer):
    action = serializers.ChoiceField(choices=sorted(API_ACTIONS))


class CurrentHealthSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """The terminal's state now (the health answer's `current`)."""

    state = serializers.CharField(help_text="healthy, degraded, down, maintenance, stale (no recent check) or unknown")
    since = serializers.DateTimeField()
    failure = serializers.CharField(allow_blank=True)
    reason = serializers.CharField(allow_blank=True)
    last_check_at = serializers.DateTimeField(allow_null=True)
    outage_started_at = serializers.DateTimeField(allow_null=True)
    alert_open = serializers.BooleanField()
    next_recovery = serializers.CharField(allow_blank=True)
    restarts_last_hour = serializers.IntegerField()


class TerminalHealthAnswerSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """GET /api/v1/mt5/terminals/{id}/health/: the state now, the latest checks and the health log."""

    current = CurrentHealthSerializer()
    history = HealthSerializer(many=True)
    log = EventSerializer(many=True)


HISTORY_DEFAULT, HISTORY_MAX = 100, 1_000


class HistoryLimitField(serializers.IntegerField):
    """How many checks and log entries to answer; any bad value gets the one message naming the range."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # The range for the schema; checked in to_internal_value, so out of range gets the same message as "x".
        self.min_value, self.max_value = 1, HISTORY_MAX

    def to_internal_value(self, data: Any) -> int:
        value: int = super().to_internal_value(data)
        if not 1 <= value <= HISTORY_MAX:
            self.fail("max_value")
        return value

    def fail(self, key: str, **kwargs: Any) -> NoReturn:
        raise ValidationError(_("Give a whole number from 1 to %(most)s.") % {"most": HISTORY_MAX}, code=key)


class HealthParamsSerializer(serializers.Serializer):  # type: ignore[type-arg]
    limit = HistoryLimitField(default=HISTORY_DEFAULT, help_text="checks and log entries (1–1000)")
