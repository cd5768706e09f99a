"""Compliance rules of a desk: the pre-trade rule framework the order gate runs beside its
limits. Pure: no Django, no I/O, no clock (the caller passes the moment).

A desk's rules (`DeskRules`) are evaluated against one order (`OrderFacts`) and answer with the rules it breaks,
each a `Breach` with a stable code, an English template and its parameters (risk/messages.py translates them):

- **trading window** (`TradingWindow`): opening orders only on the listed weekdays between `start` and `end`
  local time in the window's time zone (`end` before `start` spans midnight: the window opened on a listed day
  runs into the next). Several windows: an order inside any of them passes. Reducing orders always pass — a rule
  that kept a desk from closing would add risk, not remove it.
- **maximum orders per day per account** (`max_orders_per_day`): the account's orders since local midnight (in
  the desk's time zone) plus this one may not exceed the maximum. Every order counts, reducing ones too, but a
  reducing order is never refused by it (same reason as above).
- **restricted instruments**: no opening order in a listed symbol (case-insensitive); reducing orders pass.
- **pattern day trader** (risk/domain/day_trades.py): for an account flagged as a US equity margin account and
  not in a gold pool (off for gold pools), an order that would complete a day trade bringing the rolling count
  to the rule's threshold while the equity is below the floor is refused — closing included, as the regulator
  has it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, tzinfo
from decimal import Decimal
from enum import StrEnum
from typing import Any

from . import day_trades


class Code(StrEnum):
    WINDOW = "compliance_window"
    MAX_ORDERS = "compliance_max_orders"
    RESTRICTED = "compliance_restricted"
    PATTERN_DAY_TRADER = "compliance_pdt"


WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, slots=True)
class Breach:
    code: Code
    template: str
    params: dict[str, Any]
    rule: str = ""  # the rule's name, as the desk called it

    @property
    def message(self) -> str:
        return self.template % self.params


@dataclass(frozen=True, slots=True)
class TradingWindow:
    """Opening orders allowed on `days` (Monday = 0) from `start` to `end` local time in `tz`."""

    days: frozenset[int]
    start: time
    end: time
    tz: tzinfo
    name: str = ""

    def __post_init__(self) -> None:
        if not self.days or any(day not in range(7) for day in self.days):
            raise ValueError("A trading window needs weekdays from 0 (Monday) to 6 (Sunday).")
        if self.start == self.end:
            raise ValueError("A trading window's start and end must differ.")

    def contains(self, at: datetime) -> bool:
        if at.tzinfo is None:
            raise ValueError("The moment must be timezone-aware.")
        local = at.astimezone(self.tz)
        clock_time, weekday = local.time().replace(tzinfo=None), local.weekday()
        if self.start < self.end:
            return weekday in self.days and self.start <= clock_time < self.end
        # Spans midnight: the evening part on a listed day, the morning part on the day after one.
        return (weekday in self.days and clock_time >= self.start) or (
            (weekday - 1) % 7 in self.days and clock_time < self.end
        )

    def describe(self) -> str:
        days = ",".join(WEEKDAY_NAMES[day] for day in sorted(self.days))
        return f"{days} {self.start:%H:%M}–{self.end:%H:%M} {self.tz}"


@dataclass(frozen=True, slots=True)
class PdtSetup:
    """The pattern-day-trader rule for one account: the rule, the business calendar and the account's history."""

    rule: day_trades.PdtRule
    calendar: day_trades.BusinessCalendar
    executions: tuple[day_trades.Execution, ...]
    equity: Decimal
    opening_positions: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AccountRules:
    """What applies to one account: its order count today and, when the PDT rule applies to it, its setup."""

    orders_today: int = 0
    pdt: PdtSetup | None = None


@dataclass(frozen=True, slots=True)
class DeskRules:
    """A desk's enabled rules. `windows` empty: no window rule (always open)."""

    windows: tuple[TradingWindow, ...] = ()
    max_orders_per_day: tuple[tuple[str, int], ...] = ()  # (rule name, maximum)
    restricted: tuple[tuple[str, str], ...] = ()  # (rule name, symbol)
    window_rule: str = ""

    @property
    def empty(self) -> bool:
        return not (self.windows or self.max_orders_per_day or self.restricted)


@dataclass(frozen=True, slots=True)
class OrderFacts:
    account_id: int
    instrument: str
    side: day_trades.TradeSide
    quantity: Decimal
    reducing: bool
    at: datetime


def evaluate(rules: DeskRules, order: OrderFacts, account: AccountRules) -> list[Breach]:
    """Every rule `order` breaks (empty: it passes)."""
    out: list[Breach] = []
    if rules.windows and not order.reducing and not any(window.contains(order.at) for window in rules.windows):
        out.append(
            Breach(
                Code.WINDOW,
                "Outside the desk's trading windows (%(windows)s): no new positions now.",
                {"windows": "; ".join(window.describe() for window in rules.windows)},
                rules.window_rule,
            )
        )
    if not order.reducing:
        for name, maximum in rules.max_orders_per_day:
            if account.orders_today + 1 > maximum:
                out.append(
                    Breach(
                        Code.MAX_ORDERS,
                        "The account has sent %(count)s orders today (maximum %(maximum)s per day).",
                        {"count": account.orders_today, "maximum": maximum},
                        name,
                    )
                )
        symbol = order.instrument.strip().upper()
        for name, restricted in rules.restricted:
            if restricted.strip().upper() == symbol:
                out.append(
                    Breach(
                        Code.RESTRICTED, "%(symbol)s is a restricted instrument.", {"symbol": order.instrument}, name
                    )
                )
    if account.pdt is not None and order.quantity > 0:
        setup = account.pdt
        decision = day_trades.pdt_check(
            setup.executions,
            day_trades.Execution(order.instrument, order.at, order.side, order.quantity),
            equity=setup.equity,
            rule=setup.rule,
            calendar=setup.calendar,
            opening_positions=setup.opening_positions,
        )
        if not decision.allowed:
            out.append(
                Breach(
                    Code.PATTERN_DAY_TRADER,
                    "A day trade now would be number %(count)s within %(days)s business days with %(equity)s of "
                    "equity, below the pattern-day-trader floor of %(floor)s.",
                    {
                        "count": decision.status.count + 1,
                        "days": setup.rule.window_days,
                        "equity": setup.equity,
                        "floor": setup.rule.equity_floor,
                    },
                )
            )
    return out


def is_gold(symbol: str) -> bool:
    """Whether a symbol is gold (XAU…, GOLD…): the pattern-day-trader rule is off for gold pools."""
    upper = symbol.upper()
    return upper.startswith("XAU") or upper.startswith("GOLD")


def parse_days(text: str) -> frozenset[int]:
    """'0,1,2,3,4' (Monday = 0) → the weekdays; ValueError on anything else."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        raise ValueError("List at least one weekday.")
    days = set()
    for part in parts:
        if not part.isdigit() or int(part) > 6:
            raise ValueError("Weekdays are numbers from 0 (Monday) to 6 (Sunday).")
        days.add(int(part))
    return frozenset(days)


def local_day_start(at: datetime, tz: tzinfo) -> datetime:
    """Midnight of `at`'s local day in `tz` (aware)."""
    local = at.astimezone(tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


TEMPLATES: Sequence[str] = (
    "Outside the desk's trading windows (%(windows)s): no new positions now.",
    "The account has sent %(count)s orders today (maximum %(maximum)s per day).",
    "%(symbol)s is a restricted instrument.",
    "A day trade now would be number %(count)s within %(days)s business days with %(equity)s of equity, below the "
    "pattern-day-trader floor of %(floor)s.",
)
