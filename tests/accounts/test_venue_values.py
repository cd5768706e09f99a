"""Venue accounts, pools and MT5 terminals are saved from plain values: the portal validates them with its forms,
the API with its input serializers, both through one set of rules (accounts/venue_rules.py,
mt5ops/terminal_rules.py) that answer with the same words; the services take the values, never a form. Saving a
pool is audited with the fields that changed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from accounts.models import AccountPool, AuditEvent, VenueAccount
from accounts.venue_forms import AccountPoolForm, VenueAccountForm
from accounts.venue_rules import AccountValues, PoolValues
from accounts.venue_services import account_save, pool_save
from mt5ops.forms import TerminalForm
from mt5ops.models import TerminalInstance
from mt5ops.services import terminal_add
from mt5ops.terminal_rules import TerminalValues
from tests import canary
from tests.accounts.helpers import GOOD_KEY, GOOD_SECRET
from tests.helpers.clients import ACCOUNTS, POOLS, api, client_for, patch, post

pytestmark = pytest.mark.django_db


# --- one rule, one message on both surfaces ------------------------------------------------------------------------
def test_a_taken_label_gets_the_forms_words_from_the_api(canary_accounts: Any, alice: Any) -> None:
    data = {"label": "Sim perp", "venue": "simulated-perp", "mode": "paper", "owner": alice.user.pk}
    VenueAccount.objects.filter(pk=canary_accounts["sim_perp"].pk).update(label="Sim perp")
    form = VenueAccountForm(data=data, tenant=alice.tenant)
    assert not form.is_valid()

    answer = post(api(alice), ACCOUNTS, {"label": "Sim perp", "venue": "simulated-perp"})

    assert answer.status_code == 400
    assert answer.json() == {"label": form.errors["label"]}
    assert answer.json()["label"] == ["Another account of this tenant already has this label."]


def test_a_credential_rule_gets_the_forms_words_under_credentials(alice: Any) -> None:
    data = {"label": "B", "venue": "binance-usdm", "mode": "live", "owner": alice.user.pk, "api_key": "short"}
    form = VenueAccountForm(data={**data, "api_secret": GOOD_SECRET}, tenant=alice.tenant)
    assert not form.is_valid()

    answer = post(
        api(alice),
        ACCOUNTS,
        {"label": "B", "venue": "binance-usdm", "credentials": {"api_key": "short", "api_secret": GOOD_SECRET}},
    )

    assert answer.status_code == 400
    assert answer.json()["credentials"]["api_key"] == form.errors["api_key"]
    assert "64 letters and digits" in answer.json()["credentials"]["api_key"][0]


def test_a_pool_leg_of_the_wrong_kind_gets_the_forms_words_from_the_api(canary_accounts: Any, alice: Any) -> None:
    perp = canary_accounts["sim_perp"]
    body = {
        "name": "P",
        "perp_account": perp.pk,
        "cfd_account": perp.pk,
        "perp_allocation": "10",
        "cfd_allocation": "10",
    }
    form = AccountPoolForm(data={**body, "enabled": True}, tenant=alice.tenant)
    assert not form.is_valid()

    answer = post(api(alice), POOLS, body)

    assert answer.status_code == 400
    assert answer.json() == {"cfd_account": form.errors["cfd_account"]}


def test_a_foreign_account_is_not_a_choice_in_either_surface(canary_accounts: Any, alice: Any, charlie: Any) -> None:
    foreign = VenueAccount.objects.create(tenant=charlie.tenant, owner=charlie.user, venue="simulated-cfd", label="F")
    body = {"name": "P", "perp_account": canary_accounts["sim_perp"].pk, "cfd_account": foreign.pk,
            "perp_allocation": "10", "cfd_allocation": "10"}  # fmt: skip
    form = AccountPoolForm(data={**body, "enabled": True}, tenant=alice.tenant)
    assert not form.is_valid()

    answer = post(api(alice), POOLS, body)

    assert answer.status_code == 400 and answer.json()["cfd_account"] == form.errors["cfd_account"]


def test_a_taken_terminal_label_gets_the_forms_words_from_the_api(canary_accounts: Any, alice: Any) -> None:
    form = TerminalForm(data={"label": "Terminal A", "backend": "sim"}, tenant=alice.tenant)
    assert not form.is_valid()

    answer = api(alice).post(
        "/api/v1/mt5/terminals/", {"label": "Terminal A", "backend": "sim"}, content_type="application/json"
    )

    assert answer.status_code == 400 and answer.json() == {"label": form.errors["label"]}


def test_a_model_rule_of_a_terminal_gets_the_same_words_from_the_api(alice: Any) -> None:
    form = TerminalForm(data={"label": "Box", "backend": "native"}, tenant=alice.tenant)
    assert not form.is_valid()

    answer = api(alice).post(
        "/api/v1/mt5/terminals/", {"label": "Box", "backend": "native"}, content_type="application/json"
    )

    assert answer.status_code == 400 and answer.json() == {"terminal_path": form.errors["terminal_path"]}


def test_the_api_answers_in_the_callers_language(canary_accounts: Any, alice: Any) -> None:
    answer = api(alice).post(
        POOLS,
        {"name": "P", "perp_account": canary_accounts["sim_cfd"].pk, "cfd_account": canary_accounts["sim_cfd"].pk,
         "perp_allocation": "1", "cfd_allocation": "1"},
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )  # fmt: skip

    assert answer.status_code == 400
    assert "CFD" in answer.json()["perp_account"][0] and "choose" not in answer.json()["perp_account"][0]


# --- pool saves are audited ----------------------------------------------------------------------------------------
def test_creating_and_changing_a_pool_over_the_api_is_audited_with_the_fields_that_changed(
    canary_accounts: Any, alice: Any
) -> None:
    client = api(alice)
    body = {"name": "Sim pool", "perp_account": canary_accounts["sim_perp"].pk,
            "cfd_account": canary_accounts["sim_cfd"].pk,
            "perp_allocation": "1000", "cfd_allocation": "900"}  # fmt: skip
    created = post(client, POOLS, body)
    assert created.status_code == 201, created.content
    event = AuditEvent.objects.get(action="pool_created")
    assert event.actor_username == "alice" and event.object_id == str(created.json()["id"])
    assert event.summary["pool"] == "Sim pool"
    assert event.summary["fields"] == sorted(
        ["name", "perp_account", "cfd_account", "perp_allocation", "cfd_allocation", "perp_margin_type",
         "perp_leverage", "enabled"]
    )  # fmt: skip
    assert event.summary["values"]["perp_account"] == canary_accounts["sim_perp"].label

    changed = patch(client, f"{POOLS}{created.json()['id']}/", {"cfd_allocation": "950", "perp_leverage": 3})

    assert changed.status_code == 200, changed.content
    assert changed.json()["name"] == "Sim pool" and changed.json()["perp_allocation"] == "1000.00"  # kept
    updated = AuditEvent.objects.get(action="pool_updated")
    assert updated.summary == {
        "pool": "Sim pool",
        "fields": ["cfd_allocation", "perp_leverage"],
        "values": {"cfd_allocation": "950.00", "perp_leverage": 3},
    }
    # Nothing changed: nothing to record.
    assert patch(client, f"{POOLS}{created.json()['id']}/", {"cfd_allocation": "950.00"}).status_code == 200
    assert AuditEvent.objects.filter(action="pool_updated").count() == 1


def test_changing_a_pool_in_the_portal_is_audited(canary_accounts: Any, alice: Any) -> None:
    pool = AccountPool.objects.create(
        tenant=alice.tenant,
        name="Portal pool",
        perp_account=canary_accounts["sim_perp"],
        cfd_account=canary_accounts["sim_cfd"],
        perp_allocation=Decimal(100),
        cfd_allocation=Decimal(100),
        enabled=False,
    )
    data = {"name": "Renamed", "perp_account": pool.perp_account_id, "cfd_account": pool.cfd_account_id,
            "perp_allocation": "100", "cfd_allocation": "100",
            "perp_margin_type": "cross", "perp_leverage": "5"}  # fmt: skip

    answer = client_for(alice).post(reverse("pool", args=[pool.pk]), data)

    assert answer.status_code == 302
    event = AuditEvent.objects.get(action="pool_updated")
    assert event.summary["fields"] == ["name"] and event.summary["values"] == {"name": "Renamed"}


# --- the services take plain values --------------------------------------------------------------------------------
def test_account_save_takes_values_and_keeps_the_secrets_not_given(alice: Any) -> None:
    values = AccountValues(
        label="Direct",
        venue="binance-usdm",
        owner=alice.user,
        mode="live",
        credentials={"api_key": canary.CANARY_API_KEY, "api_secret": canary.CANARY_API_SECRET},
    )
    account = account_save(tenant=alice.tenant, account=None, values=values, actor=alice.user)
    assert account.credential_hints == {"api_key": "••••7777", "api_secret": "••••5555"}
    assert AuditEvent.objects.get(action="secret_created").summary["fields"] == ["api_key", "api_secret"]

    renamed = AccountValues(label="Direct 2", venue="binance-usdm", owner=alice.user, mode="live")
    account_save(tenant=alice.tenant, account=account, values=renamed, actor=alice.user)
    account.refresh_from_db()
    assert account.label == "Direct 2" and account.credentials["api_secret"] == canary.CANARY_API_SECRET
    assert not AuditEvent.objects.filter(action="secret_updated").exists()  # no secret given, none changed

    rotated = AccountValues(
        label="Direct 2", venue="binance-usdm", owner=alice.user, mode="live", credentials={"api_key": GOOD_KEY}
    )
    account_save(tenant=alice.tenant, account=account, values=rotated, actor=alice.user)
    account.refresh_from_db()
    assert account.credentials == {"api_key": GOOD_KEY, "api_secret": canary.CANARY_API_SECRET}
    assert AuditEvent.objects.get(action="secret_updated").summary["fields"] == ["api_key", "api_secret"]


def test_pool_save_takes_values(canary_accounts: Any, alice: Any) -> None:
    values = PoolValues(
        name="Direct pool",
        perp_account=canary_accounts["sim_perp"],
        cfd_account=canary_accounts["sim_cfd"],
        perp_allocation=Decimal("500"),
        cfd_allocation=Decimal("400"),
    )

    pool = pool_save(tenant=alice.tenant, pool=None, values=values, actor=alice.user)

    assert (pool.tenant, pool.enabled, pool.perp_leverage, pool.perp_margin_type) == (alice.tenant, True, 5, "cross")
    assert AuditEvent.objects.get(action="pool_created").summary["pool"] == "Direct pool"


def test_terminal_add_takes_values(alice: Any) -> None:
    terminal = terminal_add(
        tenant=alice.tenant, values=TerminalValues(label="Direct box", backend="sim"), actor=alice.user
    )

    assert TerminalInstance.objects.get(pk=terminal.pk).label == "Direct box" and terminal.agent_key is None
    assert AuditEvent.objects.get(action="terminal_added").summary == {"terminal": "Direct box", "backend": "sim"}
