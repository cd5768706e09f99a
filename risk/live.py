"""The risk centre's live refresh: when a desk's risk figures change, its members' open risk centres
are told — one small `risk.changed` control message per member, through their user group, after the transaction
commits (once per desk per transaction), over the socket the dashboard uses (/ws/spreads/, in its control-only mode:
trading/marketdata/consumers.py). The message carries no figure; the page re-fetches its own desk's fragment
(`risk.views.risk_figures`, static/js/risk_live.js).

Sent per member rather than to a desk group: the socket joins its user's group only, and that group is what an
access change narrows or closes (a desk group would have to be left when a membership ends).

Sent when: the risk history records a minute (risk/history.py), a limit's level changes or a breach starts or ends
(risk/limits.py `evaluate_limits`), a limit is saved or retired, a kill switch is tripped or reset
(risk/services.py; the global one: every desk)."""

from __future__ import annotations

from collections.abc import Iterable

from accounts.models import Membership, Tenant
from quantarb import live
from quantarb.events import user_group


def _send(tenant_ids: set[int]) -> None:
    members = Membership.objects.filter(tenant_id__in=sorted(tenant_ids)).values_list("tenant_id", "user_id")
    for tenant_id, user_id in members.order_by("tenant_id", "user_id"):
        live.send_on_commit(user_group(user_id), {"type": "risk.changed", "user_id": user_id, "tenant_id": tenant_id})


def push_risk(tenant_ids: Iterable[int | None]) -> None:
    """After the current transaction commits (at once outside one), tell the members of these desks that their risk
    figures changed. Desks already told in this transaction are not told again."""
    live.on_commit_once("risk.changed", (tenant_id for tenant_id in tenant_ids if tenant_id is not None), _send)


def push_risk_everywhere() -> None:
    """Every desk (the global kill switch)."""
    push_risk(Tenant.objects.values_list("pk", flat=True))
