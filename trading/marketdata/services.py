"""Writes of quote sources and source pairs by a desk's admins: validated by the forms (trading/marketdata/forms.py),
saved for the desk, audited. The engine notices a new, changed, disabled or deleted pair by itself within a few
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
from trading.marketdata.forms import QuoteSourceForm, SourcePairForm
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
def quote_source_save(*, form: QuoteSourceForm, actor: User, context: AuditContext | None = None) -> QuoteSource:
    """Create or change a desk's source from a valid form; audited (the endpoint is not a secret)."""
    source: QuoteSource = form.save(commit=False)
    created = source.pk is None
    source.tenant = form.tenant
    source.endpoint = form.endpoint
    if created:
        source.key = _source_key(form.tenant, source.venue, source.label)
    source.save()
    audit_record(
        tenant=form.tenant,
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


@transaction.atomic
def pair_save(*, form: SourcePairForm, actor: User, context: AuditContext | None = None) -> SourcePair:
    """Create or change a desk's pair from a valid form, granted to the desk; audited with its settings."""
    pair: SourcePair = form.save(commit=False)
    created = pair.pk is None
    pair.tenant = form.tenant
    pair.save()
    PairAccess.objects.get_or_create(tenant=form.tenant, pair=pair)
    audit_record(
        tenant=form.tenant,
        actor=actor,
        action=AuditAction.PAIR_SAVED,
        obj=pair,
        summary={
            "name": pair.name,
            "perp_source": pair.perp_source.key,
            "cfd_source": pair.cfd_source.key,
            "enabled": pair.enabled,
            "created": created,
            "changed": sorted(form.changed_data),
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
