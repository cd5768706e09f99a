"""Channel-layer messages, one TypedDict each; consumer handlers are named after the `type`."""

from __future__ import annotations

from typing import Any, Literal, TypedDict


class SpreadUpdate(TypedDict):
    """The latest state of one source pair (JSON-ready: decimals as strings, times as ms since the epoch)."""

    type: Literal["spread.update"]
    pair_id: int
    state: dict[str, Any]


def pair_group(pair_id: int) -> str:
    return f"pair.{pair_id}"
