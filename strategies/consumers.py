"""WebSocket `/ws/strategies/<id>/`: tells a strategy's open page that its status changed.

Permission is checked at the handshake (signed in, a member whose role reads trading data, the strategy in the
active tenant: anything else is refused before `accept()`), and again when the user's access changes (a control
message on the user's group closes the socket). Frames carry no data: `{"type": "strategy.changed"}` makes the
page fetch its status panel over HTTP, which renders only what the user may see. A burst of changes coalesces
into one frame per STRATEGY_MIN_INTERVAL_S.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from accounts.models import User
from accounts.permissions import Perm, role_has
from quantarb.events import user_group
from quantarb.fanout import get_hub
from quantarb.tenancy import active_membership

from .events import strategy_group
from .models import Strategy

CHANGED_FRAME = json.dumps({"type": "strategy.changed"})
STRATEGY_MIN_INTERVAL_S = 0.25


def _may_watch(user: Any, session: Any, strategy_id: int) -> bool:
    membership = active_membership(user, session)
    if membership is None or not role_has(membership.role, Perm.TRADING_READ):
        return False
    return Strategy.objects.filter(pk=strategy_id, tenant_id=membership.tenant_id).exists()


class StrategyConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    # Like the spread socket: no channel-layer channel per socket, the process's hub hands messages over.
    channel_layer_alias = "quantarb-no-per-socket-layer"

    async def connect(self) -> None:
        self.strategy_id = int(self.scope["url_route"]["kwargs"]["strategy_id"])
        user = self.scope.get("user")
        if not await database_sync_to_async(_may_watch)(user, self.scope.get("session"), self.strategy_id):
            await self.close()  # before accept(): the handshake is refused, no frame is sent
            return
        self.groups_joined = [strategy_group(self.strategy_id), user_group(user.pk)]
        self.pending: asyncio.TimerHandle | None = None
        self.tasks: set[asyncio.Task[None]] = set()  # kept referenced until done
        self.hub = get_hub()
        await self.hub.subscribe(self, self.groups_joined)
        await self.accept()
        await self.send(text_data=json.dumps({"type": "hello", "strategy_id": self.strategy_id}))

    async def disconnect(self, code: int) -> None:
        if getattr(self, "pending", None) is not None:
            self.pending.cancel()  # type: ignore[union-attr]
        if hasattr(self, "hub"):
            await self.hub.unsubscribe(self, self.groups_joined)

    def deliver(self, message: dict[str, Any]) -> None:
        """From the hub (on the event loop, must not block)."""
        loop = asyncio.get_running_loop()
        if message.get("type") == "strategy.changed":
            if self.pending is None:  # a burst coalesces into the frame already scheduled
                self.pending = loop.call_later(STRATEGY_MIN_INTERVAL_S, self._flush)
        elif message.get("type") == "access.changed":
            self.tasks.add(task := loop.create_task(self.access_changed()))
            task.add_done_callback(self.tasks.discard)

    def _flush(self) -> None:
        self.pending = None
        self.tasks.add(task := asyncio.get_running_loop().create_task(self.send(text_data=CHANGED_FRAME)))
        task.add_done_callback(self.tasks.discard)

    async def access_changed(self) -> None:
        def still_allowed() -> bool:
            user = User.objects.filter(pk=self.scope["user"].pk).first()
            return user is not None and _may_watch(user, self.scope.get("session"), self.strategy_id)

        if not await database_sync_to_async(still_allowed)():
            await self.close(code=4403)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data and '"ping"' in text_data:
            await self.send(text_data=json.dumps({"type": "pong"}))
