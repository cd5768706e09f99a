"""The values of a desk's quote source and source pair, and the checks they pass before they are saved.

The portal's forms (trading/marketdata/forms.py) and the API's write serializers (api/setup_serializers.py) each
read their own input, then hand the values to the same checks here, so both answer a bad value with the same
message on the same field; the services (services.py) take the checked values. A pair also passes
`SourcePair.clean` (the thresholds' order), which both run on an unsaved pair.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from accounts.models import Tenant
from accounts.venue_kinds import Venue, endpoint_override_errors, spec_for
from mt5ops.models import TerminalInstance
from trading.choices import RateSource
from trading.models import Instrument, QuoteSource, SourcePair, endpoint_of

# The venues a quote source can stream today (ccxt venues other than Binance have no quote feed yet).
SOURCE_VENUES = (Venue.BINANCE_USDM, Venue.BYBIT_MT5, Venue.SIMULATED_PERP, Venue.SIMULATED_CFD)


def visible_sources(tenant: Tenant) -> QuerySet[QuoteSource]:
    """The sources a desk may use in its pairs: its own and the platform's."""
    return QuoteSource.objects.filter(Q(tenant=tenant) | Q(tenant__isnull=True))


def desk_terminals(tenant: Tenant) -> QuerySet[TerminalInstance]:
    """The terminals a desk's MT5 source may read from: the desk's own."""
    return TerminalInstance.objects.filter(tenant=tenant)


# --- quote sources -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QuoteSourceValues:
    """A source as its editor gives it: `instrument` None is the venue's reference instrument (filled in by the
    checks); empty endpoints are the venue's own hosts."""

    label: str
    venue: str
    instrument: Instrument | None = None
    terminal: TerminalInstance | None = None
    rest_endpoint: str = ""
    ws_endpoint: str = ""
    stale_after_s: Decimal | None = None

    @property
    def endpoint(self) -> str:
        return endpoint_of(self.rest_endpoint, self.ws_endpoint)


def quote_source_check(
    *, tenant: Tenant, source: QuoteSource | None, values: QuoteSourceValues, failed: frozenset[str] = frozenset()
) -> tuple[QuoteSourceValues, dict[str, str]]:
    """The values completed (the venue's reference instrument when none was chosen) and the errors by field, for a
    new source (`source` None) or a change of `source`. `failed`: fields whose input could not be read (their
    checks are skipped, and the uniqueness check waits for a valid source)."""
    errors: dict[str, str] = {}
    label = values.label.strip()
    values = replace(values, label=label)
    if "label" not in failed and _others(QuoteSource, tenant, source).filter(label=label).exists():
        errors["label"] = _("Another source of this desk already has this label.")
    venue = values.venue
    if source is not None and "venue" not in failed and venue != source.venue:
        errors["venue"] = _("A source never changes venue: create another source.")
    spec = spec_for(venue) if venue and "venue" not in failed else None
    if spec is None:
        return values, errors
    instrument = values.instrument
    if instrument is None and "instrument" not in failed:
        instrument = Instrument.objects.filter(venue=spec.instrument_venue, symbol=spec.instrument_symbol).first()
        if instrument is None:
            errors["instrument"] = _("This venue has no reference instrument: choose one.")
        values = replace(values, instrument=instrument)
    elif instrument is not None and instrument.venue != venue:
        errors["instrument"] = _("%(instrument)s is not listed on this venue: choose one of its instruments.") % {
            "instrument": instrument
        }
    errors.update(
        (name, str(message))
        for name, message in endpoint_override_errors(
            venue=venue, rest=values.rest_endpoint, ws=values.ws_endpoint
        ).items()
    )
    terminal = values.terminal
    if venue == Venue.BYBIT_MT5:
        if terminal is None and "terminal" not in failed:
            errors["terminal"] = _("Choose the MT5 terminal this source reads its quotes from.")
    elif terminal is not None:
        errors["terminal"] = _("Only MT5 sources read from a terminal.")
    if not errors and not failed and instrument is not None:
        same = _others(QuoteSource, tenant, source).filter(venue=venue, instrument=instrument)
        same = same.filter(terminal=terminal) if terminal is not None else same.filter(endpoint=values.endpoint)
        clash = same.first()
        if clash is not None:
            errors["terminal" if terminal is not None else "rest_endpoint"] = _(
                "The source %(label)s already quotes %(instrument)s from here: use it, or change it."
            ) % {"label": clash.label, "instrument": instrument.symbol}
    return values, errors


