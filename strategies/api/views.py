"""The trading API: strategies (configuration, versions, lifecycle), hedges, orders,
fills, positions, kill switches, reconciliation reports and manual commands. JWT or session; tenant-scoped; a
foreign id answers 404; bad input answers 4xx naming the field, never 500.

Lifecycle requests answer 202 with the strategy (the engine carries the transition out) or 409 with a message
when the state forbids them. Writes need the role (accounts/permissions.py) and, for a trader, the pool granted.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.grants import may_operate
from accounts.http import AuditContext, require_actor, require_membership
from accounts.models import AccountPool
from accounts.permissions import Perm, role_has
from risk.choices import KillScope, KillTrigger
from risk.models import KillSwitch
from risk.services import kill_switch_reset, kill_switch_trip
from risk.views import switches_for
from trading.choices import ManualKind
from trading.execution.selectors import (
    commands_for,
    fills_for,
    hedges_for,
    orders_for,
    positions_for,
    reports_for,
)
from trading.manual.services import manual_request
from trading.models import Fill, Hedge, ManualCommand, Order, PositionSnapshot, ReconciliationReport
from trading.reconciliation.on_demand import (
    ReconciliationNotMismatched,
    ReconciliationUnavailable,
    reconciliation_run,
    reconciliation_sync_now,
)

from ..choices import LifecycleAction
from ..domain.params import StrategyParams
from ..models import Strategy, StrategyVersion
from ..selectors import may_operate_strategy, strategies_for, strategy_for
from ..services import (
    TransitionRefused,
    allowed_actions,
    strategy_create,
    strategy_request,
    strategy_update,
)
from .filters import (
    CommandFilterSet,
    FillFilterSet,
    HedgeFilterSet,
    KillSwitchFilterSet,
    OrderFilterSet,
    PositionFilterSet,
    ReportFilterSet,
)
from .serializers import (
    CommandSerializer,
    CommandWriteSerializer,
    FillSerializer,
    HedgeSerializer,
    KillSwitchSerializer,
    LifecycleSerializer,
    OrderSerializer,
    PositionSerializer,
    ReportSerializer,
    ResetSerializer,
    RunSerializer,
    StrategySerializer,
    StrategyWriteSerializer,
    TripSerializer,
    VersionSerializer,
)


def _service_errors(error: DjangoValidationError) -> ValidationError:
    param_names = {spec.name for spec in dataclasses.fields(StrategyParams)}
    if hasattr(error, "error_dict"):
        params: dict[str, list[str]] = {}
        other: dict[str, list[str]] = {}
        for field, messages in error.message_dict.items():
            (params if field in param_names and field != "mode" else other)[field] = list(messages)
        body: dict[str, Any] = dict(other)
        if params:
            body["params"] = params
        return ValidationError(body)
    return ValidationError({"non_field_errors": error.messages})


# --- strategies ---------------------------------------------------------------------------------------------------
def _strategy(request: Request, strategy_id: int) -> Strategy:
    strategy = strategy_for(membership=require_membership(request), strategy_id=strategy_id)
    if strategy is None:
        raise Http404
    return strategy


def _operable(request: Request, strategy_id: int) -> Strategy:
    strategy = _strategy(request, strategy_id)
    if not may_operate_strategy(require_membership(request), strategy):
        raise PermissionDenied("This strategy's pool is not granted to you.")
    return strategy


class StrategyList(generics.ListAPIView):  # type: ignore[type-arg]
    """The tenant's strategies. POST creates one (stopped, version 1); `params` errors name the field."""

    required_permission = Perm.TRADING_READ
    write_permission = Perm.STRATEGY_OPERATE
    serializer_class = StrategySerializer

    def get_queryset(self) -> QuerySet[Strategy]:
        return strategies_for(membership=require_membership(self.request))

    @extend_schema(request=StrategyWriteSerializer, responses={201: StrategySerializer})
    def post(self, request: Request) -> Response:
        membership = require_membership(request)
        incoming = StrategyWriteSerializer(data=request.data, context={"membership": membership})
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        pool = data["pool"]
        if not may_operate(membership, pool):
            raise PermissionDenied("This pool is not granted to you.")
        try:
            strategy = strategy_create(
                tenant=membership.tenant,
                name=data["name"],
                pool=pool,
                mode=data["mode"],
                params=data["params"],
                actor=require_actor(request),
                note=data["note"],
                context=AuditContext.from_request(request),
            )
        except DjangoValidationError as error:
            raise _service_errors(error) from None
        strategy = strategies_for(membership=membership).get(pk=strategy.pk)
        return Response(StrategySerializer(strategy).data, status=status.HTTP_201_CREATED)


