"""What the Reports page and `/api/v1/analytics/…` read: a scope's equity series with its
flows, its performance figures (trading/domain/performance.py) and its closed hedges' statistics
(trading/domain/hedge_stats.py). Reads only, always for one tenant: a scope id of another desk is not found.

- The window: `since` … `until` (UTC; default the last 30 days). The series is the scope's one-minute points when
  the whole window lies within the 7 days they are kept, else its hourly points; a tick without a point (a hedge
  could not be marked then) carries the previous point forward.
- Flows: each point's booked flows less the previous point's — exactly the flows inside the series' equity, at
  the tick that first holds them, so returns leave out precisely the money that came or went.
- Closed hedges: those of the scope closed within the window, each with its booked split, its legs' slippage
  against the decision price (the touch of the pair's stored spread sample at the order's pricing time, buy at
  the ask and sell at the bid; no sample: its fill price, i.e. none measured), its entry edge (the net edge the
  decision saw, USD/oz) and its realised edge (its booked total per ounce).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.conf import settings
from django.http import Http404
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from accounts.models import AccountPool, Tenant, VenueAccount
from quantarb import clock
from trading.choices import HedgeStatus, Leg, OrderIntent, OrderSide
from trading.domain import hedge_stats, performance
from trading.domain.performance import Frequency
from trading.models import EquityPoint, EquityResolution, EquityScope, Hedge, SpreadSample

from .equity import DESK_ID, KEEP_MINUTES, STEP, pair_of_pool

DEFAULT_WINDOW = timedelta(days=30)
MAX_WINDOW = timedelta(days=3_660)
MINUTE_WINDOW = timedelta(days=2)
SCOPES = tuple(EquityScope.values)
FREQUENCIES = {"1h": Frequency.HOUR, "1d": Frequency.DAY}


class ParamError(ValueError):
    """Query parameters that cannot be used: `errors` maps each parameter to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{name}: {' '.join(texts)}" for name, texts in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Window:
    tenant: Tenant
    scope: str
    scope_id: int
    label: str
    since: datetime
    until: datetime
    frequency: Frequency = Frequency.DAY
    annualisation_days: int = 365

    @property
    def resolution(self) -> str:
        """One-minute points for a window of at most two days within the 7 days they are kept, else hourly ones (a
        longer window at minutes would be more points than a chart or a reader needs)."""
        if self.since >= clock.now() - KEEP_MINUTES and self.until - self.since <= MINUTE_WINDOW:
            return EquityResolution.MINUTE
        return EquityResolution.HOUR


def _moment(text: str, *, end: bool) -> datetime | None:
    """An ISO date (its start, or for `until` its end) or an ISO time with its zone; None if it is neither (a
    well-formed but impossible date included)."""
    try:
        moment = parse_datetime(text)
        day = None if moment is not None else parse_date(text)
    except ValueError:
        return None
    if moment is not None:
        return moment if moment.tzinfo is not None else None
    if day is None:
        return None
    start = datetime.combine(day, time(0), tzinfo=clock.now().tzinfo)
    return start + timedelta(days=1) if end else start


def scope_label(tenant: Tenant, scope: str, scope_id: int) -> str:
    """The scope's name; Http404 when the id is not one of the tenant's (another desk's id is not found)."""
    if scope == EquityScope.DESK:
        return tenant.name
    if scope == EquityScope.POOL:
        row = AccountPool.objects.filter(tenant=tenant, pk=scope_id).values_list("name", flat=True).first()
    elif scope == EquityScope.ACCOUNT:
        row = VenueAccount.objects.filter(tenant=tenant, pk=scope_id).values_list("label", flat=True).first()
    else:
        strategy = apps.get_model("strategies", "Strategy")
        row = strategy.objects.filter(tenant=tenant, pk=scope_id).values_list("name", flat=True).first()
    if row is None:
        raise Http404
    return str(row)


