"""Market-data API for programs: tenant-scoped, paginated, parameters validated (400 with field messages).

A pair or source outside the caller's tenant answers 404, exactly as one that does not exist. The tenant is the
active one: the token's under JWT (accounts/jwt.py), the session's choice otherwise (quantarb/tenancy.py).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request

from accounts.http import request_membership
from accounts.models import Membership
from accounts.permissions import Perm
from trading.marketdata import selectors
from trading.marketdata.api.serializers import (
    CandleParams,
    CandleSerializer,
    OpportunityParams,
    OpportunitySerializer,
    QuoteParams,
    QuoteSerializer,
    SpreadSampleSerializer,
)


class TenantScopedList(generics.ListAPIView):  # type: ignore[type-arg]
    required_permission = Perm.MARKET_READ
    params_class: Any = None

    def membership(self) -> Membership:
        membership = request_membership(self.request)
        if membership is None:
            raise PermissionDenied("You are not a member of any tenant.")
        return membership

    def params(self) -> dict[str, Any]:
        serializer = self.params_class(data=self.request.query_params)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


class QuoteList(TenantScopedList):
    """Stored quotes of the tenant's sources, newest first."""

    serializer_class = QuoteSerializer
    params_class = QuoteParams

    @extend_schema(parameters=[QuoteParams])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Any]:
        p = self.params()
        membership = self.membership()
        key = p.get("source")
        if key and not selectors.sources_for(membership=membership).filter(key=key).exists():
            raise Http404
        return selectors.quotes_for(membership=membership, source_key=key, since=p.get("since"), until=p.get("until"))


class LatestSpreadList(TenantScopedList):
    """The latest spread sample of each of the tenant's pairs."""

    serializer_class = SpreadSampleSerializer

    def get_queryset(self) -> Any:
        return selectors.latest_samples_for(membership=self.membership())


class CandleList(TenantScopedList):
    """Basis candles of one pair, oldest first. Default range: the 24 hours before `until` (default: now)."""

    serializer_class = CandleSerializer
    params_class = CandleParams

    @extend_schema(parameters=[CandleParams])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Any]:
        p = self.params()
        membership = self.membership()
        if selectors.pair_for(membership=membership, pair_id=p["pair"]) is None:
            raise Http404
        return selectors.candles_for(
            membership=membership, pair_id=p["pair"], interval=p["interval"], since=p["since"], until=p.get("until")
        )


class OpportunityList(TenantScopedList):
    """Recorded opportunities of the tenant's pairs, newest first."""

    serializer_class = OpportunitySerializer
    params_class = OpportunityParams

    @extend_schema(parameters=[OpportunityParams, OpenApiParameter("page", int)])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Any]:
        p = self.params()
        membership = self.membership()
        pair_id = p.get("pair")
        if pair_id is not None and selectors.pair_for(membership=membership, pair_id=pair_id) is None:
            raise Http404
        return selectors.opportunities_for(
            membership=membership, pair_id=pair_id, direction=p.get("direction"), since=p.get("since")
        )
