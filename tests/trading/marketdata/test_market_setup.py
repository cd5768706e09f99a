"""Quote sources and pairs a desk admin sets up without a superuser, in the portal and over
`/api/v1/market/sources/` and `/api/v1/market/pairs/`: alice (admin of alpha) creates and edits her desk's own,
bob (viewer of alpha) reads them, charlie (admin of bravo) never sees them (404); the platform's simulated
sources and pair are read-only to every desk; bad input is a 400 with the field's message; every write is
audited."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from accounts.models import AuditEvent, ChangeLogEntry
from mt5ops.models import TerminalInstance
from tests.helpers.clients import api
from trading.models import PairAccess, QuoteSource, SourcePair

pytestmark = pytest.mark.django_db
SOURCES = "/api/v1/market/sources/"
PAIRS = "/api/v1/market/pairs/"


def post(client: Client, path: str, body: Any) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json")


def patch(client: Client, path: str, body: Any) -> Any:
    return client.patch(path, json.dumps(body), content_type="application/json")


def portal(persona: Any) -> Client:
    client = Client()
    client.force_login(persona.user)
    return client


BINANCE = {"label": "Binance proxy", "venue": "binance-usdm", "rest_endpoint": "https://proxy.example:8443",
           "ws_endpoint": "wss://proxy.example:8443"}  # fmt: skip


def pair_body(perp: int, cfd: int, **extra: Any) -> dict[str, Any]:
    return {
        "name": "Live pair",
        "perp_source": perp,
        "cfd_source": cfd,
        "entry_threshold": "0.80",
        "exit_threshold": "0.10",
        "rate_source": "binance-usdcusdt",
        **extra,
    }


@pytest.fixture
def platform_sources(sim_pair: Any) -> dict[str, QuoteSource]:
    return {"perp": sim_pair.perp_source, "cfd": sim_pair.cfd_source}


@pytest.fixture
def terminal(alice: Any) -> TerminalInstance:
    return TerminalInstance.objects.create(tenant=alice.tenant, label="T-alpha", backend="sim")


# --- sources ----------------------------------------------------------------------------------------------------
def test_an_admin_creates_a_binance_source_with_an_endpoint_override(alice: Any, platform_sources: Any) -> None:
    created = post(api(alice), SOURCES, BINANCE)
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["owner"] == "desk" and body["instrument"] == "XAUUSDT"
    assert (body["rest_endpoint"], body["ws_endpoint"]) == ("https://proxy.example:8443", "wss://proxy.example:8443")
    source = QuoteSource.objects.get(pk=body["id"])
    assert source.tenant == alice.tenant and source.endpoint == "https://proxy.example:8443"  # ws derived
    assert source.key.startswith("alpha-binance-usdm-")
    event = AuditEvent.objects.get(tenant=alice.tenant, action="quote_source_saved")
    assert event.summary["created"] is True and event.summary["endpoint"] == source.endpoint
    assert ChangeLogEntry.objects.filter(tenant=alice.tenant, object_pk=str(source.pk)).exists()


def test_an_mt5_source_picks_one_of_the_desk_s_terminals(alice: Any, charlie: Any, terminal: Any) -> None:
    foreign = TerminalInstance.objects.create(tenant=charlie.tenant, label="T-bravo", backend="sim")
    refused = post(api(alice), SOURCES, {"label": "MT5", "venue": "bybit-mt5", "terminal": foreign.pk})
    assert refused.status_code == 400 and "terminal" in refused.json()
    missing = post(api(alice), SOURCES, {"label": "MT5", "venue": "bybit-mt5"})
    assert missing.status_code == 400 and "Choose the MT5 terminal" in missing.json()["terminal"][0]
    created = post(api(alice), SOURCES, {"label": "MT5", "venue": "bybit-mt5", "terminal": terminal.pk})
    assert created.status_code == 201, created.content
    assert created.json()["terminal"] == terminal.pk and created.json()["instrument"] == "XAUUSD.s"
    # The portal's form lists the desk's terminals only.
    page = portal(alice).get("/venues/sources/new/").content.decode()
    assert "T-alpha" in page and "T-bravo" not in page


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({**BINANCE, "rest_endpoint": "ftp://proxy.example"}, "rest_endpoint", "http:// or https://"),
        ({**BINANCE, "ws_endpoint": "https://proxy.example"}, "ws_endpoint", "ws:// or wss://"),
        ({**BINANCE, "ws_endpoint": ""}, "ws_endpoint", "both or neither"),
        ({**BINANCE, "rest_endpoint": ""}, "rest_endpoint", "both or neither"),
        ({**BINANCE, "venue": "simulated-perp"}, "rest_endpoint", "Only Binance"),
        ({**BINANCE, "venue": "kraken"}, "venue", "valid choice"),
        ({"label": "B", "venue": "binance-usdm", "terminal": 1}, "terminal", ""),
        ({"label": "B", "venue": "binance-usdm", "stale_after_s": "0"}, "stale_after_s", ""),
        ({"label": "B", "venue": "binance-usdm", "stale_after_s": "1e400"}, "stale_after_s", ""),
        ({"label": "B", "venue": "simulated-perp", "instrument": 1000}, "instrument", ""),
        ({"label": "", "venue": "binance-usdm"}, "label", ""),
    ],
)
def test_bad_sources_are_400_with_the_field_s_message(
    alice: Any, terminal: Any, body: dict[str, Any], field: str, message: str
) -> None:
    answer = post(api(alice), SOURCES, body)
    assert answer.status_code == 400, answer.content
    assert field in answer.json() and message in " ".join(answer.json()[field]), answer.json()
    assert not QuoteSource.objects.filter(tenant=alice.tenant).exists()


def test_a_source_for_the_same_place_twice_or_a_clashing_label_is_refused(alice: Any) -> None:
    assert post(api(alice), SOURCES, BINANCE).status_code == 201
    again = post(api(alice), SOURCES, {**BINANCE, "label": "Another"})
    assert again.status_code == 400 and "already quotes XAUUSDT from here" in again.json()["rest_endpoint"][0]
    label = post(api(alice), SOURCES, {**BINANCE, "rest_endpoint": "", "ws_endpoint": ""})
    assert label.status_code == 400 and "label" in label.json()


def test_the_api_answers_shapes_it_cannot_read_with_400(alice: Any) -> None:
    client = api(alice)
    assert client.post(SOURCES, "[1]", content_type="application/json").status_code == 400
    assert post(client, SOURCES, {**BINANCE, "colour": "red"}).status_code == 400
    assert post(client, SOURCES, {**BINANCE, "label": {"x": 1}}).status_code == 400
    assert client.post(SOURCES, "{not json", content_type="application/json").status_code == 400


def test_editing_a_source_keeps_its_venue_and_key(alice: Any) -> None:
    client = api(alice)
    created = post(client, SOURCES, BINANCE).json()
    url = f"{SOURCES}{created['id']}/"
    changed = patch(client, url, {"rest_endpoint": "", "ws_endpoint": "", "stale_after_s": "3"})
    assert changed.status_code == 200, changed.content
    assert changed.json()["rest_endpoint"] == "" and changed.json()["stale_after_s"] == "3.00"
    assert changed.json()["key"] == created["key"]
    assert patch(client, url, {"venue": "simulated-perp"}).status_code == 400


def test_platform_sources_are_shown_read_only(alice: Any, platform_sources: Any) -> None:
    platform = platform_sources["perp"]
    client = api(alice)
    listed = {row["id"]: row for row in client.get(SOURCES).json()["results"]}
    assert listed[platform.pk]["owner"] == "platform"
    assert patch(client, f"{SOURCES}{platform.pk}/", {"label": "mine now"}).status_code == 403
    assert client.delete(f"{SOURCES}{platform.pk}/").status_code == 403
    page = portal(alice).get(f"/venues/sources/{platform.pk}/")
    assert page.status_code == 200 and 'data-testid="source-form"' not in page.content.decode()
    assert portal(alice).post(f"/venues/sources/{platform.pk}/", {"label": "x"}).status_code == 403
    assert portal(alice).post(f"/venues/sources/{platform.pk}/delete/").status_code == 404
    platform.refresh_from_db()
    assert platform.label != "mine now"


def test_a_source_in_use_cannot_be_deleted(alice: Any, platform_sources: Any) -> None:
    client = api(alice)
    source = post(client, SOURCES, BINANCE).json()
    pair = post(client, PAIRS, pair_body(source["id"], platform_sources["cfd"].pk))
    assert pair.status_code == 201, pair.content
    refused = client.delete(f"{SOURCES}{source['id']}/")
    assert refused.status_code == 409 and "Live pair" in refused.json()["detail"]
    response = portal(alice).post(f"/venues/sources/{source['id']}/delete/", follow=True)
    assert "delete or change that pair first" in response.content.decode()
    assert client.delete(f"{PAIRS}{pair.json()['id']}/").status_code == 204
    assert client.delete(f"{SOURCES}{source['id']}/").status_code == 204
    assert AuditEvent.objects.filter(tenant=alice.tenant, action="quote_source_deleted").count() == 1


# --- pairs ------------------------------------------------------------------------------------------------------
def test_an_admin_creates_a_pair_granted_to_the_desk_and_audited(alice: Any, platform_sources: Any) -> None:
    client = api(alice)
    perp = post(client, SOURCES, BINANCE).json()
    created = post(client, PAIRS, pair_body(perp["id"], platform_sources["cfd"].pk))
    assert created.status_code == 201, created.content
    pair = SourcePair.objects.get(pk=created.json()["id"])
    assert pair.tenant == alice.tenant and pair.enabled and pair.entry_threshold == Decimal("0.80")
    assert PairAccess.objects.filter(tenant=alice.tenant, pair=pair).exists()
    assert AuditEvent.objects.get(tenant=alice.tenant, action="pair_saved").summary["created"] is True
    # It is the desk's pair everywhere: the market API, the dashboard.
    assert pair.pk in {row["id"] for row in client.get(PAIRS).json()["results"]}
    assert "Live pair" in portal(alice).get("/").content.decode()


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ({"exit_threshold": "0.90"}, "exit_threshold", "below the entry"),
        ({"rate_source": "simulated"}, "rate_source", "simulated pairs only"),
        ({"funding_interval_hours": "0"}, "funding_interval_hours", "positive interval"),
        ({"perp_fee_rate": "-0.001"}, "perp_fee_rate", "negative"),
        ({"entry_threshold": "1e400"}, "entry_threshold", ""),
        ({"entry_threshold": "NaN"}, "entry_threshold", ""),
        ({"fixed_usd_per_usdt": "0", "rate_source": "fixed"}, "fixed_usd_per_usdt", "positive"),
        ({"enabled": "yes"}, "enabled", "true or false"),
    ],
)
def test_bad_pairs_are_400_with_the_field_s_message(
    alice: Any, platform_sources: Any, extra: dict[str, Any], field: str, message: str
) -> None:
    client = api(alice)
    perp = post(client, SOURCES, BINANCE).json()
    answer = post(client, PAIRS, pair_body(perp["id"], platform_sources["cfd"].pk, **extra))
    assert answer.status_code == 400, answer.content
    assert field in answer.json() and message in " ".join(answer.json()[field]), answer.json()
    assert not SourcePair.objects.filter(tenant=alice.tenant).exists()


def test_a_pair_s_legs_are_a_perpetual_and_a_cfd_of_the_desk_or_the_platform(
    alice: Any, charlie: Any, platform_sources: Any
) -> None:
    client = api(alice)
    perp = post(client, SOURCES, BINANCE).json()
    swapped = post(client, PAIRS, pair_body(platform_sources["cfd"].pk, perp["id"]))
    assert swapped.status_code == 400
    assert "choose a perpetual source" in swapped.json()["perp_source"][0]
    assert "choose a CFD source" in swapped.json()["cfd_source"][0]
    foreign = post(api(charlie), SOURCES, {**BINANCE, "label": "Bravo's"}).json()
    across = post(client, PAIRS, pair_body(foreign["id"], platform_sources["cfd"].pk))
    assert across.status_code == 400 and "perp_source" in across.json()
    twice = pair_body(perp["id"], platform_sources["cfd"].pk)
    assert post(client, PAIRS, twice).status_code == 201
    again = post(client, PAIRS, {**twice, "name": "Again"})
    assert again.status_code == 400 and "already joins these two sources" in again.json()["cfd_source"][0]


def test_editing_a_pair_changes_only_what_is_given(alice: Any, platform_sources: Any) -> None:
    client = api(alice)
    perp = post(client, SOURCES, BINANCE).json()
    pair = post(client, PAIRS, pair_body(perp["id"], platform_sources["cfd"].pk)).json()
    url = f"{PAIRS}{pair['id']}/"
    changed = patch(client, url, {"entry_threshold": "1.25", "enabled": False})
    assert changed.status_code == 200, changed.content
    assert changed.json()["entry_threshold"] == "1.25000000" and changed.json()["enabled"] is False
    assert changed.json()["exit_threshold"] == "0.10000000" and changed.json()["name"] == "Live pair"
    assert AuditEvent.objects.filter(tenant=alice.tenant, action="pair_saved").count() == 2


def test_the_platform_pair_is_read_only_to_a_desk(alice: Any, alpha_pair: Any) -> None:
    client = api(alice)
    assert client.get(f"{PAIRS}{alpha_pair.pk}/").json()["owner"] == "platform"
    assert patch(client, f"{PAIRS}{alpha_pair.pk}/", {"entry_threshold": "9"}).status_code == 403
    assert client.delete(f"{PAIRS}{alpha_pair.pk}/").status_code == 403
    page = portal(alice).get(f"/venues/pairs/{alpha_pair.pk}/").content.decode()
    assert 'data-testid="pair-form"' not in page and "A platform pair" in page


# --- roles and desks --------------------------------------------------------------------------------------------
def test_a_viewer_reads_but_never_writes(alice: Any, bob: Any, platform_sources: Any) -> None:
    source = post(api(alice), SOURCES, BINANCE).json()
    pair = post(api(alice), PAIRS, pair_body(source["id"], platform_sources["cfd"].pk)).json()
    client = api(bob)
    assert client.get(SOURCES).status_code == 200 and client.get(f"{PAIRS}{pair['id']}/").status_code == 200
    assert post(client, SOURCES, {**BINANCE, "label": "bob's"}).status_code == 403
    assert patch(client, f"{PAIRS}{pair['id']}/", {"enabled": False}).status_code == 403
    assert client.delete(f"{SOURCES}{source['id']}/").status_code == 403
    web = portal(bob)
    assert web.get("/venues/sources/new/").status_code == 403
    assert web.get("/venues/pairs/new/").status_code == 403
    detail = web.get(f"/venues/pairs/{pair['id']}/")
    assert detail.status_code == 200 and 'data-testid="pair-form"' not in detail.content.decode()
    assert web.post(f"/venues/pairs/{pair['id']}/", {"name": "x"}).status_code == 403
    assert 'data-testid="new-pair"' not in web.get("/venues/pairs/").content.decode()


def test_another_desk_sees_nothing_of_it(alice: Any, charlie: Any, platform_sources: Any) -> None:
    source = post(api(alice), SOURCES, BINANCE).json()
    pair = post(api(alice), PAIRS, pair_body(source["id"], platform_sources["cfd"].pk)).json()
    client = api(charlie)
    assert client.get(f"{SOURCES}{source['id']}/").status_code == 404
    assert client.get(f"{PAIRS}{pair['id']}/").status_code == 404
    assert patch(client, f"{PAIRS}{pair['id']}/", {"enabled": False}).status_code == 404
    assert client.delete(f"{SOURCES}{source['id']}/").status_code == 404
    assert source["id"] not in {row["id"] for row in client.get(SOURCES).json()["results"]}
    assert pair["id"] not in {row["id"] for row in client.get(PAIRS).json()["results"]}
    web = portal(charlie)
    for url in (f"/venues/sources/{source['id']}/", f"/venues/pairs/{pair['id']}/"):
        assert web.get(url).status_code == 404
        assert web.post(url, {"label": "x", "name": "x"}).status_code == 404
    assert web.post(f"/venues/pairs/{pair['id']}/delete/").status_code == 404
    assert "Binance proxy" not in web.get("/venues/sources/").content.decode()
    assert SourcePair.objects.get(pk=pair["id"]).enabled


# --- portal pages -----------------------------------------------------------------------------------------------
def test_empty_states_say_what_to_do_next(alice: Any) -> None:
    web = portal(alice)
    sources = web.get("/venues/sources/").content.decode()
    pairs = web.get("/venues/pairs/").content.decode()
    assert 'data-testid="no-sources"' in sources and "New source" in sources
    assert 'data-testid="no-pairs"' in pairs and "Add the two sources first" in pairs
    assert 'data-testid="nav-market-setup"' in pairs


def test_the_portal_forms_create_and_answer_errors_inline(alice: Any, platform_sources: Any) -> None:
    web = portal(alice)
    bad = web.post("/venues/sources/new/", {"label": "B", "venue": "binance-usdm", "rest_endpoint": "https://p.example"},
                   headers={"HX-Request": "true"})  # fmt: skip
    assert bad.status_code == 400 and "both or neither" in bad.content.decode()
    good = web.post("/venues/sources/new/", {**BINANCE})
    assert good.status_code == 302
    source = QuoteSource.objects.get(tenant=alice.tenant)
    form = {
        "name": "Portal pair",
        "perp_source": source.pk,
        "cfd_source": platform_sources["cfd"].pk,
        "entry_threshold": "0.5",
        "exit_threshold": "0.05",
        "perp_fee_rate": "0.0005",
        "cfd_fee_rate": "0",
        "cfd_commission_per_oz": "0",
        "slippage_usd_per_oz": "0.1",
        "expected_holding_hours": "24",
        "funding_rate": "0.0001",
        "funding_interval_hours": "8",
        "swap_long_per_oz_night": "-0.45",
        "swap_short_per_oz_night": "0.2",
        "rate_source": "fixed",
        "fixed_usd_per_usdt": "1",
        "enabled": "on",
    }
    created = web.post("/venues/pairs/new/", form, headers={"HX-Request": "true"})
    assert created.status_code == 204 and created["HX-Redirect"].startswith("/venues/pairs/")
    pair = SourcePair.objects.get(tenant=alice.tenant)
    listed = web.get("/venues/pairs/").content.decode()
    assert "Portal pair" in listed and 'data-state="starting"' in listed  # enabled, the engine not seen it yet
    edited = web.post(f"/venues/pairs/{pair.pk}/", {**form, "exit_threshold": "0.6", "entry_threshold": "0.5"})
    assert edited.status_code == 400 and "below the entry threshold" in edited.content.decode()


def test_the_openapi_schema_documents_the_setup_routes(alice: Any) -> None:
    schema = portal(alice).get("/api/schema/", {"format": "json"}).json()
    for path in (SOURCES, f"{SOURCES}{{source_id}}/", PAIRS, f"{PAIRS}{{pair_id}}/"):
        assert path in schema["paths"], path
    assert "post" in schema["paths"][SOURCES] and "patch" in schema["paths"][f"{PAIRS}{{pair_id}}/"]