def window_from(tenant: Tenant, params: Any) -> Window:
    """The window the query asks for: `scope` (desk, pool, strategy, account; default desk), `id` (the scope's, not
    for the desk), `since`/`until` (ISO dates or times with a zone; default the last 30 days), `frequency` (1d or 1h
    returns) and `annualisation_days` (1–366; default the setting). Raises ParamError naming each bad parameter;
    Http404 for an id that is not the tenant's."""
    errors: dict[str, list[str]] = {}
    scope = params.get("scope") or EquityScope.DESK
    if scope not in SCOPES:
        errors["scope"] = [_("Choose one of: %(scopes)s.") % {"scopes": ", ".join(SCOPES)}]
    raw_id = params.get("id") or ""
    scope_id = DESK_ID
    if scope != EquityScope.DESK and scope in SCOPES:
        if not raw_id:
            errors["id"] = [_("Give the %(scope)s's id.") % {"scope": scope}]
        elif not raw_id.isdigit() or len(raw_id) > 18:
            errors["id"] = [_("The id is a whole number.")]
        else:
            scope_id = int(raw_id)
    now = clock.now()
    until = now
    if params.get("until"):
        parsed = _moment(params["until"], end=True)
        if parsed is None:
            errors["until"] = [_("Give an ISO date (2026-01-31) or a time with its zone (2026-01-31T12:00:00Z).")]
        else:
            until = min(parsed, now)
    since = until - DEFAULT_WINDOW
    if params.get("since"):
        parsed = _moment(params["since"], end=False)
        if parsed is None:
            errors["since"] = [_("Give an ISO date (2026-01-01) or a time with its zone (2026-01-01T00:00:00Z).")]
        else:
            since = parsed
    if "since" not in errors and "until" not in errors:
        if since >= until:
            errors["since"] = [_("The window must start before it ends (and before now).")]
        elif until - since > MAX_WINDOW:
            errors["since"] = [_("The window is at most ten years.")]
    frequency = FREQUENCIES.get(params.get("frequency") or "1d")
    if frequency is None:
        errors["frequency"] = [_("Choose 1d or 1h.")]
    days_text = params.get("annualisation_days") or str(settings.QUANTARB_ANNUALISATION_DAYS)
    days = int(days_text) if days_text.isdigit() and len(days_text) < 4 else 0
    if not 1 <= days <= 366:
        errors["annualisation_days"] = [_("A whole number of days from 1 to 366.")]
    if errors:
        raise ParamError(errors)
    assert frequency is not None
    label = scope_label(tenant, scope, scope_id)
    return Window(tenant, scope, scope_id, label, since, until, frequency, days)


# --- the series -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Series:
    """The scope's points on the clock over the window (gaps carried forward), and the flows they hold."""

    resolution: str
    times: list[datetime]
    equity: list[Decimal]
    flows_total: list[Decimal]
    flows: list[performance.CashFlow]

    @property
    def usable(self) -> bool:
        return len(self.times) >= 2


def scope_series(window: Window) -> Series:
    resolution = window.resolution
    step = STEP[EquityResolution(resolution)]
    rows = list(
        EquityPoint.objects.filter(
            tenant=window.tenant,
            scope=window.scope,
            scope_id=window.scope_id,
            resolution=resolution,
            at__gte=window.since,
            at__lte=window.until,
        )
        .order_by("at")
        .values_list("at", "equity", "flows")
    )
    times: list[datetime] = []
    equity: list[Decimal] = []
    totals: list[Decimal] = []
    for at, value, flows in rows:
        while times and times[-1] + step < at:  # a gap: the previous point carried forward
            times.append(times[-1] + step)
            equity.append(equity[-1])
            totals.append(totals[-1])
        times.append(at)
        equity.append(value)
        totals.append(flows)
    moved = [
        performance.CashFlow(times[index], totals[index] - totals[index - 1])
        for index in range(1, len(times))
        if totals[index] != totals[index - 1]
    ]
    return Series(resolution, times, equity, totals, moved)


def report(window: Window, series: Series) -> performance.PerformanceReport:
    """The performance figures of the series (ValueError when they cannot be computed, e.g. no capital)."""
    if not series.usable:
        raise ValueError(_("No equity history in this window yet."))
    equity_series = performance.EquitySeries(series.times[0], Frequency(series.resolution), tuple(series.equity))
    frequency = window.frequency
    if frequency.seconds < equity_series.clock.seconds:
        frequency = equity_series.clock
    return performance.performance(
        equity_series, series.flows, frequency=frequency, annualisation_days=window.annualisation_days
    )


