"""Tenant scoping by construction (accounts/scoping.py): what `Model.objects.for_member(membership, action)` reaches
for each role, and that a foreign id is simply absent (the 404 of every detail page)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.grants import granted_ids, set_grant
from accounts.models import AccountPool, Membership, Tenant, User, VenueAccount
from tests.helpers.personas import Persona
from trading.models import ReconciliationReport

pytestmark = pytest.mark.django_db


def _pool(tenant: Tenant, owner: User, name: str) -> AccountPool:
    perp = VenueAccount.objects.create(tenant=tenant, owner=owner, venue="simulated-perp", label=f"{name} perp")
    cfd = VenueAccount.objects.create(tenant=tenant, owner=owner, venue="simulated-cfd", label=f"{name} CFD")
    return AccountPool.objects.create(
        tenant=tenant,
        name=name,
        perp_account=perp,
        cfd_account=cfd,
        perp_allocation=Decimal(1000),
        cfd_allocation=Decimal(1000),
    )


@pytest.fixture
def desk(alice: Persona, bob: Persona, tom: Persona, charlie: Persona) -> dict[str, Any]:
    granted = _pool(alice.tenant, alice.user, "Granted")
    other = _pool(alice.tenant, alice.user, "Other")
    foreign = _pool(charlie.tenant, charlie.user, "Foreign")
    members = {name: Membership.objects.get(user=p.user) for name, p in [("alice", alice), ("bob", bob), ("tom", tom)]}
    members["charlie"] = Membership.objects.get(user=charlie.user)
    set_grant(actor=alice.user, member=members["tom"], obj=granted, granted=True)
    reports = {
        pool.name: ReconciliationReport.objects.create(
            tenant=pool.tenant, pool=pool, trigger="manual", started_at=timezone.now()
        )
        for pool in (granted, other, foreign)
    }
    return {"granted": granted, "other": other, "foreign": foreign, "reports": reports, **members}


def _names(queryset: Any) -> set[str]:
    return {str(row.name) for row in queryset}


def test_every_member_views_their_own_tenant_and_never_another(desk: dict[str, Any]) -> None:
    for member in ("alice", "bob", "tom"):
        assert _names(AccountPool.objects.for_member(desk[member])) == {"Granted", "Other"}
    assert _names(AccountPool.objects.for_member(desk["charlie"], "view")) == {"Foreign"}
    assert not AccountPool.objects.for_member(None).exists()


def test_a_foreign_id_is_not_found(desk: dict[str, Any]) -> None:
    assert not AccountPool.objects.for_member(desk["alice"]).filter(pk=desk["foreign"].pk).exists()


def test_trade_is_every_row_for_an_admin_the_granted_ones_for_a_trader_and_none_for_a_viewer(
    desk: dict[str, Any],
) -> None:
    assert _names(AccountPool.objects.for_member(desk["alice"], "trade")) == {"Granted", "Other"}
    assert _names(AccountPool.objects.for_member(desk["tom"], "trade")) == {"Granted"}
    assert not AccountPool.objects.for_member(desk["bob"], "trade").exists()


def test_a_pool_owned_model_follows_its_pool_grant(desk: dict[str, Any]) -> None:
    reports = desk["reports"]

    assert set(ReconciliationReport.objects.for_member(desk["tom"], "trade")) == {reports["Granted"]}
    assert set(ReconciliationReport.objects.for_member(desk["tom"], "change")) == {reports["Granted"]}
    assert set(ReconciliationReport.objects.for_member(desk["alice"], "trade")) == {
        reports["Granted"],
        reports["Other"],
    }
    assert set(ReconciliationReport.objects.for_member(desk["tom"], "view")) == {reports["Granted"], reports["Other"]}


def test_change_and_admin_of_an_ungranted_model_are_for_admins(desk: dict[str, Any]) -> None:
    alpha_accounts = VenueAccount.objects.filter(tenant=desk["alice"].tenant)

    assert set(VenueAccount.objects.for_member(desk["alice"], "change")) == set(alpha_accounts)
    assert not VenueAccount.objects.for_member(desk["tom"], "change").exists()
    assert not VenueAccount.objects.for_member(desk["tom"], "admin").exists()
    assert set(VenueAccount.objects.for_member(desk["tom"], "trade")) == set(alpha_accounts)


def test_an_unknown_action_is_refused(desk: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="unknown action"):
        AccountPool.objects.for_member(desk["alice"], "delete")


def test_the_grants_of_a_whole_member_list_take_one_query(desk: dict[str, Any]) -> None:
    members = [desk["alice"], desk["bob"], desk["tom"]]
    pools = [desk["granted"], desk["other"]]

    with CaptureQueriesContext(connection) as queries:
        grants = granted_ids(members=members, objects=pools)

    # The members page used to ask once per member and pool.
    assert grants == {desk["tom"].user_id: {desk["granted"].pk}}
    assert len([q for q in queries.captured_queries if "guardian_userobjectpermission" in q["sql"]]) == 1