# --- pairs -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SourcePairValues:
    """A pair as its editor gives it. A cost left None takes the model's default (filled in by the checks)."""

    name: str
    perp_source: QuoteSource | None
    cfd_source: QuoteSource | None
    entry_threshold: Decimal | None
    exit_threshold: Decimal | None
    perp_fee_rate: Decimal | None = None
    cfd_fee_rate: Decimal | None = None
    cfd_commission_per_oz: Decimal | None = None
    slippage_usd_per_oz: Decimal | None = None
    expected_holding_hours: Decimal | None = None
    funding_rate: Decimal | None = None
    funding_interval_hours: Decimal | None = None
    swap_long_per_oz_night: Decimal | None = None
    swap_short_per_oz_night: Decimal | None = None
    rate_source: str | None = None
    fixed_usd_per_usdt: Decimal | None = None
    enabled: bool = True


PAIR_FIELDS = tuple(item.name for item in fields(SourcePairValues))
# Fields a pair may leave empty: they take the model's default (what the help text says).
PAIR_DEFAULTED = (
    "perp_fee_rate",
    "cfd_fee_rate",
    "cfd_commission_per_oz",
    "slippage_usd_per_oz",
    "expected_holding_hours",
    "funding_rate",
    "funding_interval_hours",
    "swap_long_per_oz_night",
    "swap_short_per_oz_night",
    "rate_source",
    "fixed_usd_per_usdt",
)
# Cost fields that cannot be negative (fees per fill, commissions, a slippage buffer, the holding time).
_NON_NEGATIVE = (
    "perp_fee_rate",
    "cfd_fee_rate",
    "cfd_commission_per_oz",
    "slippage_usd_per_oz",
    "expected_holding_hours",
)


def pair_default(name: str) -> Any:
    """What a pair's field left empty takes: the model's default."""
    model_field = SourcePair._meta.get_field(name)
    assert isinstance(model_field, models.Field)
    return model_field.get_default()


def pair_check(
    *, tenant: Tenant, pair: SourcePair | None, values: SourcePairValues, failed: frozenset[str] = frozenset()
) -> tuple[SourcePairValues, dict[str, str]]:
    """The values completed (defaults for the costs left empty) and the errors by field, for a new pair (`pair`
    None) or a change of `pair`. `failed`: fields whose input could not be read (their checks are skipped)."""
    errors: dict[str, str] = {}
    name = values.name.strip()
    values = replace(
        values,
        name=name,
        **{
            item: pair_default(item)
            for item in PAIR_DEFAULTED
            if item not in failed and getattr(values, item) in (None, "")
        },
    )
    if "name" not in failed and _others(SourcePair, tenant, pair).filter(name=name).exists():
        errors["name"] = _("Another pair of this desk already has this name.")
    perp, cfd = values.perp_source, values.cfd_source
    for leg_field, source, leg, message in (
        ("perp_source", perp, "perpetual", _("%(source)s quotes a CFD: choose a perpetual source here.")),
        ("cfd_source", cfd, "cfd", _("%(source)s quotes a perpetual: choose a CFD source here.")),
    ):
        spec = spec_for(source.venue) if source is not None else None
        if source is not None and (spec is None or spec.leg != leg):
            errors[leg_field] = message % {"source": source.label}
    for item in _NON_NEGATIVE:
        value = getattr(values, item)
        if item not in failed and value is not None and value < 0:
            errors[item] = _("Cannot be negative.")
    interval = values.funding_interval_hours
    if "funding_interval_hours" not in failed and interval is not None and interval <= 0:
        errors["funding_interval_hours"] = _("Funding happens every few hours: give a positive interval.")
    if (
        values.rate_source == RateSource.SIMULATED
        and perp is not None
        and cfd is not None
        and not (perp.simulated and cfd.simulated)
    ):
        errors["rate_source"] = _(
            "A simulated USDT/USD rate is for simulated pairs only: choose Binance's USDC/USDT book, or a "
            "fixed rate (shown as an assumption)."
        )
    if perp is not None and cfd is not None and "perp_source" not in errors and "cfd_source" not in errors:
        clash = _others(SourcePair, tenant, pair).filter(perp_source=perp, cfd_source=cfd).first()
        if clash is not None:
            errors["cfd_source"] = _("The pair %(name)s already joins these two sources.") % {"name": clash}
    return values, errors


def _others(model: Any, tenant: Tenant, instance: models.Model | None) -> Any:
    """The desk's other rows of `model` (all of them for a new one)."""
    rows = model.objects.filter(tenant=tenant)
    return rows.exclude(pk=instance.pk) if instance is not None and instance.pk is not None else rows
