"""The portfolio API: `/api/v1/cash-flows/` (read by every role that reads trading data; entered, approved,
rejected and withdrawn by admins) and `/api/v1/analytics/{metrics,equity,attribution}/` (trading/portfolio/analytics.py
says what each figure is measured on). Tenant-scoped: a foreign id answers 404; a bad parameter 400 naming it."""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.http import AuditContext, require_actor, require_membership, require_tenant
from accounts.permissions import Perm
from quantarb.api import json_object
from trading.domain import hedge_stats
from trading.domain.performance import PerformanceReport
from trading.models import CashFlow

from ..analytics import ParamError, Series, Window, report, scope_series, stats, window_from
from ..cashflows import (
    CashFlowError,
    CashFlowForbidden,
    cash_flow_approve,
    cash_flow_correct,
    cash_flow_enter,
    cash_flow_reject,
    cash_flow_withdraw,
    cash_flows_for,
)
from .filters import CashFlowFilterSet
from .serializers import (
    CashFlowCorrectionSerializer,
    CashFlowRejectSerializer,
    CashFlowSerializer,
    CashFlowWriteSerializer,
)


def _flow(request: Request, flow_id: int) -> CashFlow:
    flow = CashFlow.objects.for_member(require_membership(request)).filter(pk=flow_id).select_related("account").first()
    if flow is None:
        raise Http404
    return flow


def _body(request: Request) -> dict[str, Any]:
    json_object(request.data)
    return request.data


class CashFlowList(generics.ListAPIView):  # type: ignore[type-arg]
    """The desk's cash flows, newest first. Filters: `account`, `kind`, `status`, `source`, `since`, `until` (dates).
    POST enters one (admins): above the desk's threshold it waits for a second admin's approval."""

    required_permission = Perm.TRADING_READ
    write_permission = Perm.CASH_FLOW_MANAGE
    serializer_class = CashFlowSerializer
    queryset = CashFlow.objects.none()  # the schema's model; rows come from get_queryset
    filter_backends = [DjangoFilterBackend]
    filterset_class = CashFlowFilterSet

    def get_queryset(self) -> QuerySet[CashFlow]:
        return cash_flows_for(membership=require_membership(self.request))

    @extend_schema(request=CashFlowWriteSerializer, responses={201: CashFlowSerializer(many=True)})
    def post(self, request: Request) -> Response:
        tenant = require_tenant(request)
        serializer = CashFlowWriteSerializer(data=_body(request), context={"tenant": tenant})
        serializer.is_valid(raise_exception=True)
        try:
            flows = cash_flow_enter(
                tenant=tenant,
                actor=require_actor(request),
                entry=serializer.entry(),
                context=AuditContext.from_request(request),
            )
        except CashFlowError as error:
            raise ValidationError({error.field or "non_field_errors": [str(error)]}) from error
        return Response(CashFlowSerializer(flows, many=True).data, status=status.HTTP_201_CREATED)


class CashFlowDetail(APIView):
    """One cash flow. While it awaits approval, PATCH corrects it (the admin who entered it: `amount`, `at`,
    `to_amount`, `venue_ref`, `note`; it keeps waiting for a second admin) and DELETE withdraws it (any admin; both
    sides of a transfer; the row stays, marked withdrawn, and the audit trail says who). An approved or booked flow
    is never changed or removed (409): enter the correcting flow instead. Someone else's entry: 403."""

    required_permission = Perm.TRADING_READ
    write_permission = Perm.CASH_FLOW_MANAGE

    @extend_schema(responses=CashFlowSerializer)
    def get(self, request: Request, flow_id: int) -> Response:
        return Response(CashFlowSerializer(_flow(request, flow_id)).data)

    @extend_schema(request=CashFlowCorrectionSerializer, responses={200: CashFlowSerializer, 403: None, 409: None})
    def patch(self, request: Request, flow_id: int) -> Response:
        flow = _flow(request, flow_id)
        body = _body(request)
        fixed = sorted(set(body) & {"account", "kind", "to_account", "status", "currency", "amount_usd"})
        if fixed:
            message = _("%(fields)s cannot be changed: withdraw this cash flow and enter a new one.") % {
                "fields": ", ".join(fixed)
            }
            raise ValidationError({"non_field_errors": [message]})
        serializer = CashFlowCorrectionSerializer(data=body)
        serializer.is_valid(raise_exception=True)
        try:
            flow = cash_flow_correct(
                flow=flow,
                actor=require_actor(request),
                correction=serializer.correction(),
                context=AuditContext.from_request(request),
            )
        except CashFlowForbidden as error:
            return Response({"detail": str(error)}, status=status.HTTP_403_FORBIDDEN)
        except CashFlowError as error:
            if error.field:
                raise ValidationError({error.field: [str(error)]}) from error
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        return Response(CashFlowSerializer(flow).data)

    @extend_schema(responses={200: CashFlowSerializer, 409: None})
    def delete(self, request: Request, flow_id: int) -> Response:
        flow = _flow(request, flow_id)
        try:
            flow = cash_flow_withdraw(
                flow=flow, actor=require_actor(request), context=AuditContext.from_request(request)
            )
        except CashFlowError as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        return Response(CashFlowSerializer(flow).data)


