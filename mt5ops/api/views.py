"""MT5 terminals over the API: the list (admins create), one terminal, its health (current and
history, with the health log) and, for admins, its actions. Tenant-scoped: a foreign id answers 404."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.http import AuditContext, require_actor, require_membership, require_tenant
from accounts.permissions import Perm
from mt5ops.choices import API_ACTIONS
from mt5ops.health import status_of
from mt5ops.models import TerminalEvent, TerminalHealth, TerminalInstance
from mt5ops.selectors import display_state
from mt5ops.services import restarts_last_hour, terminal_action, terminal_add
from quantarb import clock
from quantarb.api import json_object

from .serializers import (
    ActionSerializer,
    EventSerializer,
    HealthParamsSerializer,
    HealthSerializer,
    TerminalHealthAnswerSerializer,
    TerminalSerializer,
    TerminalWriteSerializer,
)


def _terminals(request: Request) -> QuerySet[TerminalInstance]:
    return TerminalInstance.objects.for_member(require_membership(request)).select_related("status").order_by("label")


def _one(request: Request, terminal_id: int) -> TerminalInstance:
    terminal = _terminals(request).filter(pk=terminal_id).first()
    if terminal is None:
        raise Http404
    return terminal


class TerminalList(generics.ListAPIView):  # type: ignore[type-arg]
    """The tenant's MT5 terminals with their state. POST (admins) adds one: name, bridge, path and agent."""

    required_permission = Perm.MT5_VIEW
    write_permission = Perm.MT5_OPERATE
    serializer_class = TerminalSerializer

    def get_queryset(self) -> QuerySet[TerminalInstance]:
        return _terminals(self.request)

    @extend_schema(request=TerminalWriteSerializer, responses={201: TerminalSerializer})
    def post(self, request: Request) -> Response:
        tenant = require_tenant(request)
        given = TerminalWriteSerializer(data=json_object(request.data), context={"tenant": tenant})
        given.is_valid(raise_exception=True)
        terminal = terminal_add(
            tenant=tenant,
            values=given.values(),
            actor=require_actor(request),
            context=AuditContext.from_request(request),
        )
        return Response(TerminalSerializer(terminal).data, status=status.HTTP_201_CREATED)


class TerminalDetail(APIView):
    required_permission = Perm.MT5_VIEW

    @extend_schema(responses=TerminalSerializer)
    def get(self, request: Request, terminal_id: int) -> Response:
        return Response(TerminalSerializer(_one(request, terminal_id)).data)


class TerminalHealthView(APIView):
    """The terminal's state now, its latest checks (newest first, `limit` of them, 100 by default) and its health
    log (state changes, recovery steps, manual actions)."""

    required_permission = Perm.MT5_VIEW

    @extend_schema(parameters=[HealthParamsSerializer], responses=TerminalHealthAnswerSerializer)
    def get(self, request: Request, terminal_id: int) -> Response:
        terminal = _one(request, terminal_id)
        params = HealthParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        limit = params.validated_data["limit"]
        current = status_of(terminal)
        checks = TerminalHealth.objects.filter(terminal=terminal).order_by("-at", "-pk")[:limit]
        log = TerminalEvent.objects.filter(terminal=terminal).select_related("actor").order_by("-at", "-pk")[:limit]
        body: dict[str, Any] = {
            "current": {
                "state": display_state(current, clock.now()),
                "since": current.since.isoformat(),
                "failure": current.failure,
                "reason": current.reason,
                "last_check_at": current.last_check_at.isoformat() if current.last_check_at else None,
                "outage_started_at": current.outage_started_at.isoformat() if current.outage_started_at else None,
                "alert_open": current.alert_open,
                "next_recovery": current.next_recovery,
                "restarts_last_hour": restarts_last_hour(terminal),
            },
            "history": HealthSerializer(checks, many=True).data,
            "log": EventSerializer(log, many=True).data,
        }
        return Response(body)


class TerminalActions(APIView):
    """An admin's action on the terminal: `{"action": "reconnect" | "relogin" | "restart" | "maintenance_on" |
    "maintenance_off"}` — done now (200), logged and audited; a reconnect, re-login or restart asked for while an
    order on the terminal is in flight is queued (202, outcome `queued`) and taken once the order has settled."""

    required_permission = Perm.MT5_OPERATE

    @extend_schema(request=ActionSerializer, responses={200: EventSerializer, 202: EventSerializer})
    def post(self, request: Request, terminal_id: int) -> Response:
        terminal = _one(request, terminal_id)
        given = ActionSerializer(data=request.data if isinstance(request.data, dict) else {})
        given.is_valid(raise_exception=True)
        action = API_ACTIONS[given.validated_data["action"]]
        result = terminal_action(
            terminal=terminal,
            action=action.value,
            actor=require_actor(request),
            context=AuditContext.from_request(request),
        )
        body = {"action": given.validated_data["action"], **EventSerializer(result.event).data}
        queued = result.outcome == "queued"
        return Response(body, status=status.HTTP_202_ACCEPTED if queued else status.HTTP_200_OK)
