"""`/api/v1/transfers/`: capital between venue accounts, tenant-scoped. Reading needs
`trading.read`; requesting, approving, completing, rejecting and cancelling need `cash_flow.manage` (admins).
Approving or rejecting one's own request answers 403 with a message; a step the transfer's state does not allow
409; bad input 400 naming the field. A foreign id is a 404."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.http import AuditContext, require_actor, require_membership, require_tenant
from accounts.models import Tenant, VenueAccount
from accounts.permissions import Perm
from quantarb.api import WriteSerializer, json_object

from ..choices import TransferStatus
from ..models import Transfer
from ..transfers import (
    TransferError,
    transfer_approve,
    transfer_close,
    transfer_complete,
    transfer_request,
    transfers_for,
)

MAX_AMOUNT = Decimal("1e16")


class TransferSerializer(serializers.ModelSerializer[Transfer]):
    from_account_label = serializers.CharField(source="from_account.label", read_only=True)
    to_account_label = serializers.CharField(source="to_account.label", read_only=True)
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)
    approved_by = serializers.CharField(source="approved_by.username", read_only=True, default=None, allow_null=True)
    done_by = serializers.CharField(source="done_by.username", read_only=True, default=None, allow_null=True)
    closed_by = serializers.CharField(source="closed_by.username", read_only=True, default=None, allow_null=True)

    class Meta:
        model = Transfer
        fields = [
            "id", "from_account", "from_account_label", "to_account", "to_account_label", "amount", "currency",
            "received", "status", "note", "advice", "requested_by", "requested_at", "approved_by", "approved_at",
            "done_by", "done_at", "venue_ref", "closed_by", "closed_at", "reason", "cash_flow",
        ]  # fmt: skip
        read_only_fields = fields


class TransferWriteSerializer(WriteSerializer):
    """A request: `amount` a positive decimal string (two decimals at most) in the sending account's currency."""

    from_account = serializers.IntegerField()
    to_account = serializers.IntegerField()
    amount = serializers.CharField(max_length=40, help_text='A decimal string, e.g. "1500.25".')
    note = serializers.CharField(required=False, max_length=300, allow_blank=True)


class TransferCompleteSerializer(WriteSerializer):
    """The venue's reference of the movement, and what arrived in the receiving account's currency (optional)."""

    venue_ref = serializers.CharField(max_length=80)
    received = serializers.CharField(required=False, max_length=40, allow_blank=True)


class TransferCloseSerializer(WriteSerializer):
    reason = serializers.CharField(required=False, max_length=300, allow_blank=True)


class MessageSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField()


def _transfer(request: Request, transfer_id: int) -> Transfer:
    transfer = transfers_for(membership=require_membership(request)).filter(pk=transfer_id).first()
    if transfer is None:
        raise Http404
    return transfer


def _data(request: Request, serializer_class: type[serializers.Serializer[Any]]) -> dict[str, Any]:
    json_object(request.data)
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _decimal(value: str, field: str) -> Decimal:
    try:
        amount = Decimal(value.strip())
    except (InvalidOperation, AttributeError):
        raise ValidationError({field: ["Enter a decimal number, e.g. 1500.25."]}) from None
    if not amount.is_finite() or amount <= 0 or amount >= MAX_AMOUNT:
        raise ValidationError({field: ["Enter a positive amount below 10^16."]})
    return amount


def _account(tenant: Tenant, account_id: int, field: str) -> VenueAccount:
    account = VenueAccount.objects.filter(tenant=tenant, pk=account_id).first()
    if account is None:
        raise ValidationError({field: ["Choose one of this desk's accounts."]})
    return account


def _answer(error: TransferError) -> Response:
    if error.status == status.HTTP_400_BAD_REQUEST:
        raise ValidationError({error.field or "non_field_errors": [str(error)]})
    return Response({"detail": str(error)}, status=error.status)


