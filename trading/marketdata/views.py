from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.http import require_membership
from accounts.models import Membership
from accounts.permissions import Perm, permission_required, role_has
from mt5ops.selectors import strip_states
from quantarb import clock
from quantarb.health import channel_layer_roundtrip_ms, health_lights
from quantarb.sorting import sort_from
from trading.choices import RateSource
from trading.domain.spread import Edges
from trading.marketdata import selectors
from trading.marketdata.live_state import RATE_STALE_AFTER_MS, pair_state, quote_state, sample_state, to_ms
from trading.models import QuoteTick, RateTick, SourcePair, SpreadSample


def stored_state(pair: SourcePair) -> dict[str, Any]:
    """The dashboard state of a pair rebuilt from the store, in the same shape as the live pushes."""
    now = clock.now()
    domain_calendar = pair.cfd_source.session_calendar(demo_calendar=settings.QUANTARB_DEMO_CALENDAR)
    sample = SpreadSample.objects.filter(pair=pair).order_by("-ts", "-pk").first()

    def stored_quote(source: Any) -> dict[str, Any]:
        tick = QuoteTick.objects.filter(source=source).order_by("-ts", "-pk").first()
        places = source.instrument.price_places
        if tick is None:
            return quote_state(source.label, places, None, None, None)
        return quote_state(source.label, places, tick.bid, tick.ask, to_ms(tick.ts))

    rate: Decimal | None
    rate_problem: str | None = None
    if pair.rate_source == RateSource.FIXED:
        rate, rate_ts = pair.fixed_usd_per_usdt, None
    else:
        rate_row = RateTick.objects.filter(source=pair.rate_source).order_by("-ts").first()
        rate, rate_ts = (rate_row.usd_per_usdt, to_ms(rate_row.ts)) if rate_row else (None, None)
        # The same judgement as the engine's (PairRuntime.rate_problem): stored edges are not current without it.
        if rate_ts is None:
            rate_problem = "missing"
        elif (to_ms(now) or 0) - rate_ts > RATE_STALE_AFTER_MS:
            rate_problem = "stale"
    return pair_state(
        pair_id=pair.pk,
        name=pair.name,
        at_ms=to_ms(now) or 0,
        stale_after_ms=int(settings.QUANTARB_STALE_AFTER_SECONDS * 1000),
        perp=stored_quote(pair.perp_source),
        cfd=stored_quote(pair.cfd_source),
        cfd_lot_ounces=pair.cfd_source.instrument.contract_size,
        session=domain_calendar.status(now),
        usd_per_usdt=rate,
        rate_ts_ms=rate_ts,
        rate_source=pair.rate_source,
        rate_assumed=pair.rate_source == RateSource.FIXED,
        entry_threshold=pair.entry_threshold,
        exit_threshold=pair.exit_threshold,
        dropped=0,
        rate_problem=rate_problem,
        sample=None
        if sample is None or rate_problem is not None
        else sample_state(
            ts_ms=to_ms(sample.ts) or 0,
            edges=Edges(sample.edge_sell_perp, sample.edge_buy_perp),
            net=Edges(sample.net_sell_perp, sample.net_buy_perp),
            basis=sample.basis,
            cfd_mid=(sample.cfd_bid + sample.cfd_ask) / 2,
            basis_mean=sample.basis_mean,
            basis_std=None,
            zscore=sample.zscore,
        ),
        opportunity=None,
    )


@permission_required(Perm.DASHBOARD_VIEW)
def dashboard(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    pairs = list(selectors.pairs_for(membership=membership).filter(enabled=True))  # a disabled pair is not streamed
    since = clock.now() - timedelta(minutes=30)
    panels = [
        {
            "pair": pair,
            "state": stored_state(pair),
            "history_id": f"history-{pair.pk}",
            "markers_id": f"markers-{pair.pk}",
            "history": selectors.chart_history_for(membership=membership, pair_id=pair.pk, since=since),
            "markers": [
                {"started_ms": to_ms(o.started_at), "ended_ms": to_ms(o.ended_at), "direction": o.direction}
                for o in selectors.opportunities_for(membership=membership, pair_id=pair.pk, since=since)[:50]
            ],
        }
        for pair in pairs
    ]
    context = {
        "panels": panels,
        # The trading strip (strategies/strip.py) is fetched by URL; shown to the roles that read trading data.
        "show_trading_strip": role_has(membership.role, Perm.TRADING_READ),
        **_opportunity_page(request, membership),
    }
    return render(request, "trading/dashboard.html", context)


OPPORTUNITY_SORTS = {
    "started": ("started_at",),
    "direction": ("direction",),
    "peak": ("peak_net_edge",),
    "threshold": ("threshold",),
    "duration": (F("ended_at") - F("started_at"),),  # open ones (no end yet) last either way
}


def _opportunity_page(request: HttpRequest, membership: Membership) -> dict[str, Any]:
    sort = sort_from(request.GET, OPPORTUNITY_SORTS, defaults_descending=("started", "peak", "duration"))
    rows = sort.apply(selectors.opportunities_for(membership=membership))
    paginator = Paginator(rows, 10)
    page = paginator.get_page(request.GET.get("page"))
    return {"opportunities": page, "sort": sort, "query": sort.extend("")}


@permission_required(Perm.DASHBOARD_VIEW)
def opportunities_table(request: HttpRequest) -> HttpResponse:
    return render(
        request, "trading/partials/_opportunities.html", _opportunity_page(request, require_membership(request))
    )


@permission_required(Perm.DASHBOARD_VIEW)
def health_strip(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    pairs = list(selectors.pairs_for(membership=membership).filter(enabled=True))
    channel_ms = async_to_sync(channel_layer_roundtrip_ms)()
    lights = health_lights(pairs=pairs, stale_after_s=settings.QUANTARB_STALE_AFTER_SECONDS, channel_ms=channel_ms)
    terminals = strip_states(membership=membership)  # the tenant's MT5 terminals (mt5ops' state)
    return render(request, "trading/partials/_health.html", {"lights": lights, "terminals": terminals})
