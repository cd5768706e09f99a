"""Alert rule types whose conditions live in market data (alerts/registry.py finds this module). The USDT/USD rate
is watched by risk limits instead (its age and its distance from parity: risk/metrics.py, risk/limits.py), which
name the rate source at fault in their alert."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from accounts.models import AccountPool
from alerts.registry import Condition, Param, RuleType, register
from quantarb import clock
from quantarb.phrases import phrase
from trading.choices import ReconciliationStatus, ReconciliationTrigger
from trading.marketdata.selectors import heartbeats, tenant_pairs
from trading.models import QuoteTick, ReconciliationReport, SpreadSample


def _feed_ages(tenant: Any) -> Iterator[tuple[Any, float | None, bool]]:
    """(source, age in seconds or None when never seen, closed market) for each source of the tenant's pairs.
    Ages as the health strip reads them: from the feeder's heartbeat (engine or poller), else the last tick."""
    now = clock.now()
    beats = heartbeats()
    feeders = [beat for beat in (beats.get("engine"), beats.get("poller")) if beat is not None]
    feeder = max(feeders, key=lambda beat: beat.beat_at) if feeders else None
    pair_details = (feeder.detail or {}).get("pairs", {}) if feeder else {}
    seen: set[int] = set()
    for pair in tenant_pairs(tenant=tenant).filter(enabled=True):  # a disabled pair is not fed: not stale either
        detail = pair_details.get(str(pair.pk), {})
        session = detail.get("session", "open")
        for source, is_cfd in ((pair.perp_source, False), (pair.cfd_source, True)):
            if source.pk in seen:
                continue
            seen.add(source.pk)
            last_ms = detail.get("sources", {}).get(source.key)
            age: float | None = None if last_ms is None else max(0.0, now.timestamp() - last_ms / 1000)
            if age is None:
                received = (
                    QuoteTick.objects.filter(source=source)
                    .order_by("-received_at")
                    .values_list("received_at", flat=True)
                ).first()
                age = None if received is None else max(0.0, (now - received).total_seconds())
            yield source, age, is_cfd and session != "open"


def feed_stale(tenant: Any, params: dict[str, Decimal]) -> Iterator[Condition]:
    limit = float(params["max_age_s"])
    for source, age, closed in _feed_ages(tenant):
        if closed:
            continue  # a closed market's quotes are closed, not stale
        if age is None or age > limit:
            yield Condition(
                key=f"feed_stale:{source.key}",
                title=phrase(gettext_noop("Feed %(source)s is stale"), source=source.label),
                detail={"source": source.key, "age_s": None if age is None else round(age, 1), "limit_s": limit},
                source=source,
            )


def reconciliation_failed(tenant: Any, params: dict[str, Decimal]) -> Iterator[Condition]:
    """Enabled pools whose latest scheduled reconciliation failed (a venue unreachable, or an error on our side):
    nothing vouches for their positions until one succeeds again."""

    for pool in AccountPool.objects.filter(tenant_id=tenant.pk, enabled=True).order_by("pk"):
        report = (
            ReconciliationReport.objects.filter(pool=pool, trigger=ReconciliationTrigger.SCHEDULE)
            .exclude(finished_at__isnull=True)
            .order_by("-started_at", "-pk")
            .first()
        )
        if report is None or report.status != ReconciliationStatus.FAILED:
            continue
        yield Condition(
            key=f"reconciliation_failed:{pool.pk}",
            title=phrase(
                gettext_noop("Scheduled reconciliation of %(pool)s failed: %(error)s"),
                pool=pool.name,
                error=report.error,
            ),
            detail={"pool": pool.pk, "report": report.pk, "error": report.error, "at": report.started_at.isoformat()},
            source=report,
        )


def _latest_samples(tenant: Any) -> Iterator[SpreadSample]:
    for pair in tenant_pairs(tenant=tenant):
        sample = SpreadSample.objects.filter(pair=pair).select_related("pair").order_by("-ts", "-pk").first()
        if sample is not None:
            yield sample


def net_edge_beyond(tenant: Any, params: dict[str, Decimal]) -> Iterator[Condition]:
    level = params["level_usd_per_oz"]
    for sample in _latest_samples(tenant):
        best = max(sample.net_sell_perp, sample.net_buy_perp)
        if best > level:
            direction = "sell_perp" if sample.net_sell_perp >= sample.net_buy_perp else "buy_perp"
            yield Condition(
                key=f"net_edge:{sample.pair_id}",
                title=phrase(
                    gettext_noop("Net edge %(edge)s USD/oz on %(pair)s"), edge=f"{best:.2f}", pair=sample.pair.name
                ),
                detail={"pair": sample.pair_id, "net_edge": str(best), "direction": direction, "level": str(level)},
                source=sample.pair,
            )


COMPONENTS = {"scheduler": _("scheduler"), "engine": _("engine")}


def heartbeat_missing(tenant: Any, params: dict[str, Decimal]) -> Iterator[Condition]:
    limit = float(params["max_age_s"])
    now = clock.now()
    beats = heartbeats()
    for component in ("scheduler", "engine"):
        beat = beats.get(component)
        if beat is None and component == "engine":
            continue  # no engine has ever run here: poll_feeds is the quote source (ARCHITECTURE.md), not a fault
        age = None if beat is None else max(0.0, (now - beat.beat_at).total_seconds())
        if age is None or age > limit:
            yield Condition(
                key=f"heartbeat:{component}",
                title=phrase(gettext_noop("No %(component)s heartbeat"), component=COMPONENTS[component]),
                detail={"component": component, "age_s": None if age is None else round(age, 1), "limit_s": limit},
            )


register(
    RuleType(
        key="feed_stale",
        label=_("Feed stale"),
        description=_("A quote source of the tenant's pairs has sent nothing for longer than the limit (open market)."),
        category="system",
        default_severity="warning",
        params=(Param("max_age_s", _("Seconds without a quote"), Decimal(30), Decimal(1), Decimal(86400), "s"),),
        evaluate=feed_stale,
    )
)
register(
    RuleType(
        key="net_edge",
        label=_("Net edge beyond a level"),
        description=_("The better direction's net edge (after costs) is above the level."),
        category="execution",
        default_severity="info",
        params=(Param("level_usd_per_oz", _("Level (USD/oz)"), Decimal(2), Decimal(-1000), Decimal(1000), "USD/oz"),),
        evaluate=net_edge_beyond,
    )
)
register(
    RuleType(
        key="reconciliation_failed",
        label=_("Scheduled reconciliation failed"),
        description=_("The latest scheduled reconciliation of an enabled pool failed (a venue or our side)."),
        category="execution",
        default_severity="warning",
        params=(),
        evaluate=reconciliation_failed,
    )
)
register(
    RuleType(
        key="heartbeat_missing",
        label=_("Scheduler or engine heartbeat missing"),
        description=_("The scheduler's or the engine's heartbeat is older than the limit, or missing."),
        category="system",
        default_severity="critical",
        params=(Param("max_age_s", _("Seconds without a heartbeat"), Decimal(60), Decimal(5), Decimal(86400), "s"),),
        evaluate=heartbeat_missing,
    )
)
