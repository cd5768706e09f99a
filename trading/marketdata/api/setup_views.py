"""Quote sources and source pairs over the API (`/api/v1/market/sources/`, `/api/v1/market/pairs/`).

Writes are read by the write serializers, then checked as the portal's forms check them
(trading/marketdata/setup_checks.py), so both answer bad input with the same field messages (400). Reading needs
`trading.read`; writing needs `market.manage` (a desk's admins). A desk sees its own
sources and pairs and the platform's; it changes only its own (the platform's answer 403); another desk's id
answers 404.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.http import AuditContext, require_actor, require_membership, require_tenant
from accounts.models import Tenant
from accounts.permissions import Perm
from quantarb.api import json_object
from trading.marketdata import selectors
from trading.marketdata.api.setup_serializers import (
    QuoteSourceSerializer,
    QuoteSourceWriteSerializer,
    SourcePairSerializer,
    SourcePairWriteSerializer,
)
from trading.marketdata.services import SourceInUse, pair_delete, pair_save, quote_source_delete, quote_source_save
from trading.marketdata.setup_checks import PAIR_FIELDS
from trading.models import QuoteSource, SourcePair


def _stored_source(source: QuoteSource) -> dict[str, Any]:
    """A source's stored values as a write body gives them (a PATCH changes only what it sends)."""
    rest, ws = source.endpoints()
    return {
        "label": source.label,
        "venue": source.venue,
        "instrument": source.instrument_id,
        "terminal": source.terminal_id,
        "rest_endpoint": rest or "",
        "ws_endpoint": ws or "",
        "stale_after_s": source.stale_after_s,
    }


def _stored_pair(pair: SourcePair) -> dict[str, Any]:
    foreign = ("perp_source", "cfd_source")
    return {name: getattr(pair, f"{name}_id" if name in foreign else name) for name in PAIR_FIELDS}


def _mine(instance: QuoteSource | SourcePair, tenant: Tenant) -> None:
    if instance.tenant_id != tenant.pk:
        raise PermissionDenied(_("This is the platform's: only the platform's operators change it."))


# --- sources -----------------------------------------------------------------------------------------------------
class QuoteSourceList(generics.ListAPIView):  # type: ignore[type-arg]
    """The desk's quote sources and the platform's. POST creates one for the desk (admins)."""

    required_permission = Perm.TRADING_READ
    write_permission = Perm.MARKET_MANAGE
    serializer_class = QuoteSourceSerializer

    def get_queryset(self) -> QuerySet[QuoteSource]:
        return selectors.setup_sources_for(membership=require_membership(self.request))

    @extend_schema(request=QuoteSourceWriteSerializer, responses={201: QuoteSourceSerializer})
    def post(self, request: Request) -> Response:
        tenant = require_tenant(request)
        serializer = QuoteSourceWriteSerializer(data=json_object(request.data), context={"tenant": tenant})
        serializer.is_valid(raise_exception=True)
        source = quote_source_save(
            tenant=tenant,
            source=None,
            values=serializer.checked,
            actor=require_actor(request),
            context=AuditContext.from_request(request),
        )
        return Response(QuoteSourceSerializer(source).data, status=status.HTTP_201_CREATED)


