"""Channel-layer messages, one TypedDict each; consumer handlers are named after the `type`."""

from __future__ import annotations

from typing import Any, Literal, TypedDict


class SpreadUpdate(TypedDict):
    """The latest state of one source pair (JSON-ready: decimals as strings, times as ms since the epoch)."""

    type: Literal["spread.update"]
    pair_id: int
    state: dict[str, Any]


class AccessChanged(TypedDict):
    """A user's memberships, roles or status changed: their open sockets re-check what they may see."""

    type: Literal["access.changed"]
    user_id: int


class AlertsChanged(TypedDict):
    """A tenant's alerts were opened, acknowledged or resolved: the user's pages refresh their alert badge and
    list. Carries no alert data (the page fetches what the user may see)."""

    type: Literal["alerts.changed"]
    user_id: int
    tenant_id: int


class TradingChanged(TypedDict):
    """A tenant's strategies, hedges or kill switches changed: the user's dashboard refreshes its trading strip.
    Carries no data (the page fetches what the user may see)."""

    type: Literal["trading.changed"]
    user_id: int
    tenant_id: int


class RiskChanged(TypedDict):
    """A tenant's risk figures changed (a risk history minute recorded, a limit's level, a breach, a kill switch,
    a limit edited): the user's risk centre re-fetches its figures. Carries no data (the page fetches what the user
    may see)."""

    type: Literal["risk.changed"]
    user_id: int
    tenant_id: int


def group_of(message: dict[str, Any]) -> str:
    """The group a message was sent to, from its own fields (a channel-layer message does not say)."""
    kind = message.get("type")
    if kind == "spread.update":
        return pair_group(message["pair_id"])
    if kind in ("access.changed", "alerts.changed", "trading.changed", "risk.changed"):
        return user_group(message["user_id"])
    if kind == "strategy.changed":
        return f"strategy.{message['strategy_id']}"  # strategies/events.py strategy_group
    return ""


def pair_group(pair_id: int) -> str:
    return f"pair.{pair_id}"


def is_pair_group(group: str) -> bool:
    return group.startswith("pair.")


def user_group(user_id: int) -> str:
    return f"user.{user_id}"
