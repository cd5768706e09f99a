"""Alert rule types of MT5 operations (alerts/registry.py finds this module): a terminal that is not ready to trade
— unreachable, disconnected from the broker's trade server, AutoTrading off — as its latest health check found it
(mt5ops/health.py, every 30 s). One alert per terminal while the fault lasts, resolved by the first good check."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from alerts.registry import Condition, RuleType, register

from .models import TerminalHealth, TerminalInstance


def terminal_not_ready(tenant: Any, params: dict[str, Decimal]) -> Iterator[Condition]:
    for terminal in TerminalInstance.objects.filter(tenant_id=tenant.pk).order_by("pk"):
        latest: TerminalHealth | None = terminal.health.order_by("-at").first()
        if latest is None or latest.ok:
            continue
        if not latest.reachable:
            reason = _("unreachable at %(address)s (%(error)s)") % {"address": terminal.address, "error": latest.error}
        elif not latest.connected and latest.error_code is None:
            reason = _("disconnected from the broker's trade server")
        else:
            reason = latest.error or _("not ready to trade")
        yield Condition(
            key=f"mt5_terminal:{terminal.pk}",
            title=_("MT5 terminal %(label)s: %(reason)s") % {"label": terminal.label, "reason": reason},
            detail={
                "terminal": terminal.pk,
                "reachable": latest.reachable,
                "connected": latest.connected,
                "trade_allowed": latest.trade_allowed,
                "error_code": latest.error_code,
                "error": latest.error,
                "checked_at": latest.at.isoformat(),
            },
            source=terminal,
        )


register(
    RuleType(
        key="mt5_terminal_down",
        label=gettext_lazy("MT5 terminal not ready"),
        description=gettext_lazy(
            "An MT5 terminal's latest health check failed: unreachable, disconnected from the trade server, or "
            "AutoTrading off."
        ),
        category="mt5",
        default_severity="critical",
        params=(),
        evaluate=terminal_not_ready,
    )
)
