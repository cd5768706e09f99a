"""The risk history: every figure of `risk.metrics.metric_values` per desk, pool, strategy and
account, one row a minute (`risk_record`, the beat job `record-risk`), rolled up to one row an hour — the hour's
last value, its lowest and its highest — once older than `QUANTARB_RISK_HISTORY_MINUTE_DAYS` (`risk_roll_up`, run
by the same job). Hourly rows are kept for `QUANTARB_RISK_HISTORY_HOUR_DAYS`."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction

from quantarb import clock

from .domain.limits import Metric, ScopeKind
from .live import push_risk
from .metrics import metric_scope_key, metric_values
from .models import RiskResolution, RiskSnapshot

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
ROLL_UP_BATCH_HOURS = 48  # one run rolls up at most this many hours (a long outage catches up over several runs)


def minute_retention() -> timedelta:
    return timedelta(days=float(getattr(settings, "QUANTARB_RISK_HISTORY_MINUTE_DAYS", 2)))


def hour_retention() -> timedelta:
    return timedelta(days=float(getattr(settings, "QUANTARB_RISK_HISTORY_HOUR_DAYS", 400)))


def floor_to(moment: datetime, step: timedelta) -> datetime:
    return moment - (moment - EPOCH) % step


def _quantize(value: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    return value.quantize(Decimal("0.00000001"))


def risk_record(now: datetime | None = None) -> dict[str, int]:
    """Write the minute's figures of every desk (the tick at or before `now`; writing the same minute again
    replaces it), then roll up and prune."""
    moment = now or clock.now()
    at = floor_to(moment, MINUTE)
    rows = []
    desks = metric_values(now=moment)
    for tenant_id, values in desks.items():
        for (metric, scope), value in values.items():
            kind, ref = metric_scope_key(scope)
            rows.append(
                RiskSnapshot(
                    tenant_id=tenant_id,
                    scope=kind,
                    scope_id=ref,
                    metric=str(metric),
                    resolution=RiskResolution.MINUTE,
                    at=at,
                    value=_quantize(value),
                    low=_quantize(value),
                    high=_quantize(value),
                )
            )
    with transaction.atomic():
        RiskSnapshot.objects.bulk_create(
            rows,
            batch_size=2000,
            update_conflicts=True,
            unique_fields=["tenant", "metric", "scope", "scope_id", "resolution", "at"],
            update_fields=["value", "low", "high"],
        )
        push_risk(desks)  # the open risk centres refresh (risk/live.py)
    counts = risk_roll_up(moment)
    counts["written"] = len(rows)
    return counts


def risk_roll_up(now: datetime | None = None) -> dict[str, int]:
    """Roll the minute rows of whole hours older than the retention into hourly rows (the hour's last value, its
    lowest, its highest), delete those minute rows, and prune hourly rows past their own retention."""
    moment = now or clock.now()
    cutoff = floor_to(moment - minute_retention(), HOUR)
    oldest = (
        RiskSnapshot.objects.filter(resolution=RiskResolution.MINUTE, at__lt=cutoff)
        .order_by("at")
        .values_list("at", flat=True)
        .first()
    )
    rolled = deleted = 0
    if oldest is not None:
        until = min(cutoff, floor_to(oldest, HOUR) + ROLL_UP_BATCH_HOURS * HOUR)
        minutes = RiskSnapshot.objects.filter(resolution=RiskResolution.MINUTE, at__lt=until).order_by("at", "pk")
        groups: dict[tuple[Any, ...], list[tuple[datetime, Decimal | None]]] = defaultdict(list)
        for tenant_id, scope, scope_id, metric, at, value in minutes.values_list(
            "tenant_id", "scope", "scope_id", "metric", "at", "value"
        ).iterator(chunk_size=5000):
            groups[(tenant_id, scope, scope_id, metric, floor_to(at, HOUR))].append((at, value))
        hourly = []
        for (tenant_id, scope, scope_id, metric, hour), points in groups.items():
            present = [value for _, value in points if value is not None]
            hourly.append(
                RiskSnapshot(
                    tenant_id=tenant_id,
                    scope=scope,
                    scope_id=scope_id,
                    metric=metric,
                    resolution=RiskResolution.HOUR,
                    at=hour,
                    value=points[-1][1],
                    low=min(present) if present else None,
                    high=max(present) if present else None,
                )
            )
        with transaction.atomic():
            RiskSnapshot.objects.bulk_create(
                hourly,
                batch_size=2000,
                update_conflicts=True,
                unique_fields=["tenant", "metric", "scope", "scope_id", "resolution", "at"],
                update_fields=["value", "low", "high"],
            )
            deleted, _ = minutes.delete()
        rolled = len(hourly)
    pruned, _ = RiskSnapshot.objects.filter(resolution=RiskResolution.HOUR, at__lt=moment - hour_retention()).delete()
    return {"rolled_up": rolled, "minute_rows_deleted": deleted, "pruned": pruned}


# --- reading ---------------------------------------------------------------------------------------------------
MAX_POINTS = 5000


class HistoryQueryError(ValueError):
    """A history request that cannot be answered (an unknown metric or scope, dates the wrong way round)."""


def parse_scope(text: str, *, tenant_id: int) -> tuple[str, int]:
    """`desk`, `pool:<id>`, `strategy:<id>` or `account:<id>` → (kind, id); the desk's id is the tenant's."""
    kind, _, ref = text.partition(":")
    try:
        scope_kind = ScopeKind(kind)
    except ValueError as error:
        raise HistoryQueryError(kind) from error
    if scope_kind is ScopeKind.DESK:
        if ref and ref != str(tenant_id):
            raise HistoryQueryError(text)
        return (str(scope_kind), tenant_id)
    if not ref.isdigit() or len(ref) > 18:  # an id fits a bigint column
        raise HistoryQueryError(text)
    return (str(scope_kind), int(ref))


def parse_metric(text: str) -> Metric:
    try:
        return Metric(text)
    except ValueError as error:
        raise HistoryQueryError(text) from error


def history(
    *, tenant_id: int, metric: Metric, scope: tuple[str, int], since: datetime, until: datetime
) -> tuple[list[RiskSnapshot], str]:
    """The rows of one figure over [since, until], oldest first: minute rows when the window is within the minute
    retention and small enough, else hourly rows (with the minute rows not yet rolled up after them), at most
    `MAX_POINTS` (the newest kept). Returns the rows and the resolution mostly used."""
    base = RiskSnapshot.objects.filter(
        tenant_id=tenant_id, metric=str(metric), scope=scope[0], scope_id=scope[1], at__gte=since, at__lte=until
    )
    resolution = RiskResolution.MINUTE
    if until - since > timedelta(minutes=MAX_POINTS) or since < clock.now() - minute_retention():
        resolution = RiskResolution.HOUR
        hourly = list(base.filter(resolution=RiskResolution.HOUR).order_by("-at")[:MAX_POINTS])
        last = hourly[0].at if hourly else since - MINUTE
        minutes = list(base.filter(resolution=RiskResolution.MINUTE, at__gt=last).order_by("-at")[:MAX_POINTS])
        rows = sorted(hourly + minutes, key=lambda row: row.at)[-MAX_POINTS:]
        return rows, resolution
    rows = list(base.filter(resolution=RiskResolution.MINUTE).order_by("-at")[:MAX_POINTS])
    rows.reverse()
    return rows, resolution
