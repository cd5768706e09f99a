"""Item 6 of issue 15: no user enumeration across tenants.

Adding someone to a desk is an invitation the user accepts; the add-member form answers the same whether the name
is an account or not (same status, same redirect, same message, same row in the desk's list, same audit event,
the same password work); the desk sees nothing of the user until they accept, and its audit trail holds only its
own events — a member's sign-ins from the time they joined, none from before. Personas: alice (admin of alpha),
bob (viewer of alpha), charlie (admin of bravo).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.hashers import get_hasher
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, Invitation, Membership, User
from tests.conftest import Persona

pytestmark = pytest.mark.django_db
MEMBERS = "/members/"
PASSWORD = "correct horse battery staple 1"
NEW_PASSWORD = "a long fresh passphrase 9"


def _client(persona: Persona, tenant: Any = None) -> Client:
    from accounts.sessions import TENANT_SESSION_KEY

    client = Client()
    client.force_login(persona.user)
    if tenant is not None:
        session = client.session
        session[TENANT_SESSION_KEY] = tenant.pk
        session.save()
    return client


def _sign_in(username: str, password: str = PASSWORD) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"username": username, "password": password})
    assert response.status_code == 302, response.content
    return client


def _answer(response: Any) -> tuple[int, str, list[str]]:
    """What the admin sees of a POST to the members page: status, where it leads, the messages."""
    return response.status_code, response.get("Location", ""), [str(m) for m in get_messages(response.wsgi_request)]


def _without(text: str, *names: str) -> str:
    """`text` with the names, ids, times and CSRF tokens that differ between two answers made the same."""
    for name in names:
        text = text.replace(name, "NAME")
    text = re.sub(r"/invitations/\d+/", "/invitations/N/", text)
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d", "TIME", text)
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text)


def _invitations_card(page: str) -> str:
    start = page.index('data-testid="invitations"')
    return page[start : page.index("</div>\n  </div>", start)]


def _sent_event(tenant: Any, username: str) -> dict[str, Any]:
    event = AuditEvent.objects.get(tenant=tenant, action="invitation_sent", summary__username=username)
    return {"actor": event.actor_username, "object_type": event.object_type, "keys": sorted(event.summary)}


# --- one answer for every name ------------------------------------------------------------------------------
@pytest.mark.parametrize("with_password", [False, True], ids=["invite", "invite-or-create"])
def test_the_add_form_answers_the_same_for_an_existing_and_an_unknown_name(
    alice: Persona, charlie: Persona, with_password: bool
) -> None:
    extra = {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD} if with_password else {}
    existing = _client(alice).post(MEMBERS, {"username": "charlie", "role": "analyst", **extra})
    unknown = _client(alice).post(MEMBERS, {"username": "nobody77", "role": "analyst", **extra})
    client = _client(alice)

    assert existing.status_code == 302  # before: a member at once, while an unknown name was a 400
    assert _answer(existing)[:2] == _answer(unknown)[:2]
    assert [_without(m, "charlie") for m in _answer(existing)[2]] == [
        _without(m, "nobody77") for m in _answer(unknown)[2]
    ]
    card = _invitations_card(client.get(MEMBERS).content.decode())
    rows = re.findall(r'<div class="list-group-item.*?</form>', card, flags=re.S)
    assert len(rows) == 2
    by_name = {("charlie" if "charlie" in row else "nobody77"): row for row in rows}
    assert _without(by_name["charlie"], "charlie") == _without(by_name["nobody77"], "nobody77")
    assert _sent_event(alice.tenant, "charlie") == _sent_event(alice.tenant, "nobody77")
    # Nothing of charlie in the desk: no membership, no event about his account.
    assert not Membership.objects.filter(tenant=alice.tenant, user=charlie.user).exists()
    about_accounts = AuditEvent.objects.filter(tenant=alice.tenant, object_type="accounts.user")
    assert not about_accounts.exclude(actor_username="alice").exists()
    assert charlie.user.check_password(PASSWORD)  # a password typed for a taken name changes nothing


def test_the_form_s_errors_do_not_depend_on_the_name(alice: Persona, charlie: Persona) -> None:
    client = _client(alice)
    for data in (
        {"role": "viewer"},  # an invitation without a password: fine for both
        {"role": "viewer", "password": NEW_PASSWORD, "password_confirm": "different"},
        {"role": "viewer", "password": "123", "password_confirm": "123"},
        {"role": "boss"},
    ):
        answers = []
        for name in ("charlie", "nobody78"):
            response = client.post(MEMBERS, {"username": name, **data})
            errors = response.context["add_form"].errors.get_json_data() if response.status_code == 400 else {}
            answers.append((response.status_code, _without(str(errors), name)))
        assert answers[0] == answers[1], data
        Invitation.objects.all().delete()


def test_a_taken_name_with_a_password_costs_the_same_password_work(alice: Persona, charlie: Persona) -> None:
    hasher = type(get_hasher())
    calls: list[str] = []
    original = hasher.encode

    def counting(self: Any, password: str, salt: str, *args: Any) -> str:
        calls.append(password)
        return original(self, password, salt, *args)

    hasher.encode = counting
    try:
        client = _client(alice)
        counts = []
        for name in ("charlie", "nobody79"):
            calls.clear()
            data = {"username": name, "role": "viewer", "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
            assert client.post(MEMBERS, data).status_code == 302
            counts.append(calls.count(NEW_PASSWORD))
    finally:
        hasher.encode = original
    assert counts == [1, 1]


# --- the desk sees nothing until the user accepts -----------------------------------------------------------
def test_the_desk_sees_the_user_s_sign_ins_only_from_when_they_joined(alice: Persona, charlie: Persona) -> None:
    _sign_in("charlie")  # before any invitation
    assert _client(alice).post(MEMBERS, {"username": "charlie", "role": "viewer"}).status_code == 302
    invited = _sign_in("charlie")  # invited, not joined: still none of alpha's business

    def alpha_events_about_charlie() -> list[str]:
        events = AuditEvent.objects.filter(tenant=alice.tenant, actor_username="charlie").order_by("seq")
        return list(events.values_list("action", flat=True))

    assert alpha_events_about_charlie() == []
    page = _client(alice).get(MEMBERS).content.decode()
    assert 'data-member="charlie"' not in page
    # The API's trail and the admin's say the same.
    token = Client().post("/api/v1/auth/token/", {"username": "alice", "password": PASSWORD}).json()["access"]
    trail = Client().get("/api/v1/audit/", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert not [row for row in trail["results"] if row["actor"] == "charlie"]
    admin_page = _client(alice).get(reverse("admin:accounts_auditevent_changelist")).content.decode()
    assert "charlie" not in admin_page

    invitation = Invitation.objects.get(tenant=alice.tenant, username="charlie")
    assert invited.post(reverse("invitation_accept", args=[invitation.pk])).status_code == 302
    _sign_in("charlie")
    assert alpha_events_about_charlie() == ["invitation_accepted", "membership_created", "login"]
    # Bravo, his own desk, has had all his sign-ins all along; and its decline-free history stays its own.
    bravo = AuditEvent.objects.filter(tenant=charlie.tenant, action="login", actor_username="charlie").count()
    assert bravo == 3


def test_a_name_that_is_no_account_is_seen_by_nobody_even_if_taken_later(alice: Persona) -> None:
    assert _client(alice).post(MEMBERS, {"username": "latecomer", "role": "trader"}).status_code == 302
    User.objects.create_user("latecomer", password=PASSWORD)
    client = _sign_in("latecomer")
    assert b'data-testid="invitations-badge"' not in client.get("/").content
    assert b'data-testid="no-invitations"' in client.get(reverse("invitations")).content


def test_a_newcomer_s_account_is_created_in_the_platform_s_chain_and_joins_on_accepting(alice: Persona) -> None:
    data = {"username": "newcomer", "role": "trader", "email": "n@example.com"}
    response = _client(alice).post(MEMBERS, {**data, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert response.status_code == 302
    user = User.objects.get(username="newcomer")
    assert user.email == "n@example.com" and not user.memberships.exists()
    assert AuditEvent.objects.filter(tenant=None, action="user_created", object_id=str(user.pk)).exists()
    assert not AuditEvent.objects.filter(tenant=alice.tenant, action="user_created").exists()

    client = _sign_in("newcomer", NEW_PASSWORD)
    landing = client.get("/")
    assert landing.status_code == 403 and b"You have 1 invitation" in landing.content
    invitation = Invitation.objects.get(username="newcomer")
    joined = client.post(reverse("invitation_accept", args=[invitation.pk]))
    assert joined.status_code == 302
    assert Membership.objects.get(user=user).role == "trader"
    assert client.get("/").status_code == 200


# --- the invited user's side --------------------------------------------------------------------------------
def test_the_invited_user_sees_a_badge_and_accepts(alice: Persona, charlie: Persona) -> None:
    _client(alice).post(MEMBERS, {"username": "charlie", "role": "analyst"})
    client = _client(charlie)
    home = client.get("/").content.decode()
    assert 'data-testid="invitations-badge">1<' in home
    page = client.get(reverse("invitations")).content.decode()
    assert 'data-invitation="alpha"' in page and "Join Alpha as Analyst" in page
    invitation = Invitation.objects.get(tenant=alice.tenant)
    response = client.post(reverse("invitation_accept", args=[invitation.pk]), follow=True)
    assert "You joined Alpha as Analyst." in response.content.decode()
    assert Membership.objects.get(user=charlie.user, tenant=alice.tenant).role == "analyst"
    # The session moved to the desk just joined; the badge is gone.
    assert response.context["active_membership"].tenant == alice.tenant
    assert 'data-testid="invitations-badge"' not in response.content.decode()
    accepted = AuditEvent.objects.get(tenant=alice.tenant, action="invitation_accepted")
    assert accepted.actor_username == "charlie" and accepted.summary == {"username": "charlie", "role": "analyst"}
    # Accepting twice joins once.
    again = client.post(reverse("invitation_accept", args=[invitation.pk]), follow=True)
    assert "no longer stands" in again.content.decode()


def test_declining_is_told_to_the_platform_not_to_the_desk(alice: Persona, charlie: Persona) -> None:
    admin = _client(alice)
    admin.post(MEMBERS, {"username": "charlie", "role": "viewer"})
    admin.post(MEMBERS, {"username": "nobody80", "role": "viewer"})
    before = _without(_invitations_card(admin.get(MEMBERS).content.decode()), "charlie", "nobody80")
    invitation = Invitation.objects.get(username="charlie")
    response = _client(charlie).post(reverse("invitation_decline", args=[invitation.pk]), follow=True)
    assert "declined" in response.content.decode()
    assert not Membership.objects.filter(tenant=alice.tenant, user=charlie.user).exists()
    # To the desk, the declined invitation stands like the one nobody can answer.
    assert _without(_invitations_card(admin.get(MEMBERS).content.decode()), "charlie", "nobody80") == before
    assert not AuditEvent.objects.filter(tenant=alice.tenant, action="invitation_declined").exists()
    assert AuditEvent.objects.get(tenant=None, action="invitation_declined").summary["tenant"] == "alpha"
    answer = _client(charlie).post(reverse("invitation_accept", args=[invitation.pk]), follow=True)
    assert "no longer stands" in answer.content.decode()


def test_an_invitation_lapses(alice: Persona, charlie: Persona) -> None:
    admin = _client(alice)
    admin.post(MEMBERS, {"username": "charlie", "role": "viewer"})
    invitation = Invitation.objects.get(username="charlie")
    assert timedelta(days=6) < invitation.expires_at - timezone.now() <= timedelta(days=7)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    client = _client(charlie)
    assert b'data-testid="invitations-badge"' not in client.get("/").content
    answer = client.post(reverse("invitation_accept", args=[invitation.pk]), follow=True)
    assert "no longer stands" in answer.content.decode()
    assert not Membership.objects.filter(tenant=alice.tenant, user=charlie.user).exists()
    assert b'data-invitation="charlie"' not in admin.get(MEMBERS).content
    # A lapsed invitation does not stop a new one.
    assert admin.post(MEMBERS, {"username": "charlie", "role": "viewer"}).status_code == 302
    assert list(Invitation.objects.order_by("pk").values_list("status", flat=True)) == ["lapsed", "pending"]


def test_a_second_invitation_to_a_name_is_refused_the_same_way(alice: Persona, charlie: Persona) -> None:
    admin = _client(alice)
    for name in ("charlie", "nobody81"):
        assert admin.post(MEMBERS, {"username": name, "role": "viewer"}).status_code == 302
        again = admin.post(MEMBERS, {"username": name, "role": "viewer"})
        assert again.status_code == 400 and b"already has an invitation" in again.content


def test_members_are_told_as_members(alice: Persona, bob: Persona) -> None:
    # The desk knows its own members: saying so tells it nothing new.
    response = _client(alice).post(MEMBERS, {"username": "bob", "role": "admin"})
    assert response.status_code == 400 and b"already a member" in response.content


# --- the persona matrix -------------------------------------------------------------------------------------
def test_only_the_desk_s_admins_invite_and_withdraw(alice: Persona, bob: Persona, charlie: Persona) -> None:
    assert _client(bob).post(MEMBERS, {"username": "charlie", "role": "viewer"}).status_code == 403
    assert not Invitation.objects.exists()
    _client(alice).post(MEMBERS, {"username": "charlie", "role": "viewer"})
    invitation = Invitation.objects.get()
    withdraw = reverse("invitation_withdraw", args=[invitation.pk])
    assert _client(bob).post(withdraw).status_code == 403
    assert _client(charlie).post(withdraw).status_code == 404  # another desk's invitation, as if none
    assert b'data-testid="invitations"' not in _client(bob).get(MEMBERS).content
    assert _client(alice).post(withdraw).status_code == 302
    assert Invitation.objects.get().status == "withdrawn"
    event = AuditEvent.objects.get(tenant=alice.tenant, action="invitation_withdrawn")
    assert event.actor_username == "alice" and event.summary == {"username": "charlie", "role": "viewer"}
    assert b'data-testid="no-invitations"' in _client(charlie).get(reverse("invitations")).content
    assert _client(alice).post(withdraw).status_code == 404


def test_only_the_invited_user_answers(alice: Persona, bob: Persona, charlie: Persona) -> None:
    _client(alice).post(MEMBERS, {"username": "charlie", "role": "admin"})
    invitation = Invitation.objects.get()
    for persona in (alice, bob):
        for answer in ("invitation_accept", "invitation_decline"):
            assert _client(persona).post(reverse(answer, args=[invitation.pk])).status_code == 404
        assert b'data-invitation="alpha"' not in _client(persona).get(reverse("invitations")).content
    assert _client(charlie).get(reverse("invitation_accept", args=[invitation.pk])).status_code == 405
    assert Client().post(reverse("invitation_accept", args=[invitation.pk])).status_code == 302  # to the login
    assert Invitation.objects.get().status == "pending"


def test_the_admin_s_add_membership_leads_to_the_invitation_form(alice: Persona, bob: Persona) -> None:
    response = _client(alice).get(reverse("admin:accounts_membership_add"))
    assert response.status_code == 302 and response["Location"] == MEMBERS
    assert _client(bob).get(reverse("admin:accounts_membership_add")).status_code in (302, 403)
    assert not Membership.objects.filter(user__username="x").exists()
