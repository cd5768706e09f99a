"""The Django admin follows the role in the active tenant and shows that tenant only."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.audit import audit_record
from accounts.choices import AuditAction, Role
from accounts.models import AuditEvent, ChangeLogEntry, Membership, User
from tests.helpers.clients import client_for

pytestmark = pytest.mark.django_db


def changelist(model: str) -> str:
    return reverse(f"admin:accounts_{model}_changelist")


def change(model: str, pk: int) -> str:
    return reverse(f"admin:accounts_{model}_change", args=[pk])


def csv_rows(response: Any) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


# --- who gets in ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("who", "enters"), [("alice", True), ("cora", True), ("tom", False), ("ana", False), ("bob", False)]
)
def test_admin_access_follows_the_role(who: str, enters: bool, request: Any) -> None:
    persona = request.getfixturevalue(who)
    response = client_for(persona).get(reverse("admin:index"))
    if enters:
        assert response.status_code == 200
    else:
        assert response.status_code == 302
        follow = client_for(persona).get(response["Location"])
        assert follow.status_code == 403
        assert b"qa-admin-no-access" in follow.content


def test_strangers_sign_in_on_the_portal_login(db: None) -> None:
    response = Client().get(reverse("admin:index"))
    assert response.status_code == 302
    location = Client().get(response["Location"])["Location"]
    assert location.startswith(reverse("login")) and "next=" in location


def test_a_user_who_is_admin_elsewhere_is_offered_that_tenant(alice: Any, charlie: Any) -> None:
    Membership.objects.create(user=alice.user, tenant=charlie.tenant, role=Role.VIEWER)
    client = client_for(alice, tenant=charlie.tenant)
    page = client.get(reverse("admin:login"))
    assert page.status_code == 403
    assert alice.tenant.name.encode() in page.content
    switched = client.post(reverse("switch_tenant"), {"tenant": alice.tenant.pk, "next": reverse("admin:index")})
    assert switched.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_suspended_admin_is_refused(alice: Any) -> None:
    client = client_for(alice)
    User.objects.filter(pk=alice.user.pk).update(status="suspended")
    assert client.get(reverse("admin:index")).status_code == 302


def test_members_of_a_tenant_never_see_platform_models(alice: Any, cora: Any) -> None:
    for persona in (alice, cora):
        index = client_for(persona).get(reverse("admin:index"))
        models = {model["object_name"] for app in index.context["app_list"] for model in app["models"]}
        assert "User" not in models and "Instrument" not in models and "OutstandingToken" not in models
        assert client_for(persona).get(reverse("admin:accounts_user_changelist")).status_code == 403
        assert client_for(persona).get(reverse("admin:trading_instrument_changelist")).status_code == 403


def test_admins_see_members_and_compliance_sees_the_audit(alice: Any, cora: Any) -> None:
    admin_models = {
        model["object_name"]
        for app in client_for(alice).get(reverse("admin:index")).context["app_list"]
        for model in app["models"]
    }
    assert {"Tenant", "Membership", "AuditEvent", "ChangeLogEntry"} <= admin_models
    compliance = client_for(cora).get(reverse("admin:index")).context["app_list"]
    compliance_models = {model["object_name"]: model["perms"] for app in compliance for model in app["models"]}
    assert {"Tenant", "Membership", "AuditEvent", "ChangeLogEntry"} <= set(compliance_models)
    assert not any(perms.get("add") or perms.get("change") for perms in compliance_models.values())


# --- what they see: the active tenant only ----------------------------------------------------------------
@pytest.fixture
def both_trails(alice: Any, charlie: Any, cora: Any) -> None:
    audit_record(tenant=alice.tenant, actor=alice.user, action=AuditAction.SETTINGS_CHANGED, summary={"x": "alpha"})
    audit_record(tenant=charlie.tenant, actor=charlie.user, action=AuditAction.SETTINGS_CHANGED, summary={"x": "bravo"})


def test_the_audit_changelist_shows_the_active_tenant_only(both_trails: None, cora: Any, charlie: Any) -> None:
    response = client_for(cora).get(changelist("auditevent"))
    assert response.status_code == 200
    shown = list(response.context["cl"].result_list)
    assert shown and {event.tenant_id for event in shown} == {cora.tenant.pk}
    assert b"charlie" not in response.content


def test_a_foreign_id_is_the_admins_does_not_exist_redirect(
    both_trails: None, alice: Any, cora: Any, charlie: Any
) -> None:
    foreign_event = AuditEvent.objects.filter(tenant=charlie.tenant).first()
    foreign_membership = Membership.objects.get(user=charlie.user)
    client = client_for(cora)
    for url in (
        change("auditevent", foreign_event.pk),
        change("membership", foreign_membership.pk),
        change("tenant", charlie.tenant.pk),
        reverse("admin:accounts_membership_history", args=[foreign_membership.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == reverse("admin:index")
    # An admin, who may delete memberships, gets the same answer for a foreign one.
    response = client_for(alice).post(
        reverse("admin:accounts_membership_delete", args=[foreign_membership.pk]), {"post": "yes"}
    )
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")
    assert Membership.objects.filter(pk=foreign_membership.pk).exists()
    assert b"bravo" not in client.get(reverse("admin:index"), follow=True).content.lower()


def test_list_filters_offer_the_tenants_values_only(both_trails: None, cora: Any) -> None:
    response = client_for(cora).get(changelist("auditevent"))
    choices = {
        str(choice.get("display"))
        for spec in response.context["cl"].filter_specs
        for choice in spec.choices(response.context["cl"])
    }
    assert "alice" in choices and "charlie" not in choices
    memberships = client_for(cora).get(changelist("membership"))
    assert b"bravo" not in memberships.content.lower()


def test_filtering_by_actor_and_action(both_trails: None, alice: Any, cora: Any) -> None:
    audit_record(tenant=alice.tenant, actor=cora.user, action=AuditAction.LOGIN)
    client = client_for(cora)
    by_actor = client.get(changelist("auditevent"), {"actor": "cora"}).context["cl"].result_list
    assert {event.actor_username for event in by_actor} == {"cora"}
    by_action = client.get(changelist("auditevent"), {"action__exact": "settings_changed"}).context["cl"].result_list
    assert {event.action for event in by_action} == {"settings_changed"}


def test_compliance_cannot_edit_or_delete_an_audit_event(both_trails: None, cora: Any, alice: Any) -> None:
    event = AuditEvent.objects.filter(tenant=alice.tenant).first()
    client = client_for(cora)
    view = client.get(change("auditevent", event.pk))
    assert view.status_code == 200
    assert b'name="_save"' not in view.content
    assert client.post(change("auditevent", event.pk), {"action": "login"}).status_code == 403
    assert client.get(reverse("admin:accounts_auditevent_delete", args=[event.pk])).status_code == 403
    assert client.get(reverse("admin:accounts_auditevent_add")).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk, action="settings_changed").exists()


def test_not_even_a_superuser_edits_the_audit(both_trails: None, alice: Any) -> None:
    root = User.objects.create_superuser("root", password="correct horse battery staple 1")
    client = Client()
    client.force_login(root)
    event = AuditEvent.objects.filter(tenant=alice.tenant).first()
    assert client.post(reverse("admin:accounts_auditevent_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    # Superusers are the platform's operators: they see every chain (both tenants', the platform's).
    shown = client.get(changelist("auditevent")).context["cl"].result_list
    assert {event.tenant_id for event in shown} >= {alice.tenant.pk, None} and len({e.tenant_id for e in shown}) == 3


def test_csv_export_is_scoped_and_follows_the_filters(both_trails: None, cora: Any, alice: Any) -> None:
    client = client_for(cora)
    response = client.get(reverse("admin:accounts_auditevent_export"), {"action__exact": "settings_changed"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = csv_rows(response)
    header, body = rows[0], rows[1:]
    assert "hash" in header and body
    tenant_column = header.index("tenant_id") if "tenant_id" in header else 0
    assert {row[tenant_column] for row in body} == {str(alice.tenant.pk)}
    assert all("bravo" not in ",".join(row) for row in body)
    # The changelist action exports the selected rows, scoped too.
    selected = list(AuditEvent.objects.values_list("pk", flat=True))  # both tenants' ids
    action = client.post(
        changelist("auditevent"), {"action": "export_csv", "_selected_action": [str(pk) for pk in selected]}
    )
    assert action.status_code == 200
    assert {row[tenant_column] for row in csv_rows(action)[1:]} == {str(alice.tenant.pk)}


def test_viewers_cannot_export(both_trails: None, bob: Any) -> None:
    assert client_for(bob).get(reverse("admin:accounts_auditevent_export")).status_code == 302


def test_csv_cells_never_run_as_formulas(alice: Any) -> None:
    from accounts.admin_site import _csv_value

    assert _csv_value("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert _csv_value(-5) == "-5"
    assert _csv_value({"b": "元", "a": 1}) == '{"a": 1, "b": "元"}'


# --- memberships through the admin --------------------------------------------------------------------------
def test_adding_a_member_in_the_admin_leads_to_the_invitation_form(alice: Any) -> None:
    # Members join by invitation (tests/security/test_invitations.py); the admin has no second way in.
    response = client_for(alice).post(
        reverse("admin:accounts_membership_add"),
        {"username": "newbie", "role": "trader", "password": "a long fresh passphrase 9"},
    )
    assert response.status_code == 302 and response["Location"] == reverse("members")
    assert not User.objects.filter(username="newbie").exists()


def test_admin_changes_a_role_with_an_audit_event(alice: Any, bob: Any) -> None:
    membership = Membership.objects.get(user=bob.user)
    response = client_for(alice).post(change("membership", membership.pk), {"role": "analyst"})
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == "analyst"
    event = AuditEvent.objects.get(tenant=alice.tenant, action="role_changed")
    assert event.summary["after"]["role"] == "analyst" and event.actor_username == "alice"


def test_the_last_admin_can_be_neither_demoted_nor_removed(alice: Any) -> None:
    membership = Membership.objects.get(user=alice.user)
    client = client_for(alice)
    response = client.post(change("membership", membership.pk), {"role": "viewer"})
    assert response.status_code == 200
    assert b"at least one active admin" in response.content
    assert client.get(reverse("admin:accounts_membership_delete", args=[membership.pk])).status_code == 403
    assert Membership.objects.get(pk=membership.pk).role == "admin"


def test_admin_removes_a_member(alice: Any, bob: Any) -> None:
    membership = Membership.objects.get(user=bob.user)
    response = client_for(alice).post(
        reverse("admin:accounts_membership_delete", args=[membership.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert AuditEvent.objects.filter(tenant=alice.tenant, action="membership_deleted").exists()


def test_compliance_reads_members_but_changes_nothing(cora: Any, bob: Any) -> None:
    membership = Membership.objects.get(user=bob.user)
    client = client_for(cora)
    assert client.get(changelist("membership")).status_code == 200
    assert client.post(change("membership", membership.pk), {"role": "admin"}).status_code == 403
    assert client.get(reverse("admin:accounts_membership_add")).status_code == 403
    assert Membership.objects.get(pk=membership.pk).role == "viewer"


def test_tenant_settings_change_is_audited_and_the_slug_stays(alice: Any) -> None:
    client = client_for(alice)
    response = client.post(change("tenant", alice.tenant.pk), {"name": "Alpha desk", "slug": "hijack"})
    assert response.status_code == 302
    alice.tenant.refresh_from_db()
    assert alice.tenant.name == "Alpha desk" and alice.tenant.slug == "alpha"
    event = AuditEvent.objects.get(tenant=alice.tenant, action="settings_changed")
    assert event.summary == {"before": {"name": "Alpha"}, "after": {"name": "Alpha desk"}}


def test_the_change_log_is_scoped_to_the_tenant(alice: Any, charlie: Any, cora: Any) -> None:
    Membership.objects.filter(user=charlie.user).update(role="admin")  # nothing changed: no entry
    client_for(alice).post(change("tenant", alice.tenant.pk), {"name": "Alpha renamed"})
    shown = client_for(cora).get(changelist("changelogentry")).context["cl"].result_list
    assert shown and {entry.tenant_id for entry in shown} == {alice.tenant.pk}
    foreign = ChangeLogEntry.objects.filter(tenant=charlie.tenant).first()
    assert foreign is not None
    assert client_for(cora).get(change("changelogentry", foreign.pk)).status_code == 302
