"""Bad input answers 4xx with a message, never 500 — at the cause, for pages and the API."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def _client(persona: Any) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(persona.user)
    return client


def _post_json(client: Client, path: str, body: Any) -> Any:
    raw = body if isinstance(body, str) else json.dumps(body)
    return client.post(path, raw, content_type="application/json")


@pytest.mark.parametrize(
    "path",
    ["/members/?q=%00", "/members/?q=a%00b", "/admin/accounts/auditevent/?actor=%00", "/api/v1/audit/?actor=%00"],
)
def test_a_nul_in_the_query_string_is_a_400(alice: Any, path: str) -> None:
    response = _client(alice).get(path)
    assert response.status_code == 400
    assert b"NUL" in response.content


def test_a_nul_in_a_form_is_a_400(alice: Any) -> None:
    response = _client(alice).post("/members/", {"username": "x\x00y", "role": "viewer"})
    assert response.status_code == 400


LONE_SURROGATE = '"bad \\ud800 text"'
SURROGATE_BODIES = {
    "/api/v1/strategies/": '{"name": %s, "pool": 1, "mode": "paper", "params": {}}',
    "/api/v1/pools/": '{"name": %s, "perp_account": 1, "cfd_account": 2, "perp_allocation": "1"}',
    "/api/v1/accounts/": '{"label": %s, "venue": "simulated-perp", "mode": "paper"}',
    "/api/v1/alerts/channels/": '{"name": %s, "kind": "email", "target": "a@x.test"}',
    "/api/v1/kill-switches/": '{"scope": "tenant", "reason": %s}',
}


@pytest.mark.parametrize("path", SURROGATE_BODIES)
def test_a_lone_surrogate_in_json_is_a_400(alice: Any, path: str) -> None:
    response = _post_json(_client(alice), path, SURROGATE_BODIES[path] % LONE_SURROGATE)
    assert response.status_code == 400
    assert "surrogate" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/api/v1/strategies/", "/api/v1/alerts/channels/"])
def test_a_nul_in_json_is_a_400(alice: Any, path: str) -> None:
    response = _post_json(_client(alice), path, {"name": "a\x00b"})
    assert response.status_code == 400


def test_json_nested_ten_thousand_deep_is_a_400(alice: Any) -> None:
    deep = "[" * 10_000 + "]" * 10_000
    response = _post_json(_client(alice), "/api/v1/strategies/", '{"name": "n", "params": ' + deep + "}")
    assert response.status_code == 400
    assert "nested" in response.json()["detail"]


def test_more_than_a_thousand_form_fields_on_the_token_endpoint_is_a_400(alice: Any) -> None:
    fields = {f"f{n}": "x" for n in range(1_100)}
    response = Client(raise_request_exception=False).post(
        "/api/v1/auth/token/", {"username": "alice", "password": "x", **fields}
    )
    assert response.status_code == 400
    assert "too large" in response.json()["detail"]


def test_a_username_over_255_characters_is_a_400_at_the_token_endpoint() -> None:
    response = _post_json(
        Client(raise_request_exception=False), "/api/v1/auth/token/", {"username": "u" * 300, "password": "p"}
    )
    assert response.status_code == 400
    assert "username" in response.json()


def test_a_100_kb_strategy_name_is_a_400(alice: Any, paper_pool: Any) -> None:
    body = {"name": "n" * 100_000, "pool": paper_pool.pk, "mode": "paper", "params": {}}
    response = _post_json(_client(alice), "/api/v1/strategies/", body)
    assert response.status_code == 400
    assert "at most 120 characters" in json.dumps(response.json())


@pytest.mark.parametrize("size", ["1e400", "Infinity", "NaN", "-1", "0.0001", "1e20"])
def test_a_size_beyond_its_column_is_a_400(alice: Any, paper_pool: Any, size: str) -> None:
    body = {"pool": paper_pool.pk, "kind": "open_hedge", "direction": "sell_perp", "size_oz": size}
    response = _post_json(_client(alice), "/api/v1/manual-commands/", body)
    assert response.status_code == 400
    assert "size_oz" in response.json()


def test_a_json_list_for_a_single_form_field_is_a_400(alice: Any) -> None:
    body = {"name": "c", "kind": "email", "target": "a@x.test", "quiet_end": [None, None]}
    response = _post_json(_client(alice), "/api/v1/alerts/channels/", body)
    assert response.status_code == 400
    assert "quiet_end" in response.json()


def test_deleting_a_pool_a_strategy_uses_is_a_409_with_a_message(alice: Any, strategy: Any) -> None:
    client = _client(alice)
    response = client.delete(f"/api/v1/pools/{strategy.pool_id}/")
    assert response.status_code == 409
    assert strategy.name in response.json()["detail"]
    page = client.post(f"/venues/pools/{strategy.pool_id}/delete/", follow=True)
    assert page.status_code == 200
    assert strategy.name in page.content.decode()


def test_an_unknown_api_address_answers_json(alice: Any) -> None:
    response = _client(alice).get("/api/v1/accounts/null,null/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


# Fields bounded at last by tests/security/test_field_bounds.py, each answered with a 400 naming it.
def test_an_oversized_credential_is_a_400_naming_it(alice: Any) -> None:
    body = {"label": "big key", "venue": "binance-usdm", "credentials": {"api_key": "k" * 600, "api_secret": "s"}}
    response = _post_json(_client(alice), "/api/v1/accounts/", body)
    assert response.status_code == 400 and "api_key" in response.content.decode()


def test_an_oversized_strategy_note_is_a_400_not_cut(alice: Any, paper_pool: Any) -> None:
    body = {"name": "noted", "pool": paper_pool.pk, "mode": "paper", "note": "n" * 201}
    response = _post_json(_client(alice), "/api/v1/strategies/", body)
    assert response.status_code == 400 and "note" in response.json()


def test_an_oversized_portal_password_is_refused_unhashed(alice: Any) -> None:
    response = Client().post("/accounts/login/", {"username": "alice", "password": "p" * 1025})
    assert response.status_code == 200 and "password" in response.context["form"].errors


def test_an_oversized_kill_switch_reason_is_a_400(alice: Any) -> None:
    response = _post_json(_client(alice), "/api/v1/kill-switches/", {"scope": "tenant", "reason": "r" * 501})
    assert response.status_code == 400 and "reason" in response.json()


def test_the_schema_view_s_own_errors_are_json(alice: Any) -> None:
    # Its default renderer is YAML: an unknown ?format= answered YAML under the schema's own media type.
    response = _client(alice).get("/api/v1/schema/?format=AAA")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}
