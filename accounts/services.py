"""Writes around identity. Changes of membership, role or status tell the user's open sockets to re-check."""

from __future__ import annotations

from collections.abc import Iterable

from quantarb.events import AccessChanged, user_group
from quantarb.live import send_on_commit


def access_changed(*, user_ids: Iterable[int]) -> None:
    """After the current transaction commits, make every open socket of these users re-check its access
    (closing it when the user lost the tenant or was suspended, narrowing it when pairs were revoked)."""
    for user_id in set(user_ids):
        message: AccessChanged = {"type": "access.changed", "user_id": user_id}
        send_on_commit(user_group(user_id), dict(message))
