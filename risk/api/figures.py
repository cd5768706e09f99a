"""The risk API: `/api/v1/risk/summary/` (the desk's figures: risk/metrics.py), `/api/v1/risk/pools/{id}/`
(one pool's) and `/api/v1/risk/history/` (one figure over time: risk/history.py). Read by every role that reads
trading data; tenant-scoped (a foreign id answers 404); a bad parameter answers 400 naming it."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.http import Http404
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.http import require_membership
from accounts.models import AccountPool, Membership, VenueAccount
from accounts.permissions import Perm
from quantarb import clock

from ..domain.limits import Metric, ScopeKind
from ..history import MAX_POINTS, HistoryQueryError, history, parse_metric, parse_scope
from ..metrics import desk_risk
from .figure_serializers import DeskSummarySerializer, HistorySerializer, PoolRiskSerializer

MAX_WINDOW = timedelta(days=400)
DEFAULT_WINDOW = timedelta(hours=24)


class RiskSummary(APIView):
    """The desk's risk figures now: margin use on both venues, exposure, drawdown, daily PnL and loss streak; every
    pool's accounts (liquidation and stop-out distance, the venue's own figures beside ours), exposure, the leg
    that reaches its limit first, next funding, tonight's swap and the weekend-gap projection; every strategy's;
    and every limit metric per scope."""

    required_permission = Perm.TRADING_READ

    @extend_schema(responses={200: DeskSummarySerializer})
    def get(self, request: Request) -> Response:
        desk = desk_risk(require_membership(request).tenant_id)
        return Response(DeskSummarySerializer(desk).data)


class RiskPool(APIView):
    """One pool's risk figures (an enabled pool of the desk; any other id answers 404)."""

    required_permission = Perm.TRADING_READ

    @extend_schema(responses={200: PoolRiskSerializer, 404: OpenApiTypes.OBJECT})
    def get(self, request: Request, pool_id: int) -> Response:
        membership = require_membership(request)
        if not AccountPool.objects.for_member(membership).filter(pk=pool_id).exists():
            raise Http404
        pool = desk_risk(membership.tenant_id).pool(pool_id)
        if pool is None:  # a disabled pool trades nothing: no figures
            raise Http404
        return Response(PoolRiskSerializer(pool).data)


def _moment(raw: str, *, end: bool, name: str) -> datetime:
    """An ISO date-time (UTC when no offset is given) or a date (its start; its end for `until`)."""
    text = raw.strip()
    moment: datetime | None
    try:
        day = parse_date(text) if len(text) == 10 else None
        if day is not None:
            moment = datetime.combine(day + timedelta(days=1) if end else day, time(), tzinfo=UTC)
        else:
            moment = parse_datetime(text)
    except (ValueError, OverflowError):
        moment = None
    if moment is None:
        raise ValidationError({name: [_("Not a date or date-time: %(value)s.") % {"value": text[:40]}]})
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _owned(membership: Membership, kind: str, ref: int) -> bool:
    """Whether the scope `kind:ref` is one the member may view (their desk, or a pool, strategy or account of it)."""
    if kind == ScopeKind.DESK:
        return ref == membership.tenant_id
    if kind == ScopeKind.POOL:
        return AccountPool.objects.for_member(membership).filter(pk=ref).exists()
    if kind == ScopeKind.STRATEGY:
        return AccountPool.objects.for_member(membership).filter(strategies__pk=ref).exists()
    return VenueAccount.objects.for_member(membership).filter(pk=ref).exists()


HISTORY_QUERY = [
    OpenApiParameter("metric", str, enum=[m.value for m in Metric], description="Default: unhedged_usd."),
    OpenApiParameter(
        "scope", str, description="desk (default), pool:<id>, strategy:<id> or account:<id>; a foreign id is a 404."
    ),
    OpenApiParameter("since", str, description="ISO date or date-time (UTC). Default: 24 hours before `until`."),
    OpenApiParameter("until", str, description="ISO date or date-time (UTC). Default: now."),
]


class RiskHistory(APIView):
    """One figure of one scope over a window (at most 400 days, at most 5,000 points, the newest kept): minute
    points within the minute retention, hourly ones (the hour's last value, lowest and highest) before."""

    required_permission = Perm.TRADING_READ

    @extend_schema(parameters=HISTORY_QUERY, responses={200: HistorySerializer, 400: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        membership = require_membership(request)
        params = request.query_params
        errors: dict[str, list[str]] = {}
        metric_text = params.get("metric", Metric.UNHEDGED_USD.value)
        scope_text = params.get("scope", "desk")
        metric = scope = None
        try:
            metric = parse_metric(metric_text)
        except HistoryQueryError:
            errors["metric"] = [
                _("Unknown metric %(value)s: one of %(known)s.")
                % {"value": metric_text[:60], "known": ", ".join(m.value for m in Metric)}
            ]
        try:
            scope = parse_scope(scope_text, tenant_id=membership.tenant_id)
        except HistoryQueryError:
            errors["scope"] = [
                _("Unknown scope %(value)s: desk, pool:<id>, strategy:<id> or account:<id>.")
                % {"value": scope_text[:60]}
            ]
        if errors:
            raise ValidationError(errors)
        until = _moment(params["until"], end=True, name="until") if params.get("until") else clock.now()
        since = _moment(params["since"], end=False, name="since") if params.get("since") else until - DEFAULT_WINDOW
        if since >= until:
            raise ValidationError({"since": [_("`since` must come before `until`.")]})
        if until - since > MAX_WINDOW:
            raise ValidationError(
                {"since": [_("The window may span at most %(days)d days.") % {"days": MAX_WINDOW.days}]}
            )
        assert metric is not None and scope is not None
        if not _owned(membership, scope[0], scope[1]):
            raise Http404
        rows, resolution = history(tenant_id=membership.tenant_id, metric=metric, scope=scope, since=since, until=until)
        body: dict[str, Any] = {
            "metric": metric.value,
            "scope": "desk" if scope[0] == ScopeKind.DESK else f"{scope[0]}:{scope[1]}",
            "since": since,
            "until": until,
            "resolution": resolution,
            "truncated": len(rows) >= MAX_POINTS,
            "points": rows,
        }
        return Response(HistorySerializer(body).data)
