from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.choices import Role
from accounts.models import Tenant, User
from accounts.permissions import Perm


class MeUserSerializer(serializers.ModelSerializer[User]):
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
