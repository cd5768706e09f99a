"""The risk limits API: `/api/v1/risk/limits/` (read by every role that reads limits; created, changed and deleted
by admins, validated by the write serializer with the limits editor's checks — a 400 names each field) and
`/api/v1/risk/breaches/` (the breach log; an admin confirms a pending action). Tenant-scoped: a foreign id answers
404."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.http import AuditContext, require_actor, require_membership, require_tenant
from accounts.permissions import Perm
from quantarb.api import json_object

from ..limit_views import breaches_for, limits_for
from ..limits import breach_confirm, limit_delete, limit_save, limit_summary
from ..models import Breach, RiskLimit
from .filters import BreachFilterSet
from .serializers import BreachSerializer, RiskLimitSerializer, RiskLimitWriteSerializer


def _body(request: Request) -> dict[str, Any]:
    return json_object(request.data)


# What PUT resets a field it was not sent to (a full replacement; `scope_kind` and `metric` are always sent).
PUT_DEFAULTS: dict[str, Any] = {
    "name": "",
    "pool": None,
    "strategy": None,
    "account": None,
    "warning_level": None,
    "breach_level": None,
    "direction": "",
    "action": "alert",
    "confirm": False,
    "hysteresis": "0",
    "enabled": True,
}


def _save(request: Request, limit: RiskLimit | None, body: dict[str, Any], *, replace: bool = False) -> RiskLimit:
    """Validate the body with the write serializer over what PUT resets (`replace`) or what is stored (PATCH),
    then save."""
    before = limit_summary(limit) if limit is not None else None
    base = PUT_DEFAULTS if replace else (before or {})
    serializer = RiskLimitWriteSerializer(limit, data={**base, **body}, context={"tenant": require_tenant(request)})
    serializer.is_valid(raise_exception=True)
    try:
        saved: RiskLimit = limit_save(
            row=serializer.row, actor=require_actor(request), before=before, context=AuditContext.from_request(request)
        )
        return saved
    except DjangoValidationError as error:
        raise ValidationError(error.message_dict if hasattr(error, "error_dict") else error.messages) from error


def _limit(request: Request, limit_id: int) -> RiskLimit:
    limit: RiskLimit | None = limits_for(membership=require_membership(request)).filter(pk=limit_id).first()
    if limit is None:
        raise Http404
    return limit


class RiskLimitList(generics.ListAPIView):  # type: ignore[type-arg]
    """The desk's limits with where each stands (`level`, `value` at the last evaluation). POST creates one
    (admins)."""

    required_permission = Perm.RISK_LIMITS_VIEW
    write_permission = Perm.RISK_LIMITS_MANAGE
    serializer_class = RiskLimitSerializer

    def get_queryset(self) -> QuerySet[RiskLimit]:
        return limits_for(membership=require_membership(self.request))

    @extend_schema(request=RiskLimitWriteSerializer, responses={201: RiskLimitSerializer})
    def post(self, request: Request) -> Response:
        limit = _save(request, None, _body(request))
        return Response(RiskLimitSerializer(_limit(request, limit.pk)).data, status=status.HTTP_201_CREATED)


class RiskLimitDetail(APIView):
    """One limit. PUT/PATCH change it (PATCH: only the fields sent); DELETE removes it (its breaches stay in the
    log). Disabling (`enabled`: false) ends its open breach and lifts its block."""

    required_permission = Perm.RISK_LIMITS_VIEW
    write_permission = Perm.RISK_LIMITS_MANAGE

    @extend_schema(responses=RiskLimitSerializer)
    def get(self, request: Request, limit_id: int) -> Response:
        return Response(RiskLimitSerializer(_limit(request, limit_id)).data)

    @extend_schema(request=RiskLimitWriteSerializer, responses=RiskLimitSerializer)
    def put(self, request: Request, limit_id: int) -> Response:
        _save(request, _limit(request, limit_id), _body(request), replace=True)
        return Response(RiskLimitSerializer(_limit(request, limit_id)).data)

    @extend_schema(request=RiskLimitWriteSerializer, responses=RiskLimitSerializer)
    def patch(self, request: Request, limit_id: int) -> Response:
        _save(request, _limit(request, limit_id), _body(request))
        return Response(RiskLimitSerializer(_limit(request, limit_id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, limit_id: int) -> Response:
        limit_delete(
            row=_limit(request, limit_id), actor=require_actor(request), context=AuditContext.from_request(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class BreachList(generics.ListAPIView):  # type: ignore[type-arg]
    """The breach log, newest first: start, peak, end, the action and what became of it. Filters: `open`
    (true: ongoing only), `limit` (a limit's id)."""

    required_permission = Perm.RISK_LIMITS_VIEW
    serializer_class = BreachSerializer
    queryset = Breach.objects.none()  # the schema's model; rows come from get_queryset
    filter_backends = [DjangoFilterBackend]
    filterset_class = BreachFilterSet

    def get_queryset(self) -> QuerySet[Breach]:
        return breaches_for(membership=require_membership(self.request))


class BreachConfirm(APIView):
    """An admin confirms a breach's pending action: it is carried out now, audited with their name (409 when the
    breach ended or its action is not waiting)."""

    required_permission = Perm.RISK_LIMITS_MANAGE

    @extend_schema(request=None, responses={200: BreachSerializer, 409: None})
    def post(self, request: Request, breach_id: int) -> Response:
        breach = breaches_for(membership=require_membership(request)).filter(pk=breach_id).first()
        if breach is None:
            raise Http404
        try:
            breach = breach_confirm(
                breach=breach, actor=require_actor(request), context=AuditContext.from_request(request)
            )
        except DjangoValidationError as error:
            return Response({"detail": " ".join(error.messages)}, status=status.HTTP_409_CONFLICT)
        return Response(BreachSerializer(breach).data)
