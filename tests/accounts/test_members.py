"""The portal's members page: admins add, re-role and remove members; compliance reads; others are refused."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent, Membership, User
from tests.helpers.clients import client_for

pytestmark = pytest.mark.django_db
MEMBERS = "/members/"


@pytest.mark.parametrize(("who", "status"), [("alice", 200), ("cora", 200), ("tom", 403), ("ana", 403), ("bob", 403)])
def test_the_page_follows_the_matrix(who: str, status: int, request: Any) -> None:
    assert client_for(request.getfixturevalue(who)).get(MEMBERS).status_code == status


def test_it_lists_the_active_tenant_s_members_only(alice: Any, bob: Any, charlie: Any) -> None:
    page = client_for(alice).get(MEMBERS)
    assert b'data-member="bob"' in page.content and b'data-member="charlie"' not in page.content
    assert b'data-testid="add-member"' in page.content


def test_compliance_sees_no_controls(cora: Any, bob: Any) -> None:
    page = client_for(cora).get(MEMBERS)
    assert b'data-member="bob"' in page.content
    assert b'data-testid="add-member"' not in page.content and b"/remove/" not in page.content
    assert client_for(cora).post(MEMBERS, {"username": "x", "role": "viewer"}).status_code == 403


def test_search_and_pagination(alice: Any) -> None:
    for i in range(55):
        user = User.objects.create_user(f"member{i:02d}", password="x")
        Membership.objects.create(user=user, tenant=alice.tenant, role="viewer")
    first = client_for(alice).get(MEMBERS)
    assert first.context["page"].paginator.num_pages == 2
    found = client_for(alice).get(MEMBERS, {"q": "member07"})
    assert [m.user.username for m in found.context["page"]] == ["member07"]
    assert client_for(alice).get(MEMBERS, {"page": "junk"}).status_code == 200
    empty = client_for(alice).get(MEMBERS, {"q": "nobody-like-this"})
    assert b"No member matches" in empty.content


def test_admin_invites_an_existing_user_from_another_desk(alice: Any, charlie: Any) -> None:
    # Adding is an invitation: charlie joins when he accepts it (tests/security/test_invitations.py).
    response = client_for(alice).post(MEMBERS, {"username": "charlie", "role": "analyst"})
    assert response.status_code == 302
    assert not Membership.objects.filter(user=charlie.user, tenant=alice.tenant).exists()
    event = AuditEvent.objects.get(tenant=alice.tenant, action="invitation_sent")
    assert event.summary["username"] == "charlie" and event.summary["role"] == "analyst"


def test_bad_input_is_a_400_that_keeps_what_was_typed(alice: Any) -> None:
    response = client_for(alice).post(MEMBERS, {"username": "new comer!", "role": "trader"})
    assert response.status_code == 400
    assert b'value="new comer!"' in response.content
    assert client_for(alice).post(MEMBERS, {"username": "newcomer", "role": "boss"}).status_code == 400
    assert not User.objects.filter(username="newcomer").exists()


def test_admin_makes_a_join_link_for_a_new_user(alice: Any) -> None:
    # The newcomer picks their own name and password (tests/security/test_invitations.py).
    response = client_for(alice).post(MEMBERS, {"action": "join_link", "role": "trader"})
    assert response.status_code == 200
    assert b'data-testid="join-link-url"' in response.content
    link = response.context["join_link"].removeprefix("http://testserver")
    password = "a long fresh passphrase 9"
    joined = Client().post(link, {"username": "newcomer", "password": password, "password_confirm": password})
    assert joined.status_code == 302
    signed_in = Client().post("/accounts/login/", {"username": "newcomer", "password": password})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/"


def test_role_change_and_removal(alice: Any, bob: Any) -> None:
    membership = Membership.objects.get(user=bob.user)
    client = client_for(alice)
    assert client.post(reverse("member_role", args=[membership.pk]), {"role": "trader"}).status_code == 302
    assert Membership.objects.get(pk=membership.pk).role == "trader"
    assert client.post(reverse("member_role", args=[membership.pk]), {"role": "emperor"}).status_code == 302
    assert Membership.objects.get(pk=membership.pk).role == "trader"
    assert client.post(reverse("member_remove", args=[membership.pk])).status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    actions = list(AuditEvent.objects.filter(tenant=alice.tenant).values_list("action", flat=True))
    assert "role_changed" in actions and "membership_deleted" in actions


def test_the_last_admin_stays(alice: Any) -> None:
    own = Membership.objects.get(user=alice.user)
    client = client_for(alice)
    response = client.post(reverse("member_role", args=[own.pk]), {"role": "viewer"}, follow=True)
    assert "at least one active admin" in response.content.decode()
    client.post(reverse("member_remove", args=[own.pk]))
    assert Membership.objects.get(pk=own.pk).role == "admin"


def test_a_foreign_membership_id_is_a_404(alice: Any, charlie: Any) -> None:
    foreign = Membership.objects.get(user=charlie.user)
    client = client_for(alice)
    assert client.post(reverse("member_role", args=[foreign.pk]), {"role": "viewer"}).status_code == 404
    assert client.post(reverse("member_remove", args=[foreign.pk])).status_code == 404
    assert client.post(reverse("member_remove", args=[10**12])).status_code == 404
    assert Membership.objects.get(pk=foreign.pk).role == "admin"


def test_non_admins_cannot_post_changes(bob: Any, cora: Any, alice: Any) -> None:
    target = Membership.objects.get(user=alice.user)
    for persona in (bob, cora):
        assert client_for(persona).post(reverse("member_role", args=[target.pk]), {"role": "viewer"}).status_code == 403
        assert client_for(persona).post(reverse("member_remove", args=[target.pk])).status_code == 403
    assert client_for(alice).get(reverse("member_remove", args=[target.pk])).status_code == 405


def test_an_admin_resets_a_lost_authenticator(alice: Any, tom: Any) -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.create(user=tom.user, name="phone", confirmed=True)
    membership = Membership.objects.get(user=tom.user)
    page = client_for(alice).get(MEMBERS).content.decode()
    assert 'data-testid="reset-2fa-tom"' in page
    response = client_for(alice).post(reverse("member_two_factor_reset", args=[membership.pk]), follow=True)
    assert "enrol a new one" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=tom.user).exists()
    event = AuditEvent.objects.get(tenant=alice.tenant, action="two_factor_reset")
    assert event.summary == {"user": "tom", "devices_removed": 1} and event.actor_username == "alice"


def test_a_user_of_another_desk_is_reset_by_a_platform_operator_only(alice: Any, charlie: Any) -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    Membership.objects.create(user=charlie.user, tenant=alice.tenant, role="trader")
    TOTPDevice.objects.create(user=charlie.user, name="phone", confirmed=True)
    membership = Membership.objects.get(user=charlie.user, tenant=alice.tenant)
    response = client_for(alice).post(reverse("member_two_factor_reset", args=[membership.pk]), follow=True)
    assert "desks you do not administer" in response.content.decode()
    assert TOTPDevice.objects.filter(user=charlie.user).exists()
    assert (
        client_for(cora_like(alice)).post(reverse("member_two_factor_reset", args=[membership.pk])).status_code == 403
    )


def cora_like(alice: Any) -> Any:
    from tests.helpers.personas import persona

    return persona("clerk", "alpha", "compliance")
