"""The limits a desk created through the product starts with: what the alert rules they replaced watched for every
desk (the MT5 margin level, the USDT/USD rate's age and its distance from parity), with those rules' defaults. An
admin changes or deletes them like any other limit; a deleted default is not brought back. Desks that had the
rules got their settings carried over by risk migrations 0004 and 0006 instead."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction

from accounts.models import Tenant

from .choices import LimitAction, LimitMetric, LimitScopeKind
from .models import RiskLimit

DEFAULT_LIMITS: tuple[dict[str, Any], ...] = (
    {"metric": LimitMetric.MT5_MARGIN_LEVEL_PCT, "breach_level": Decimal(150), "action": LimitAction.ALERT},
    {"metric": LimitMetric.USDT_RATE_AGE_S, "breach_level": Decimal(30), "action": LimitAction.BLOCK_ENTRIES},
    {"metric": LimitMetric.USDT_DEPEG_BPS, "warning_level": Decimal(50), "action": LimitAction.ALERT},
)


def default_limits_create(tenant: Tenant) -> list[RiskLimit]:
    """The desk's default limits: desk scope, the metric's natural direction, unnamed (labelled by the metric)."""
    with transaction.atomic():
        return [
            RiskLimit.objects.create(tenant=tenant, scope_kind=LimitScopeKind.DESK, direction="", **values)
            for values in DEFAULT_LIMITS
        ]


def on_desk_created(sender: Any, tenant: Tenant, **kwargs: Any) -> None:
    default_limits_create(tenant)
