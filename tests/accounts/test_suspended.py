"""Suspended users: refused at the portal's login (told why only after the right password), and an existing session
ends at its next request, on pages and in the API alike.

Personas: alice (admin of alpha) is suspended, bob (viewer in alpha) is not.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.choices import UserStatus
from accounts.models import User

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
DASHBOARD = "/"
PASSWORD = "correct horse battery staple 1"
SUSPENDED = "This account is suspended. Ask an admin of your desk to reactivate it."


def set_status(user: Any, status: str) -> None:
    User.objects.filter(pk=user.pk).update(status=status)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_a_suspended_user_is_refused_at_login_and_told_why(alice: Any) -> None:
    set_status(alice.user, UserStatus.SUSPENDED)
    client = Client()

    response = client.post(LOGIN, {"username": "alice", "password": PASSWORD})

    assert response.status_code == 200
    assert SUSPENDED in response.content.decode()
    assert not signed_in(client)


def test_a_wrong_password_on_a_suspended_account_says_nothing_about_it(alice: Any) -> None:
    set_status(alice.user, UserStatus.SUSPENDED)

    response = Client().post(LOGIN, {"username": "alice", "password": "wrong"})

    page = response.content.decode()
    assert "correct username and password" in page
    assert "suspended" not in page


def test_the_refusal_is_translated(alice: Any) -> None:
    set_status(alice.user, UserStatus.SUSPENDED)

    response = Client().post(LOGIN, {"username": "alice", "password": PASSWORD}, headers={"accept-language": "zh-Hans"})

    assert "此账户已停用" in response.content.decode()


def test_an_existing_session_ends_when_the_user_is_suspended(alice: Any, alpha_market: Any) -> None:
    client = Client()
    client.force_login(alice.user)
    assert client.get(DASHBOARD).status_code == 200
    set_status(alice.user, UserStatus.SUSPENDED)

    response = client.get(DASHBOARD, follow=True)

    assert response.redirect_chain == [(LOGIN, 302)]
    assert SUSPENDED in response.content.decode()
    assert not signed_in(client)
    # Reactivating does not revive the old session: it was ended, not paused.
    set_status(alice.user, UserStatus.ACTIVE)
    assert client.get(DASHBOARD)["Location"].startswith(LOGIN)


def test_others_are_untouched(alice: Any, bob: Any, alpha_market: Any) -> None:
    client = Client()
    client.force_login(bob.user)
    set_status(alice.user, UserStatus.SUSPENDED)

    assert client.get(DASHBOARD).status_code == 200


def test_the_admin_login_refuses_a_suspended_superuser(db: None) -> None:
    root = User.objects.create_superuser(username="root", password=PASSWORD)
    set_status(root, UserStatus.SUSPENDED)
    client = Client()

    # The admin signs in through the portal's page (accounts/admin_site.py), which refuses the suspended user.
    response = client.post("/admin/login/", {"username": "root", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    refused = client.post("/accounts/login/", {"username": "root", "password": PASSWORD})
    assert refused.status_code == 200 and "suspended" in refused.content.decode()
    assert not signed_in(client)
