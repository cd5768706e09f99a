"""Identity API: tokens (issue, refresh with rotation, logout) and `/me`."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenBlacklistView, TokenObtainPairView, TokenRefreshView

from accounts.http import request_membership, require_membership
from accounts.jwt import (
    TenantTokenBlacklistSerializer,
    TenantTokenObtainPairSerializer,
    TenantTokenRefreshSerializer,
)
from accounts.models import AuditEvent
from accounts.permissions import Perm, permissions_for

from .serializers import AuditEventSerializer, AuditParams, MeSerializer, RefreshedPairSerializer, TokenPairSerializer


class TokenObtainView(TokenObtainPairView):
    """Exchange username and password (and optionally a tenant's slug) for an access and a refresh token.

    The tokens act in the named tenant, or in the user's first one. Access lives 15 minutes, refresh 7 days.
    Admins of a tenant that requires two-factor sign-in also send `otp`, the current code of their authenticator
    app. Five failed sign-ins lock the username for 15 minutes: 429 with `Retry-After` meanwhile."""

    serializer_class = TenantTokenObtainPairSerializer

    @extend_schema(
        request=TenantTokenObtainPairSerializer,
        responses={
            200: TokenPairSerializer,
            400: OpenApiResponse(description="`otp` missing for an account that needs it, or a tenant not yours."),
            401: OpenApiResponse(description="Wrong credentials, suspended account, or a wrong `otp` code."),
            429: OpenApiResponse(description="Username locked after repeated failures, or too many wrong codes."),
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)


class TokenRefreshRotateView(TokenRefreshView):
    """Exchange a refresh token for a new access token and a new refresh token; the old refresh is blacklisted,
    so using it again answers 401."""

    serializer_class = TenantTokenRefreshSerializer

    @extend_schema(responses={200: RefreshedPairSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)


class LogoutView(TokenBlacklistView):
    """Sign out a token family: the refresh token and every access token made from it answer 401 from now on."""

    serializer_class = TenantTokenBlacklistSerializer

    @extend_schema(responses={204: None})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        super().post(request, *args, **kwargs)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    """The caller, the active tenant (the token's under JWT) and the role's permissions from the matrix."""

    required_permission = None

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        membership = request_membership(request)
        role = membership.role if membership else None
        body = {
            "user": request.user,
            "tenant": membership.tenant if membership else None,
            "role": role,
            "permissions": sorted(permissions_for(role)),
        }
        return Response(MeSerializer(body).data)


class AuditEventList(generics.ListAPIView):  # type: ignore[type-arg]
    """The active tenant's audit trail, newest first, for admins and compliance. Filters combine with AND; a
    bad filter answers 400 with the field's message."""

    required_permission = Perm.AUDIT_READ
    serializer_class = AuditEventSerializer

    @extend_schema(parameters=[AuditParams])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[AuditEvent]:
        params = AuditParams(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        p = params.validated_data
        membership = require_membership(self.request)
        events = AuditEvent.objects.for_member(membership)
        for name, lookup in (
            ("actor", "actor_username"),
            ("action", "action"),
            ("object_type", "object_type"),
            ("object_id", "object_id"),
            ("correlation_id", "correlation_id"),
        ):
            if p.get(name):
                events = events.filter(**{lookup: p[name]})
        if p.get("since"):
            events = events.filter(created_at__gte=p["since"])
        if p.get("until"):
            events = events.filter(created_at__lt=p["until"])
        return events.order_by("-seq")
