"""Venue accounts and pools over the API. Writes are validated by their input serializers, which call the portal
forms' rules (accounts/venue_rules.py), so both answer bad input with the same field messages; credentials are
accepted in a `credentials` object and never returned (only masked hints). Reading needs `trading.read`; writing
and testing need `account.manage` (admins). A foreign id answers 404.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Exists, OuterRef, ProtectedError, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.http import AuditContext, require_actor, require_membership, require_tenant
from accounts.models import AccountPool, Tenant, VenueAccount
from accounts.permissions import Perm
from accounts.venue_link import account_test
from accounts.venue_services import PoolInUse, account_delete, account_save, pool_delete, pool_save
from quantarb.api import json_object

from .venue_serializers import (
    AccountSerializer,
    AccountTestSerializer,
    AccountWriteSerializer,
    PoolSerializer,
    PoolWriteSerializer,
)


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
        tenant, actor = require_tenant(request), require_actor(request)
        given = AccountWriteSerializer(data=json_object(request.data), context={"tenant": tenant, "owner": actor})
        given.is_valid(raise_exception=True)
        account = account_save(
            tenant=tenant, account=None, values=given.values(), actor=actor, context=AuditContext.from_request(request)
        )
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
        actor = require_actor(request)
        given = AccountWriteSerializer(
            account,
            data=json_object(request.data),
            partial=True,
            context={"tenant": account.tenant, "owner": actor},
        )
        given.is_valid(raise_exception=True)
        account = account_save(
            tenant=account.tenant,
            account=account,
            values=given.values(),
            actor=actor,
            context=AuditContext.from_request(request),
        )
        return Response(AccountSerializer(account).data)

    @extend_schema(responses={204: None, 409: OpenApiResponse(description="The account is in a pool.")})
    def delete(self, request: Request, account_id: int) -> Response:
        account = self._account(request, account_id)
        try:
            account_delete(account=account, actor=require_actor(request), context=AuditContext.from_request(request))
        except ProtectedError:
            return Response(
                {"detail": _("This account is in a pool: delete or change the pool first.")},
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
        tenant = require_tenant(request)
        given = PoolWriteSerializer(data=json_object(request.data), context={"tenant": tenant})
        given.is_valid(raise_exception=True)
        pool = _pool_saved(request, tenant, None, given)
        return Response(PoolSerializer(pool, context={"request": request}).data, status=status.HTTP_201_CREATED)


def _pool_saved(request: Request, tenant: Tenant, pool: AccountPool | None, given: PoolWriteSerializer) -> AccountPool:
    """The saved pool; a 400 with the service's reasons when it refused (e.g. an account that fails its connection
    test keeps the pool from being enabled)."""
    try:
        return pool_save(
            tenant=tenant,
            pool=pool,
            values=given.values(),
            actor=require_actor(request),
            context=AuditContext.from_request(request),
        )
    except DjangoValidationError as exc:
        raise ValidationError(exc.message_dict) from None


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
        given = PoolWriteSerializer(pool, data=json_object(request.data), partial=True, context={"tenant": pool.tenant})
        given.is_valid(raise_exception=True)
        saved = _pool_saved(request, pool.tenant, pool, given)
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
