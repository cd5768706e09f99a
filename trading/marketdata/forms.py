"""Validation of quote sources and source pairs, shared by the portal's forms and the API (which feeds these forms).

A desk admin creates them for their own tenant. A pair picks its legs among the desk's own sources and the
platform's (the simulated reference sources); an MT5 source picks its terminal among the desk's terminals; a
Binance source's endpoint override follows the same rule as a venue account's (accounts/venue_kinds.py).
Every rule answers with a message on the field it is about; nothing is saved unless everything is valid.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Tenant
from accounts.venue_kinds import Venue, endpoint_override_errors, spec_for
from mt5ops.models import TerminalInstance
from trading.choices import RateSource
from trading.models import Instrument, QuoteSource, SourcePair, endpoint_of

# The venues a quote source can stream today (ccxt venues other than Binance have no quote feed yet).
SOURCE_VENUES = (Venue.BINANCE_USDM, Venue.BYBIT_MT5, Venue.SIMULATED_PERP, Venue.SIMULATED_CFD)


def visible_sources(tenant: Tenant) -> Any:
    """The sources a desk may use in its pairs: its own and the platform's."""
    return QuoteSource.objects.filter(Q(tenant=tenant) | Q(tenant__isnull=True))


class QuoteSourceForm(forms.ModelForm):  # type: ignore[type-arg]
    venue = forms.ChoiceField(label=_("Venue"), choices=[(v.value, v.label) for v in SOURCE_VENUES])
    rest_endpoint = forms.CharField(
        label=_("REST endpoint override"),
        required=False,
        strip=True,
        max_length=200,
        help_text=_("Binance only. Empty: Binance's own hosts. e.g. https://proxy.example:8443"),
    )
    ws_endpoint = forms.CharField(
        label=_("WebSocket endpoint override"),
        required=False,
        strip=True,
        max_length=200,
        help_text=_("Binance only, with the REST override. e.g. wss://proxy.example:8443"),
    )

    class Meta:
        model = QuoteSource
        fields = ("label", "venue", "instrument", "terminal", "stale_after_s")

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        self.tenant = tenant
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            self.instance.tenant = tenant
        else:
            # The venue decides the leg a source can quote: a source never changes venue (create another).
            self.fields["venue"].disabled = True
            rest, ws = self.instance.endpoints()
            self.initial.setdefault("rest_endpoint", rest or "")
            self.initial.setdefault("ws_endpoint", ws or "")
        instrument: Any = self.fields["instrument"]
        instrument.required = False
        instrument.queryset = Instrument.objects.order_by("venue", "symbol")
        instrument.help_text = _("Empty: the venue's gold contract (XAUUSDT on the perpetual venues, XAUUSD.s on MT5).")
        terminal: Any = self.fields["terminal"]
        terminal.queryset = TerminalInstance.objects.filter(tenant=tenant).order_by("label")
        terminal.help_text = _("MT5 sources only: the terminal instance the quotes are read from.")
        self.endpoint = self.instance.endpoint

    def clean_label(self) -> str:
        label = str(self.cleaned_data["label"]).strip()
        clash = QuoteSource.objects.filter(tenant=self.tenant, label=label).exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(_("Another source of this desk already has this label."))
        return label

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        venue = str(cleaned.get("venue") or "")
        spec = spec_for(venue) if venue else None
        if spec is None:
            return cleaned
        instrument = cleaned.get("instrument")
        if instrument is None and "instrument" not in self.errors:
            instrument = Instrument.objects.filter(venue=spec.instrument_venue, symbol=spec.instrument_symbol).first()
            if instrument is None:
                self.add_error("instrument", _("This venue has no reference instrument: choose one."))
            cleaned["instrument"] = instrument
        elif instrument is not None and instrument.venue != venue:
            self.add_error(
                "instrument",
                _("%(instrument)s is not listed on this venue: choose one of its instruments.")
                % {"instrument": instrument},
            )
        rest, ws = str(cleaned.get("rest_endpoint") or ""), str(cleaned.get("ws_endpoint") or "")
        for field, message in endpoint_override_errors(venue=venue, rest=rest, ws=ws).items():
            self.add_error(field, message)
        terminal = cleaned.get("terminal")
        if venue == Venue.BYBIT_MT5:
            if terminal is None and "terminal" not in self.errors:
                self.add_error("terminal", _("Choose the MT5 terminal this source reads its quotes from."))
        elif terminal is not None:
            self.add_error("terminal", _("Only MT5 sources read from a terminal."))
        self.endpoint = endpoint_of(rest, ws)
        self.instance.endpoint = self.endpoint
        if not self.errors and instrument is not None:
            self._clean_unique(venue, instrument, terminal)
        return cleaned

    def _clean_unique(self, venue: str, instrument: Instrument, terminal: TerminalInstance | None) -> None:
        same = QuoteSource.objects.filter(tenant=self.tenant, venue=venue, instrument=instrument).exclude(
            pk=self.instance.pk
        )
        same = same.filter(terminal=terminal) if terminal is not None else same.filter(endpoint=self.endpoint)
        clash = same.first()
        if clash is not None:
            self.add_error(
                "terminal" if terminal is not None else "rest_endpoint",
                _("The source %(label)s already quotes %(instrument)s from here: use it, or change it.")
                % {"label": clash.label, "instrument": instrument.symbol},
            )