class CashFlowApprove(APIView):
    """A second admin approves a flow awaiting approval (409 when it is not awaiting, or the caller entered it)."""

    required_permission = Perm.CASH_FLOW_MANAGE

    @extend_schema(request=None, responses={200: CashFlowSerializer, 409: None})
    def post(self, request: Request, flow_id: int) -> Response:
        flow = _flow(request, flow_id)
        try:
            flow = cash_flow_approve(
                flow=flow, actor=require_actor(request), context=AuditContext.from_request(request)
            )
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
                flow=flow, actor=require_actor(request), reason=serializer.validated_data.get("reason", ""),
                context=AuditContext.from_request(request),
            )  # fmt: skip
        except CashFlowError as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        return Response(CashFlowSerializer(flow).data)


# --- analytics ------------------------------------------------------------------------------------------------------
def _window(request: Request) -> Window:
    try:
        return window_from(require_tenant(request), request.query_params)
    except ParamError as error:
        raise ValidationError(error.errors) from error


def _seconds(duration: timedelta | None) -> float | None:
    return None if duration is None else duration.total_seconds()


def _basis(window: Window, series: Series, figures: PerformanceReport | None) -> dict[str, Any]:
    return {
        "scope": window.scope,
        "id": window.scope_id,
        "label": window.label,
        "since": window.since,
        "until": window.until,
        "clock": series.resolution,
        "points": len(series.times),
        "return_frequency": figures.frequency.value if figures else window.frequency.value,
        "annualisation_days": window.annualisation_days,
        "periods_per_year": figures.periods_per_year if figures else None,
    }


def _report_or_reason(window: Window, series: Series) -> tuple[PerformanceReport | None, str]:
    try:
        return report(window, series), ""
    except ValueError as error:
        return None, str(error)
    except (OverflowError, ZeroDivisionError):
        # An annualised figure beyond a double (a large move over a few minutes): say so rather than fail.
        return None, str(_("The figures overflow over so short a window: choose a longer period."))


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: a non-finite statistic is shown as undefined (null)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


_METRICS_QUERY = [
    OpenApiParameter("scope", str, enum=["desk", "pool", "strategy", "account"], description="Default desk."),
    OpenApiParameter("id", int, description="The pool's, strategy's or account's id (not for the desk)."),
    OpenApiParameter("since", str, description="ISO date or time with zone; default 30 days before `until`."),
    OpenApiParameter("until", str, description="ISO date (its end) or time with zone; default now."),
    OpenApiParameter("frequency", str, enum=["1d", "1h"], description="Return frequency of the ratios (1d)."),
    OpenApiParameter("annualisation_days", int, description="Days per year of the annualised figures (365)."),
]


