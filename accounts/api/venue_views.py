"""Venue accounts and pools over the API. Writes go through the portal's forms (accounts/venue_forms.py), so both
answer bad input with the same field messages; credentials are accepted in a `credentials` object and never
returned (only masked hints). Reading needs `trading.read`; writing and testing need `account.manage` (admins).
A foreign id answers 404.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Exists, OuterRef, ProtectedError, QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.choices import MarginType
from accounts.http import AuditContext, require_actor, require_membership, require_tenant
from accounts.models import AccountPool, VenueAccount
from accounts.permissions import Perm
from accounts.venue_forms import SECRET_FIELDS, AccountPoolForm, VenueAccountForm
from accounts.venue_link import account_test
from accounts.venue_services import PoolInUse, account_delete, account_save, pool_delete, pool_save
from quantarb.api import form_value, json_object

from .venue_serializers import (
    AccountSerializer,
    AccountTestSerializer,
    AccountWriteSerializer,
    PoolSerializer,
    PoolWriteSerializer,
)


def _form_errors(form: Any) -> dict[str, Any]:
    """Form errors in the API's shape; credential fields nest under `credentials`."""
    errors: dict[str, Any] = {}
    for field, messages in form.errors.items():
        texts = [str(message) for message in messages]
        if field in SECRET_FIELDS or (field == "terminal" and isinstance(form, VenueAccountForm)):
            errors.setdefault("credentials", {})[field] = texts
        else:
            errors["non_field_errors" if field == "__all__" else field] = texts
    return errors


def _account_form_data(request: Request, instance: VenueAccount | None) -> dict[str, Any]:
    body = json_object(request.data)
    credentials = body.get("credentials") or {}
    if not isinstance(credentials, dict):
        raise ValidationError({"credentials": ["Send the credentials as an object."]})
    unknown = set(credentials) - {*SECRET_FIELDS, "terminal"}
    if unknown:
        raise ValidationError({"credentials": [f"Unknown credential field(s): {', '.join(sorted(unknown))}."]})
    data: dict[str, Any] = {}
    if instance is not None:  # PATCH: start from what is stored (never the secrets: empty keeps them)
        data = {
            "label": instance.label,
            "venue": instance.venue,
            "mode": instance.mode,
            "owner": instance.owner_id,
            "status": instance.status,
            "terminal": instance.terminal_id or "",
            "rest_endpoint": instance.rest_endpoint,
            "ws_endpoint": instance.ws_endpoint,
            "binance_testnet": instance.binance_testnet,
        }
    for field in ("label", "venue", "mode", "owner", "status", "rest_endpoint", "ws_endpoint"):
        if field in body:
            data[field] = form_value(field, body[field], boolean=field in ("enabled", "binance_testnet"))
    if "binance_testnet" in body:
        if not isinstance(body["binance_testnet"], bool):
            raise ValidationError({"binance_testnet": ["Send true or false."]})
        data["binance_testnet"] = body["binance_testnet"]
    if instance is None:
        data.setdefault("owner", request.user.pk)
        data.setdefault("mode", "paper")
    for field in SECRET_FIELDS:
        if field in credentials:
            data[field] = str(form_value(f"credentials.{field}", credentials[field]))
    if "terminal" in credentials:
        data["terminal"] = credentials["terminal"] or ""
    return data


class AccountList(generics.ListAPIView):  # type: ignore[type-arg]
    """The tenant's venue accounts (credentials masked). POST creates one (admins)."""

    required_permission = Perm.TRADING_READ
    write_permission = Perm.ACCOUNT_MANAGE
    serializer_class = AccountSerializer

    def get_queryset(self) -> QuerySet[VenueAccount]:
        return (
            VenueAccount.objects.for_member(require_membership(self.request))
            .defer("credentials")
            .select_related("owner", "terminal")
            .order_by("label")
        )

    @extend_schema(request=AccountWriteSerializer, responses={201: AccountSerializer})
    def post(self, request: Request) -> Response:
        form = VenueAccountForm(data=_account_form_data(request, None), tenant=require_tenant(request))
        if not form.is_valid():
            return Response(_form_errors(form), status=status.HTTP_400_BAD_REQUEST)
        account = account_save(form=form, actor=require_actor(request), context=AuditContext.from_request(request))
        return Response(AccountSerializer(account).data, status=status.HTTP_201_CREATED)


