"""Venue accounts, encrypted credentials and pools: API, portal, encryption at rest, rotation, sync."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from accounts.crypto import _fernet_for
from accounts.models import AccountPool, AccountSnapshot, AuditEvent, ChangeLogEntry, VenueAccount
from tests import canary
from tests.accounts.helpers import GOOD_KEY, GOOD_SECRET, pool_body
from tests.helpers.clients import ACCOUNTS, POOLS, api, client_for, patch, post
from trading.account_sync import sync_accounts

pytestmark = pytest.mark.django_db


# --- encryption at rest --------------------------------------------------------------------------------------
def raw_credentials() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM accounts_venueaccount WHERE credentials IS NOT NULL")
        return [row[0] for row in cursor.fetchall()]


def test_the_database_and_its_dump_hold_no_plaintext_secret(canary_accounts: Any) -> None:
    tokens = raw_credentials()
    assert len(tokens) == 2
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_venueaccount")
        everything = repr(cursor.fetchall())
    dump = StringIO()
    call_command("dumpdata", "accounts.venueaccount", stdout=dump)
    for secret in canary.CANARIES:
        assert secret not in everything and secret not in dump.getvalue()
        assert secret[3:-3] not in everything
    # Python code still reads them.
    assert VenueAccount.objects.get(label="Binance live").credentials["api_key"] == canary.CANARY_API_KEY


def test_rotation_re_encrypts_so_the_old_key_can_go(canary_accounts: Any, settings: Any) -> None:
    old = settings.QUANTARB_FIELD_KEYS[0]
    new = Fernet.generate_key().decode()
    settings.QUANTARB_FIELD_KEYS = [new, old]
    _fernet_for.cache_clear()
    before = raw_credentials()
    call_command("rotate_credential_keys", stdout=StringIO())
    after = raw_credentials()
    assert set(before).isdisjoint(after)
    settings.QUANTARB_FIELD_KEYS = [new]  # the old key retired
    _fernet_for.cache_clear()
    for account in VenueAccount.objects.exclude(credentials=None):
        assert account.credentials  # decrypts with the new key alone
    assert VenueAccount.objects.get(label="MT5 live").credentials["password"] == canary.CANARY_MT5_PASSWORD
    _fernet_for.cache_clear()


def test_without_the_key_a_credential_cannot_be_read(canary_accounts: Any, settings: Any) -> None:
    from django.core.exceptions import ImproperlyConfigured

    settings.QUANTARB_FIELD_KEYS = [Fernet.generate_key().decode()]
    _fernet_for.cache_clear()
    with pytest.raises(ImproperlyConfigured, match="cannot be decrypted"):
        VenueAccount.objects.get(label="Binance live").credentials  # noqa: B018
    _fernet_for.cache_clear()


# --- the API: create, read, validate ---------------------------------------------------------------------------
def test_admin_creates_accounts_and_secrets_come_back_masked(alice: Any) -> None:
    client = api(alice)
    response = post(
        client,
        ACCOUNTS,
        {
            "label": "Binance 2",
            "venue": "binance-usdm",
            "mode": "live",
            "credentials": {"api_key": canary.CANARY_API_KEY, "api_secret": canary.CANARY_API_SECRET},
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["credential_hints"] == {"api_key": "••••7777", "api_secret": "••••5555"}
    assert body["leg"] == "perpetual" and body["owner"] == "alice"
    event = AuditEvent.objects.get(action="secret_created")
    assert event.summary == {"account": "Binance 2", "venue": "binance-usdm", "fields": ["api_key", "api_secret"]}
    # The change log has the account, never the credentials.
    entry = ChangeLogEntry.objects.get(content_type__model="venueaccount", object_pk=str(body["id"]))
    assert "credentials" not in (entry.changes or {})


def test_simulated_accounts_need_no_credentials(alice: Any) -> None:
    response = post(api(alice), ACCOUNTS, {"label": "Sim", "venue": "simulated-perp"})
    assert response.status_code == 201 and response.json()["credential_hints"] == {}
    assert response.json()["mode"] == "paper"


def test_a_ccxt_venue_by_exchange_id(alice: Any) -> None:
    ok = post(
        api(alice),
        ACCOUNTS,
        {"label": "OKX", "venue": "ccxt:okx", "credentials": {"api_key": "okx-key-123", "api_secret": "okx-sec-456"}},
    )
    assert ok.status_code == 201, ok.content
    assert ok.json()["leg"] == "perpetual"


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"label": "X", "venue": "kraken"}, ("venue",)),
        ({"label": "X", "venue": "ccxt:nope"}, ("venue",)),
        (
            {"label": "X", "venue": "binance-usdm", "credentials": {"api_key": "short", "api_secret": GOOD_SECRET}},
            ("credentials", "api_key"),
        ),
        ({"label": "X", "venue": "binance-usdm", "credentials": {"api_key": GOOD_KEY}}, ("credentials", "api_secret")),
        (
            {"label": "X", "venue": "bybit-mt5", "credentials": {"login": "abc", "password": "p", "server": "s"}},
            ("credentials", "login"),
        ),
        (
            {"label": "X", "venue": "bybit-mt5", "credentials": {"login": "123", "password": "p", "server": "s"}},
            ("credentials", "terminal"),
        ),
        ({"label": "X", "venue": "simulated-perp", "mode": "live"}, ("mode",)),
        ({"label": "X", "venue": "simulated-cfd", "credentials": {"api_key": GOOD_KEY}}, ("credentials", "api_key")),
        ({"venue": "simulated-perp"}, ("label",)),
        ({"label": "X", "venue": "simulated-perp", "mode": "yolo"}, ("mode",)),
        ({"label": "X", "venue": "simulated-perp", "credentials": {"pin": "1"}}, ("credentials",)),
        ({"label": "X", "venue": "simulated-perp", "credentials": "secret"}, ("credentials",)),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_saves_nothing(alice: Any, body: Any, where: tuple[str, ...]) -> None:
    response = post(api(alice), ACCOUNTS, body)
    assert response.status_code == 400, response.content
    errors = response.json()
    for key in where:
        assert key in errors, (where, errors)
        errors = errors[key]
    assert errors
    assert not VenueAccount.objects.exists()


def test_a_terminal_of_another_tenant_is_not_a_choice(alice: Any, charlie: Any) -> None:
    from mt5ops.models import TerminalInstance

    foreign = TerminalInstance.objects.create(tenant=charlie.tenant, label="theirs")
    response = post(
        api(alice),
        ACCOUNTS,
        {
            "label": "MT5",
            "venue": "bybit-mt5",
            "credentials": {"login": "123", "password": "p", "server": "s", "terminal": foreign.pk},
        },
    )
    assert response.status_code == 400 and "terminal" in response.json()["credentials"]


def test_patch_keeps_stored_secrets_and_replaces_given_ones(canary_accounts: Any, alice: Any) -> None:
    account = canary_accounts["binance"]
    client = api(alice)
    renamed = patch(client, f"{ACCOUNTS}{account.pk}/", {"label": "Binance renamed"})
    assert renamed.status_code == 200, renamed.content
    account.refresh_from_db()
    assert account.credentials["api_secret"] == canary.CANARY_API_SECRET
    assert not AuditEvent.objects.filter(action="secret_updated").exists()
    changed = patch(client, f"{ACCOUNTS}{account.pk}/", {"credentials": {"api_key": GOOD_KEY}})
    assert changed.status_code == 200
    account.refresh_from_db()
    assert account.credentials == {"api_key": GOOD_KEY, "api_secret": canary.CANARY_API_SECRET}
    assert AuditEvent.objects.get(action="secret_updated").summary["fields"] == ["api_key", "api_secret"]
    assert patch(client, f"{ACCOUNTS}{account.pk}/", {"venue": "simulated-perp"}).json()["venue"] == "binance-usdm"


@pytest.mark.parametrize(
    ("who", "reads", "writes"), [("tom", 200, 403), ("ana", 200, 403), ("bob", 200, 403), ("cora", 403, 403)]
)
def test_roles(canary_accounts: Any, request: Any, who: str, reads: int, writes: int) -> None:
    client = api(request.getfixturevalue(who))
    assert client.get(ACCOUNTS).status_code == reads
    assert client.get(POOLS).status_code == reads
    assert post(client, ACCOUNTS, {"label": "X", "venue": "simulated-perp"}).status_code == writes
    account = canary_accounts["sim_perp"]
    assert client.post(f"{ACCOUNTS}{account.pk}/test/").status_code == writes
    assert client.delete(f"{ACCOUNTS}{account.pk}/").status_code == writes


def test_a_foreign_account_or_pool_is_a_404(canary_accounts: Any, charlie: Any) -> None:
    client = api(charlie)
    account, pool = canary_accounts["binance"], canary_accounts["live_pool"]
    assert client.get(f"{ACCOUNTS}{account.pk}/").status_code == 404
    assert patch(client, f"{ACCOUNTS}{account.pk}/", {"label": "mine"}).status_code == 404
    assert client.post(f"{ACCOUNTS}{account.pk}/test/").status_code == 404
    assert client.delete(f"{ACCOUNTS}{account.pk}/").status_code == 404
    assert client.get(f"{POOLS}{pool.pk}/").status_code == 404
    assert client.get(ACCOUNTS).json()["results"] == []


def test_an_account_in_a_pool_cannot_be_deleted(canary_accounts: Any, alice: Any) -> None:
    response = api(alice).delete(f"{ACCOUNTS}{canary_accounts['binance'].pk}/")
    assert response.status_code == 409 and "pool" in response.json()["detail"]


# --- test connection -------------------------------------------------------------------------------------------
def test_testing_records_the_result_and_audits_it(canary_accounts: Any, alice: Any) -> None:
    client = api(alice)
    sim = client.post(f"{ACCOUNTS}{canary_accounts['sim_perp'].pk}/test/").json()
    assert sim["ok"] is True and "Simulated" in sim["message"]
    # A closed loopback port: the live check runs and reports the venue unreachable (no test leaves this host).
    VenueAccount.objects.filter(pk=canary_accounts["binance"].pk).update(
        rest_endpoint="http://127.0.0.1:9", ws_endpoint="ws://127.0.0.1:9"
    )
    live = client.post(f"{ACCOUNTS}{canary_accounts['binance'].pk}/test/").json()
    assert live["ok"] is False and "unreachable" in live["message"]
    account = VenueAccount.objects.get(pk=canary_accounts["binance"].pk)
    assert account.last_test_ok is False and account.last_test_at is not None
    assert AuditEvent.objects.filter(action="secret_tested").count() == 2


# --- pools -----------------------------------------------------------------------------------------------------
def test_a_pool_pairs_a_perp_and_a_cfd_and_shows_the_derived_hedge_ratio(canary_accounts: Any, alice: Any) -> None:
    response = post(api(alice), POOLS, pool_body(canary_accounts["sim_perp"], canary_accounts["sim_cfd"]))
    assert response.status_code == 201, response.content
    ratio = response.json()["hedge_ratio"]
    assert ratio["ounces_per_lot"] == "100.000" and ratio["contracts_per_lot"] == "100"  # never 1E+2


@pytest.mark.parametrize(
    ("legs", "field", "message"),
    [
        (("sim_perp", "sim_perp"), "cfd_account", "perpetual account"),
        (("sim_cfd", "sim_cfd"), "perp_account", "CFD account"),
        (("sim_perp", "mt5"), "cfd_account", "simulated account pairs only"),
        (("binance", "sim_cfd"), "cfd_account", "simulated account pairs only"),
        (("binance", "mt5"), "perp_account", "already in the enabled pool"),
    ],
)
def test_pool_validation(canary_accounts: Any, alice: Any, legs: tuple[str, str], field: str, message: str) -> None:
    perp, cfd = canary_accounts[legs[0]], canary_accounts[legs[1]]
    response = post(api(alice), POOLS, pool_body(perp, cfd))
    assert response.status_code == 400
    assert any(message in text for text in response.json()[field]), response.json()
    assert AccountPool.objects.count() == 1  # only the fixture's


def test_pool_across_tenants_and_missing_fields(canary_accounts: Any, alice: Any, charlie: Any) -> None:
    foreign = VenueAccount.objects.create(tenant=charlie.tenant, owner=charlie.user, venue="simulated-cfd", label="F")
    across = post(api(alice), POOLS, pool_body(canary_accounts["sim_perp"], foreign))
    assert across.status_code == 400 and "cfd_account" in across.json()
    missing = post(api(alice), POOLS, {"name": "P"})
    assert missing.status_code == 400 and {"perp_account", "cfd_account", "perp_allocation"} <= set(missing.json())
    assert (
        post(
            api(alice), POOLS, pool_body(canary_accounts["sim_perp"], canary_accounts["sim_cfd"], perp_allocation="-1")
        ).status_code
        == 400
    )


@pytest.fixture
def live_accounts_pass(canary_accounts: Any, binance_fake: Any, mt5_bridge: Any) -> dict[str, Any]:
    """Alpha's live accounts pointed at the fakes, where their connection tests pass (enabling a pool tests them)."""
    binance_fake.config(api_keys={canary.CANARY_API_KEY: canary.CANARY_API_SECRET})
    VenueAccount.objects.filter(pk=canary_accounts["binance"].pk).update(
        rest_endpoint=binance_fake.rest_url, ws_endpoint=binance_fake.ws_url
    )
    mt5_bridge.terminal.qa_configure(accounts={81234567: (canary.CANARY_MT5_PASSWORD, "Bybit-Live")})
    terminal = canary_accounts["terminal"]
    terminal.bridge_port = mt5_bridge.port
    terminal.save()
    return dict(canary_accounts)


