"""A WebSocket of an ended or idle portal session is refused, and an open socket is no activity."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from accounts.models import PortalSession, SessionEnd
from quantarb.asgi import application

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("thread_connections_closed"),
]

ORIGIN = (b"origin", b"http://127.0.0.1")


def signed_in_headers(user: Any) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    return [ORIGIN, (b"cookie", f"sessionid={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode())]


async def connects(headers: list[tuple[bytes, bytes]]) -> bool:
    socket = WebsocketCommunicator(application, "/ws/spreads/", headers=headers)
    connected, _ = await socket.connect(timeout=3)
    await socket.disconnect()
    return bool(connected)


async def test_a_socket_of_a_live_session_connects(alice: Any, alpha_pair: Any, frozen_clock: Any) -> None:
    assert await connects(await sync_to_async(signed_in_headers)(alice.user))


async def test_a_socket_of_a_revoked_session_is_refused(alice: Any, alpha_pair: Any, frozen_clock: Any) -> None:
    headers = await sync_to_async(signed_in_headers)(alice.user)
    await PortalSession.objects.filter(user=alice.user).aupdate(
        ended_at=frozen_clock.now(), end_reason=SessionEnd.REVOKED
    )
    assert not await connects(headers)


async def test_sockets_do_not_keep_a_session_alive(alice: Any, alpha_pair: Any, frozen_clock: Any) -> None:
    headers = await sync_to_async(signed_in_headers)(alice.user)
    for _ in range(5):
        frozen_clock.advance(5 * 60)
        assert await connects(headers)
    frozen_clock.advance(6 * 60)
    assert not await connects(headers)
