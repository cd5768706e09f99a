"""Reads of market data, always what one member may view: a member sees the pairs granted to their tenant
(`PairAccess.objects.for_member`) and those pairs' sources, never another tenant's."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db import connection
from django.db.models import F, QuerySet

from accounts.models import Membership, Tenant
from trading.models import (
    BasisCandle,
    FundingRateRecord,
    Heartbeat,
    Opportunity,
    PairAccess,
    QuoteSource,
    QuoteTick,
    SourcePair,
    SpreadSample,
    SwapTermsRecord,
)


def _pairs_granted(access: QuerySet[PairAccess]) -> QuerySet[SourcePair]:
    return (
        SourcePair.objects.filter(pk__in=access.values("pair_id"))
        .select_related("perp_source__instrument", "cfd_source__instrument__calendar")
        .order_by("pk")
    )


def pairs_for(*, membership: Membership | None) -> QuerySet[SourcePair]:
    """The pairs granted to the member's tenant."""
    return _pairs_granted(PairAccess.objects.for_member(membership, "view"))


def tenant_pairs(*, tenant: Tenant) -> QuerySet[SourcePair]:
    """The pairs granted to a tenant, for work done for the whole tenant with no member asking (alert rules);
    a request reads `pairs_for` with its membership."""
    return _pairs_granted(PairAccess.objects.filter(tenant_id=tenant.pk))


def pair_for(*, membership: Membership | None, pair_id: int) -> SourcePair | None:
    return pairs_for(membership=membership).filter(pk=pair_id).first()


def sources_for(*, membership: Membership | None) -> QuerySet[QuoteSource]:
    pairs = pairs_for(membership=membership)
    ids = set(pairs.values_list("perp_source_id", flat=True)) | set(pairs.values_list("cfd_source_id", flat=True))
    return QuoteSource.objects.filter(pk__in=ids).select_related("instrument").order_by("pk")


def quotes_for(
    *,
    membership: Membership | None,
    source_key: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[QuoteTick]:
    rows = QuoteTick.objects.filter(source__in=sources_for(membership=membership)).select_related("source")
    if source_key:
        rows = rows.filter(source__key=source_key)
    if since:
        rows = rows.filter(ts__gte=since)
    if until:
        rows = rows.filter(ts__lt=until)
    return rows.order_by("-ts", "-pk")


def funding_rate_history(
    *,
    membership: Membership | None,
    source_key: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[FundingRateRecord]:
    """The funding rates recorded at each funding time of the sources the member sees, oldest first; `since`
    inclusive, `until` exclusive."""
    rows = FundingRateRecord.objects.filter(source__in=sources_for(membership=membership)).select_related("source")
    if source_key:
        rows = rows.filter(source__key=source_key)
    if since:
        rows = rows.filter(funding_time__gte=since)
    if until:
        rows = rows.filter(funding_time__lt=until)
    return rows.order_by("funding_time", "pk")


def swap_terms_history(
    *,
    membership: Membership | None,
    source_key: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[SwapTermsRecord]:
    """The swap terms recorded each day for the CFD sources the member sees, oldest first; `since` inclusive,
    `until` exclusive."""
    rows = SwapTermsRecord.objects.filter(source__in=sources_for(membership=membership)).select_related("source")
    if source_key:
        rows = rows.filter(source__key=source_key)
    if since:
        rows = rows.filter(day__gte=since)
    if until:
        rows = rows.filter(day__lt=until)
    return rows.order_by("day", "pk")


def latest_samples_for(*, membership: Membership | None) -> list[SpreadSample]:
    """The latest sample of each pair the member sees, in pair order (a pair without one has none), each with its
    pair's name as `pair_name`. One query, each pair's row found through the `sample_pair_ts` index.

    Written as SQL because it is the API's hottest read (programs poll it): the ORM spent ~2 ms of CPU building and
    compiling the equivalent query each time, ten times what reading its row takes (bench/api_load.py), and it
    was a query per pair after one joining five tables whose planning alone took 2–3 ms on PostgreSQL."""
    if membership is None:
        return []
    quote = connection.ops.quote_name
    sample, access, pair = (quote(model._meta.db_table) for model in (SpreadSample, PairAccess, SourcePair))
    sql = (
        f"SELECT s.*, p.{quote('name')} AS pair_name FROM {sample} s INNER JOIN {pair} p ON p.id = s.pair_id "  # noqa: S608 (names from the models; the tenant is a parameter)
        f"WHERE s.id IN (SELECT (SELECT l.id FROM {sample} l WHERE l.pair_id = a.pair_id "
        f"ORDER BY l.ts DESC, l.id DESC LIMIT 1) FROM {access} a WHERE a.tenant_id = %s) ORDER BY s.pair_id"
    )
    return list(SpreadSample.objects.raw(sql, [membership.tenant_id]))


def candles_for(
    *, membership: Membership | None, pair_id: int, interval: str, since: datetime | None, until: datetime | None
) -> QuerySet[BasisCandle]:
    rows = BasisCandle.objects.filter(pair__in=pairs_for(membership=membership), pair_id=pair_id, interval=interval)
    if since:
        rows = rows.filter(start__gte=since)
    if until:
        rows = rows.filter(start__lt=until)
    return rows.order_by("start")


def opportunities_for(
    *,
    membership: Membership | None,
    pair_id: int | None = None,
    direction: str | None = None,
    since: datetime | None = None,
) -> QuerySet[Opportunity]:
    rows = Opportunity.objects.filter(pair__in=pairs_for(membership=membership)).select_related("pair")
    if pair_id is not None:
        rows = rows.filter(pair_id=pair_id)
    if direction:
        rows = rows.filter(direction=direction)
    if since:
        rows = rows.filter(started_at__gte=since)
    return rows.order_by("-started_at", "-pk")


def chart_history_for(
    *, membership: Membership | None, pair_id: int, since: datetime, limit: int = 1800
) -> list[dict[str, Any]]:
    """One point per second (the last sample of each second) for the dashboard chart, oldest first."""
    rows = (
        SpreadSample.objects.filter(pair__in=pairs_for(membership=membership), pair_id=pair_id, ts__gte=since)
        .order_by("-ts")
        .values_list("ts", "basis", "basis_mean", "net_sell_perp", "net_buy_perp")[: limit * 8]
    )
    points: dict[int, dict[str, Any]] = {}
    for ts, basis, mean, net_sp, net_bp in rows:
        second = int(ts.timestamp())
        if second in points:
            continue
        points[second] = {
            "t": second,
            "basis": float(basis),
            "mean": mean,
            "net": float(max(net_sp, net_bp)),
        }
        if len(points) >= limit:
            break
    return sorted(points.values(), key=lambda p: p["t"])


def heartbeats() -> dict[str, Heartbeat]:
    return {beat.component: beat for beat in Heartbeat.objects.all()}


# --- market setup: what a desk's admins manage --------------------------------------------------------------------
def setup_sources_for(*, membership: Membership | None) -> QuerySet[QuoteSource]:
    """The sources a desk sees on its setup pages: its own (editable by its admins) and the platform's (read-only).
    Another desk's source is not among them (its id answers 404); no membership sees none."""
    if membership is None:
        return QuoteSource.objects.none()
    return (
        (QuoteSource.objects.for_member(membership, "view") | QuoteSource.objects.filter(tenant__isnull=True))
        .select_related("instrument", "terminal", "tenant")
        .order_by(F("tenant_id").asc(nulls_last=True), "label")
    )


def setup_source_for(*, membership: Membership | None, source_id: int) -> QuoteSource | None:
    return setup_sources_for(membership=membership).filter(pk=source_id).first()
