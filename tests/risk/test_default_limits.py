"""A desk created by a platform operator starts with the limits that replaced the alert rules every desk used to
have (the MT5 margin level, the USDT/USD rate's age and its distance from parity); deleted, a default stays
deleted. A desk made any other way (a test's fixture, the demo seed) starts without them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from accounts.models import Tenant
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


def test_a_desk_made_outside_the_admin_has_no_limits_until_an_admin_adds_them() -> None:
    desk = Tenant.objects.create(name="Delta desk", slug="delta")
    assert not RiskLimit.objects.filter(tenant=desk).exists()
