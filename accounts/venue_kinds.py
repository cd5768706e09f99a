"""Which venues an account may name, which leg each trades, and what credentials each needs: data, no venue I/O.

`binance-usdm` and `ccxt:<exchange id>` go through ccxt (perpetual leg); `bybit-mt5` through the MT5 gateway
(CFD leg); the simulated venues need no credentials. Which exchanges ccxt knows is the venue SDK's knowledge, and only
`trading.venues` imports ccxt: the composition root installs that catalogue here at start-up (quantarb/wiring.py);
until it does, no `ccxt:<id>` venue is known.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Literal

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from quantarb import outbound


class Venue(models.TextChoices):
    BINANCE_USDM = "binance-usdm", _("Binance USDⓈ-M")
    BYBIT_MT5 = "bybit-mt5", _("Bybit MT5")
    SIMULATED_PERP = "simulated-perp", _("Simulated perpetual")
    SIMULATED_CFD = "simulated-cfd", _("Simulated CFD")


class InstrumentKind(models.TextChoices):
    """The leg a venue trades, and the kind of its instruments."""

    PERPETUAL = "perpetual", _("Perpetual")
    CFD = "cfd", _("CFD")


CCXT_PREFIX = "ccxt:"
Leg = Literal["perpetual", "cfd"]
CredentialKind = Literal["none", "api_key", "mt5"]

# Binance API keys and secrets: 64 letters and digits (what Binance issues for HMAC keys).
_BINANCE_KEY = re.compile(r"^[A-Za-z0-9]{64}$")
# Any other ccxt venue: printable, no whitespace, 8–256 characters (venues differ; ccxt sends them as given).
_GENERIC_KEY = re.compile(r"^[!-~]{8,256}$")
# Endpoint overrides: a REST base over http(s), a WebSocket base over ws(s).
REST_URL = URLValidator(schemes=["http", "https"])
WS_URL = URLValidator(schemes=["ws", "wss"])


@dataclass(frozen=True)
class VenueSpec:
    venue: str
    leg: Leg
    credentials: CredentialKind
    simulated: bool
    # The instrument of the reference data that this venue's gold contract is (None: read from the venue's market).
    instrument_venue: str | None
    instrument_symbol: str | None


SPECS: dict[str, VenueSpec] = {
    Venue.BINANCE_USDM: VenueSpec(Venue.BINANCE_USDM, "perpetual", "api_key", False, Venue.BINANCE_USDM, "XAUUSDT"),
    Venue.BYBIT_MT5: VenueSpec(Venue.BYBIT_MT5, "cfd", "mt5", False, Venue.BYBIT_MT5, "XAUUSD.s"),
    Venue.SIMULATED_PERP: VenueSpec(Venue.SIMULATED_PERP, "perpetual", "none", True, Venue.SIMULATED_PERP, "XAUUSDT"),
    Venue.SIMULATED_CFD: VenueSpec(Venue.SIMULATED_CFD, "cfd", "none", True, Venue.SIMULATED_CFD, "XAUUSD.s"),
}


def _no_ccxt_exchanges() -> Collection[str]:
    return frozenset()


_ccxt_exchanges: Callable[[], Collection[str]] = _no_ccxt_exchanges


def install_ccxt_exchanges(catalogue: Callable[[], Collection[str]] | None) -> None:
    """Install what answers which exchange ids ccxt knows (None: none)."""
    global _ccxt_exchanges
    _ccxt_exchanges = catalogue if catalogue is not None else _no_ccxt_exchanges


def spec_for(venue: str) -> VenueSpec | None:
    """The venue's spec, or None when quantarb does not know it (`ccxt:<id>` must name a ccxt exchange)."""
    if venue in SPECS:
        return SPECS[venue]
    if venue.startswith(CCXT_PREFIX):
        exchange_id = venue[len(CCXT_PREFIX) :]
        if exchange_id in _ccxt_exchanges() and exchange_id != "binanceusdm":
            return VenueSpec(venue, "perpetual", "api_key", False, None, None)
    return None


def venue_choices() -> list[tuple[str, str]]:
    """The named venues for forms (any `ccxt:<id>` is accepted as typed)."""
    return [(value, str(label)) for value, label in Venue.choices]


def leg_label(leg: Leg) -> str:
    return str(InstrumentKind(leg).label)


def api_key_problem(venue: str, value: str) -> str | None:
    """Why an API key or secret is malformed for this venue (None: well formed)."""
    pattern = _BINANCE_KEY if venue == Venue.BINANCE_USDM else _GENERIC_KEY
    if pattern.match(value):
        return None
    if venue == Venue.BINANCE_USDM:
        return "binance"
    return "generic"


def endpoint_override_errors(*, venue: str, rest: str, ws: str) -> dict[str, str]:
    """Why an endpoint override cannot be used, by field (`rest_endpoint`, `ws_endpoint`); empty: it can (or there
    is none). The one rule for venue accounts' overrides and quote sources' endpoints: only Binance takes one (ccxt
    rewrites its hosts, VENUES.md), the REST base over http(s) and the WebSocket base over ws(s), both or neither,
    each to a destination the outbound-address policy allows.
    """
    errors: dict[str, str] = {}
    for field, value, validator, message in (
        ("rest_endpoint", rest, REST_URL, _("Enter a URL that starts with http:// or https://.")),
        ("ws_endpoint", ws, WS_URL, _("Enter a URL that starts with ws:// or wss://.")),
    ):
        if not value:
            continue
        try:
            validator(value)
        except ValidationError:
            errors[field] = str(message)
    if errors or not (rest or ws):
        return errors
    # Where they lead: the outbound-address policy (no loopback, private, link-local or metadata address unless the
    # platform allows them), checked now and again on each connection (quantarb/outbound.py).
    for field, value, schemes in (("rest_endpoint", rest, ("https", "http")), ("ws_endpoint", ws, ("wss", "ws"))):
        if value:
            try:
                outbound.check_url(value, schemes=schemes)
            except outbound.DestinationRefused as refused:
                errors[field] = str(refused)
    if errors:
        return errors
    if venue != Venue.BINANCE_USDM:
        errors["rest_endpoint" if rest else "ws_endpoint"] = str(_("Only Binance takes an endpoint override."))
    elif not rest:
        errors["rest_endpoint"] = str(_("Give the REST endpoint with the WebSocket one (both or neither)."))
    elif not ws:
        errors["ws_endpoint"] = str(_("Give the WebSocket endpoint with the REST one (both or neither)."))
    return errors
