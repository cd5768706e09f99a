"""The one way code sends to the channel layer: after the surrounding transaction commits.

Services never call the channel layer directly (a rolled-back write must not reach a browser).

Two layers with Redis: spread updates (groups `pair.<id>`) go over Redis pub/sub (`settings.QUANTARB_SPREAD_LAYER`,
one PUBLISH that every subscribed web process reads at once), everything else over the default layer.
`layer_for(group)` is the one place that decides; senders and the fan-out hub both ask it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

from quantarb.events import is_pair_group

log = logging.getLogger(__name__)


def layer_for(group: str) -> Any:
    """The channel layer that carries `group`'s messages (None when no layer is configured)."""
    if is_pair_group(group):
        return get_channel_layer(settings.QUANTARB_SPREAD_LAYER)
    return get_channel_layer()


def send_on_commit(group: str, message: dict[str, Any]) -> None:
    def send() -> None:
        layer = layer_for(group)
        if layer is None:
            return
        try:
            async_to_sync(layer.group_send)(group, message)
        except Exception:  # a push is best effort: the page reloads state on reconnect
            log.exception("live push to %s failed", group)

    transaction.on_commit(send)


async def group_send(group: str, message: dict[str, Any]) -> bool:
    """From async code outside a transaction (the engine's tick path). Returns False when the layer failed."""
    layer = layer_for(group)
    if layer is None:
        return False
    try:
        await layer.group_send(group, message)
    except Exception as exc:
        log.warning("live push to %s failed: %s", group, exc)
        return False
    return True


class _Round:
    """What the callbacks of one transaction have sent so far, for one kind of push."""

    def __init__(self) -> None:
        self.sent: set[Hashable] = set()
        self.committed = False


_rounds = threading.local()  # a Django connection, and so its transaction, belongs to one thread


def on_commit_once(kind: str, keys: Iterable[Hashable], send: Callable[[set[Any]], None]) -> None:
    """After the current transaction commits (at once outside one), call `send` with those of `keys` no earlier
    call of the same `kind` sent in this transaction: at most one push per key per transaction.

    Each call registers its own callback, so a rolled-back savepoint or transaction drops its keys with it; the
    callbacks of one transaction share one record of what they sent. The first of them to run marks the record
    committed, so the next transaction starts a new one (a rolled-back transaction's record, which sent nothing,
    is reused by the next)."""
    wanted = set(keys)
    if not wanted:
        return
    rounds: dict[str, _Round] = _rounds.__dict__.setdefault("by_kind", {})
    record = rounds.get(kind)
    if record is None or record.committed:
        record = rounds[kind] = _Round()

    def run() -> None:
        record.committed = True
        fresh = wanted - record.sent
        if fresh:
            record.sent |= fresh
            send(fresh)

    transaction.on_commit(run)
