"""No user enumeration across tenants.

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
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, Invitation, Membership, User
from tests.helpers.personas import Persona

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
def test_the_add_form_answers_the_same_for_an_existing_and_an_unknown_name(alice: Persona, charlie: Persona) -> None:
    existing = _client(alice).post(MEMBERS, {"username": "charlie", "role": "analyst"})
    unknown = _client(alice).post(MEMBERS, {"username": "nobody77", "role": "analyst"})
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


def test_an_admin_cannot_create_an_account_under_a_name_and_try_it(alice: Persona, charlie: Persona) -> None:
    # The loophole: "invite, and if no one has this name create the account with this password" — signing in with
    # that password then told the admin whether the name had been free (it worked) or another desk's (it did not).
    # An admin now names no account they create and knows no password of one: the same invitation either way, and
    # the password fields, if sent, are ignored for both names.
    admin = _client(alice)
    typed = {"role": "viewer", "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD, "email": "x@example.com"}
    answers = [_answer(admin.post(MEMBERS, {"username": name, **typed})) for name in ("charlie", "nobody76")]

    assert answers[0][:2] == answers[1][:2] == (302, MEMBERS)
    assert not User.objects.filter(username="nobody76").exists()
    assert charlie.user.check_password(PASSWORD)
    for name in ("charlie", "nobody76"):
        tried = Client().post("/accounts/login/", {"username": name, "password": NEW_PASSWORD})
        assert tried.status_code == 200  # refused alike: no name the admin typed opens with their password
    assert b'name="password"' not in admin.get(MEMBERS).content


def test_the_form_s_errors_do_not_depend_on_the_name(alice: Persona, charlie: Persona) -> None:
    client = _client(alice)
    for data in (
        {"role": "viewer"},  # fine for both
        {"role": "boss"},
    ):
        answers = []
        for name in ("charlie", "nobody78"):
            response = client.post(MEMBERS, {"username": name, **data})
            errors = response.context["add_form"].errors.get_json_data() if response.status_code == 400 else {}
            answers.append((response.status_code, _without(str(errors), name)))
        assert answers[0] == answers[1], data
        Invitation.objects.all().delete()


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


def _join_link(admin: Client, role: str = "trader") -> str:
    page = admin.post(MEMBERS, {"action": "join_link", "role": role})
    assert page.status_code == 200
    found = re.search(r'data-testid="join-link-url"', page.content.decode())
    assert found is not None
    link: str = page.context["join_link"]
    assert link.startswith("http://testserver/accounts/join/?key=")
    return link.removeprefix("http://testserver")


def test_a_newcomer_joins_by_a_link_with_a_name_and_password_of_their_own(alice: Persona) -> None:
    admin = _client(alice)
    link = _join_link(admin)
    invitation = Invitation.objects.get(tenant=alice.tenant)
    assert invitation.username == "" and invitation.link_digest and invitation.link_digest not in link
    sent = AuditEvent.objects.get(tenant=alice.tenant, action="invitation_sent")
    assert sent.summary["link"] is True and sent.summary["role"] == "trader"
    assert b"Join link" in admin.get(MEMBERS).content  # the desk's list shows the link, not the secret
    assert link.split("key=")[1] not in admin.get(MEMBERS).content.decode()

    visitor = Client()
    page = visitor.get(link)
    assert page.status_code == 200 and "Join Alpha as Trader" in page.content.decode()
    data = {"username": "newcomer", "email": "n@example.com", "password": NEW_PASSWORD}
    assert visitor.post(link, {**data, "password_confirm": "different"}).status_code == 400
    joined = visitor.post(link, {**data, "password_confirm": NEW_PASSWORD})
    assert joined.status_code == 302 and joined["Location"] == reverse("login")

    user = User.objects.get(username="newcomer")
    assert user.email == "n@example.com" and Membership.objects.get(user=user).role == "trader"
    assert AuditEvent.objects.filter(tenant=None, action="user_created", object_id=str(user.pk)).exists()
    assert not AuditEvent.objects.filter(tenant=alice.tenant, action="user_created").exists()
    desk = AuditEvent.objects.filter(tenant=alice.tenant, actor_username="newcomer").order_by("seq")
    assert list(desk.values_list("action", flat=True)) == ["invitation_accepted", "membership_created"]
    assert _sign_in("newcomer", NEW_PASSWORD).get("/").status_code == 200
    # Used once: the link no longer works, for anyone.
    again = Client().post(link, {**data, "username": "second", "password_confirm": NEW_PASSWORD})
    assert again.status_code == 404 and not User.objects.filter(username="second").exists()


def test_a_join_link_tells_its_holder_a_taken_name_as_any_sign_up_does(alice: Persona, charlie: Persona) -> None:
    link = _join_link(_client(alice))
    data = {"username": "charlie", "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    taken = Client().post(link, data)
    assert taken.status_code == 400 and b"This username is taken" in taken.content
    assert charlie.user.check_password(PASSWORD) and not Membership.objects.filter(
        tenant=alice.tenant, user=charlie.user
    )
    assert Client().post(link, {**data, "username": "charlie2"}).status_code == 302


@pytest.mark.parametrize("how", ["withdrawn", "lapsed", "unknown"])
def test_a_join_link_that_no_longer_stands_answers_404(alice: Persona, how: str) -> None:
    admin = _client(alice)
    link = _join_link(admin)
    invitation = Invitation.objects.get()
    if how == "withdrawn":
        response = admin.post(reverse("invitation_withdraw", args=[invitation.pk]), follow=True)
        assert "The join link is withdrawn" in response.content.decode()
    elif how == "lapsed":
        Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    else:
        link = link[:-4] + "AAAA"
    data = {"username": "late", "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    assert Client().get(link).status_code == 404
    assert Client().post(link, data).status_code == 404
    assert not User.objects.filter(username="late").exists()


def test_only_the_desk_s_admins_make_join_links(bob: Persona, cora: Persona) -> None:
    for persona in (bob, cora):
        assert _client(persona).post(MEMBERS, {"action": "join_link", "role": "admin"}).status_code == 403
    assert not Invitation.objects.exists()


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


def test_a_join_link_lapses_after_a_few_taken_names_so_it_cannot_probe_the_user_list(
    alice: Persona, charlie: Persona, bob: Persona
) -> None:
    from accounts.services import JOIN_LINK_TAKEN_NAMES

    link = _join_link(_client(alice))
    data = {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    holder = Client()
    # A person picks another name after a taken one: the link still works ...
    for _ in range(JOIN_LINK_TAKEN_NAMES - 1):
        assert holder.post(link, {**data, "username": "charlie"}).status_code == 400
    # ... but the try that reaches the cap lapses it, and from then on it tells nothing about any name.
    spent = holder.post(link, {**data, "username": "bob"})
    assert spent.status_code == 429 and b'data-testid="join-spent"' in spent.content
    invitation = Invitation.objects.get(tenant=alice.tenant)
    assert invitation.status == "lapsed" and invitation.taken_names_tried == JOIN_LINK_TAKEN_NAMES
    for name in ("charlie", "nobody-here-42"):
        answer = Client().post(link, {**data, "username": name})
        assert answer.status_code == 404
    assert not User.objects.filter(username="nobody-here-42").exists()
