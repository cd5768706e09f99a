"""`manage.py seed_demo`: a demo tenant with one user per role and the simulated pair, safe to run again."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from accounts.choices import Role
from accounts.models import Membership, Tenant, User
from trading.models import PairAccess, QuoteSource, SourcePair

pytestmark = pytest.mark.django_db

ROLES = ["admin", "trader", "analyst", "viewer", "compliance"]


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def snapshot() -> dict[str, object]:
    return {
        "tenants": sorted(Tenant.objects.values_list("slug", flat=True)),
        "users": sorted(User.objects.values_list("pk", "username", "password")),
        "memberships": sorted(Membership.objects.values_list("user__username", "tenant__slug", "role")),
        "sources": QuoteSource.objects.count(),
        "pairs": SourcePair.objects.count(),
        "access": sorted(PairAccess.objects.values_list("tenant__slug", "pair_id")),
    }


def test_seeding_twice_gives_the_same_rows() -> None:
    seed()
    first = snapshot()

    seed()

    assert snapshot() == first
    assert first["sources"] == 2
    assert first["pairs"] == 1


def test_it_creates_one_user_per_role_in_the_demo_tenant() -> None:
    seed()

    tenant = Tenant.objects.get(slug="demo")
    roles = dict(Membership.objects.filter(tenant=tenant).values_list("user__username", "role"))
    assert roles == {f"demo-{role}": role for role in ROLES}
    assert set(roles.values()) == set(Role.values)
    for username in roles:
        user = User.objects.get(username=username)
        assert user.check_password("quantarb-demo")
        assert user.status == "active"
    assert PairAccess.objects.filter(tenant=tenant).count() == 1


def test_a_password_option_sets_it_for_every_demo_user() -> None:
    seed()

    output = seed("--password", "another-demo-secret")

    for role in ROLES:
        assert User.objects.get(username=f"demo-{role}").check_password("another-demo-secret")
    assert "another-demo-secret" in output


def test_seeding_again_without_a_password_keeps_the_one_set() -> None:
    seed("--password", "another-demo-secret")

    output = seed()

    assert User.objects.get(username="demo-trader").check_password("another-demo-secret")
    assert "another-demo-secret" not in output
    assert "quantarb-demo" not in output


def test_a_tenant_slug_makes_a_second_tenant_on_the_same_pair() -> None:
    seed()

    seed("--tenant-slug", "desk2")

    assert sorted(Tenant.objects.values_list("slug", flat=True)) == ["demo", "desk2"]
    desk2 = dict(Membership.objects.filter(tenant__slug="desk2").values_list("user__username", "role"))
    assert desk2 == {f"desk2-{role}": role for role in ROLES}
    assert SourcePair.objects.count() == 1
    assert sorted(PairAccess.objects.values_list("tenant__slug", flat=True)) == ["demo", "desk2"]
    # The second tenant's users are not members of the first.
    assert not Membership.objects.filter(user__username__startswith="desk2-", tenant__slug="demo").exists()


def test_a_slug_without_letters_or_digits_is_refused() -> None:
    with pytest.raises(CommandError):
        seed("--tenant-slug", "!!!")

    assert not Tenant.objects.exists()


def test_a_seeded_user_logs_in_through_the_login_form(client: Client) -> None:
    seed()

    response = client.post("/accounts/login/", {"username": "demo-trader", "password": "quantarb-demo"})
    dashboard = client.get("/")

    assert (response.status_code, response["Location"]) == (302, "/")
    assert dashboard.status_code == 200
    assert dashboard.context["active_membership"].role == "trader"
    assert [panel["pair"].name for panel in dashboard.context["panels"]] == ["XAUUSDT / XAUUSD.s (simulated)"]


def test_the_login_form_refuses_a_wrong_password(client: Client) -> None:
    seed()

    response = client.post("/accounts/login/", {"username": "demo-trader", "password": "not-the-password"})

    assert response.status_code == 200
    assert response.context["form"].errors
    assert "_auth_user_id" not in client.session


def test_the_login_form_honours_a_safe_next_and_ignores_a_foreign_one(client: Client) -> None:
    seed()
    credentials = {"username": "demo-viewer", "password": "quantarb-demo"}

    local = client.post("/accounts/login/?next=/partials/health/", credentials)
    client.logout()
    foreign = client.post("/accounts/login/?next=https://evil.example/", credentials)

    assert local["Location"] == "/partials/health/"
    assert foreign["Location"] == "/"
