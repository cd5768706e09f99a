"""Admins see and act on their members' lockout and suspension (audited), anyone finds
two-factor set-up in the user menu, and the system status shows the software underneath to admins only."""

from __future__ import annotations

from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEvent, Membership

pytestmark = pytest.mark.django_db


def _client(persona: Any) -> Client:
    client = Client()
    client.force_login(persona.user)
    return client


def _lock(username: str) -> None:
    AccessAttempt.objects.create(
        username=username,
        ip_address="203.0.113.9",
        user_agent="x",
        http_accept="*/*",
        path_info="/accounts/login/",
        failures_since_start=settings.AXES_FAILURE_LIMIT,
        attempt_time=timezone.now(),
    )


def test_the_members_page_shows_lockout_and_suspension_and_an_admin_unlocks(alice: Any, bob: Any) -> None:
    _lock("bob")
    client = _client(alice)
    page = client.get("/members/").content.decode()
    assert "Locked until" in page and 'data-testid="unlock-bob"' in page
    membership = Membership.objects.get(user=bob.user)
    response = client.post(f"/members/{membership.pk}/unlock/")
    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(username="bob").exists()
    assert AuditEvent.objects.filter(tenant=alice.tenant, action="lockout_cleared").exists()


def test_an_admin_suspends_and_reinstates_a_member_audited(alice: Any, bob: Any) -> None:
    client = _client(alice)
    membership = Membership.objects.get(user=bob.user)
    client.post(f"/members/{membership.pk}/suspend/")
    bob.user.refresh_from_db()
    assert bob.user.is_suspended
    assert "Suspended" in client.get("/members/").content.decode()
    assert _client(bob).get("/api/v1/me/").status_code in (401, 403)
    client.post(f"/members/{membership.pk}/reinstate/")
    bob.user.refresh_from_db()
    assert not bob.user.is_suspended
    changes = AuditEvent.objects.filter(tenant=alice.tenant, action="membership_changed", object_id=str(bob.user.pk))
    assert [event.summary["after"]["status"] for event in changes.order_by("seq")] == ["suspended", "active"]


def test_a_viewer_cannot_suspend_and_another_tenant_gets_404(alice: Any, bob: Any, charlie: Any) -> None:
    membership = Membership.objects.get(user=alice.user)
    assert _client(bob).post(f"/members/{membership.pk}/suspend/").status_code == 403
    assert _client(charlie).post(f"/members/{membership.pk}/suspend/").status_code == 404
    alice.user.refresh_from_db()
    assert not alice.user.is_suspended


def test_an_admin_cannot_suspend_a_user_of_a_desk_they_do_not_administer(alice: Any, charlie: Any) -> None:
    Membership.objects.create(user=charlie.user, tenant=alice.tenant, role="viewer")
    membership = Membership.objects.get(user=charlie.user, tenant=alice.tenant)
    _client(alice).post(f"/members/{membership.pk}/suspend/")
    charlie.user.refresh_from_db()
    assert not charlie.user.is_suspended


def test_the_user_menu_links_to_two_factor_set_up_for_anyone(bob: Any) -> None:
    client = _client(bob)
    assert 'data-testid="two-factor-link"' in client.get("/", follow=True).content.decode()
    page = client.get("/accounts/two-factor/enrol/")
    assert page.status_code == 200
    assert b"<svg" in page.content  # the QR code to scan


def test_system_status_shows_the_software_underneath_to_admins_only(alice: Any, bob: Any) -> None:
    admin = _client(alice).get("/api/v1/system/status/").json()["versions"]
    viewer = _client(bob).get("/api/v1/system/status/").json()["versions"]
    assert {"python", "django", "platform"} <= set(admin)
    assert set(viewer) == {"quantarb"}