@pytest.mark.timeout(120)
def test_a_disabled_pool_frees_its_accounts(live_accounts_pass: Any, alice: Any) -> None:
    canary_accounts = live_accounts_pass
    client = api(alice)
    live = canary_accounts["live_pool"]
    assert patch(client, f"{POOLS}{live.pk}/", {"enabled": False}).json()["enabled"] is False
    again = post(client, POOLS, pool_body(canary_accounts["binance"], canary_accounts["mt5"], name="Live 2"))
    assert again.status_code == 201, again.content
    assert patch(client, f"{POOLS}{live.pk}/", {"enabled": True}).status_code == 400


# --- balance sync ------------------------------------------------------------------------------------------------
def _binance_unreachable(canary_accounts: Any) -> None:
    """Point the canary live Binance account at a closed loopback port: its live sync runs and fails there (no test
    leaves this host; the live sync itself is proven against the fake Binance in
    tests/trading/test_account_sync_binance.py)."""
    VenueAccount.objects.filter(pk=canary_accounts["binance"].pk).update(
        rest_endpoint="http://127.0.0.1:9", ws_endpoint="ws://127.0.0.1:9"
    )


def test_sync_snapshots_simulated_accounts_and_skips_live_ones(canary_accounts: Any, frozen_clock: Any) -> None:
    _binance_unreachable(canary_accounts)
    terminal = canary_accounts["terminal"]
    terminal.bridge_port = 9  # nothing listens: the live MT5 account is read from its terminal, and fails here
    terminal.save()
    counts = sync_accounts()
    # both live reads fail on closed loopback ports (nothing asked us to back off)
    assert counts == {"synced": 2, "skipped": 0, "failed": 2, "backed_off": 0}
    binance = VenueAccount.objects.get(pk=canary_accounts["binance"].pk)
    assert binance.status == "error" and "unreachable" in binance.last_error
    assert "no MT5 bridge answered" in VenueAccount.objects.get(pk=canary_accounts["mt5"].pk).last_error
    snapshot = AccountSnapshot.objects.get(account=canary_accounts["sim_perp"])
    assert snapshot.currency == "USDT" and snapshot.equity == snapshot.balance and snapshot.margin_level is None
    assert AccountSnapshot.objects.get(account=canary_accounts["sim_cfd"]).currency == "USD"
    assert VenueAccount.objects.get(pk=canary_accounts["sim_perp"].pk).last_sync_at == frozen_clock.now()


