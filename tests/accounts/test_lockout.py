"""Login lockout (django-axes): five failures lock the username, never the address, for 15 minutes, on the portal,
the admin and the token endpoint alike; the lock is audited and a superuser can lift it.

Personas: alice (admin of alpha) is the one attacked, bob (viewer in alpha) shares her address, charlie (admin of
bravo) is elsewhere. Time moves on axes' own clock: `axes.handlers.proxy.now` stamps every attempt.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from axes.handlers import proxy as axes_proxy
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone

from accounts.audit import verify_chain
from accounts.models import AuditEvent, User

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
TOKEN = "/api/v1/auth/token/"
PASSWORD = "correct horse battery staple 1"


def portal_login(username: str, password: str, client: Client | None = None) -> Any:
    return (client or Client()).post(LOGIN, {"username": username, "password": password})


def token(username: str, password: str) -> Any:
    body = json.dumps({"username": username, "password": password})
    return Client().post(TOKEN, body, content_type="application/json")


def fail_five_times(username: str, attempt: Callable[[str, str], Any] = portal_login) -> list[Any]:
    return [attempt(username, f"wrong password {n}") for n in range(5)]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[timedelta], None]:
    """Move axes' clock forward by a delta (from the real now)."""

    def move(delta: timedelta) -> None:
        monkeypatch.setattr(axes_proxy, "now", lambda: timezone.now() + delta)

    return move


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


# --- portal ------------------------------------------------------------------------------------------------
def test_four_failures_do_not_lock(alice: Any) -> None:
    for n in range(4):
        assert portal_login("alice", f"wrong {n}").status_code == 200
    client = Client()

    response = portal_login("alice", PASSWORD, client)

    assert response.status_code == 302
    assert signed_in(client)
    assert not AccessAttempt.objects.filter(username="alice").exists()  # a success clears the count


def test_five_failures_lock_the_username_and_the_sixth_fails_even_with_the_right_password(alice: Any) -> None:
    answers = fail_five_times("alice")
    client = Client()

    sixth = portal_login("alice", PASSWORD, client)

    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]  # the fifth failure locks
    assert sixth.status_code == 429
    assert not signed_in(client)
    page = sixth.content.decode()
    assert "this account is locked until" in page
    assert "Try again in 15 minutes" in page
    assert "registration/locked_out.html" in [t.name for t in sixth.templates]
    assert int(sixth["Retry-After"]) in range(14 * 60, 15 * 60 + 1)
    assert PASSWORD not in page


def test_the_lockout_page_says_when_to_retry(alice: Any) -> None:
    fail_five_times("alice")
    locked_at = AccessAttempt.objects.get(username="alice").attempt_time

    response = portal_login("alice", PASSWORD)

    retry_at = (locked_at + timedelta(minutes=15)).strftime("%H:%M")
    assert f"{retry_at} UTC" in response.content.decode()


def test_another_user_from_the_same_address_still_logs_in(alice: Any, bob: Any) -> None:
    fail_five_times("alice")
    client = Client()

    response = portal_login("bob", PASSWORD, client)

    assert response.status_code == 302
    assert signed_in(client)


def test_after_15_minutes_the_user_logs_in_again(alice: Any, clock: Callable[[timedelta], None]) -> None:
    fail_five_times("alice")
    clock(timedelta(minutes=14, seconds=50))
    assert portal_login("alice", PASSWORD).status_code == 429  # still locked just before the end

    clock(timedelta(minutes=15, seconds=1))
    client = Client()
    response = portal_login("alice", PASSWORD, client)

    assert response.status_code == 302
    assert signed_in(client)


def test_attempts_during_the_lock_do_not_extend_it(alice: Any, clock: Callable[[timedelta], None]) -> None:
    fail_five_times("alice")
    clock(timedelta(minutes=10))
    portal_login("alice", "still guessing")

    clock(timedelta(minutes=15, seconds=1))

    assert portal_login("alice", PASSWORD).status_code == 302


def test_an_unknown_username_locks_the_same_way(db: None) -> None:
    # Otherwise the lock would tell which usernames exist.
    answers = fail_five_times("mallory")

    assert answers[-1].status_code == 429
    assert portal_login("mallory", "anything").status_code == 429


def test_the_lockout_page_is_translated(alice: Any) -> None:
    fail_five_times("alice")

    response = Client().post(LOGIN, {"username": "alice", "password": PASSWORD}, headers={"accept-language": "zh-Hans"})

    assert response.status_code == 429
    page = response.content.decode()
    assert "账户已锁定" in page
    assert "Account locked" not in page


