"""The trading strip over the dashboard's socket: a strategy's state change sends the tenant's members one small
`trading.changed` frame through their user group (the fan-out hub's control path); another desk hears nothing."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from tests.sockets import headers_for, open_socket

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("thread_connections_closed"),
]


async def test_members_hear_trading_changed_other_tenants_do_not(
    alice: Any, bob: Any, charlie: Any, strategy: Any
) -> None:
    from strategies.services import strategy_request

    bob_socket, connected = await open_socket(await sync_to_async(headers_for)(bob.user))
    assert connected and (await bob_socket.receive_json_from(timeout=3))["type"] == "hello"
    charlie_socket, connected = await open_socket(await sync_to_async(headers_for)(charlie.user))
    assert connected and (await charlie_socket.receive_json_from(timeout=3))["type"] == "hello"

    await sync_to_async(strategy_request)(strategy=strategy, action="start", actor=alice.user)
    assert await bob_socket.receive_json_from(timeout=3) == {"type": "trading.changed"}
    assert await bob_socket.receive_nothing(timeout=0.5)  # one request: one frame (its writes coalesce)
    assert await charlie_socket.receive_nothing(timeout=0.3)
    await bob_socket.disconnect()
    await charlie_socket.disconnect()
