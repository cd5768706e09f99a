from __future__ import annotations

import hmac
import platform
import sys
from typing import Any

import django
from asgiref.sync import async_to_sync
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.http import request_membership
from accounts.permissions import Perm, role_has
from quantarb import clock
from quantarb.health import CLOSED, OK, channel_layer_roundtrip_ms, database_roundtrip_ms, health_lights
from trading.marketdata.feeds import web_registry
from trading.marketdata.selectors import heartbeats, pairs_for
from trading.models import SourcePair


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Alive: the process answers. Nothing else is checked."""
    return JsonResponse({"status": "ok"})


def _feed_lights() -> list[Any]:

    pairs = list(SourcePair.objects.filter(enabled=True).select_related("perp_source", "cfd_source"))
    return [
        light
        for light in health_lights(pairs=pairs, stale_after_s=settings.QUANTARB_STALE_AFTER_SECONDS, channel_ms=0.0)
        if light.key.startswith("feed-")
    ]


_LOOPBACK = {"127.0.0.1", "::1"}


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics: every feed's state, quote age and counters as its feeder (engine or poller) last
    recorded them, judged at scrape time, and this process's own figures (trading/marketdata/feeds.py `web_registry`;
    the
    engine serves its in-process figures itself, `runengine --metrics-port`). Loopback callers, or a caller
    presenting `QUANTARB_METRICS_TOKEN` as a bearer token; anyone else gets 404 (no tenant data, but not for the
    world)."""

    token = settings.QUANTARB_METRICS_TOKEN
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    allowed = hmac.compare_digest(given, token) if token and given else request.META.get("REMOTE_ADDR") in _LOOPBACK
    if not allowed:
        raise Http404
    return HttpResponse(generate_latest(web_registry()), content_type=CONTENT_TYPE_LATEST)


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready: database and channel layer answer, and every feed is fresh or its market is closed."""
    db_ms = database_roundtrip_ms()
    channel_ms = async_to_sync(channel_layer_roundtrip_ms)()
    feeds = _feed_lights() if db_ms is not None else []
    checks: dict[str, Any] = {
        "database": {"ok": db_ms is not None, "ms": db_ms},
        "channel_layer": {"ok": channel_ms is not None, "ms": channel_ms},
        "feeds": {
            light.key.removeprefix("feed-"): {
                "ok": light.state in (OK, CLOSED),
                "state": light.state,
                "age_s": light.age_s,
            }
            for light in feeds
        },
    }
    ready = db_ms is not None and channel_ms is not None and all(f["ok"] for f in checks["feeds"].values())
    return JsonResponse({"status": "ready" if ready else "not ready", "checks": checks}, status=200 if ready else 503)


class SystemStatusView(APIView):
    """Run mode, feed and queue state — for any signed-in member of a tenant; Python, Django and kernel versions
    for the tenant's admins only."""

    required_permission = Perm.DASHBOARD_VIEW

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:

        membership = request_membership(request)
        if membership is None:
            return Response({"detail": "You are not a member of any tenant."}, status=403)
        pairs = list(pairs_for(membership=membership))
        channel_ms = async_to_sync(channel_layer_roundtrip_ms)()
        lights = health_lights(pairs=pairs, stale_after_s=settings.QUANTARB_STALE_AFTER_SECONDS, channel_ms=channel_ms)
        engine = heartbeats().get("engine")
        detail = engine.detail if engine else {}
        versions = {"quantarb": "0.1.0"}
        # The software underneath (Python, Django, the kernel) is for the desk's admins: to anyone else it is a map
        # of what to attack.
        if role_has(membership.role, Perm.SETTINGS_MANAGE):
            versions.update(
                python=sys.version.split()[0], django=django.get_version(), platform=platform.platform(terse=True)
            )
        return Response(
            {
                "time": clock.now().isoformat(),
                "run_mode": settings.QUANTARB_RUN_MODE,
                "versions": versions,
                "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
                "channel_layer": str(settings.CHANNEL_LAYERS["default"]["BACKEND"]).rsplit(".", 1)[-1],
                "health": [
                    {"key": x.key, "label": x.label, "state": x.state, "age_s": x.age_s, "detail": x.detail}
                    for x in lights
                ],
                "queue": {
                    "store_pending": detail.get("pending"),
                    "store_lost": detail.get("lost"),
                    "pushes": detail.get("pushes"),
                    "push_failures": detail.get("push_failures"),
                },
            }
        )
