"""Writes of quote sources and source pairs by a desk's admins: the values checked by the portal's form or the API's
serializer (both through trading/marketdata/setup_checks.py), saved for the desk, audited.

The engine notices a new, changed, disabled or deleted pair by itself within a few
seconds (`MarketPipeline`'s reload loop in trading/marketdata/pipeline.py): nothing here restarts anything.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils.text import slugify

from accounts.audit import audit_record
from accounts.choices import AuditAction
from accounts.http import AuditContext
from accounts.models import Tenant, User
from trading.marketdata.setup_checks import PAIR_FIELDS, QuoteSourceValues, SourcePairValues
from trading.models import PairAccess, QuoteSource, SourcePair


class SourceInUse(Exception):
    """A source still quotes a leg of a pair: the pair goes first."""

    def __init__(self, pair: SourcePair) -> None:
        super().__init__(pair.name)
        self.pair = pair


def _source_key(tenant: Tenant, venue: str, label: str) -> str:
    """A readable, unique key for a desk's new source (the feeds and the metrics name sources by it)."""
    base = slugify(f"{tenant.slug}-{venue}-{label}")[:110].strip("-") or f"{tenant.pk}-source"
    key, n = base, 1
    while QuoteSource.objects.filter(key=key).exists():
        n += 1
        key = f"{base}-{n}"
    return key


@transaction.atomic
def quote_source_save(
    *,
    tenant: Tenant,
    source: QuoteSource | None,
    values: QuoteSourceValues,
    actor: User,
    context: AuditContext | None = None,
) -> QuoteSource:
    """Create a desk's source (`source` None) or change `source` (its venue stays) from checked values
    (`quote_source_check`); audited (the endpoint is not a secret)."""
    assert values.instrument is not None, "the checks fill in the venue's reference instrument"
    created = source is None
    if source is None:
        source = QuoteSource(tenant=tenant, venue=values.venue)
        source.key = _source_key(tenant, values.venue, values.label)
    source.label = values.label
    source.instrument = values.instrument
    source.terminal = values.terminal
    source.endpoint = values.endpoint
    source.stale_after_s = values.stale_after_s
    source.save()
    audit_record(
        tenant=tenant,
        actor=actor,
        action=AuditAction.QUOTE_SOURCE_SAVED,
        obj=source,
        summary={
            "label": source.label,
            "key": source.key,
            "venue": source.venue,
            "instrument": source.instrument.symbol,
            "endpoint": source.endpoint,
            "terminal": source.terminal.label if source.terminal else None,
            "created": created,
        },
        context=context,
    )
    return source


def source_in_use(source: QuoteSource) -> SourcePair | None:
    return SourcePair.objects.filter(Q(perp_source=source) | Q(cfd_source=source)).order_by("pk").first()


@transaction.atomic
def quote_source_delete(*, source: QuoteSource, actor: User, context: AuditContext | None = None) -> None:
    """Delete a desk's source (and its stored quotes); refused with `SourceInUse` while a pair uses it."""
    pair = source_in_use(source)
    if pair is not None:
        raise SourceInUse(pair)
    assert source.tenant is not None  # platform sources are not the desks' to delete
    audit_record(
        tenant=source.tenant,
        actor=actor,
        action=AuditAction.QUOTE_SOURCE_DELETED,
        obj=source,
        summary={"label": source.label, "key": source.key, "venue": source.venue},
        context=context,
    )
    source.delete()


_PAIR_FOREIGN = ("perp_source", "cfd_source")


@transaction.atomic
def pair_save(
    *,
    tenant: Tenant,
    pair: SourcePair | None,
    values: SourcePairValues,
    actor: User,
    context: AuditContext | None = None,
) -> SourcePair:
    """Create a desk's pair (`pair` None) or change `pair` from checked values (`pair_check`), granted to the desk;
    audited with its settings and the fields that changed."""
    created = pair is None
    columns = [f"{name}_id" if name in _PAIR_FOREIGN else name for name in PAIR_FIELDS]
    if pair is None:
        pair = SourcePair(tenant=tenant)
        before = {column: getattr(pair, column) for column in columns}
    else:  # as stored: a form may have set its values on this instance already
        before = SourcePair.objects.filter(pk=pair.pk).values(*columns).get()
    for name in PAIR_FIELDS:
        setattr(pair, name, getattr(values, name))
    after = {column: getattr(pair, column) for column in columns}
    pair.save()
    PairAccess.objects.get_or_create(tenant=tenant, pair=pair)
    audit_record(
        tenant=tenant,
        actor=actor,
        action=AuditAction.PAIR_SAVED,
        obj=pair,
        summary={
            "name": pair.name,
            "perp_source": pair.perp_source.key,
            "cfd_source": pair.cfd_source.key,
            "enabled": pair.enabled,
            "created": created,
            "changed": sorted(
                name for name, column in zip(PAIR_FIELDS, columns, strict=True) if before[column] != after[column]
            ),
        },
        context=context,
    )
    return pair


@transaction.atomic
def pair_delete(*, pair: SourcePair, actor: User, context: AuditContext | None = None) -> None:
    """Delete a desk's pair with its stored spreads, candles and opportunities (the engine stops streaming it)."""
    assert pair.tenant is not None  # platform pairs are not the desks' to delete
    audit_record(
        tenant=pair.tenant,
        actor=actor,
        action=AuditAction.PAIR_DELETED,
        obj=pair,
        summary={"name": pair.name, "perp_source": pair.perp_source.key, "cfd_source": pair.cfd_source.key},
        context=context,
    )
    pair.delete()
