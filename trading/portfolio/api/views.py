"""The portfolio API: `/api/v1/cash-flows/` (read by every role that reads trading data; entered, approved,
rejected and withdrawn by admins) and `/api/v1/analytics/…`. Tenant-scoped: a foreign id answers 404."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.audit import audit_record
from accounts.choices import AuditAction
from accounts.models import Tenant
from accounts.permissions import Perm, request_membership
from quantarb.api import form_value
from trading.models import CashFlow, CashFlowStatus

from ..cashflows import CashFlowError, cash_flow_approve, cash_flow_enter, cash_flow_reject, cash_flows_for
from ..forms import CashFlowFilterForm, CashFlowForm
from .serializers import CashFlowRejectSerializer, CashFlowSerializer, CashFlowWriteSerializer


def _tenant(request: Request) -> Tenant:
    membership = request_membership(request)
    assert membership is not None  # HasRolePermission admitted the request with a membership
    return membership.tenant


def _flow(request: Request, flow_id: int) -> CashFlow:
    flow = CashFlow.objects.filter(tenant=_tenant(request), pk=flow_id).select_related("account").first()
    if flow is None:
        raise Http404
    return flow


def _body(request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise ValidationError({"non_field_errors": ["Send a JSON object."]})
    return request.data


class CashFlowList(generics.ListAPIView):  # type: ignore[type-arg]
    """The desk's cash flows, newest first. Filters: `account`, `kind`, `status`, `source`, `since`, `until` (dates).
    POST enters one (admins): above the desk's threshold it waits for a second admin's approval."""

    required_permission = Perm.TRADING_READ
    write_permission = Perm.CASH_FLOW_MANAGE
    serializer_class = CashFlowSerializer

    def get_queryset(self) -> QuerySet[CashFlow]:
        tenant = _tenant(self.request)
        filters = CashFlowFilterForm(self.request.query_params, tenant=tenant)
        if not filters.is_valid():
            raise ValidationError({field: [str(e) for e in errors] for field, errors in filters.errors.items()})
        return cash_flows_for(tenant=tenant, filters=filters.filters())

    @extend_schema(request=CashFlowWriteSerializer, responses={201: CashFlowSerializer(many=True)})
    def post(self, request: Request) -> Response:
        tenant = _tenant(request)
        body = _body(request)
        names = ("account", "kind", "amount", "at", "to_account", "to_amount", "venue_ref", "note")
        unknown = sorted(set(body) - set(names))
        if unknown:
            raise ValidationError({"non_field_errors": [f"Unknown field(s): {', '.join(unknown)}."]})
        form = CashFlowForm(data={name: form_value(name, body[name]) for name in names if name in body}, tenant=tenant)
        if not form.is_valid():
            raise ValidationError({field: [str(e) for e in errors] for field, errors in form.errors.items()})
        try:
            flows = cash_flow_enter(tenant=tenant, actor=request.user, entry=form.entry(), request=request._request)  # type: ignore[arg-type]
        except CashFlowError as error:
            raise ValidationError({error.field or "non_field_errors": [str(error)]}) from error
        return Response(CashFlowSerializer(flows, many=True).data, status=status.HTTP_201_CREATED)


class CashFlowDetail(APIView):
    """One cash flow. DELETE withdraws a flow still awaiting approval (both sides of a transfer), by any admin;
    a booked flow is never deleted — enter the reverse flow instead."""

    required_permission = Perm.TRADING_READ
    write_permission = Perm.CASH_FLOW_MANAGE

    @extend_schema(responses=CashFlowSerializer)
    def get(self, request: Request, flow_id: int) -> Response:
        return Response(CashFlowSerializer(_flow(request, flow_id)).data)

    @extend_schema(responses={204: None, 409: None})
    def delete(self, request: Request, flow_id: int) -> Response:
        flow = _flow(request, flow_id)
        with transaction.atomic():
            ids = [flow.pk] + ([flow.transfer_peer_id] if flow.transfer_peer_id else [])
            rows = list(CashFlow.objects.select_for_update().filter(pk__in=ids).select_related("account"))
            if any(row.status != CashFlowStatus.REQUESTED for row in rows):
                return Response(
                    {"detail": "Only a cash flow awaiting approval can be withdrawn; enter the reverse flow instead."},
                    status=status.HTTP_409_CONFLICT,
                )
            for row in rows:
                audit_record(
                    tenant=row.tenant, actor=request.user, action=AuditAction.CASH_FLOW_REJECTED, obj=row,  # type: ignore[arg-type]
                    summary={"withdrawn": True, "amount": str(row.amount), "currency": row.currency,
                             "account": row.account.label},
                    request=request._request,
                )  # fmt: skip
            CashFlow.objects.filter(pk__in=ids).update(transfer_peer=None)
            CashFlow.objects.filter(pk__in=ids).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class CashFlowApprove(APIView):
    """A second admin approves a flow awaiting approval (409 when it is not awaiting, or the caller entered it)."""

    required_permission = Perm.CASH_FLOW_MANAGE

    @extend_schema(request=None, responses={200: CashFlowSerializer, 409: None})
    def post(self, request: Request, flow_id: int) -> Response:
        flow = _flow(request, flow_id)
        try:
            flow = cash_flow_approve(flow=flow, actor=request.user, request=request._request)  # type: ignore[arg-type]
        except CashFlowError as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        return Response(CashFlowSerializer(flow).data)


class CashFlowReject(APIView):
    """A second admin rejects a flow awaiting approval, with an optional `reason`."""

    required_permission = Perm.CASH_FLOW_MANAGE

    @extend_schema(request=CashFlowRejectSerializer, responses={200: CashFlowSerializer, 409: None})
    def post(self, request: Request, flow_id: int) -> Response:
        flow = _flow(request, flow_id)
        serializer = CashFlowRejectSerializer(data=request.data if isinstance(request.data, dict) else {})
        serializer.is_valid(raise_exception=True)
        try:
            flow = cash_flow_reject(
                flow=flow, actor=request.user, reason=serializer.validated_data.get("reason", ""),  # type: ignore[arg-type]
                request=request._request,
            )  # fmt: skip
        except CashFlowError as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        return Response(CashFlowSerializer(flow).data)
