"""The permission matrix: one table in code, the same in the docs, enforced in the API and the portal.

Personas of alpha cover every role (alice admin, tom trader, ana analyst, bob viewer, cora compliance); charlie
is the admin of bravo.
"""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from accounts.choices import Role
from accounts.models import Membership, User
from accounts.permissions import (
    MATRIX,
    ROLE_COLUMNS,
    Perm,
    matrix_markdown,
    permission_required,
    permissions_for,
    role_has,
)

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent.parent
PASSWORD = "correct horse battery staple 1"
PERSONAS = ["alice", "tom", "ana", "bob", "cora", "charlie"]
MARKET = [
    "/api/v1/market/quotes/",
    "/api/v1/market/spreads/latest/",
    "/api/v1/market/spreads/candles/",
    "/api/v1/market/opportunities/",
]


def access_token(persona: Any) -> str:
    response = Client().post(
        "/api/v1/auth/token/",
        json.dumps({"username": persona.user.username, "password": PASSWORD}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    token: str = response.json()["access"]
    return token


# --- the table ---------------------------------------------------------------------------------------------
def test_the_matrix_names_every_permission_once_and_every_role() -> None:
    assert sorted(grant.permission for grant in MATRIX) == sorted(Perm)
    assert set(ROLE_COLUMNS) == set(Role)


def test_the_docs_carry_the_same_table() -> None:
    docs = (ROOT / "docs" / "permissions.md").read_text()

    table = docs.split("<!-- matrix:start -->\n", 1)[1].split("<!-- matrix:end -->", 1)[0]

    assert table == matrix_markdown()


@pytest.mark.parametrize(
    ("role", "granted", "refused"),
    [
        (Role.ADMIN, set(Perm), set()),
        (Role.TRADER, {Perm.STRATEGY_OPERATE, Perm.ORDER_SUBMIT, Perm.TRADING_EXPORT}, {Perm.AUDIT_READ}),
        (Role.ANALYST, {Perm.TRADING_READ, Perm.TRADING_EXPORT}, {Perm.AUDIT_READ, Perm.STRATEGY_OPERATE}),
        (Role.VIEWER, {Perm.DASHBOARD_VIEW, Perm.TRADING_READ}, {Perm.TRADING_EXPORT, Perm.ACCOUNT_MANAGE}),
        (Role.COMPLIANCE, {Perm.AUDIT_READ, Perm.MEMBER_VIEW, Perm.ADMIN_SITE}, {Perm.MEMBER_MANAGE}),
    ],
)
def test_roles_hold_what_the_issue_describes(role: Role, granted: set[Perm], refused: set[Perm]) -> None:
    # Written out independently of the table, so an edit of the table that breaks a role's description fails.
    assert granted <= permissions_for(role)
    assert not refused & permissions_for(role)


@pytest.mark.parametrize("role", list(Role))
def test_every_role_reads_the_dashboard_and_market_data(role: Role) -> None:
    assert role_has(role, Perm.DASHBOARD_VIEW)
    assert role_has(role, Perm.MARKET_READ)


def test_no_role_no_permissions() -> None:
    assert permissions_for(None) == frozenset()
    assert permissions_for("owner") == frozenset()


# --- /me -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("who", PERSONAS)
def test_me_answers_the_role_and_its_permissions_from_the_matrix(who: str, request: Any) -> None:
    persona = request.getfixturevalue(who)

    body = Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {access_token(persona)}").json()

    assert body["user"]["username"] == who
    assert body["tenant"] == {"id": persona.tenant.pk, "slug": persona.tenant.slug, "name": persona.tenant.name}
    assert body["role"] == persona.role
    assert body["permissions"] == sorted(permissions_for(persona.role))


@pytest.mark.parametrize("who", ["bob", "cora"])
def test_me_answers_the_same_over_the_portal_session(who: str, request: Any) -> None:
    persona = request.getfixturevalue(who)
    session = Client()
    session.force_login(persona.user)

    body = session.get("/api/v1/me/").json()

    assert (body["role"], body["permissions"]) == (persona.role, sorted(permissions_for(persona.role)))


def test_me_without_a_tenant_answers_no_role_and_no_permissions(db: None) -> None:
    session = Client()
    session.force_login(User.objects.create_user(username="dave", password=PASSWORD))

    body = session.get("/api/v1/me/").json()

    assert (body["tenant"], body["role"], body["permissions"]) == (None, None, [])


# --- every role reads the market API and the dashboard ---------------------------------------------------------
@pytest.mark.parametrize("who", PERSONAS)
def test_every_role_reads_the_market_api_with_a_token(who: str, request: Any, alpha_market: Any) -> None:
    persona = request.getfixturevalue(who)
    token = access_token(persona)

    statuses = {
        url: Client().get(url, {"pair": alpha_market.pair.pk}, HTTP_AUTHORIZATION=f"Bearer {token}").status_code
        for url in MARKET
    }

    if who == "charlie":  # bravo does not see alpha's pair: asked for by id, it is a 404
        assert statuses == {
            **dict.fromkeys(MARKET, 200),
            "/api/v1/market/spreads/candles/": 404,
            "/api/v1/market/opportunities/": 404,
        }
    else:
        assert statuses == dict.fromkeys(MARKET, 200)


@pytest.mark.parametrize("who", PERSONAS)
def test_every_role_reads_the_dashboard(who: str, request: Any, alpha_market: Any) -> None:
    persona = request.getfixturevalue(who)
    session = Client()
    session.force_login(persona.user)

    for url in ("/", "/partials/health/", "/partials/opportunities/"):
        assert session.get(url).status_code == 200, url


# --- enforcement -------------------------------------------------------------------------------------------
class AuditProbe(APIView):
    required_permission = Perm.AUDIT_READ

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class Undeclared(APIView):
    def get(self, request: Request) -> Response:
        return Response({"ok": True})


def call_api(view: type[APIView], persona: Any) -> Response:
    request = APIRequestFactory().get("/probe/")
    force_authenticate(request, user=persona.user)
    request.membership = Membership.objects.get(user=persona.user, tenant=persona.tenant)  # type: ignore[attr-defined]
    response: Response = view.as_view()(request)
    return response


@pytest.mark.parametrize("who", ["alice", "tom", "ana", "bob", "cora"])
def test_the_api_grants_a_permission_only_to_roles_that_hold_it(who: str, request: Any) -> None:
    persona = request.getfixturevalue(who)

    response = call_api(AuditProbe, persona)

    assert response.status_code == (200 if role_has(persona.role, Perm.AUDIT_READ) else 403)


def test_an_api_view_that_names_no_permission_is_refused_to_everyone(alice: Any) -> None:
    # Fails closed: a new view that forgets `required_permission` is unusable, not open.
    assert call_api(Undeclared, alice).status_code == 403


@permission_required(Perm.AUDIT_READ)
def audit_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse("audit")


def call_page(persona: Any | None) -> HttpResponse:
    from django.contrib.auth.models import AnonymousUser

    request = RequestFactory().get("/audit/")
    request.user = persona.user if persona else AnonymousUser()
    membership = Membership.objects.filter(user=persona.user).first() if persona else None
    request.membership = membership  # type: ignore[attr-defined]
    return audit_page(request)


def test_a_portal_page_follows_the_matrix(alice: Any, bob: Any, cora: Any) -> None:
    assert call_page(cora).status_code == 200
    assert call_page(alice).status_code == 200
    with pytest.raises(PermissionDenied):
        call_page(bob)


def test_a_portal_page_sends_strangers_to_sign_in_and_says_so_without_a_tenant(db: None) -> None:
    from tests.helpers.personas import Persona

    loner = Persona(User.objects.create_user(username="dave", password=PASSWORD), None, "")

    assert call_page(None).status_code == 302
    assert call_page(loner).status_code == 403


# --- OpenAPI ------------------------------------------------------------------------------------------------
def test_the_docs_page_loads_no_external_asset(bob: Any) -> None:
    session = Client()
    session.force_login(bob.user)

    response = session.get("/api/docs/")

    html = response.content.decode()
    assert response.status_code == 200
    # No CDN host named anywhere (a word match: the page's random CSRF token may contain the letters "cdn").
    assert not re.search(r"(?<![a-z0-9])(cdn|unpkg|jsdelivr|cdnjs)[.\-]", html.lower())
    external = [url for url in re.findall(r"https?://[^\s\"'<>)]+", html) if not url.startswith("http://127.0.0.1")]
    assert external == []
    # Swagger UI's files, and its start-up script at the page's own address (the split view: no inline script,
    # which the Content-Security-Policy would refuse).
    assets = [unescape(asset) for asset in re.findall(r'(?:src|href)="([^"]+)"', html)]
    assert "/api/docs/?script=" in assets
    assert assets and all(a.startswith("/static/") or a == "/api/docs/?script=" for a in assets)
    assert "<style" not in html
    assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", html), "an inline script"
    for asset in assets:  # served by us
        assert session.get(asset).status_code == 200, asset
    script = session.get("/api/docs/?script=")
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content and b"/api/schema/" in script.content


def test_the_schema_describes_the_token_endpoints_at_both_addresses(bob: Any) -> None:
    session = Client()
    session.force_login(bob.user)

    current = session.get("/api/schema/", HTTP_ACCEPT="application/json")
    legacy = session.get("/api/v1/schema/", HTTP_ACCEPT="application/json")

    assert current.status_code == legacy.status_code == 200
    paths = json.loads(current.content)["paths"]
    assert {"/api/v1/auth/token/", "/api/v1/auth/token/refresh/", "/api/v1/auth/logout/", "/api/v1/me/"} <= set(paths)
    assert json.loads(legacy.content)["paths"].keys() == paths.keys()
