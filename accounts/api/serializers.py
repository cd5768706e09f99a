from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.choices import AuditAction, Role
from accounts.models import AuditEvent, Tenant, User
from accounts.permissions import Perm


class MeUserSerializer(serializers.ModelSerializer[User]):
    # A plain string: empty when the user has none (an `email` format would refuse the empty string).
    email = serializers.CharField(read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name", "email", "language", "theme"]


class MeTenantSerializer(serializers.ModelSerializer[Tenant]):
    class Meta:
        model = Tenant
        fields = ["id", "slug", "name"]


class MeSerializer(serializers.Serializer[Any]):
    """The caller, their active tenant and their role there, with the permissions the matrix grants that role."""

    user = MeUserSerializer()
    tenant = MeTenantSerializer(allow_null=True)
    role = serializers.ChoiceField(choices=Role.choices, allow_null=True)
    permissions = serializers.ListField(child=serializers.ChoiceField(choices=[p.value for p in Perm]))


class TokenPairSerializer(serializers.Serializer[Any]):
    """What `POST /auth/token/` answers (documentation only)."""

    access = serializers.CharField()
    refresh = serializers.CharField()
    tenant = serializers.SlugField(help_text="The tenant the tokens act in.")


class RefreshedPairSerializer(serializers.Serializer[Any]):
    """What `POST /auth/token/refresh/` answers (documentation only): the old refresh is blacklisted."""

    access = serializers.CharField()
    refresh = serializers.CharField()


class AuditEventSerializer(serializers.ModelSerializer[Any]):
    tenant = serializers.IntegerField(source="tenant_id", allow_null=True)
    actor = serializers.CharField(source="actor_username")

    class Meta:
        model = AuditEvent
        fields = [
            "tenant",
            "seq",
            "created_at",
            "actor",
            "actor_id",
            "action",
            "object_type",
            "object_id",
            "summary",
            "ip",
            "user_agent",
            "correlation_id",
            "prev_hash",
            "hash",
        ]


class AuditParams(serializers.Serializer[Any]):
    """Filters of `GET /audit/`; every one optional, combined with AND."""

    actor = serializers.CharField(required=False, max_length=150, help_text="Exact username of the actor.")
    action = serializers.ChoiceField(choices=AuditAction.choices, required=False)
    object_type = serializers.CharField(required=False, max_length=100, help_text="e.g. accounts.membership")
    object_id = serializers.CharField(required=False, max_length=64)
    correlation_id = serializers.CharField(required=False, max_length=64)
    since = serializers.DateTimeField(required=False, help_text="Events at or after this time (ISO 8601).")
    until = serializers.DateTimeField(required=False, help_text="Events before this time (ISO 8601).")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("since") and attrs.get("until") and attrs["since"] >= attrs["until"]:
            raise serializers.ValidationError({"until": "Must be after `since`."})
        return attrs