class StrategyDetail(APIView):
    """One strategy. PATCH/PUT saves new parameters as the next version (pool and mode do not change)."""

    required_permission = Perm.TRADING_READ
    write_permission = Perm.STRATEGY_OPERATE

    @extend_schema(responses=StrategySerializer)
    def get(self, request: Request, strategy_id: int) -> Response:
        return Response(StrategySerializer(_strategy(request, strategy_id)).data)

    @extend_schema(request=StrategyWriteSerializer, responses=StrategySerializer)
    def patch(self, request: Request, strategy_id: int) -> Response:
        strategy = _operable(request, strategy_id)
        incoming = StrategyWriteSerializer(strategy, data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        try:
            strategy_update(
                strategy=strategy,
                params=data["params"],
                actor=require_actor(request),
                name=data.get("name"),
                note=data["note"],
                context=AuditContext.from_request(request),
            )
        except DjangoValidationError as error:
            raise _service_errors(error) from None
        return Response(StrategySerializer(_strategy(request, strategy_id)).data)

    put = patch


class StrategyLifecycle(APIView):
    """Request a lifecycle action: 202 with the strategy when accepted, 409 when its state forbids it."""

    required_permission = Perm.STRATEGY_OPERATE
    action: str = LifecycleAction.START

    @extend_schema(request=LifecycleSerializer, responses={202: StrategySerializer, 409: None})
    def post(self, request: Request, strategy_id: int) -> Response:
        strategy = _operable(request, strategy_id)
        incoming = LifecycleSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            strategy = strategy_request(
                strategy=strategy,
                action=self.action,
                actor=require_actor(request),
                context=AuditContext.from_request(request),
                reason=incoming.validated_data["reason"],
            )
        except TransitionRefused as refused:
            return Response(
                {"detail": refused.message, "state": refused.state, "allowed_actions": allowed_actions(refused.state)},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(StrategySerializer(strategy).data, status=status.HTTP_202_ACCEPTED)


class StrategyVersions(generics.ListAPIView):  # type: ignore[type-arg]
    """Every version of a strategy's parameters, newest first."""

    required_permission = Perm.TRADING_READ
    serializer_class = VersionSerializer

    def get_queryset(self) -> QuerySet[StrategyVersion]:
        strategy = _strategy(self.request, int(self.kwargs["strategy_id"]))
        return strategy.versions.select_related("created_by").order_by("-number")


# --- records --------------------------------------------------------------------------------------------------------
class _Records(generics.ListAPIView):  # type: ignore[type-arg]
    """The tenant's rows of one record kind, narrowed by its FilterSet (`filters.py`)."""

    required_permission = Perm.TRADING_READ
    filter_backends = [DjangoFilterBackend]
    select: Any = None

    def get_queryset(self) -> QuerySet[Any]:
        rows: QuerySet[Any] = type(self).select(membership=require_membership(self.request))
        return rows


class HedgeList(_Records):
    """Hedges with their PnL split. Filters: pool, strategy, status, leg, since, until."""

    serializer_class = HedgeSerializer
    queryset = Hedge.objects.none()  # the schema's model; rows come from get_queryset
    filterset_class = HedgeFilterSet
    select = staticmethod(hedges_for)


class OrderList(_Records):
    """Orders on both legs. Filters: pool, strategy, hedge, status, leg, since, until."""

    serializer_class = OrderSerializer
    queryset = Order.objects.none()
    filterset_class = OrderFilterSet
    select = staticmethod(orders_for)


class FillList(_Records):
    """Fills. Filters: pool, strategy, hedge, leg, since, until."""

    serializer_class = FillSerializer
    queryset = Fill.objects.none()
    filterset_class = FillFilterSet
    select = staticmethod(fills_for)


class PositionList(_Records):
    """Position snapshots per account. Filters: pool, leg, since, until."""

    serializer_class = PositionSerializer
    queryset = PositionSnapshot.objects.none()
    filterset_class = PositionFilterSet
    select = staticmethod(positions_for)


# --- kill switches -----------------------------------------------------------------------------------------------
def _switches(request: Request) -> QuerySet[KillSwitch]:

    return switches_for(membership=require_membership(request))


def _may_handle(request: Request, scope: str, strategy: Strategy | None) -> bool:
    if scope == KillScope.GLOBAL:
        return bool(request.user.is_superuser)
    if scope == KillScope.STRATEGY:
        return strategy is not None and may_operate(require_membership(request), strategy.pool)
    return True


class KillSwitchList(generics.ListAPIView):  # type: ignore[type-arg]
    """The switches that concern the tenant (its own and global ones), newest first; `active=true` for the
    tripped ones. POST trips one (global: platform operators only)."""

    required_permission = Perm.TRADING_READ
    write_permission = Perm.KILL_SWITCH
    serializer_class = KillSwitchSerializer
    queryset = KillSwitch.objects.none()  # the schema's model; rows come from get_queryset
    filter_backends = [DjangoFilterBackend]
    filterset_class = KillSwitchFilterSet

    def get_queryset(self) -> QuerySet[KillSwitch]:
        return _switches(self.request)

    @extend_schema(request=TripSerializer, responses={201: KillSwitchSerializer})
    def post(self, request: Request) -> Response:
        membership = require_membership(request)
        incoming = TripSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        scope = incoming.validated_data["scope"]
        strategy = None
        if scope == KillScope.STRATEGY:
            strategy_id = incoming.validated_data.get("strategy")
            strategy = (
                Strategy.objects.for_member(membership).filter(pk=strategy_id).select_related("pool").first()
                if strategy_id is not None
                else None
            )
            if strategy is None:
                raise ValidationError({"strategy": ["Choose a strategy of this tenant by its id."]})
        if not _may_handle(request, scope, strategy):
            raise PermissionDenied("You may not trip this kill switch.")
        try:
            switch = kill_switch_trip(
                scope=scope,
                trigger=KillTrigger.MANUAL,
                reason=incoming.validated_data["reason"],
                tenant=membership.tenant,
                strategy=strategy,
                actor=require_actor(request),
                context=AuditContext.from_request(request),
            )
        except DjangoValidationError as error:
            raise _service_errors(error) from None
        return Response(KillSwitchSerializer(switch).data, status=status.HTTP_201_CREATED)


class KillSwitchReset(APIView):
    """Reset a tripped switch with a note (409 when it was already reset)."""

    required_permission = Perm.KILL_SWITCH

    @extend_schema(request=ResetSerializer, responses={200: KillSwitchSerializer, 409: None})
    def post(self, request: Request, switch_id: int) -> Response:
        switch = _switches(request).filter(pk=switch_id).first()
        if switch is None:
            raise Http404
        if not _may_handle(request, switch.scope, switch.strategy):
            raise PermissionDenied("You may not reset this kill switch.")
        incoming = ResetSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            switch = kill_switch_reset(
                switch=switch,
                actor=require_actor(request),
                note=incoming.validated_data["note"],
                context=AuditContext.from_request(request),
            )
        except DjangoValidationError as error:
            return Response({"detail": " ".join(error.messages)}, status=status.HTTP_409_CONFLICT)
        return Response(KillSwitchSerializer(switch).data)


# --- reconciliation ----------------------------------------------------------------------------------------------
class ReportList(_Records):
    """Reconciliation reports, newest first. Filters: pool, strategy, status, since, until. POST runs one now
    for a pool (paper pools here; live pools are reconciled by the engine: 409)."""

    serializer_class = ReportSerializer
    queryset = ReconciliationReport.objects.none()
    filterset_class = ReportFilterSet
    select = staticmethod(reports_for)
    write_permission = Perm.STRATEGY_OPERATE

    @extend_schema(request=RunSerializer, responses={201: ReportSerializer, 409: None})
    def post(self, request: Request) -> Response:
        membership = require_membership(request)
        incoming = RunSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        pool = AccountPool.objects.for_member(membership).filter(pk=incoming.validated_data["pool"]).first()
        if pool is None:
            raise ValidationError({"pool": ["Choose a pool of this tenant by its id."]})
        if not may_operate(membership, pool):
            raise PermissionDenied("This pool is not granted to you.")
        try:
            report = reconciliation_run(pool=pool)
        except ReconciliationUnavailable as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        return Response(ReportSerializer(report).data, status=status.HTTP_201_CREATED)


class ReportDetail(generics.RetrieveAPIView):  # type: ignore[type-arg]
    required_permission = Perm.TRADING_READ
    serializer_class = ReportSerializer
    lookup_url_kwarg = "report_id"

    def get_queryset(self) -> QuerySet[ReconciliationReport]:
        return reports_for(membership=require_membership(self.request))


class ReportSync(APIView):
    """Adopt the venue's state for a mismatched report (admins; audited). 409 unless the report is mismatched."""

    required_permission = Perm.RECONCILIATION_SYNC

    @extend_schema(request=None, responses={200: ReportSerializer, 409: None})
    def post(self, request: Request, report_id: int) -> Response:
        report = reports_for(membership=require_membership(request)).filter(pk=report_id).first()
        if report is None:
            raise Http404
        try:
            report = reconciliation_sync_now(
                report=report, actor=require_actor(request), context=AuditContext.from_request(request)
            )
        except ReconciliationNotMismatched:
            return Response(
                {"detail": f"Only a mismatched report can be synced; this one is {report.status}."},
                status=status.HTTP_409_CONFLICT,
            )
        except ReconciliationUnavailable as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        return Response(ReportSerializer(report).data)


# --- manual commands ---------------------------------------------------------------------------------------------
class CommandList(generics.ListAPIView):  # type: ignore[type-arg]
    """Manual commands with their status and result. POST queues one (open_hedge with direction and size_oz;
    close_hedge, repair_complete, repair_unwind with hedge; flatten_pool; cancel_orders) and answers 202."""

    required_permission = Perm.TRADING_READ
    write_permission = Perm.ORDER_SUBMIT
    serializer_class = CommandSerializer
    queryset = ManualCommand.objects.none()  # the schema's model; rows come from get_queryset
    filter_backends = [DjangoFilterBackend]
    filterset_class = CommandFilterSet

    def get_queryset(self) -> QuerySet[ManualCommand]:
        return commands_for(membership=require_membership(self.request))

    @extend_schema(request=CommandWriteSerializer, responses={202: CommandSerializer})
    def post(self, request: Request) -> Response:
        membership = require_membership(request)
        incoming = CommandWriteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        pool = AccountPool.objects.for_member(membership).filter(pk=data["pool"]).first()
        if pool is None:
            raise ValidationError({"pool": ["Choose a pool of this tenant by its id."]})
        if not (role_has(membership.role, Perm.ORDER_SUBMIT) and may_operate(membership, pool)):
            raise PermissionDenied("This pool is not granted to you.")
        hedge = None
        if data.get("hedge") is not None:
            hedge = Hedge.objects.for_member(membership).filter(pk=data["hedge"]).first()
            if hedge is None:
                raise ValidationError({"hedge": ["Choose a hedge of this tenant by its id."]})
        if data["kind"] in (ManualKind.CLOSE_HEDGE, ManualKind.REPAIR_COMPLETE, ManualKind.REPAIR_UNWIND) and not hedge:
            raise ValidationError({"hedge": ["This action needs the hedge's id."]})
        params = {key: data[key] for key in ("direction", "size_oz") if key in data}
        try:
            command = manual_request(
                pool=pool,
                kind=data["kind"],
                actor=require_actor(request),
                hedge=hedge,
                params=params,
                context=AuditContext.from_request(request),
            )
        except DjangoValidationError as error:
            if hasattr(error, "error_dict"):
                # A refusal of the pre-trade gate that is not about one field (a kill switch, a closed market).
                messages = {
                    key if key != "__all__" else "non_field_errors": value for key, value in error.message_dict.items()
                }
                raise ValidationError(messages) from None
            raise ValidationError({"non_field_errors": error.messages}) from None
        return Response(CommandSerializer(command).data, status=status.HTTP_202_ACCEPTED)


class CommandDetail(generics.RetrieveAPIView):  # type: ignore[type-arg]
    required_permission = Perm.TRADING_READ
    serializer_class = CommandSerializer
    lookup_url_kwarg = "command_id"

    def get_queryset(self) -> QuerySet[ManualCommand]:
        return commands_for(membership=require_membership(self.request))
