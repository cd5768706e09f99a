"""The JWT API: tokens that carry their tenant, rotation with a blacklist, and 401 for every bad token.

Personas: alice (admin of alpha, which sees the simulated pair), bob (viewer in alpha), charlie (admin of bravo,
which sees no pair). The route sweep reads the URLconf, so a new API route is covered without editing this file.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta
from typing import Any

import jwt
import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.jwt import TENANT_CLAIM, TenantJWTAuthentication, _membership_with_denylist
from accounts.models import ApiTokenGrant, Membership, SessionEnd, User
from accounts.sessions import TENANT_SESSION_KEY, access_token_revoke, token_grant_revoke
from tests.helpers.clients import bearer, bearer_get, obtain

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"
REFRESH = "/api/v1/auth/token/refresh/"
LOGOUT = "/api/v1/auth/logout/"
ME = "/api/v1/me/"
QUOTES = "/api/v1/market/quotes/"
LATEST = "/api/v1/market/spreads/latest/"
CANDLES = "/api/v1/market/spreads/candles/"
PASSWORD = "correct horse battery staple 1"


# --- helpers -----------------------------------------------------------------------------------------------
def post(path: str, body: dict[str, Any], client: Client | None = None) -> Any:
    return (client or Client()).post(path, json.dumps(body), content_type="application/json")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_of(token: str) -> dict[str, Any]:
    payload: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return payload


def api_routes() -> list[str]:
    """Every API route of the URLconf (under /api/) that authenticates by header; the token endpoints
    authenticate by their body instead."""

    def walk(patterns: list[Any], prefix: str) -> list[str]:
        routes = []
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                routes += walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern):
                routes.append("/" + route)
        return routes

    # Any id will do for parameters: a bad token is refused before the object is looked up.
    routes = [re.sub(r"<[^>]+>", "1", r) for r in walk(get_resolver().url_patterns, "") if r.startswith("/api/")]
    return [r for r in routes if not r.startswith("/api/v1/auth/")]


ROUTES = api_routes()


def test_the_sweep_sees_the_routes_that_matter() -> None:
    assert {ME, QUOTES, LATEST, CANDLES, "/api/schema/", "/api/docs/", "/api/v1/system/status/"} <= set(ROUTES)


# --- issue -------------------------------------------------------------------------------------------------
def test_it_issues_tokens_for_the_first_tenant_when_none_is_named(alice: Any, bob: Any) -> None:
    tokens = obtain(bob)

    assert set(tokens) == {"access", "refresh", "tenant"}
    assert tokens["tenant"] == "alpha"
    me = bearer_get(ME, tokens["access"]).json()
    assert (me["user"]["username"], me["tenant"]["slug"], me["role"]) == ("bob", "alpha", "viewer")


def test_it_issues_tokens_for_a_named_tenant(alice: Any, charlie: Any) -> None:
    Membership.objects.create(user=alice.user, tenant=charlie.tenant, role="viewer")

    tokens = obtain(alice, tenant="bravo")

    assert tokens["tenant"] == "bravo"
    assert claims_of(tokens["access"])[TENANT_CLAIM] == charlie.tenant.pk
    me = bearer_get(ME, tokens["access"]).json()
    assert (me["tenant"]["slug"], me["role"]) == ("bravo", "viewer")


def test_access_lives_15_minutes_and_refresh_7_days(alice: Any) -> None:
    tokens = obtain(alice)

    access, refresh = claims_of(tokens["access"]), claims_of(tokens["refresh"])

    assert access["exp"] - access["iat"] == 15 * 60
    assert refresh["exp"] - refresh["iat"] == 7 * 24 * 3600
    assert access[TENANT_CLAIM] == refresh[TENANT_CLAIM] == alice.tenant.pk


@pytest.mark.parametrize(
    "credentials",
    [{"username": "alice", "password": "wrong"}, {"username": "nobody", "password": PASSWORD}],
    ids=["wrong-password", "unknown-user"],
)
def test_wrong_credentials_answer_401_without_tokens(alice: Any, credentials: dict[str, str]) -> None:
    response = post(TOKEN, credentials)

    assert response.status_code == 401
    assert "access" not in response.json()


@pytest.mark.parametrize("slug", ["bravo", "no-such-desk"])
def test_a_tenant_the_user_is_not_a_member_of_is_refused(alice: Any, charlie: Any, slug: str) -> None:
    response = post(TOKEN, {"username": "alice", "password": PASSWORD, "tenant": slug})

    assert response.status_code == 400
    # The same answer whether the tenant exists or not: a token request discloses only the caller's memberships.
    assert response.json() == {"tenant": [f"You are not a member of tenant “{slug}”."]}


def test_a_foreign_tenant_with_a_wrong_password_is_a_401_not_a_tenant_answer(alice: Any, charlie: Any) -> None:
    response = post(TOKEN, {"username": "alice", "password": "wrong", "tenant": "bravo"})

    assert response.status_code == 401
    assert "tenant" not in response.json()


def test_a_user_without_a_tenant_gets_no_token(db: None) -> None:
    User.objects.create_user(username="dave", password=PASSWORD)

    response = post(TOKEN, {"username": "dave", "password": PASSWORD})

    assert response.status_code == 400
    assert response.json() == {"tenant": ["You are not a member of any tenant."]}


# --- the token's tenant ------------------------------------------------------------------------------------
@pytest.fixture
def alice_in_both(alice: Any, charlie: Any) -> Any:
    Membership.objects.create(user=alice.user, tenant=charlie.tenant, role="admin")
    return alice


def test_a_token_for_one_tenant_never_reads_another_even_for_a_member_of_both(
    alice_in_both: Any, alpha_market: Any
) -> None:
    bravo_access = obtain(alice_in_both, tenant="bravo")["access"]
    alpha_access = obtain(alice_in_both, tenant="alpha")["access"]
    # The same browser's session chose alpha: the bravo token must still read bravo only.
    session = Client()
    session.force_login(alice_in_both.user)
    store = session.session
    store[TENANT_SESSION_KEY] = alice_in_both.tenant.pk
    store.save()

    bravo_quotes = bearer_get(QUOTES, bravo_access, session)
    bravo_latest = bearer_get(LATEST, bravo_access, session)
    bravo_candles = bearer_get(CANDLES, bravo_access, session, pair=alpha_market.pair.pk)
    alpha_quotes = bearer_get(QUOTES, alpha_access)

    assert bravo_quotes.status_code == bravo_latest.status_code == 200
    assert bravo_quotes.json()["count"] == 0
    assert bravo_latest.json()["results"] == []
    assert bravo_candles.status_code == 404
    assert alpha_quotes.json()["count"] == 8  # the same user's alpha token does read alpha
    assert bearer_get(ME, bravo_access, session).json()["tenant"]["slug"] == "bravo"


def test_the_session_s_tenant_choice_does_not_widen_a_token(alice_in_both: Any, alpha_market: Any) -> None:
    alpha_access = obtain(alice_in_both, tenant="alpha")["access"]
    session = Client()
    session.force_login(alice_in_both.user)
    store = session.session
    store[TENANT_SESSION_KEY] = Membership.objects.get(user=alice_in_both.user, tenant__slug="bravo").tenant_id
    store.save()

    assert bearer_get(QUOTES, alpha_access, session).json()["count"] == 8
    assert session.get(QUOTES).json()["count"] == 0  # without the token, the session's bravo


def test_a_token_stops_working_when_its_membership_ends(alice: Any, bob: Any) -> None:
    tokens = obtain(bob)
    Membership.objects.filter(user=bob.user).delete()

    assert bearer_get(ME, tokens["access"]).status_code == 401
    assert post(REFRESH, {"refresh": tokens["refresh"]}).status_code == 401


# --- bad tokens: 401 on every API route --------------------------------------------------------------------
def forge(kind: str, alice: Any, charlie: Any) -> str | None:
    genuine = obtain(alice)["access"]
    header, payload, signature = genuine.split(".")
    claims = claims_of(genuine)
    if kind == "missing":
        return None
    if kind == "expired":
        token = AccessToken(genuine)
        token.set_exp(lifetime=-timedelta(seconds=1))
        return str(token)
    if kind == "wrong-key":
        return jwt.encode(claims, "not-our-signing-key-but-long-enough-for-hs256", algorithm="HS256")
    if kind == "alg-none":
        return f"{b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{payload}."
    if kind == "alg-none-signed":
        return f"{b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{payload}.{signature}"
    if kind == "mutated-tenant":
        return f"{header}.{b64(json.dumps({**claims, TENANT_CLAIM: charlie.tenant.pk}).encode())}.{signature}"
    if kind == "mutated-user":
        return f"{header}.{b64(json.dumps({**claims, 'user_id': str(charlie.user.pk)}).encode())}.{signature}"
    if kind == "refresh-as-access":
        return str(obtain(alice)["refresh"])
    if kind == "garbage":
        return "not.a.token"
    raise AssertionError(kind)


BAD_TOKENS = [
    "missing",
    "expired",
    "wrong-key",
    "alg-none",
    "alg-none-signed",
    "mutated-tenant",
    "mutated-user",
    "refresh-as-access",
    "garbage",
]


@pytest.mark.parametrize("kind", BAD_TOKENS)
@pytest.mark.parametrize("route", ROUTES)
def test_a_bad_token_answers_401_on_every_api_route(
    kind: str, route: str, alice: Any, charlie: Any, alpha_market: Any
) -> None:
    token = forge(kind, alice, charlie)
    headers = bearer(token) if token else {}

    response = Client().get(route, {"pair": alpha_market.pair.pk}, headers=headers)

    assert response.status_code == 401, response.content
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert b"results" not in response.content


@pytest.mark.parametrize("kind", [k for k in BAD_TOKENS if k != "missing"])
def test_a_bad_token_is_refused_even_beside_a_valid_session(
    kind: str, alice: Any, charlie: Any, alpha_market: Any
) -> None:
    # Were the session consulted after a failed token, a stolen cookie plus any header would pass.
    token = forge(kind, alice, charlie)
    session = Client()
    session.force_login(alice.user)

    assert session.get(QUOTES).status_code == 200
    assert bearer_get(QUOTES, str(token), session).status_code == 401
    assert bearer_get(ME, str(token), session).status_code == 401


def test_a_password_change_revokes_earlier_tokens(alice: Any) -> None:
    tokens = obtain(alice)
    alice.user.set_password("another horse battery staple 2")
    alice.user.save()

    assert bearer_get(ME, tokens["access"]).status_code == 401
    assert post(REFRESH, {"refresh": tokens["refresh"]}).status_code == 401


# --- refresh and logout ------------------------------------------------------------------------------------
def test_refresh_rotates_and_a_reused_refresh_answers_401(alice: Any) -> None:
    first = obtain(alice)

    rotated = post(REFRESH, {"refresh": first["refresh"]})
    reused = post(REFRESH, {"refresh": first["refresh"]})

    assert rotated.status_code == 200
    second = rotated.json()
    assert set(second) == {"access", "refresh"}
    assert second["refresh"] != first["refresh"]
    assert claims_of(second["access"])[TENANT_CLAIM] == alice.tenant.pk  # the tenant survives rotation
    assert bearer_get(ME, second["access"]).json()["tenant"]["slug"] == "alpha"
    assert reused.status_code == 401
    assert post(REFRESH, {"refresh": second["refresh"]}).status_code == 200


def test_refresh_refuses_an_access_token_and_a_forged_refresh(alice: Any) -> None:
    tokens = obtain(alice)
    forged = jwt.encode(claims_of(tokens["refresh"]), "not-our-signing-key-but-long-enough-for-hs256")
    expired = RefreshToken(tokens["refresh"])
    expired.set_exp(lifetime=-timedelta(seconds=1))

    assert post(REFRESH, {"refresh": tokens["access"]}).status_code == 401
    assert post(REFRESH, {"refresh": forged}).status_code == 401
    assert post(REFRESH, {"refresh": str(expired)}).status_code == 401


def test_logout_blacklists_the_refresh(alice: Any) -> None:
    tokens = obtain(alice)

    response = post(LOGOUT, {"refresh": tokens["refresh"]})

    assert response.status_code == 204
    assert post(REFRESH, {"refresh": tokens["refresh"]}).status_code == 401
    assert post(LOGOUT, {"refresh": tokens["refresh"]}).status_code == 401
    assert post(LOGOUT, {"refresh": "not.a.token"}).status_code == 401


# --- suspended users ---------------------------------------------------------------------------------------
def suspend(user: Any) -> None:
    User.objects.filter(pk=user.pk).update(status="suspended")


def test_a_suspended_user_cannot_obtain_tokens(alice: Any) -> None:
    suspend(alice.user)

    response = post(TOKEN, {"username": "alice", "password": PASSWORD})

    assert response.status_code == 401
    assert "access" not in response.json()


@pytest.mark.parametrize("route", [ME, QUOTES, LATEST])
def test_a_suspended_user_cannot_use_a_token_issued_before(alice: Any, alpha_market: Any, route: str) -> None:
    tokens = obtain(alice)
    suspend(alice.user)

    assert bearer_get(route, tokens["access"]).status_code == 401


def test_a_suspended_user_cannot_refresh(alice: Any) -> None:
    tokens = obtain(alice)
    suspend(alice.user)

    assert post(REFRESH, {"refresh": tokens["refresh"]}).status_code == 401


def test_a_suspended_user_s_session_is_refused_by_the_api(alice: Any, alpha_market: Any) -> None:
    session = Client()
    session.force_login(alice.user)
    suspend(alice.user)

    refused = session.get(QUOTES)

    assert refused.status_code == 403
    assert refused.json() == {"detail": "This account is suspended. Ask an admin of your desk to reactivate it."}
    # The refusal ended the session: what follows is an anonymous caller.
    assert session.get(ME).status_code == 401


# --- what each request reads ---------------------------------------------------------------------------------
def test_a_good_token_is_checked_in_one_query_and_a_revoked_one_is_refused_at_once(
    alice: Any, django_assert_num_queries: Any
) -> None:
    def authenticate(access: str) -> Any:
        return TenantJWTAuthentication().authenticate(Request(APIRequestFactory().get(ME, headers=bearer(access))))

    first, second = obtain(alice), obtain(alice)
    # The user, the membership of the token's tenant and both denylists, in one query (it was four).
    with django_assert_num_queries(1):
        user, _token = authenticate(first["access"])
    assert user == alice.user

    # Read back by hand-written SQL, the instances are the ORM's own: every field, converted alike (SQLite hands
    # datetimes and booleans over as text and numbers).
    checked = _membership_with_denylist(AccessToken(first["access"]))
    assert checked is not None and checked[1] is False
    orm = Membership.objects.select_related("user", "tenant").get(pk=checked[0].pk)
    for read, expected in ((checked[0], orm), (checked[0].user, orm.user), (checked[0].tenant, orm.tenant)):
        for field in type(read)._meta.concrete_fields:
            ours, theirs = getattr(read, field.attname), getattr(expected, field.attname)
            assert (ours, type(ours)) == (theirs, type(theirs)), field

    # Nothing is kept between requests: the denylist holds from the very next one, for the token itself …
    access_token_revoke(token=AccessToken(first["access"]))
    assert bearer_get(ME, first["access"]).json()["detail"] == "This token has been revoked."
    # … and for every token of a revoked family.
    assert bearer_get(ME, second["access"]).status_code == 200
    grant = ApiTokenGrant.objects.get(sid=claims_of(second["refresh"])["sid"])
    token_grant_revoke(grant=grant, reason=SessionEnd.REVOKED, actor=alice.user)
    assert bearer_get(ME, second["access"]).json()["detail"] == "This token has been revoked."