# --- token endpoint and admin --------------------------------------------------------------------------------
def test_the_token_endpoint_locks_after_five_failures(alice: Any) -> None:
    answers = fail_five_times("alice", token)

    sixth = token("alice", PASSWORD)

    assert [a.status_code for a in answers] == [401, 401, 401, 401, 429]
    assert sixth.status_code == 429
    body = sixth.json()
    assert "access" not in body
    assert body["detail"].startswith("Too many failed sign-ins: this account is locked until")
    assert int(sixth["Retry-After"]) > 14 * 60


def test_a_token_issued_clears_the_failure_count(alice: Any) -> None:
    for n in range(4):
        token("alice", f"wrong {n}")

    assert token("alice", PASSWORD).status_code == 200
    assert not AccessAttempt.objects.filter(username="alice").exists()
    assert token("alice", "wrong again").status_code == 401  # one failure, not the fifth


def test_portal_failures_lock_the_token_endpoint_too(alice: Any, bob: Any) -> None:
    fail_five_times("alice")

    assert token("alice", PASSWORD).status_code == 429
    assert token("bob", PASSWORD).status_code == 200


def test_the_admin_has_no_login_form_of_its_own_so_the_lock_holds_there_too(db: None) -> None:
    """The admin signs people in through the portal's login page (accounts/admin_site.py): a locked-out
    superuser posting to the admin's address is sent there, not signed in."""
    User.objects.create_superuser(username="root", password=PASSWORD)
    fail_five_times("root")
    client = Client()

    response = client.post(ADMIN_LOGIN, {"username": "root", "password": PASSWORD})

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not signed_in(client)
    assert client.post(LOGIN, {"username": "root", "password": PASSWORD}).status_code == 429


# --- audit -----------------------------------------------------------------------------------------------------
def test_a_lockout_is_audited_once_in_each_tenant_of_the_user(alice: Any, charlie: Any) -> None:
    from accounts.models import Membership

    Membership.objects.create(user=alice.user, tenant=charlie.tenant, role="viewer")
    fail_five_times("alice")
    portal_login("alice", PASSWORD)  # refused during the lock: not a second lockout

    for tenant in (alice.tenant, charlie.tenant):
        events = AuditEvent.objects.filter(tenant=tenant, action="lockout")
        assert events.count() == 1
        event = events.get()
        assert (event.actor_username, event.object_id) == ("(anonymous)", str(alice.user.pk))
        assert event.summary["username"] == "alice"
        assert event.summary["failures"] == 5
        assert event.summary["until"]
        assert event.ip == "127.0.0.1"
        assert verify_chain(tenant) is None
    # Every attempt is a failed login in the trail, the refused sixth included.
    assert AuditEvent.objects.filter(tenant=alice.tenant, action="login_failed").count() == 6


def test_a_lockout_of_an_unknown_username_goes_to_the_platform_chain(db: None) -> None:
    fail_five_times("mallory")

    event = AuditEvent.objects.get(action="lockout")
    assert event.tenant_id is None
    assert event.summary["username"] == "mallory"


# --- unlocking -------------------------------------------------------------------------------------------------
@pytest.fixture
def root(db: None) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser(username="root", password=PASSWORD))
    return client


def test_a_superuser_unlocks_a_username_and_it_is_audited(alice: Any, root: Client) -> None:
    fail_five_times("alice")
    attempt = AccessAttempt.objects.get(username="alice")

    response = root.post(
        "/admin/axes/accessattempt/", {"action": "unlock", "_selected_action": [attempt.pk]}, follow=True
    )

    assert response.status_code == 200
    assert "Unlocked 1 username." in response.content.decode()
    assert not AccessAttempt.objects.filter(username="alice").exists()
    assert portal_login("alice", PASSWORD).status_code == 302
    cleared = AuditEvent.objects.get(tenant=alice.tenant, action="lockout_cleared")
    assert (cleared.actor_username, cleared.summary["username"]) == ("root", "alice")


def test_staff_who_are_not_superusers_cannot_see_or_unlock(alice: Any) -> None:
    from django.contrib.auth.models import Permission

    staff = User.objects.create_user(username="clerk", password=PASSWORD, is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="axes"))
    fail_five_times("alice")
    attempt = AccessAttempt.objects.get(username="alice")
    client = Client()
    client.force_login(staff)

    listing = client.get("/admin/axes/accessattempt/")
    unlock = client.post("/admin/axes/accessattempt/", {"action": "unlock", "_selected_action": [attempt.pk]})

    # Staff without a tenant role do not enter the admin at all (accounts/admin_site.py): sent to sign in.
    assert listing.status_code in (302, 403)
    assert unlock.status_code in (302, 403)
    assert AccessAttempt.objects.filter(username="alice").exists()