def test_the_sync_job_is_scheduled() -> None:
    from quantarb.schedule import SCHEDULE

    assert any(job.task == "trading.tasks.sync_accounts" for job in SCHEDULE)


# --- the portal --------------------------------------------------------------------------------------------------
def test_pages_show_status_hints_and_totals(canary_accounts: Any, bob: Any, frozen_clock: Any) -> None:
    _binance_unreachable(canary_accounts)
    sync_accounts()
    client = client_for(bob)
    page = client.get(reverse("venue_accounts")).content.decode()
    assert "Binance live" in page and "••••7777" in page and 'data-testid="operator-totals"' in page
    totals = page[page.index('data-testid="operator-totals"') : page.index('data-testid="accounts"')]
    assert "alice" in totals and "4 accounts" in totals  # one card per operator, all their accounts
    assert totals.count("100,000.00") == 2 and "USDT" in totals and "USD<" in totals  # per currency, not summed
    assert 'data-testid="new-account"' not in page
    detail = client.get(reverse("venue_account", args=[canary_accounts["mt5"].pk])).content.decode()
    assert "Bybit-Live" in detail and 'data-testid="account-form"' not in detail and "test-connection" not in detail
    pool = client.get(reverse("pool", args=[canary_accounts["live_pool"].pk])).content.decode()
    assert "100 oz" in pool and 'data-testid="pool-form"' not in pool


