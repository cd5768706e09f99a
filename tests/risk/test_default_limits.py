"""A desk created through the product (`accounts.services.desk_create`: a platform operator in the admin, the demo
seed) starts with the limits that replaced the alert rules every desk used to have (the MT5 margin level, the
USDT/USD rate's age and its distance from parity); deleted, a default stays deleted. A row written directly (a
test's fixture) starts without them."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.models import Tenant
from accounts.services import desk_create
from risk.models import RiskLimit

pytestmark = pytest.mark.django_db


def test_a_desk_added_in_the_admin_starts_with_the_default_limits(admin_client: Any) -> None:
    answer = admin_client.post(reverse("admin:accounts_tenant_add"), {"name": "Gamma desk", "slug": "gamma"})
    assert answer.status_code == 302, answer.content.decode()[:2000]
    desk = Tenant.objects.get(slug="gamma")
    limits = {row.metric: row for row in RiskLimit.objects.filter(tenant=desk)}
    assert set(limits) == {"mt5_margin_level_pct", "usdt_rate_age_s", "usdt_depeg_bps"}
    rate = limits["usdt_rate_age_s"]
    assert (rate.breach_level, rate.action) == (Decimal(30), "block_entries")
    margin = limits["mt5_margin_level_pct"]
    assert (margin.breach_level, margin.action, margin.effective_direction()) == (Decimal(150), "alert", "min")
    depeg = limits["usdt_depeg_bps"]
    assert (depeg.warning_level, depeg.breach_level) == (Decimal(50), None)
    assert all(row.enabled and row.scope_kind == "desk" and row.name == "" for row in limits.values())

    depeg.delete()
    changed = admin_client.post(
        reverse("admin:accounts_tenant_change", args=[desk.pk]), {"name": "Gamma desk (renamed)", "slug": "gamma"}
    )
    assert changed.status_code == 302
    assert RiskLimit.objects.filter(tenant=desk).count() == 2  # a changed desk is not a new desk


DEFAULT_METRICS = {"mt5_margin_level_pct", "usdt_rate_age_s", "usdt_depeg_bps"}


def test_a_desk_created_by_the_service_starts_with_the_default_limits(alice: Any) -> None:
    desk = desk_create(tenant=Tenant(name="Epsilon desk", slug="epsilon"), actor=alice.user)
    assert set(RiskLimit.objects.filter(tenant=desk).values_list("metric", flat=True)) == DEFAULT_METRICS
    with pytest.raises(ValueError):
        desk_create(tenant=desk, actor=None)  # a saved desk is not a new one
    assert RiskLimit.objects.filter(tenant=desk).count() == 3


def test_the_demo_seed_creates_its_desk_with_the_default_limits_once() -> None:
    call_command("seed_demo", "--tenant-slug", "zeta", "--no-history", stdout=io.StringIO())
    desk = Tenant.objects.get(slug="zeta")
    assert set(RiskLimit.objects.filter(tenant=desk).values_list("metric", flat=True)) == DEFAULT_METRICS
    call_command("seed_demo", "--tenant-slug", "zeta", "--no-history", stdout=io.StringIO())  # idempotent
    assert RiskLimit.objects.filter(tenant=desk).count() == 3


def test_a_desk_row_written_directly_has_no_limits_until_an_admin_adds_them() -> None:
    desk = Tenant.objects.create(name="Delta desk", slug="delta")
    assert not RiskLimit.objects.filter(tenant=desk).exists()
