"""No sign-in path redirects off-site, whatever `next` says."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

OFF_SITE = [
    "https://evil.example/",
    "//evil.example/",
    "///evil.example/",
    "http:evil.example",
    "https:/evil.example/",
    "\\\\evil.example/",
    "/\\evil.example/",
    " https://evil.example/",
    "javascript:alert(1)",
]


def _stays_on_site(location: str) -> bool:
    return location.startswith("/") and not location.startswith(("//", "/\\"))


@pytest.mark.parametrize("target", OFF_SITE)
def test_the_admin_login_does_not_send_a_signed_in_admin_off_site(alice: Any, target: str) -> None:
    client = Client()
    client.force_login(alice.user)
    response = client.get("/admin/login/", {"next": target})
    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_the_admin_login_keeps_a_path_of_this_site(alice: Any) -> None:
    client = Client()
    client.force_login(alice.user)
    response = client.get("/admin/login/", {"next": "/admin/accounts/auditevent/"})
    assert response["Location"] == "/admin/accounts/auditevent/"


@pytest.mark.parametrize("target", OFF_SITE)
def test_the_portal_login_does_not_redirect_off_site(alice: Any, target: str) -> None:
    response = Client().post(
        "/accounts/login/?next=" + target, {"username": "alice", "password": alice.password, "next": target}
    )
    assert response.status_code == 302
    assert _stays_on_site(response["Location"])


@pytest.mark.parametrize("path", ["/accounts/language/", "/accounts/theme/", "/accounts/tenant/"])
@pytest.mark.parametrize("target", OFF_SITE)
def test_preference_switches_do_not_redirect_off_site(alice: Any, path: str, target: str) -> None:
    client = Client()
    client.force_login(alice.user)
    body = {"next": target, "language": "en", "theme": "dark", "tenant": alice.tenant.pk}
    response = client.post(path, body, headers={"Referer": target})
    assert response.status_code == 302
    assert _stays_on_site(response["Location"])
