"""The portal's forms of quote sources and source pairs: each reads its fields, then applies the checks the API's
serializers apply too (trading/marketdata/setup_checks.py), and gives the services the checked values.

A desk admin creates them for their own tenant. A pair picks its legs among the desk's own sources and the
platform's (the simulated reference sources); an MT5 source picks its terminal among the desk's terminals; a
Binance source's endpoint override follows the same rule as a venue account's (accounts/venue_kinds.py).
Every rule answers with a message on the field it is about; nothing is saved unless everything is valid.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Tenant
from trading.marketdata.setup_checks import (
    PAIR_DEFAULTED,
    PAIR_FIELDS,
    SOURCE_VENUES,
    QuoteSourceValues,
    SourcePairValues,
    desk_terminals,
    pair_check,
    pair_default,
    quote_source_check,
    visible_sources,
)
from trading.models import Instrument, QuoteSource, SourcePair


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
        terminal.queryset = desk_terminals(tenant).order_by("label")
        terminal.help_text = _("MT5 sources only: the terminal instance the quotes are read from.")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        given = QuoteSourceValues(
            label=str(cleaned.get("label") or ""),
            venue=str(cleaned.get("venue") or ""),
            instrument=cleaned.get("instrument"),
            terminal=cleaned.get("terminal"),
            rest_endpoint=str(cleaned.get("rest_endpoint") or ""),
            ws_endpoint=str(cleaned.get("ws_endpoint") or ""),
            stale_after_s=cleaned.get("stale_after_s"),
        )
        source = self.instance if self.instance.pk is not None else None
        self.checked, errors = quote_source_check(
            tenant=self.tenant, source=source, values=given, failed=frozenset(self.errors)
        )
        for name in ("label", "instrument"):  # stripped; the venue's reference instrument when none was chosen
            if name not in self.errors:
                cleaned[name] = getattr(self.checked, name)
        self.instance.endpoint = self.checked.endpoint  # the model's own checks (its unique constraints) see it
        for name, message in errors.items():
            self.add_error(name, message)
        return cleaned

    def values(self) -> QuoteSourceValues:
        """The checked values of a valid form."""
        return self.checked


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
        for name in PAIR_DEFAULTED:
            self.fields[name].required = False
            if name != "rate_source":  # a list always has a choice
                self.fields[name].help_text = _("Empty: %(default)s.") % {"default": pair_default(name)}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        read: dict[str, Any] = {name: cleaned.get(name) for name in PAIR_FIELDS}
        read.update(name=str(cleaned.get("name") or ""), enabled=bool(cleaned.get("enabled")))
        given = SourcePairValues(**read)
        pair = self.instance if self.instance.pk is not None else None
        failed = frozenset(self.errors)
        self.checked, errors = pair_check(tenant=self.tenant, pair=pair, values=given, failed=failed)
        cleaned.update((name, getattr(self.checked, name)) for name in PAIR_FIELDS if name not in failed)
        for name, message in errors.items():
            self.add_error(name, message)
        return cleaned

    def values(self) -> SourcePairValues:
        """The checked values of a valid form."""
        return self.checked