class TransferList(generics.ListAPIView):  # type: ignore[type-arg]
    """The desk's transfers, newest first. POST requests one (admins): a second admin approves it."""

    required_permission = Perm.TRADING_READ
    write_permission = Perm.CASH_FLOW_MANAGE
    serializer_class = TransferSerializer

    def get_queryset(self) -> QuerySet[Transfer]:
        return transfers_for(membership=require_membership(self.request))

    @extend_schema(request=TransferWriteSerializer, responses={201: TransferSerializer})
    def post(self, request: Request) -> Response:
        tenant = require_tenant(request)
        data = _data(request, TransferWriteSerializer)
        amount = _decimal(data["amount"], "amount")
        try:
            transfer = transfer_request(
                tenant=tenant,
                actor=require_actor(request),
                from_account=_account(tenant, data["from_account"], "from_account"),
                to_account=_account(tenant, data["to_account"], "to_account"),
                amount=amount,
                note=data.get("note", ""),
                context=AuditContext.from_request(request),
            )
        except TransferError as error:
            return _answer(error)
        return Response(TransferSerializer(transfer).data, status=status.HTTP_201_CREATED)


class TransferDetail(APIView):
    """One transfer."""

    required_permission = Perm.TRADING_READ

    @extend_schema(responses=TransferSerializer)
    def get(self, request: Request, transfer_id: int) -> Response:
        return Response(TransferSerializer(_transfer(request, transfer_id)).data)


class TransferApprove(APIView):
    """A second admin approves a requested transfer (403: the caller requested it; 409: not awaiting approval)."""

    required_permission = Perm.CASH_FLOW_MANAGE

    @extend_schema(request=None, responses={200: TransferSerializer, 403: MessageSerializer, 409: MessageSerializer})
    def post(self, request: Request, transfer_id: int) -> Response:
        transfer = _transfer(request, transfer_id)
        try:
            transfer = transfer_approve(
                transfer=transfer, actor=require_actor(request), context=AuditContext.from_request(request)
            )
        except TransferError as error:
            return _answer(error)
        return Response(TransferSerializer(transfer).data)


class TransferComplete(APIView):
    """Record an approved transfer as done at the venues with the venue's reference; books it in the cash-flow
    ledger (409: not approved)."""

    required_permission = Perm.CASH_FLOW_MANAGE

    @extend_schema(
        request=TransferCompleteSerializer,
        responses={200: TransferSerializer, 409: MessageSerializer},
    )
    def post(self, request: Request, transfer_id: int) -> Response:
        transfer = _transfer(request, transfer_id)
        data = _data(request, TransferCompleteSerializer)
        received = _decimal(data["received"], "received") if data.get("received") else None
        try:
            transfer = transfer_complete(
                transfer=transfer, actor=require_actor(request), venue_ref=data["venue_ref"], received=received,
                context=AuditContext.from_request(request),
            )  # fmt: skip
        except TransferError as error:
            return _answer(error)
        return Response(TransferSerializer(transfer).data)


class _Close(APIView):
    required_permission = Perm.CASH_FLOW_MANAGE
    to: str = ""

    def post(self, request: Request, transfer_id: int) -> Response:
        transfer = _transfer(request, transfer_id)
        data = _data(request, TransferCloseSerializer)
        try:
            transfer = transfer_close(
                transfer=transfer, actor=require_actor(request), to=self.to, reason=data.get("reason", ""),
                context=AuditContext.from_request(request),
            )  # fmt: skip
        except TransferError as error:
            return _answer(error)
        return Response(TransferSerializer(transfer).data)


class TransferReject(_Close):
    """A second admin rejects a requested transfer, with an optional `reason` (403: the caller requested it)."""

    to = TransferStatus.REJECTED

    @extend_schema(
        request=TransferCloseSerializer,
        responses={200: TransferSerializer, 403: MessageSerializer, 409: MessageSerializer},
    )
    def post(self, request: Request, transfer_id: int) -> Response:
        return super().post(request, transfer_id)


class TransferCancel(_Close):
    """Any admin cancels a transfer not yet done, with an optional `reason`."""

    to = TransferStatus.CANCELLED

    @extend_schema(request=TransferCloseSerializer, responses={200: TransferSerializer, 409: MessageSerializer})
    def post(self, request: Request, transfer_id: int) -> Response:
        return super().post(request, transfer_id)
