"""The risk centre's live refresh (issue #19): when a desk's risk figures change, its members' open risk centres
are told — one small `risk.changed` control message per member, through their user group, after the transaction
commits (once per desk per transaction), over the socket the dashboard uses (/ws/spreads/, in its control-only mode:
trading/marketdata/consumers.py). The message carries no figure; the page re-fetches its own desk's fragment
(`risk.views.risk_figures`, static/js/risk_live.js).

Sent when: the risk history records a minute (risk/history.py), a limit's level changes or a breach starts or ends
(risk/limits.py `evaluate_limits`), a limit is saved or retired, a kill switch is tripped or reset
(risk/services.py; the global one: every desk)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction


class _RiskPush:
    """The after-commit push of some desks' `risk.changed` (one per desk per transaction)."""

    def __init__(self, tenant_ids: set[int]) -> None:
        self.tenant_ids = tenant_ids

    def __call__(self) -> None:
        from accounts.models import Membership
        from quantarb.events import user_group
        from quantarb.live import send_on_commit

        members = Membership.objects.filter(tenant_id__in=sorted(self.tenant_ids)).values_list("tenant_id", "user_id")
        for tenant_id, user_id in members.order_by("tenant_id", "user_id"):
            send_on_commit(user_group(user_id), {"type": "risk.changed", "user_id": user_id, "tenant_id": tenant_id})


def push_risk(tenant_ids: Iterable[int | None]) -> None:
    """After the current transaction commits (at once outside one), tell the members of these desks that their risk
    figures changed. Desks already scheduled in this transaction are not scheduled again."""
    wanted = {tenant_id for tenant_id in tenant_ids if tenant_id is not None}
    if not wanted:
        return
    connection = transaction.get_connection()
    for entry in connection.run_on_commit:  # a rolled-back transaction drops its callbacks, these too
        if isinstance(entry[1], _RiskPush):
            wanted -= entry[1].tenant_ids
    if wanted:
        transaction.on_commit(_RiskPush(wanted))


def push_risk_everywhere() -> None:
    """Every desk (the global kill switch)."""
    from accounts.models import Tenant

    push_risk(Tenant.objects.values_list("pk", flat=True))
