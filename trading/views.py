from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from quantarb import clock
from quantarb.health import channel_layer_roundtrip_ms, health_lights
from trading.choices import RateSource
from trading.domain.calendar import demo_always_open
from trading.domain.spread import to_bps

from . import selectors
from .pipeline import plain
from .models import QuoteTick, RateTick, SourcePair, SpreadSample


def _no_tenant(request: HttpRequest) -> HttpResponse:
    return render(request, "no_tenant.html", status=403)


def _ms(value: Any) -> int | None:
    return int(value.timestamp() * 1000) if value is not None else None


def stored_state(pair: SourcePair) -> dict[str, Any]:
    """The dashboard state of a pair rebuilt from the store, same shape as `PairRuntime.state()`, so the first
    page load renders the same partials the live push sends."""
    now = clock.now()
    calendar = pair.cfd_source.instrument.calendar
    session = (
        demo_always_open() if settings.QUANTARB_DEMO_CALENDAR or calendar is None else calendar.to_domain()
    ).status(now)
    sample = SpreadSample.objects.filter(pair=pair).order_by("-ts", "-pk").first()

    def quote_state(source: Any) -> dict[str, Any]:
        places = source.instrument.price_places
        exp = Decimal(1).scaleb(-places)
        tick = QuoteTick.objects.filter(source=source).order_by("-ts", "-pk").first()
        if tick is None:
            return {"label": source.label, "places": places, "bid": None, "ask": None, "ts_ms": None}
        return {
            "label": source.label,
            "places": places,
            "bid": str(tick.bid.quantize(exp)),
            "ask": str(tick.ask.quantize(exp)),
            "mid": str(((tick.bid + tick.ask) / 2).quantize(exp / 10)),
            "spread": str((tick.ask - tick.bid).quantize(exp)),
            "ts_ms": _ms(tick.ts),
        }

    rate: Decimal | None
    if pair.rate_source == RateSource.FIXED:
        rate, rate_ts = pair.fixed_usd_per_usdt, None
    else:
        rate_row = RateTick.objects.filter(source=pair.rate_source).order_by("-ts").first()
        rate, rate_ts = (rate_row.usd_per_usdt, _ms(rate_row.ts)) if rate_row else (None, None)
    state: dict[str, Any] = {
        "pair_id": pair.pk,
        "name": pair.name,
        "at_ms": _ms(now),
        "stale_after_ms": int(settings.QUANTARB_STALE_AFTER_SECONDS * 1000),
        "perp": quote_state(pair.perp_source),
        "cfd": quote_state(pair.cfd_source),
        "cfd_lot_ounces": plain(pair.cfd_source.instrument.contract_size),
        "session": {
            "state": session.state.value,
            "demo": session.demo,
            "closes_at_ms": _ms(session.closes_at),
            "opens_at_ms": _ms(session.opens_at),
        },
        "rate": {
            "usd_per_usdt": str(rate) if rate is not None else None,
            "ts_ms": rate_ts,
            "assumed": pair.rate_source == RateSource.FIXED,
            "source": pair.rate_source,
        },
        "thresholds": {"entry": str(pair.entry_threshold), "exit": str(pair.exit_threshold)},
        "dropped": 0,
        "sample": None,
        "opportunity": None,
    }
    if sample is not None:
        reference = (sample.cfd_bid + sample.cfd_ask) / 2
        hundredth = Decimal("0.01")
        state["sample"] = {
            "ts_ms": _ms(sample.ts),
            "sell_perp": str(sample.edge_sell_perp),
            "buy_perp": str(sample.edge_buy_perp),
            "net_sell_perp": str(sample.net_sell_perp),
            "net_buy_perp": str(sample.net_buy_perp),
            "sell_perp_bps": str(to_bps(sample.edge_sell_perp, reference).quantize(hundredth)),
            "buy_perp_bps": str(to_bps(sample.edge_buy_perp, reference).quantize(hundredth)),
            "net_sell_perp_bps": str(to_bps(sample.net_sell_perp, reference).quantize(hundredth)),
            "net_buy_perp_bps": str(to_bps(sample.net_buy_perp, reference).quantize(hundredth)),
            "basis": str(sample.basis),
            "basis_mean": sample.basis_mean,
            "basis_std": None,
            "zscore": sample.zscore,
        }
    return state


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant  # type: ignore[attr-defined]
    if not tenant:
        return _no_tenant(request)
    pairs = list(selectors.pairs_for(tenant=tenant))
    since = clock.now() - timedelta(minutes=30)
    panels = [
        {
            "pair": pair,
            "state": stored_state(pair),
            "history_id": f"history-{pair.pk}",
            "markers_id": f"markers-{pair.pk}",
            "history": selectors.chart_history_for(tenant=tenant, pair_id=pair.pk, since=since),
            "markers": [
                {"started_ms": _ms(o.started_at), "ended_ms": _ms(o.ended_at), "direction": o.direction}
                for o in selectors.opportunities_for(tenant=tenant, pair_id=pair.pk, since=since)[:50]
            ],
        }
        for pair in pairs
    ]
    return render(request, "trading/dashboard.html", {"panels": panels, **_opportunity_page(request, tenant)})


def _opportunity_page(request: HttpRequest, tenant: Any) -> dict[str, Any]:
    rows = selectors.opportunities_for(tenant=tenant)
    paginator = Paginator(rows, 10)
    page = paginator.get_page(request.GET.get("page"))
    return {"opportunities": page}


@login_required
def opportunities_table(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant  # type: ignore[attr-defined]
    if not tenant:
        return _no_tenant(request)
    return render(request, "trading/partials/_opportunities.html", _opportunity_page(request, tenant))


@login_required
def health_strip(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant  # type: ignore[attr-defined]
    if not tenant:
        return _no_tenant(request)
    pairs = list(selectors.pairs_for(tenant=tenant))
    channel_ms = async_to_sync(channel_layer_roundtrip_ms)()
    lights = health_lights(pairs=pairs, stale_after_s=settings.QUANTARB_STALE_AFTER_SECONDS, channel_ms=channel_ms)
    return render(request, "trading/partials/_health.html", {"lights": lights})
