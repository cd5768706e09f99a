"""The write paths of quote sources and pairs: the services take plain values (no form, no request), and the API's
write serializers answer a bad value with the very words the portal's forms give, on the same field."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from accounts.models import AuditEvent
from tests.helpers.clients import obtain
from trading.marketdata.forms import QuoteSourceForm, SourcePairForm
from trading.marketdata.services import pair_save, quote_source_save
from trading.marketdata.setup_checks import QuoteSourceValues, SourcePairValues, pair_check, quote_source_check
from trading.models import Instrument, PairAccess, QuoteSource, SourcePair

pytestmark = pytest.mark.django_db
SOURCES = "/api/v1/market/sources/"
PAIRS = "/api/v1/market/pairs/"


def post(persona: Any, path: str, body: Any) -> Any:
    client = Client(headers={"Authorization": f"Bearer {obtain(persona)['access']}"})
    return client.post(path, json.dumps(body), content_type="application/json")


def errors_of(form: Any, field: str) -> list[str]:
    assert not form.is_valid()
    return [str(message) for message in form.errors[field]]


@pytest.fixture
def desk_source(alice: Any, sim_pair: Any) -> QuoteSource:
    values = QuoteSourceValues(label="Binance proxy", venue="binance-usdm", rest_endpoint="https://proxy.example:8443",
                               ws_endpoint="wss://proxy.example:8443")  # fmt: skip
    # The checks fill in the venue's reference instrument; the service saves the values it is given.
    checked, errors = quote_source_check(tenant=alice.tenant, source=None, values=values)
    assert errors == {} and checked.instrument == Instrument.objects.get(venue="binance-usdm", symbol="XAUUSDT")
    return quote_source_save(tenant=alice.tenant, source=None, values=checked, actor=alice.user)


def test_the_source_service_takes_plain_values_and_audits(alice: Any, desk_source: QuoteSource) -> None:
    assert desk_source.tenant == alice.tenant and desk_source.endpoint == "https://proxy.example:8443"
    assert desk_source.key.startswith("alpha-binance-usdm-")
    changed = quote_source_save(
        tenant=alice.tenant,
        source=desk_source,
        values=QuoteSourceValues(label="Renamed", venue="binance-usdm", instrument=desk_source.instrument,
                                 stale_after_s=Decimal(3)),
        actor=alice.user,
    )  # fmt: skip
    changed.refresh_from_db()
    assert (changed.label, changed.endpoint, changed.stale_after_s) == ("Renamed", "", Decimal(3))
    assert AuditEvent.objects.filter(tenant=alice.tenant, action="quote_source_saved").count() == 2


def test_a_taken_source_label_has_the_same_words_on_the_api_and_the_page(alice: Any, desk_source: QuoteSource) -> None:
    body = {"label": desk_source.label, "venue": "simulated-perp"}
    answer = post(alice, SOURCES, body)
    assert answer.status_code == 400
    assert answer.json()["label"] == errors_of(QuoteSourceForm(data=body, tenant=alice.tenant), "label")


def test_the_pair_service_takes_plain_values_grants_and_audits(
    alice: Any, desk_source: QuoteSource, sim_pair: Any
) -> None:
    values = SourcePairValues(name="Live pair", perp_source=desk_source, cfd_source=sim_pair.cfd_source,
                              entry_threshold=Decimal("0.8"), exit_threshold=Decimal("0.1"),
                              rate_source="binance-usdcusdt", perp_fee_rate=Decimal("0.0004"))  # fmt: skip
    # The checks fill in the defaults of the costs left empty; the service saves what it is given.
    checked, errors = pair_check(tenant=alice.tenant, pair=None, values=values)
    assert errors == {} and checked.cfd_fee_rate == SourcePair().cfd_fee_rate
    pair = pair_save(tenant=alice.tenant, pair=None, values=checked, actor=alice.user)
    assert pair.tenant == alice.tenant and pair.perp_fee_rate == Decimal("0.0004")
    assert PairAccess.objects.filter(tenant=alice.tenant, pair=pair).exists()
    pair_save(tenant=alice.tenant, pair=pair, values=replace(checked, enabled=False), actor=alice.user)
    event = AuditEvent.objects.filter(tenant=alice.tenant, action="pair_saved").order_by("-pk").first()
    assert event is not None and event.summary["changed"] == ["enabled"]


def test_a_simulated_rate_on_a_live_pair_has_the_same_words_on_the_api_and_the_page(
    alice: Any, desk_source: QuoteSource, sim_pair: Any
) -> None:
    body = {"name": "Live pair", "perp_source": desk_source.pk, "cfd_source": sim_pair.cfd_source.pk,
            "entry_threshold": "0.80", "exit_threshold": "0.10", "rate_source": "simulated"}  # fmt: skip
    answer = post(alice, PAIRS, body)
    assert answer.status_code == 400
    form = SourcePairForm(data=body, tenant=alice.tenant)
    assert answer.json()["rate_source"] == errors_of(form, "rate_source")
