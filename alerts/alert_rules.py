"""Alert rule types whose conditions live in venue accounts (the margin level is a risk limit now: risk/limits.py,
its alerts the `risk_limit_warning` / `risk_limit_breach` rules). `accounts` sits below `alerts` (ARCHITECTURE.md
"Layers") and registers no rules of its own, so the alerts app keeps the rules over its data here (alerts/registry.py
finds this module as it finds every app's `alert_rules`)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from accounts.choices import AccountStatus
from accounts.models import VenueAccount
from quantarb.phrases import phrase

from .registry import Condition, RuleType, register


def account_in_error(tenant: Any, params: dict[str, Decimal]) -> Iterator[Condition]:
    for account in VenueAccount.objects.filter(tenant=tenant, status=AccountStatus.ERROR).defer("credentials"):
        yield Condition(
            key=f"account_error:{account.pk}",
            title=phrase(gettext_noop("Account %(account)s is in error"), account=account.label),
            detail={"account": account.pk, "message": (account.last_error or account.last_test_message)[:300]},
            source=account,
        )


register(
    RuleType(
        key="account_error",
        label=_("Account in error"),
        description=_("A venue account's status is error."),
        category="account",
        default_severity="warning",
        params=(),
        evaluate=account_in_error,
    )
)
