"""Alert rule types whose conditions live in venue accounts. `accounts` sits below `alerts` (ARCHITECTURE.md
"Layers") and registers no rules of its own, so the alerts app keeps the rules over its data here (alerts/registry.py
finds this module as it finds every app's `alert_rules`)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.db.models import OuterRef, Subquery
from django.utils.translation import gettext_lazy as _

from accounts.choices import AccountStatus
from accounts.models import AccountSnapshot, VenueAccount

from .registry import Condition, Param, RuleType, register


def margin_level_low(tenant: Any, params: dict[str, Decimal]) -> Iterator[Condition]:
    minimum = params["min_level_pct"]
    latest = AccountSnapshot.objects.filter(account=OuterRef("pk")).order_by("-at")
    accounts = (
        VenueAccount.objects.filter(tenant=tenant)
        .defer("credentials")
        .annotate(margin_level=Subquery(latest.values("margin_level")[:1]))
    )
    for account in accounts:
        level = account.margin_level
        if level is not None and level < minimum:
            yield Condition(
                key=f"margin_low:{account.pk}",
                title=str(
                    _("Margin level %(level)s %% on %(account)s") % {"level": f"{level:.1f}", "account": account.label}
                ),
                detail={"account": account.pk, "margin_level": str(level), "min_level_pct": str(minimum)},
                source=account,
            )


def account_in_error(tenant: Any, params: dict[str, Decimal]) -> Iterator[Condition]:
    for account in VenueAccount.objects.filter(tenant=tenant, status=AccountStatus.ERROR).defer("credentials"):
        yield Condition(
            key=f"account_error:{account.pk}",
            title=str(_("Account %(account)s is in error") % {"account": account.label}),
            detail={"account": account.pk, "message": (account.last_error or account.last_test_message)[:300]},
            source=account,
        )


register(
    RuleType(
        key="margin_low",
        label=_("Margin level low"),
        description=_("An account's latest snapshot shows a margin level below the limit."),
        category="account",
        default_severity="critical",
        params=(Param("min_level_pct", _("Lowest margin level (%)"), Decimal(150), Decimal(0), Decimal(100000), "%"),),
        evaluate=margin_level_low,
    )
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
