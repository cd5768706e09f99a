"""Sessions and tokens end when they should, everywhere at once.

Personas: alice (admin of alpha), bob (viewer in alpha), charlie (admin of bravo). Time is quantarb's frozen
clock, moved by hand: idle and absolute timeouts run on simulated time.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import ApiTokenGrant, Membership, PortalSession, RevokedAccessToken, SessionEnd
from accounts.sessions import BACKGROUND_HEADER, revoked_tokens_purge

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"
REFRESH = "/api/v1/auth/token/refresh/"
LOGOUT = "/api/v1/auth/logout/"
ME = "/api/v1/me/"
PASSWORD = "correct horse battery staple 1"
PAGE = "/members/"


def obtain(persona: Any) -> dict[str, Any]:
    response = Client().post(
        TOKEN, json.dumps({"username": persona.user.username, "password": PASSWORD}), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def me(access: str) -> int:
    return Client().get(ME, headers={"Authorization": f"Bearer {access}"}).status_code


def signed_in(persona: Any) -> Client:
    client = Client(HTTP_USER_AGENT="pytest-browser")
    client.force_login(persona.user)
    return client


def is_signed_in(client: Client, **headers: str) -> bool:
    response = client.get(PAGE, headers=headers)
    return response.status_code == 200


# --- API tokens ----------------------------------------------------------------------------------------------
def test_access_token_is_refused_right_after_logout(alice: Any) -> None:
    tokens = obtain(alice)
    assert me(tokens["access"]) == 200
    response = Client().post(
        LOGOUT,
        json.dumps({"refresh": tokens["refresh"]}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {tokens['access']}"},
    )
    assert response.status_code == 204
    # Not after its 15 minutes: at once.
    assert me(tokens["access"]) == 401
    assert RevokedAccessToken.objects.count() == 1


def test_logout_without_the_access_token_still_revokes_it_through_its_family(alice: Any) -> None:
    tokens = obtain(alice)
    Client().post(LOGOUT, json.dumps({"refresh": tokens["refresh"]}), content_type="application/json")
    assert me(tokens["access"]) == 401


def test_a_refreshed_access_token_belongs_to_the_same_family(alice: Any) -> None:
    tokens = obtain(alice)
    rotated = Client().post(REFRESH, json.dumps({"refresh": tokens["refresh"]}), content_type="application/json")
    assert rotated.status_code == 200
    new = rotated.json()
    assert me(new["access"]) == 200
    Client().post(LOGOUT, json.dumps({"refresh": new["refresh"]}), content_type="application/json")
    assert me(new["access"]) == 401
    assert me(tokens["access"]) == 401


def test_a_user_revokes_an_api_token_from_the_sessions_page(alice: Any) -> None:
    tokens = obtain(alice)
    client = signed_in(alice)
    page = client.get(reverse("my_sessions"))
    assert page.status_code == 200
    grant = ApiTokenGrant.objects.get(user=alice.user)
    assert f'data-grant="{grant.pk}"' in page.content.decode()
    assert client.post(reverse("my_token_revoke", args=[grant.pk])).status_code == 302
    assert me(tokens["access"]) == 401
    refreshed = Client().post(REFRESH, json.dumps({"refresh": tokens["refresh"]}), content_type="application/json")
    assert refreshed.status_code == 401


def test_another_users_token_answers_404(alice: Any, charlie: Any) -> None:
    obtain(alice)
    grant = ApiTokenGrant.objects.get(user=alice.user)
    assert signed_in(charlie).post(reverse("my_token_revoke", args=[grant.pk])).status_code == 404
    assert ApiTokenGrant.objects.get(pk=grant.pk).revoked_at is None


def test_the_denylist_forgets_tokens_once_they_have_expired(alice: Any, frozen_clock: Any) -> None:
    tokens = obtain(alice)
    Client().post(
        LOGOUT,
        json.dumps({"refresh": tokens["refresh"]}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {tokens['access']}"},
    )
    row = RevokedAccessToken.objects.get()
    assert revoked_tokens_purge(now=row.expires_at - timedelta(seconds=1)) == 0
    assert revoked_tokens_purge(now=row.expires_at + timedelta(seconds=1)) == 1


# --- portal sessions -----------------------------------------------------------------------------------------
def test_a_revoked_session_is_signed_out_at_its_next_request(alice: Any, frozen_clock: Any) -> None:
    laptop, phone = signed_in(alice), signed_in(alice)
    assert is_signed_in(laptop) and is_signed_in(phone)
    phone_session = PortalSession.objects.filter(user=alice.user).order_by("-pk").first()
    assert phone_session is not None
    assert laptop.post(reverse("my_session_revoke", args=[phone_session.pk])).status_code == 302
    response = phone.get(PAGE)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert not is_signed_in(phone)
    assert is_signed_in(laptop)
    phone_session.refresh_from_db()
    assert phone_session.end_reason == SessionEnd.REVOKED


def test_an_htmx_request_of_a_revoked_session_sends_the_page_to_the_login(alice: Any, frozen_clock: Any) -> None:
    client = signed_in(alice)
    PortalSession.objects.filter(user=alice.user).update(ended_at=frozen_clock.now(), end_reason=SessionEnd.REVOKED)
    response = client.get(PAGE, headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response["HX-Redirect"].startswith(reverse("login"))


def test_the_session_api_answers_401_once_the_session_ended(alice: Any, frozen_clock: Any) -> None:
    client = signed_in(alice)
    assert client.get(ME).status_code == 200
    frozen_clock.advance(31 * 60)
    assert client.get(ME).status_code == 401


def test_an_idle_session_ends_after_the_idle_timeout(alice: Any, frozen_clock: Any) -> None:
    client = signed_in(alice)
    frozen_clock.advance(29 * 60)
    assert is_signed_in(client)  # a person's request: the idle deadline moves
    frozen_clock.advance(29 * 60)
    assert is_signed_in(client)
    frozen_clock.advance(30 * 60)
    assert not is_signed_in(client)
    assert PortalSession.objects.get(user=alice.user).end_reason == SessionEnd.IDLE


def test_the_idle_timeout_is_configurable(alice: Any, frozen_clock: Any, settings: Any) -> None:
    settings.SESSION_IDLE_TIMEOUT_SECONDS = 5 * 60
    client = signed_in(alice)
    frozen_clock.advance(6 * 60)
    assert not is_signed_in(client)


def test_background_polls_do_not_keep_a_session_alive(alice: Any, frozen_clock: Any) -> None:
    client = signed_in(alice)
    for _ in range(5):
        frozen_clock.advance(5 * 60)
        # What static/js/session.js sends for an htmx poll: still answered while the session is valid…
        assert is_signed_in(client, **{"HX-Request": "true", BACKGROUND_HEADER: "1"})
    # …but 25 minutes of polls were no activity: 6 more minutes and the session is idle.
    frozen_clock.advance(6 * 60)
    assert not is_signed_in(client, **{"HX-Request": "true", BACKGROUND_HEADER: "1"})


def test_a_session_ends_at_its_absolute_lifetime_whatever_the_activity(alice: Any, frozen_clock: Any) -> None:
    client = signed_in(alice)
    for _ in range(11 * 4 + 3):  # 11 h 45 min of a person's requests every 15 minutes
        frozen_clock.advance(15 * 60)
        assert is_signed_in(client)
    frozen_clock.advance(15 * 60)
    assert not is_signed_in(client)
    assert PortalSession.objects.get(user=alice.user).end_reason == SessionEnd.LIFETIME


def test_a_password_change_ends_the_users_other_sessions(
    alice: Any, frozen_clock: Any, django_capture_on_commit_callbacks: Any
) -> None:
    signed_in(alice)
    elsewhere = signed_in(alice)
    tokens = obtain(alice)
    # The current session, as the middleware would mark it, changes the password.
    from accounts.sessions import reset_current_session, set_current_session

    here_session = PortalSession.objects.filter(user=alice.user).order_by("pk").first()
    assert here_session is not None
    token = set_current_session(here_session.pk)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            alice.user.set_password("a brand new passphrase 2")
            alice.user.save()
    finally:
        reset_current_session(token)
    ends = dict(PortalSession.objects.filter(user=alice.user).values_list("pk", "end_reason"))
    assert ends[here_session.pk] == ""
    assert set(ends.values()) == {"", SessionEnd.PASSWORD_CHANGED}
    assert not is_signed_in(elsewhere)
    assert me(tokens["access"]) == 401
    assert here_session.session_key


def test_an_admin_signs_a_member_out_everywhere(alice: Any, bob: Any, frozen_clock: Any) -> None:
    bobs_browser = signed_in(bob)
    tokens = obtain(bob)
    admin = signed_in(alice)
    member = Membership.objects.get(user=bob.user, tenant=alice.tenant)
    page = admin.get(reverse("member_sessions", args=[member.pk]))
    assert page.status_code == 200 and 'data-testid="revoke-all"' in page.content.decode()
    assert admin.post(reverse("member_sessions_revoke", args=[member.pk])).status_code == 302
    assert not is_signed_in(bobs_browser)
    assert me(tokens["access"]) == 401
    assert PortalSession.objects.get(user=bob.user).end_reason == SessionEnd.REVOKED_BY_ADMIN


def test_a_viewer_may_not_sign_others_out(alice: Any, bob: Any) -> None:
    member = Membership.objects.get(user=alice.user, tenant=alice.tenant)
    assert signed_in(bob).post(reverse("member_sessions_revoke", args=[member.pk])).status_code == 403


def test_another_tenants_member_answers_404(alice: Any, charlie: Any) -> None:
    member = Membership.objects.get(user=alice.user, tenant=alice.tenant)
    client = signed_in(charlie)
    assert client.get(reverse("member_sessions", args=[member.pk])).status_code == 404
    assert client.post(reverse("member_sessions_revoke", args=[member.pk])).status_code == 404


def test_signing_out_ends_the_session_record(alice: Any, frozen_clock: Any) -> None:
    client = signed_in(alice)
    client.post(reverse("logout"))
    assert PortalSession.objects.get(user=alice.user).end_reason == SessionEnd.SIGNED_OUT