def test_portal_forms_answer_htmx_with_inline_errors_and_redirect_on_success(alice: Any) -> None:
    client = client_for(alice)
    bad = client.post(
        reverse("venue_account_create"),
        {"label": "B", "venue": "binance-usdm", "mode": "paper", "owner": alice.user.pk, "api_key": "x"},
        HTTP_HX_REQUEST="true",
    )
    assert bad.status_code == 400
    assert b"64 letters and digits" in bad.content and b"<html" not in bad.content
    good = client.post(
        reverse("venue_account_create"),
        {"label": "S", "venue": "simulated-perp", "mode": "paper", "owner": alice.user.pk},
        HTTP_HX_REQUEST="true",
    )
    assert good.status_code == 204 and good["HX-Redirect"].startswith("/venues/accounts/")
    plain = client.post(reverse("venue_account_create"), {"label": "", "venue": "simulated-perp"})
    assert plain.status_code == 400 and b"<html" in plain.content


def test_viewers_cannot_post_portal_forms(canary_accounts: Any, bob: Any) -> None:
    client = client_for(bob)
    assert client.post(reverse("venue_account_create"), {"label": "x"}).status_code == 403
    assert client.post(reverse("venue_account_test", args=[canary_accounts["sim_perp"].pk])).status_code == 403
    assert client.post(reverse("pool_delete", args=[canary_accounts["live_pool"].pk])).status_code == 403
    assert (
        client.post(reverse("venue_account", args=[canary_accounts["sim_perp"].pk]), {"label": "x"}).status_code == 403
    )


