"""The WebSocket side of accounts/sessions.py: a socket of an ended, idle or too-old portal session connects as
anonymous (and so is refused by its consumer). A socket never moves the idle deadline: only a person's HTTP
requests do."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser

from quantarb import clock

from .models import PortalSession
from .sessions import SESSION_DATA_KEY, session_expiry_reason


def _portal_session_open(session: Any) -> bool:
    session_id = session.get(SESSION_DATA_KEY)
    if not isinstance(session_id, int):
        return True  # not recorded yet: the next HTTP request adopts it, and the user check stays Django's
    row = PortalSession.objects.filter(pk=session_id).first()
    return row is not None and row.ended_at is None and session_expiry_reason(row, clock.now()) is None


class PortalSessionGuard:
    """ASGI middleware inside Channels' AuthMiddlewareStack (it reads `scope["session"]`)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        session = scope.get("session")
        if session is not None and not await database_sync_to_async(_portal_session_open)(session):
            scope = dict(scope, user=AnonymousUser())
        return await self.inner(scope, receive, send)