# --- closed hedges -------------------------------------------------------------------------------------------------
def scope_hedges(window: Window) -> list[Hedge]:
    hedges = Hedge.objects.filter(
        tenant=window.tenant, status=HedgeStatus.CLOSED, closed_at__gt=window.since, closed_at__lte=window.until
    )
    if window.scope == EquityScope.POOL:
        hedges = hedges.filter(pool_id=window.scope_id)
    elif window.scope == EquityScope.STRATEGY:
        hedges = hedges.filter(strategy_id=window.scope_id)
    elif window.scope == EquityScope.ACCOUNT:
        hedges = hedges.filter(orders__account_id=window.scope_id).distinct()
    return list(hedges.select_related("pool__perp_account", "pool__cfd_account").prefetch_related("orders__fills"))


class _DecisionPrices:
    """The touch each order was priced from: the pool's pair's stored sample at or before its pricing time."""

    def __init__(self) -> None:
        self._pairs: dict[int, int | None] = {}

    def of(self, hedge: Hedge, order: Any) -> Decimal | None:
        if hedge.pool_id not in self._pairs:
            self._pairs[hedge.pool_id] = pair_of_pool(hedge.pool)
        pair_id = self._pairs[hedge.pool_id]
        if pair_id is None:
            return None
        at = order.quote_ts or order.created_at
        leg_bid, leg_ask = ("perp_bid", "perp_ask") if order.leg == Leg.PERP else ("cfd_bid", "cfd_ask")
        row = (
            SpreadSample.objects.filter(pair_id=pair_id, ts__lte=at)
            .order_by("-ts")
            .values_list(leg_ask if order.side == OrderSide.BUY else leg_bid, flat=True)
            .first()
        )
        return None if row is None else Decimal(row)


def closed_hedges(hedges: Iterable[Hedge]) -> list[hedge_stats.ClosedHedge]:
    prices = _DecisionPrices()
    out = []
    for hedge in hedges:
        slippage = {Leg.PERP: Decimal(0), Leg.CFD: Decimal(0)}
        opened_at: dict[str, datetime] = {}
        closed_at: dict[str, datetime] = {}
        for order in hedge.orders.all():
            fills = list(order.fills.all())
            if not fills:
                continue
            decision = prices.of(hedge, order)
            sign = Decimal(1) if order.side == OrderSide.BUY else Decimal(-1)
            for fill in fills:
                if decision is not None:
                    slippage[Leg(order.leg)] += hedge_stats.leg_slippage(
                        signed_oz=sign * fill.quantity,
                        fill_price=fill.price,
                        decision_price=decision,
                        usd_per_usdt=(order.usd_per_usdt or Decimal(1)) if order.leg == Leg.PERP else Decimal(1),
                    )
                book = opened_at if order.intent == OrderIntent.OPEN else closed_at
                if order.leg not in book or fill.at > book[order.leg]:
                    book[order.leg] = fill.at
        opened = hedge.opened_at or hedge.planned_at
        closed = hedge.closed_at or opened
        total = hedge.booked_pnl.total
        out.append(
            hedge_stats.ClosedHedge(
                ref=f"H{hedge.pk}",
                opened_at=opened,
                closed_at=max(closed, opened),
                pnl=hedge.booked_pnl,
                perp_slippage=slippage[Leg.PERP],
                cfd_slippage=slippage[Leg.CFD],
                entry_edge=hedge.entry_net_edge or Decimal(0),
                realised_edge=(total / hedge.size_oz).quantize(Decimal("0.00000001")) if hedge.size_oz else Decimal(0),
                perp_filled_at=opened_at.get(Leg.PERP, opened),
                cfd_filled_at=opened_at.get(Leg.CFD, opened),
                perp_closed_at=closed_at.get(Leg.PERP),
                cfd_closed_at=closed_at.get(Leg.CFD),
            )
        )
    return out


def stats(window: Window) -> hedge_stats.HedgeStats:
    return hedge_stats.hedge_stats(closed_hedges(scope_hedges(window)), since=window.since, until=window.until)