class AnalyticsMetrics(APIView):
    """Every return, risk and hedge figure of a scope over a window. Money in USD as strings; ratios and returns as
    floats (null where undefined, with `unavailable` saying why no series figure could be computed). Annualised
    figures use `annualisation_days` (365: the book trades around the clock) and the return frequency of `basis`."""

    required_permission = Perm.TRADING_READ

    @extend_schema(parameters=_METRICS_QUERY, responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        window = _window(request)
        series = scope_series(window)
        figures, reason = _report_or_reason(window, series)
        hedges = stats(window)
        body: dict[str, Any] = {"basis": _basis(window, series, figures), "unavailable": reason or None}
        names = ("twr", "mwr", "mwr_annualised", "cagr", "volatility", "sharpe", "sortino", "calmar", "max_drawdown",
                 "current_drawdown", "var", "cvar")  # fmt: skip
        for name in names:
            body[name] = getattr(figures, name) if figures else None
        body["total_return"] = figures.total_return if figures else None
        body["var_confidence"] = figures.var_confidence if figures else None
        body["max_drawdown_duration_s"] = _seconds(figures.max_drawdown_duration) if figures else None
        body["recovery_time_s"] = _seconds(figures.recovery_time) if figures else None
        body["longest_drawdown_s"] = _seconds(figures.longest_drawdown_duration) if figures else None
        for name in ("starting_equity", "ending_equity", "deposits", "withdrawals", "net_flows", "pnl"):
            body[name] = getattr(figures, name) if figures else None
        body["annualisation_days"] = window.annualisation_days
        body.update(
            hedges=hedges.count,
            wins=hedges.wins,
            losses=hedges.losses,
            win_rate=hedges.win_rate,
            profit_factor=hedges.profit_factor,
            expectancy=hedges.expectancy,
            average_win=hedges.average_win,
            average_loss=hedges.average_loss,
            best_hedge=None if hedges.best is None else {"ref": hedges.best.ref, "pnl": hedges.best.pnl},
            worst_hedge=None if hedges.worst is None else {"ref": hedges.worst.ref, "pnl": hedges.worst.pnl},
            average_holding_s=_seconds(hedges.average_holding),
            median_holding_s=_seconds(hedges.median_holding),
            hedges_per_day=hedges.hedges_per_day,
            time_in_market_share=hedges.time_in_market_share,
            fully_hedged_share=hedges.fully_hedged_share,
            entry_edge_mean=hedges.entry_edge_mean,
            realised_edge_mean=hedges.realised_edge_mean,
            edge_capture_ratio=hedges.edge_capture_ratio,
            perp_slippage_total=hedges.perp_slippage_total,
            cfd_slippage_total=hedges.cfd_slippage_total,
            leg_skew_median_ms=hedges.leg_skew_median_ms,
            leg_skew_max_abs_ms=hedges.leg_skew_max_abs_ms,
        )
        return Response(_finite(body))


class AnalyticsEquity(APIView):
    """The scope's equity series over the window — each point's time (UTC, Unix seconds), equity, booked flows so
    far, wealth index and underwater (drawdown from the running peak, ≤ 0) — with the daily PnL and returns and the
    monthly returns."""

    required_permission = Perm.TRADING_READ

    @extend_schema(parameters=_METRICS_QUERY, responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        window = _window(request)
        series = scope_series(window)
        figures, reason = _report_or_reason(window, series)
        points = [
            {
                "t": int(at.timestamp()),
                "equity": equity,
                "flows": flows,
                "wealth": figures.wealth_index[index] if figures else None,
                "underwater": figures.underwater[index] if figures else None,
            }
            for index, (at, equity, flows) in enumerate(
                zip(series.times, series.equity, series.flows_total, strict=True)
            )
        ]
        return Response(
            _finite(
                {
                    "basis": _basis(window, series, figures),
                    "unavailable": reason or None,
                    "points": points,
                    "daily": [{"day": d.day, "ret": d.ret, "pnl": d.pnl} for d in (figures.daily if figures else ())],
                    "monthly": [
                        {"year": m.year, "month": m.month, "ret": m.ret} for m in (figures.monthly if figures else ())
                    ],
                }
            )
        )


class AnalyticsAttribution(APIView):
    """PnL attribution of the scope's hedges closed in the window — spread capture at the decision prices, slippage
    against them, fees, funding, swap and USDT/USD, adding up to their net PnL exactly — and the histograms of their
    entry edge (USD/oz), realised edge (USD/oz) and holding time (s)."""

    required_permission = Perm.TRADING_READ

    @extend_schema(parameters=_METRICS_QUERY, responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        window = _window(request)
        figures = stats(window)

        def histogram(values: tuple[Decimal, ...]) -> dict[str, Any]:
            width = hedge_stats.nice_width(values)
            buckets = hedge_stats.histogram(values, width=width, origin=Decimal(0))
            return {
                "width": width,
                "buckets": [{"lower": b.lower, "upper": b.upper, "count": b.count} for b in buckets],
            }

        return Response(
            {
                "basis": {
                    "scope": window.scope,
                    "id": window.scope_id,
                    "label": window.label,
                    "since": window.since,
                    "until": window.until,
                },
                "hedges": figures.count,
                "lines": [{"line": line, "usd": value} for line, value in figures.attribution.lines()],
                "total": figures.attribution.total,
                "entry_edge": histogram(figures.entry_edges),
                "realised_edge": histogram(figures.realised_edges),
                "holding_time": histogram(figures.holding_seconds),
            }
        )
