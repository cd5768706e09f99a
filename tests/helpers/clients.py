"""Clients of the personas (tests/conftest.py): signed in to the web with a session, or holding a JWT for the API."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from accounts.sessions import TENANT_SESSION_KEY
from tests.factories import PASSWORD

TOKEN = "/api/v1/auth/token/"
ACCOUNTS = "/api/v1/accounts/"
POOLS = "/api/v1/pools/"


# --- the web: a session ---------------------------------------------------------------------------------------
def client_for(persona: Any, tenant: Any = None) -> Client:
    """`persona` signed in; `tenant` active in the session when given (otherwise the middleware picks one)."""
    client = Client()
    client.force_login(persona.user)
    if tenant is not None:
        session = client.session
        session[TENANT_SESSION_KEY] = tenant.pk
        session.save()
    return client


def tenant_client(persona: Any) -> Client:
    """`persona` signed in, with their own tenant active in the session."""
    return client_for(persona, persona.tenant)


# --- the API: a JWT -------------------------------------------------------------------------------------------
def obtain(persona: Any, **extra: Any) -> dict[str, Any]:
    """A fresh access and refresh token pair of `persona` (the token endpoint's answer)."""
    response = Client().post(
        TOKEN,
        json.dumps({"username": persona.user.username, "password": PASSWORD, **extra}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def bearer_get(path: str, token: str, client: Client | None = None, **params: Any) -> Any:
    return (client or Client()).get(path, params, headers=bearer(token))


def api(persona: Any) -> Client:
    """A client that sends a fresh access token of `persona` with every request."""
    return Client(headers=bearer(obtain(persona)["access"]))


def post(client: Client, path: str, body: Any) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json")


def patch(client: Client, path: str, body: Any) -> Any:
    return client.patch(path, json.dumps(body), content_type="application/json")


class Api:
    """`persona`'s API under /api/v1/, with paths relative to it."""

    def __init__(self, persona: Any) -> None:
        self.client = Client()
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {obtain(persona)['access']}"}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get("/api/v1/" + path, params, **self.headers)

    def post(self, path: str, body: Any = None) -> Any:
        return self.client.post("/api/v1/" + path, body or {}, content_type="application/json", **self.headers)

    def patch(self, path: str, body: Any) -> Any:
        return self.client.patch("/api/v1/" + path, body, content_type="application/json", **self.headers)