def test_the_error_page_never_shows_posted_credentials(alice: Any, monkeypatch: Any, settings: Any) -> None:
    """DEBUG's technical 500 page lists POST data unless the view marks it sensitive; the canary middleware
    would fail this test if it showed the key."""

    def boom(**kwargs: Any) -> None:
        raise RuntimeError("storage failed")

    settings.DEBUG = True
    monkeypatch.setattr("accounts.venue_views.account_save", boom)
    client = client_for(alice)
    client.raise_request_exception = False
    response = client.post(
        reverse("venue_account_create"),
        {
            "label": "B",
            "venue": "binance-usdm",
            "mode": "live",
            "owner": alice.user.pk,
            "api_key": canary.CANARY_API_KEY,
            "api_secret": canary.CANARY_API_SECRET,
        },
    )
    assert response.status_code == 500
    page = response.content.decode()
    assert "storage failed" in page and "api_key" in page
    assert canary.CANARY_API_KEY not in page and canary.CANARY_API_SECRET not in page


def test_the_schema_marks_credentials_write_only(bob: Any) -> None:
    import yaml

    client = client_for(bob)
    schema = yaml.safe_load(client.get("/api/schema/").content)
    credentials = schema["components"]["schemas"]["Credentials"]["properties"]
    assert {"api_key", "api_secret", "login", "password", "server", "terminal"} <= set(credentials)
    assert all(field.get("writeOnly") for field in credentials.values())
    account = schema["components"]["schemas"]["Account"]["properties"]
    assert "credentials" not in account and account["credential_hints"]["readOnly"]
    assert "/api/v1/accounts/{account_id}/test/" in schema["paths"]


def test_deleting_a_pool_is_audited_and_a_pool_in_use_stays_unrecorded(canary_accounts: Any, alice: Any) -> None:
    from accounts.models import AccountPool, AuditEvent

    pool = canary_accounts["live_pool"]
    client = client_for(alice)
    answer = client.delete(f"/api/v1/pools/{pool.pk}/", REMOTE_ADDR="10.0.0.8", HTTP_USER_AGENT="desk/2")

    assert answer.status_code == 204 and not AccountPool.objects.filter(pk=pool.pk).exists()
    event = AuditEvent.objects.get(tenant=alice.tenant, action="pool_deleted")
    assert (event.summary["pool"], event.actor_username, event.ip, event.user_agent) == (
        "Live pool",
        "alice",
        "10.0.0.8",
        "desk/2",
    )