class AccountDetail(APIView):
    """One account. PATCH changes it (credentials given replace the stored ones; absent ones are kept)."""

    required_permission = Perm.TRADING_READ
    write_permission = Perm.ACCOUNT_MANAGE

    def _account(self, request: Request, account_id: int) -> VenueAccount:
        account = (
            VenueAccount.objects.for_member(require_membership(request))
            .filter(pk=account_id)
            .select_related("owner")
            .first()
        )
        if account is None:
            raise Http404
        return account

    @extend_schema(responses=AccountSerializer)
    def get(self, request: Request, account_id: int) -> Response:
        return Response(AccountSerializer(self._account(request, account_id)).data)

    @extend_schema(request=AccountWriteSerializer, responses=AccountSerializer)
    def patch(self, request: Request, account_id: int) -> Response:
        account = self._account(request, account_id)
        form = VenueAccountForm(data=_account_form_data(request, account), instance=account, tenant=account.tenant)
        if not form.is_valid():
            return Response(_form_errors(form), status=status.HTTP_400_BAD_REQUEST)
        account = account_save(form=form, actor=require_actor(request), context=AuditContext.from_request(request))
        return Response(AccountSerializer(account).data)

    @extend_schema(responses={204: None, 409: OpenApiResponse(description="The account is in a pool.")})
    def delete(self, request: Request, account_id: int) -> Response:
        account = self._account(request, account_id)
        try:
            account_delete(account=account, actor=require_actor(request), context=AuditContext.from_request(request))
        except ProtectedError:
            return Response(
                {"detail": "This account is in a pool: delete or change the pool first."},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(status=status.HTTP_204_NO_CONTENT)


class AccountTest(APIView):
    """Test the account's connection now; the result is recorded on the account and audited."""

    required_permission = Perm.ACCOUNT_MANAGE

    @extend_schema(request=None, responses=AccountTestSerializer)
    def post(self, request: Request, account_id: int) -> Response:
        account = VenueAccount.objects.for_member(require_membership(request)).filter(pk=account_id).first()
        if account is None:
            raise Http404
        result = account_test(account=account, actor=require_actor(request), context=AuditContext.from_request(request))
        return Response({"ok": result.ok, "message": result.message, "tested_at": account.last_test_at})


class PoolList(generics.ListAPIView):  # type: ignore[type-arg]
    """The tenant's account pools, each with its hedge ratio derived from the current instrument specs."""

    required_permission = Perm.TRADING_READ
    write_permission = Perm.ACCOUNT_MANAGE
    serializer_class = PoolSerializer

    def get_queryset(self) -> QuerySet[AccountPool]:
        membership = require_membership(self.request)
        # Whether the caller operates each pool, answered in the list's own query (not one query per pool).
        operable = AccountPool.objects.for_member(membership, "trade").filter(pk=OuterRef("pk"))
        return (
            AccountPool.objects.for_member(membership)
            .annotate(caller_operates=Exists(operable))
            .select_related("perp_account", "cfd_account")
            .order_by("name")
        )

    @extend_schema(request=PoolWriteSerializer, responses={201: PoolSerializer})
    def post(self, request: Request) -> Response:
        form = AccountPoolForm(data=_pool_form_data(request, None), tenant=require_tenant(request))
        pool = _pool_saved(request, form)
        if pool is None:
            return Response(_form_errors(form), status=status.HTTP_400_BAD_REQUEST)
        return Response(PoolSerializer(pool, context={"request": request}).data, status=status.HTTP_201_CREATED)


def _pool_saved(request: Request, form: AccountPoolForm) -> AccountPool | None:
    """The saved pool, or None with the reasons in the form's errors (invalid, or refused by the service — e.g. an
    account that fails its connection test keeps the pool from being enabled)."""
    if not form.is_valid():
        return None
    try:
        return pool_save(form=form, actor=require_actor(request), context=AuditContext.from_request(request))
    except DjangoValidationError as exc:
        form.add_error(None, exc)
        return None


def _pool_form_data(request: Request, instance: AccountPool | None) -> dict[str, Any]:
    body = json_object(request.data)
    fields = (
        "name",
        "perp_account",
        "cfd_account",
        "perp_allocation",
        "cfd_allocation",
        "perp_margin_type",
        "perp_leverage",
        "enabled",
    )
    data: dict[str, Any] = {}
    if instance is not None:
        data = {
            "name": instance.name,
            "perp_account": instance.perp_account_id,
            "cfd_account": instance.cfd_account_id,
            "perp_allocation": instance.perp_allocation,
            "cfd_allocation": instance.cfd_allocation,
            "perp_margin_type": instance.perp_margin_type,
            "perp_leverage": instance.perp_leverage,
            "enabled": instance.enabled,
        }
    else:
        data["enabled"] = True  # a new pool is enabled unless the body says otherwise
        data["perp_margin_type"] = MarginType.CROSS
        data["perp_leverage"] = AccountPool._meta.get_field("perp_leverage").default
    for field in fields:
        if field in body:
            data[field] = form_value(field, body[field], boolean=field in ("enabled", "binance_testnet"))
    if not data.get("enabled"):
        data.pop("enabled", None)  # an unchecked box is an absent field to a form
    return data


class PoolDetail(APIView):
    required_permission = Perm.TRADING_READ
    write_permission = Perm.ACCOUNT_MANAGE

    def _pool(self, request: Request, pool_id: int) -> AccountPool:
        pool = AccountPool.objects.for_member(require_membership(request)).filter(pk=pool_id).first()
        if pool is None:
            raise Http404
        return pool

    @extend_schema(responses=PoolSerializer)
    def get(self, request: Request, pool_id: int) -> Response:
        return Response(PoolSerializer(self._pool(request, pool_id), context={"request": request}).data)

    @extend_schema(request=PoolWriteSerializer, responses=PoolSerializer)
    def patch(self, request: Request, pool_id: int) -> Response:
        pool = self._pool(request, pool_id)
        form = AccountPoolForm(data=_pool_form_data(request, pool), instance=pool, tenant=pool.tenant)
        saved = _pool_saved(request, form)
        if saved is None:
            return Response(_form_errors(form), status=status.HTTP_400_BAD_REQUEST)
        return Response(PoolSerializer(saved, context={"request": request}).data)

    @extend_schema(responses={204: None, 409: OpenApiResponse(description="A strategy still trades this pool.")})
    def delete(self, request: Request, pool_id: int) -> Response:
        try:
            pool_delete(
                pool=self._pool(request, pool_id),
                actor=require_actor(request),
                context=AuditContext.from_request(request),
            )
        except PoolInUse as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        return Response(status=status.HTTP_204_NO_CONTENT)
