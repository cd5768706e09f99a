"""The alert badge over the existing socket: opening, acknowledging or resolving an alert sends the tenant's
members one small `alerts.changed` frame through their user group (the fan-out hub's control path)."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from tests.sockets import headers_for, open_socket

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("thread_connections_closed"),
]


async def test_members_hear_alerts_changed_other_tenants_do_not(alice: Any, bob: Any, charlie: Any) -> None:
    from alerts.services import alert_acknowledge, alert_raise

    bob_socket, connected = await open_socket(await sync_to_async(headers_for)(bob.user))
    assert connected and (await bob_socket.receive_json_from(timeout=3))["type"] == "hello"
    charlie_socket, connected = await open_socket(await sync_to_async(headers_for)(charlie.user))
    assert connected and (await charlie_socket.receive_json_from(timeout=3))["type"] == "hello"

    def raise_margin() -> Any:
        return alert_raise(
            tenant=alice.tenant, category="account", severity="critical", title="Margin low", dedup_key="m"
        ).alert

    alert = await sync_to_async(raise_margin)()
    assert await bob_socket.receive_json_from(timeout=3) == {"type": "alerts.changed"}
    await sync_to_async(alert_acknowledge)(alert=alert, actor=alice.user)
    assert await bob_socket.receive_json_from(timeout=3) == {"type": "alerts.changed"}
    # A bump of the same alert changes no badge: no frame.
    await sync_to_async(raise_margin)()
    assert await bob_socket.receive_nothing(timeout=0.5)
    assert await charlie_socket.receive_nothing(timeout=0.3)
    await bob_socket.disconnect()
    await charlie_socket.disconnect()