# Cost fields that cannot be negative (fees per fill, commissions, a slippage buffer).
_NON_NEGATIVE = ("perp_fee_rate", "cfd_fee_rate", "cfd_commission_per_oz", "slippage_usd_per_oz")
# Fields a pair may leave empty: they take the model's default (what the help text says).
_DEFAULTED = (
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


def _default_of(name: str) -> Any:
    field = SourcePair._meta.get_field(name)
    assert isinstance(field, models.Field)
    return field.get_default()


PAIR_FIELDS = (
    "name",
    "perp_source",
    "cfd_source",
    "entry_threshold",
    "exit_threshold",
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
    "enabled",
)


class SourcePairForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = SourcePair
        fields = PAIR_FIELDS

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        self.tenant = tenant
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            self.instance.tenant = tenant
        sources = visible_sources(tenant).select_related("instrument").order_by("label")
        perp: Any = self.fields["perp_source"]
        cfd: Any = self.fields["cfd_source"]
        perp.queryset = sources
        cfd.queryset = sources
        perp.help_text = _("A perpetual source: Binance USDⓈ-M or the simulated perpetual.")
        cfd.help_text = _("A CFD source: an MT5 terminal's or the simulated CFD.")
        for name in _DEFAULTED:
            self.fields[name].required = False
            if name != "rate_source":  # a list always has a choice
                self.fields[name].help_text = _("Empty: %(default)s.") % {"default": _default_of(name)}

    def clean_name(self) -> str:
        name = str(self.cleaned_data["name"]).strip()
        if SourcePair.objects.filter(tenant=self.tenant, name=name).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(_("Another pair of this desk already has this name."))
        return name

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in _DEFAULTED:  # left empty (or not sent): the model's default, as a new pair has it
            if name not in self.errors and cleaned.get(name) in (None, ""):
                cleaned[name] = _default_of(name)
        perp, cfd = cleaned.get("perp_source"), cleaned.get("cfd_source")
        for field, source, leg, message in (
            ("perp_source", perp, "perpetual", _("%(source)s quotes a CFD: choose a perpetual source here.")),
            ("cfd_source", cfd, "cfd", _("%(source)s quotes a perpetual: choose a CFD source here.")),
        ):
            spec = spec_for(source.venue) if source is not None else None
            if source is not None and (spec is None or spec.leg != leg):
                self.add_error(field, message % {"source": source.label})
        for field in _NON_NEGATIVE:
            value = cleaned.get(field)
            if value is not None and value < 0:
                self.add_error(field, _("Cannot be negative."))
        holding = cleaned.get("expected_holding_hours")
        if holding is not None and holding < 0:
            self.add_error("expected_holding_hours", _("Cannot be negative."))
        interval = cleaned.get("funding_interval_hours")
        if interval is not None and interval <= 0:
            self.add_error("funding_interval_hours", _("Funding happens every few hours: give a positive interval."))
        if (
            cleaned.get("rate_source") == RateSource.SIMULATED
            and perp is not None
            and cfd is not None
            and not (perp.simulated and cfd.simulated)
        ):
            self.add_error(
                "rate_source",
                _(
                    "A simulated USDT/USD rate is for simulated pairs only: choose Binance's USDC/USDT book, or a "
                    "fixed rate (shown as an assumption)."
                ),
            )
        if (
            perp is not None
            and cfd is not None
            and "perp_source" not in self.errors
            and "cfd_source" not in self.errors
        ):
            clash = (
                SourcePair.objects.filter(tenant=self.tenant, perp_source=perp, cfd_source=cfd)
                .exclude(pk=self.instance.pk)
                .first()
            )
            if clash is not None:
                self.add_error("cfd_source", _("The pair %(name)s already joins these two sources.") % {"name": clash})
        return cleaned
