"""Object rights (django-guardian): a trader operates only the pairs an admin granted them."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from accounts.grants import may_operate, operable, revoke_all, set_grant
from accounts.models import AuditEvent, Membership
from accounts.services import membership_remove
from tests.helpers.clients import bearer_get, client_for, obtain
from trading.models import PairAccess

pytestmark = pytest.mark.django_db


@pytest.fixture
def setting(alice: Any, tom: Any, ana: Any, charlie: Any, alpha_pair: Any) -> dict[str, Any]:
    bravo_access = PairAccess.objects.create(tenant=charlie.tenant, pair=alpha_pair)
    return {
        "alpha": PairAccess.objects.get(tenant=alice.tenant),
        "bravo": bravo_access,
        "alice": Membership.objects.get(user=alice.user),
        "tom": Membership.objects.get(user=tom.user),
        "ana": Membership.objects.get(user=ana.user),
        "charlie": Membership.objects.get(user=charlie.user),
    }


def test_admins_operate_every_pair_of_their_tenant_and_nothing_else(setting: dict[str, Any]) -> None:
    assert list(operable(setting["alice"], PairAccess.objects.all())) == [setting["alpha"]]
    assert not may_operate(setting["alice"], setting["bravo"])


def test_a_trader_operates_only_what_was_granted(setting: dict[str, Any], alice: Any) -> None:
    tom = setting["tom"]
    assert not may_operate(tom, setting["alpha"])
    assert set_grant(actor=alice.user, member=tom, obj=setting["alpha"], granted=True)
    assert may_operate(tom, setting["alpha"])
    assert not set_grant(actor=alice.user, member=tom, obj=setting["alpha"], granted=True)  # no change, no event
    event = AuditEvent.objects.get(tenant=alice.tenant, action="grant_added")
    assert event.summary["user"] == "tom" and event.actor_username == "alice"
    assert set_grant(actor=alice.user, member=tom, obj=setting["alpha"], granted=False)
    assert not may_operate(tom, setting["alpha"])
    assert AuditEvent.objects.filter(tenant=alice.tenant, action="grant_removed").exists()


def test_other_roles_never_operate_even_with_a_stray_grant(setting: dict[str, Any], alice: Any) -> None:
    from guardian.shortcuts import assign_perm

    assign_perm("trading.operate_pairaccess", setting["ana"].user, setting["alpha"])
    assert not may_operate(setting["ana"], setting["alpha"])


def test_a_foreign_object_cannot_be_granted(setting: dict[str, Any], alice: Any) -> None:
    with pytest.raises(ValueError, match="another tenant"):
        set_grant(actor=alice.user, member=setting["tom"], obj=setting["bravo"], granted=True)


def test_a_grant_in_one_tenant_does_not_reach_another(setting: dict[str, Any], tom: Any, charlie: Any) -> None:
    Membership.objects.create(user=tom.user, tenant=charlie.tenant, role="trader")
    set_grant(
        actor=charlie.user,
        member=Membership.objects.get(user=tom.user, tenant=charlie.tenant),
        obj=setting["bravo"],
        granted=True,
    )
    assert not may_operate(setting["tom"], setting["alpha"])
    assert list(operable(setting["tom"], PairAccess.objects.all())) == []


def test_leaving_a_tenant_takes_the_grants_with_it(setting: dict[str, Any], alice: Any) -> None:
    set_grant(actor=alice.user, member=setting["tom"], obj=setting["alpha"], granted=True)
    membership_remove(membership=setting["tom"], actor=alice.user)
    assert not setting["tom"].user.has_perm("trading.operate_pairaccess", setting["alpha"])
    assert revoke_all(user=setting["tom"].user, tenant=alice.tenant) == 0


def test_the_members_page_grants_and_revokes(setting: dict[str, Any], alice: Any, tom: Any) -> None:
    client = client_for(alice)
    url = reverse("member_grants", args=[setting["tom"].pk])
    assert client.post(url, {"pair_access": [setting["alpha"].pk]}).status_code == 302
    assert may_operate(setting["tom"], setting["alpha"])
    page = client.get("/members/")
    assert b'data-testid="grants-tom"' in page.content and b"checked" in page.content
    assert client.post(url, {}).status_code == 302
    assert not may_operate(setting["tom"], setting["alpha"])


def test_the_members_page_refuses_bad_grants(setting: dict[str, Any], alice: Any, cora: Any) -> None:
    client = client_for(alice)
    tom_url = reverse("member_grants", args=[setting["tom"].pk])
    assert client.post(tom_url, {"pair_access": ["x"]}).status_code == 400
    assert client.post(tom_url, {"pair_access": [setting["bravo"].pk]}).status_code == 404
    ana_url = reverse("member_grants", args=[setting["ana"].pk])
    response = client.post(ana_url, {"pair_access": [setting["alpha"].pk]}, follow=True)
    assert "Only traders get grants" in response.content.decode()
    assert client.post(reverse("member_grants", args=[setting["charlie"].pk]), {}).status_code == 404
    assert client_for(cora).post(tom_url, {"pair_access": [setting["alpha"].pk]}).status_code == 403
    assert not may_operate(setting["tom"], setting["alpha"])


def test_pools_are_granted_like_pairs(setting: dict[str, Any], alice: Any, canary_accounts: Any) -> None:
    pool = canary_accounts["live_pool"]
    tom = setting["tom"]
    assert not may_operate(tom, pool)
    response = client_for(alice).post(reverse("member_grants", args=[tom.pk]), {"pool": [pool.pk]})
    assert response.status_code == 302
    assert may_operate(tom, pool) and not may_operate(tom, setting["alpha"])
    page = client_for(alice).get("/members/").content.decode()
    assert "pool Live pool" in page
    assert may_operate(setting["alice"], pool)  # admins operate every pool of their tenant
    assert not may_operate(setting["ana"], pool)


def test_the_pool_api_says_who_may_operate(setting: dict[str, Any], alice: Any, tom: Any, canary_accounts: Any) -> None:
    pool = canary_accounts["live_pool"]
    assert bearer_get("/api/v1/pools/", obtain(tom)["access"]).json()["results"][0]["operable"] is False
    set_grant(actor=alice.user, member=setting["tom"], obj=pool, granted=True)
    assert bearer_get(f"/api/v1/pools/{pool.pk}/", obtain(tom)["access"]).json()["operable"] is True
    assert bearer_get("/api/v1/pools/", obtain(alice)["access"]).json()["results"][0]["operable"] is True


def test_the_pool_list_asks_about_grants_once_however_many_pools(
    setting: dict[str, Any], alice: Any, tom: Any, canary_accounts: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import AccountPool

    live = canary_accounts["live_pool"]
    set_grant(actor=alice.user, member=setting["tom"], obj=live, granted=True)
    for name in ("Second", "Third"):
        AccountPool.objects.create(
            tenant=live.tenant,
            name=name,
            perp_account=live.perp_account,
            cfd_account=live.cfd_account,
            perp_allocation=1,
            cfd_allocation=1,
            enabled=False,
        )
    client = client_for(tom)

    with CaptureQueriesContext(connection) as queries:
        rows = client.get("/api/v1/pools/").json()["results"]

    assert {row["name"]: row["operable"] for row in rows} == {"Live pool": True, "Second": False, "Third": False}
    grant_reads = [q for q in queries.captured_queries if "guardian_userobjectpermission" in q["sql"]]
    assert len(grant_reads) == 1  # one per pool before
