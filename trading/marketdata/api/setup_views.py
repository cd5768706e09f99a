"""Quote sources and source pairs over the API (`/api/v1/market/sources/`, `/api/v1/market/pairs/`).

Writes go through the portal's forms (trading/marketdata/forms.py), so both answer bad input with the same field
messages (400). Reading needs `trading.read`; writing needs `market.manage` (a desk's admins). A desk sees its own
sources and pairs and the platform's; it changes only its own (the platform's answer 403); another desk's id
answers 404.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Model, QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied, ValidationError
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
from trading.marketdata.forms import PAIR_FIELDS, QuoteSourceForm, SourcePairForm
from trading.marketdata.services import SourceInUse, pair_delete, pair_save, quote_source_delete, quote_source_save
from trading.models import QuoteSource, SourcePair

SOURCE_FIELDS = ("label", "venue", "instrument", "terminal", "rest_endpoint", "ws_endpoint", "stale_after_s")


def _form_errors(form: Any) -> dict[str, list[str]]:
    return {
        ("non_field_errors" if field == "__all__" else field): [str(message) for message in messages]
        for field, messages in form.errors.items()
    }


def _form_data(request: Request, fields: tuple[str, ...], stored: dict[str, Any]) -> dict[str, Any]:
    """The JSON body as form data: what is stored (PATCH), overlaid with what the body gives. Unknown fields and
    values that are not scalars answer 400 before the form sees them."""
    body = json_object(request.data)
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise ValidationError({"non_field_errors": [f"Unknown field(s): {', '.join(unknown)}."]})
    data = dict(stored)
    for field in fields:
        if field not in body:
            continue
        value = body[field]
        if isinstance(value, dict | list):
            raise ValidationError({field: ["Send a single value."]})
        if field == "enabled":
            if not isinstance(value, bool):
                raise ValidationError({field: ["Send true or false."]})
            data[field] = value
            continue
        data[field] = "" if value is None else str(value)
    if data.get("enabled") is False:
        data.pop("enabled")  # an unchecked box is an absent field to a form
    return data


def _stored(instance: Model, fields: tuple[str, ...]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field in fields:
        value = getattr(instance, f"{field}_id", None) if hasattr(instance, f"{field}_id") else getattr(instance, field)
        values[field] = "" if value is None else (str(value) if isinstance(value, Decimal) else value)
    return values


def _mine(instance: QuoteSource | SourcePair, tenant: Tenant) -> None:
    if instance.tenant_id != tenant.pk:
        raise PermissionDenied("This is the platform's: only the platform's operators change it.")


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
        form = QuoteSourceForm(data=_form_data(request, SOURCE_FIELDS, {}), tenant=require_tenant(request))
        if not form.is_valid():
            return Response(_form_errors(form), status=status.HTTP_400_BAD_REQUEST)
        source = quote_source_save(form=form, actor=require_actor(request), context=AuditContext.from_request(request))
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
        body = request.data if isinstance(request.data, dict) else {}
        if "venue" in body and body["venue"] != source.venue:
            raise ValidationError({"venue": ["A source never changes venue: create another source."]})
        rest, ws = source.endpoints()
        stored = {
            **_stored(source, ("label", "venue", "instrument", "terminal", "stale_after_s")),
            "rest_endpoint": rest or "",
            "ws_endpoint": ws or "",
        }
        form = QuoteSourceForm(data=_form_data(request, SOURCE_FIELDS, stored), instance=source, tenant=tenant)
        if not form.is_valid():
            return Response(_form_errors(form), status=status.HTTP_400_BAD_REQUEST)
        source = quote_source_save(form=form, actor=require_actor(request), context=AuditContext.from_request(request))
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
                {"detail": f"This source quotes a leg of the pair {exc.pair.name}: delete or change that pair first."},
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
        data = _form_data(request, PAIR_FIELDS, {"enabled": True})
        form = SourcePairForm(data=data, tenant=require_tenant(request))
        if not form.is_valid():
            return Response(_form_errors(form), status=status.HTTP_400_BAD_REQUEST)
        pair = pair_save(form=form, actor=require_actor(request), context=AuditContext.from_request(request))
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
        form = SourcePairForm(
            data=_form_data(request, PAIR_FIELDS, _stored(pair, PAIR_FIELDS)), instance=pair, tenant=tenant
        )
        if not form.is_valid():
            return Response(_form_errors(form), status=status.HTTP_400_BAD_REQUEST)
        pair = pair_save(form=form, actor=require_actor(request), context=AuditContext.from_request(request))
        return Response(SourcePairSerializer(pair).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pair_id: int) -> Response:
        tenant = require_tenant(request)
        pair = self._pair(request, pair_id)
        _mine(pair, tenant)
        pair_delete(pair=pair, actor=require_actor(request), context=AuditContext.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
