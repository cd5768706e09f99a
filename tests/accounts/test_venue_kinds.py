"""Which venues an account may name (accounts/venue_kinds.py): the named ones always, a `ccxt:<id>` venue only among
the exchanges the venue SDK knows, which the composition root installs at start-up (quantarb/wiring.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from accounts.venue_kinds import SPECS, Venue, install_ccxt_exchanges, leg_label, spec_for
from quantarb.wiring import install_venue_catalogue


@pytest.fixture
def wired_again() -> Iterator[None]:
    yield
    install_venue_catalogue()


def test_the_named_venues_are_data_and_need_no_catalogue(wired_again: None) -> None:
    install_ccxt_exchanges(None)
    assert {spec_for(venue) for venue in Venue.values} == set(SPECS.values())
    mt5 = spec_for(Venue.BYBIT_MT5)
    assert mt5 is not None and mt5.leg == "cfd" and mt5.credentials == "mt5"
    assert str(leg_label("perpetual")) == "Perpetual"


def test_a_ccxt_venue_is_known_only_through_the_installed_catalogue(wired_again: None) -> None:
    assert spec_for("ccxt:okx") is not None  # the composition root installed ccxt's exchanges at start-up
    assert spec_for("ccxt:nope") is None
    assert spec_for("ccxt:binanceusdm") is None  # Binance's own venue is `binance-usdm`
    install_ccxt_exchanges(None)
    assert spec_for("ccxt:okx") is None  # unwired: no ccxt venue is known, so none can be named
    install_ccxt_exchanges(lambda: {"okx"})
    spec = spec_for("ccxt:okx")
    assert spec is not None and spec.leg == "perpetual" and spec.credentials == "api_key" and not spec.simulated