class QuoteSourceDetail(APIView):
    """One source. PATCH changes the desk's own (given fields only); DELETE removes it unless a pair uses it."""

    required_permission = Perm.TRADING_READ
    write_permission = Perm.MARKET_MANAGE

    def _source(self, request: Request, source_id: int) -> QuoteSource:
        source = selectors.setup_source_for(membership=require_membership(request), source_id=source_id)
        if source is None:
            raise Http404
        return source

    @extend_schema(responses=QuoteSourceSerializer)
    def get(self, request: Request, source_id: int) -> Response:
        return Response(QuoteSourceSerializer(self._source(request, source_id)).data)

    @extend_schema(request=QuoteSourceWriteSerializer, responses=QuoteSourceSerializer)
    def patch(self, request: Request, source_id: int) -> Response:
        tenant = require_tenant(request)
        source = self._source(request, source_id)
        _mine(source, tenant)
        data = {**_stored_source(source), **json_object(request.data)}
        serializer = QuoteSourceWriteSerializer(source, data=data, context={"tenant": tenant})
        serializer.is_valid(raise_exception=True)
        source = quote_source_save(
            tenant=tenant,
            source=source,
            values=serializer.checked,
            actor=require_actor(request),
            context=AuditContext.from_request(request),
        )
        return Response(QuoteSourceSerializer(source).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, source_id: int) -> Response:
        tenant = require_tenant(request)
        source = self._source(request, source_id)
        _mine(source, tenant)
        try:
            quote_source_delete(source=source, actor=require_actor(request), context=AuditContext.from_request(request))
        except SourceInUse as exc:
            return Response(
                {
                    "detail": _("This source quotes a leg of the pair %(pair)s: delete or change that pair first.")
                    % {"pair": exc.pair.name}
                },
                status=status.HTTP_409_CONFLICT,
            )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- pairs -------------------------------------------------------------------------------------------------------
class SourcePairList(generics.ListAPIView):  # type: ignore[type-arg]
    """The desk's pairs (its own and the platform's granted to it). POST creates one for the desk (admins); the
    engine streams it within a few seconds."""

    required_permission = Perm.TRADING_READ
    write_permission = Perm.MARKET_MANAGE
    serializer_class = SourcePairSerializer

    def get_queryset(self) -> QuerySet[SourcePair]:
        return selectors.pairs_for(membership=require_membership(self.request))

    @extend_schema(request=SourcePairWriteSerializer, responses={201: SourcePairSerializer})
    def post(self, request: Request) -> Response:
        tenant = require_tenant(request)
        serializer = SourcePairWriteSerializer(data=json_object(request.data), context={"tenant": tenant})
        serializer.is_valid(raise_exception=True)
        pair = pair_save(
            tenant=tenant,
            pair=None,
            values=serializer.checked,
            actor=require_actor(request),
            context=AuditContext.from_request(request),
        )
        return Response(SourcePairSerializer(pair).data, status=status.HTTP_201_CREATED)


class SourcePairDetail(APIView):
    """One pair. PATCH changes the desk's own (given fields only; the engine restarts it within seconds); DELETE
    removes it with its stored spreads (the engine stops it)."""

    required_permission = Perm.TRADING_READ
    write_permission = Perm.MARKET_MANAGE

    def _pair(self, request: Request, pair_id: int) -> SourcePair:
        pair = selectors.pair_for(membership=require_membership(request), pair_id=pair_id)
        if pair is None:
            raise Http404
        return pair

    @extend_schema(responses=SourcePairSerializer)
    def get(self, request: Request, pair_id: int) -> Response:
        return Response(SourcePairSerializer(self._pair(request, pair_id)).data)

    @extend_schema(request=SourcePairWriteSerializer, responses=SourcePairSerializer)
    def patch(self, request: Request, pair_id: int) -> Response:
        tenant = require_tenant(request)
        pair = self._pair(request, pair_id)
        _mine(pair, tenant)
        data = {**_stored_pair(pair), **json_object(request.data)}
        serializer = SourcePairWriteSerializer(pair, data=data, context={"tenant": tenant})
        serializer.is_valid(raise_exception=True)
        pair = pair_save(
            tenant=tenant,
            pair=pair,
            values=serializer.checked,
            actor=require_actor(request),
            context=AuditContext.from_request(request),
        )
        return Response(SourcePairSerializer(pair).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pair_id: int) -> Response:
        tenant = require_tenant(request)
        pair = self._pair(request, pair_id)
        _mine(pair, tenant)
        pair_delete(pair=pair, actor=require_actor(request), context=AuditContext.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
