"""Deterministic client order ids (ARCHITECTURE.md "Order safety").

One id per (tenant, hedge, leg, intent, attempt), the same on every computation, so an order persisted before
its send can be looked up by the same id after a crash or a timeout, and a resend is a new attempt with a new
id. It fits both venues: Binance `newClientOrderId` (`[.A-Z:/a-z0-9_-]{1,36}`) and the MT5 `comment`
(at most 26 characters kept here; longer comments are refused by some builds).

Layout: `qa{tenant}-{hedge}{LEG}{INTENT}{attempt}` with the numbers in lower-case base 36 and the leg and
intent as single upper-case letters, which also delimit the numbers: `qa1-2fPO0` is tenant 1, hedge 87,
perp, open, attempt 0. Tenant and hedge ids below 36**8 (≈ 2.8e12) and attempts below 36**3 (46,656) always
fit: at most 2 + 8 + 1 + 8 + 2 + 3 = 24 characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from trading.domain.orders import Leg, LegName

MAX_LENGTH = 26
PREFIX = "qa"
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_LEG_CODES = {Leg.PERP: "P", Leg.CFD: "C"}


class Intent(StrEnum):
    OPEN = "open"
    CLOSE = "close"
    REPAIR = "repair"


IntentName = Literal["open", "close", "repair"]
_INTENT_CODES = {Intent.OPEN: "O", Intent.CLOSE: "X", Intent.REPAIR: "R"}
_LEGS = {code: leg for leg, code in _LEG_CODES.items()}
_INTENTS = {code: intent for intent, code in _INTENT_CODES.items()}
# Canonical numbers only (no leading zeros), so every id parses back to one key and formats back to itself.
_NUMBER = r"(0|[1-9a-z][0-9a-z]*)"
_PATTERN = re.compile(rf"{PREFIX}{_NUMBER}-{_NUMBER}([PC])([OXR]){_NUMBER}")


@dataclass(frozen=True, slots=True)
class ClientOrderKey:
    tenant_id: int
    hedge_id: int
    leg: Leg
    intent: Intent
    attempt: int


def _base36(number: int) -> str:
    if number < 0:
        raise ValueError("ids and attempts cannot be negative")
    digits = []
    while True:
        number, digit = divmod(number, 36)
        digits.append(_DIGITS[digit])
        if number == 0:
            return "".join(reversed(digits))


def client_order_id(
    tenant_id: int, hedge_id: int, leg: Leg | LegName, intent: Intent | IntentName, attempt: int
) -> str:
    """The client order id of one attempt of one leg of one hedge. Raises ValueError if it would not fit."""
    text = (
        f"{PREFIX}{_base36(tenant_id)}-{_base36(hedge_id)}"
        f"{_LEG_CODES[Leg(leg)]}{_INTENT_CODES[Intent(intent)]}{_base36(attempt)}"
    )
    if len(text) > MAX_LENGTH:
        raise ValueError(f"client order id {text!r} is longer than {MAX_LENGTH} characters")
    return text


def parse_client_order_id(text: str) -> ClientOrderKey | None:
    """The key behind one of our ids, or None for an id we did not make (a manual order, another system's)."""
    match = _PATTERN.fullmatch(text)
    if match is None or len(text) > MAX_LENGTH:
        return None
    tenant, hedge, leg, intent, attempt = match.groups()
    return ClientOrderKey(int(tenant, 36), int(hedge, 36), _LEGS[leg], _INTENTS[intent], int(attempt, 36))
