"""The admin's lifecycle actions (strategies/admin.py): only strategies the caller operates are asked to move, and
what the caller operates is read once for the whole selection."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.grants import set_grant
from accounts.models import AuditEvent, Membership
from strategies.admin import _lifecycle
from strategies.models import Strategy

pytestmark = pytest.mark.django_db


class _Admin:
    def __init__(self) -> None:
        self.said: list[str] = []

    def message_user(self, request: Any, message: str, level: Any = None) -> None:
        self.said.append(str(message))


def _request(rf: Any, persona: Any) -> Any:
    request = rf.post("/admin/strategies/strategy/", REMOTE_ADDR="10.1.2.3", HTTP_USER_AGENT="admin-ua")
    request.user = persona.user
    request.membership = Membership.objects.get(user=persona.user)
    return request


def test_a_trader_moves_only_the_strategies_of_granted_pools(rf: Any, alice: Any, tom: Any, strategy: Any) -> None:
    start = _lifecycle("start")
    admin = _Admin()

    start(admin, _request(rf, tom), Strategy.objects.filter(pk=strategy.pk))
    assert "not granted to you" in admin.said[0]
    assert not AuditEvent.objects.filter(action="strategy_started").exists()

    set_grant(actor=alice.user, member=Membership.objects.get(user=tom.user), obj=strategy.pool, granted=True)
    with CaptureQueriesContext(connection) as queries:
        start(admin, _request(rf, tom), Strategy.objects.filter(pk=strategy.pk))

    event = AuditEvent.objects.get(action="strategy_started")
    assert (event.actor_username, event.ip, event.user_agent) == ("tom", "10.1.2.3", "admin-ua")
    assert len([q for q in queries.captured_queries if "guardian_userobjectpermission" in q["sql"]]) == 1
