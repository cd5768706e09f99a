"""The pre-trade gate: what the execution path asks before it writes any order (ARCHITECTURE.md "Layers").

`trading` defines the gate's protocol and refuses to write an order the gate has not cleared: the two writes that
create orders (`execution.plan_hedge_open`, behind `hedge_open` and the runner's own order writer, and
`execution.hedge_leg_orders`) call `clear_orders` before anything is persisted, and the executor sends only
persisted orders. `risk` implements the gate (risk/gate.py) and the composition root installs it at start-up
(quantarb/wiring.py). So every path — strategy runner, manual desk, repair, flatten — passes the same checks, and
none can go around them.

A process in which no gate was installed refuses every order (`_Unwired`): forgetting the wiring fails closed.

A check reads two things: the market the orders are priced from (`MarketView`: the engine's quotes, or for a
manual command being queued the last stored ones) and the gate's own state (`read_state`: kill switches,
limits, positions, margins, venue rules — database reads). The runner reads the state once per step, before its
decision, and hands it over, so that between a signal and its orders on the wire there is no extra read; the
gate refuses a state older than it accepts.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from django.utils.translation import gettext as _

from trading.domain.calendar import SessionView
from trading.domain.quotes import Quote

if TYPE_CHECKING:
    from accounts.models import AccountPool
    from mt5ops.selectors import TerminalBlock
    from trading.execution.services import LegOrder


class CheckStage(StrEnum):
    """When the gate is asked: before a manual command is queued (from the last stored quotes — the engine asks
    again when it writes the orders), or right before orders are written and sent."""

    QUEUE = "queue"
    WRITE = "write"


class MarketView(Protocol):
    """The quotes an order is priced from (the runner's `MarketSnapshot` is one)."""

    @property
    def perp(self) -> Quote | None: ...

    @property
    def cfd(self) -> Quote | None: ...

    @property
    def usd_per_usdt(self) -> Decimal: ...

    @property
    def session(self) -> SessionView: ...


@dataclass(frozen=True)
class StoredMarket:
    """A `MarketView` from the store (the web process has no stream of its own)."""

    perp: Quote | None
    cfd: Quote | None
    usd_per_usdt: Decimal
    session: SessionView


@dataclass(frozen=True)
class OrderCheck:
    """Orders about to be written together (both legs of a hedge, or one hedge's closing or repair orders).

    `intent` is the orders' `OrderIntent` value; `strategy_id` the strategy they trade for (None: by hand);
    `hedge_id` None for a new hedge."""

    pool: AccountPool
    intent: str
    legs: tuple[LegOrder, ...]
    market: MarketView
    strategy_id: int | None = None
    hedge_id: int | None = None
    manual: bool = False
    stage: CheckStage = CheckStage.WRITE


@dataclass(frozen=True)
class Refusal:
    """One reason the gate refuses: a stable `code` and a message in the operator's language."""

    code: str
    message: str
    leg: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "params": {"leg": self.leg} if self.leg else {}}


@dataclass(frozen=True)
class Halt:
    """Something that lets only reducing orders through on a pool (a tripped kill switch), for the pages to show
    before anyone fills a form."""

    scope: str  # in the operator's language
    reason: str
    since: datetime | None = None


class GateState(Protocol):
    """What a gate read for one pool (opaque to `trading`), and when."""

    @property
    def pool_id(self) -> int: ...

    @property
    def read_at_ms(self) -> int: ...

    @property
    def cfd_terminal_block(self) -> TerminalBlock | None:
        """Why the pool's CFD terminal takes no opening orders (None: it takes them), as read with the rest."""
        ...


class PreTradeGate(Protocol):
    """Implemented by `risk` (risk/gate.py `RiskGate`), installed by the composition root."""

    def read_state(self, *, pool: AccountPool, strategy_id: int | None) -> GateState:
        """Everything a check needs from the database for orders on `pool` (sync: call it off the event loop)."""
        ...

    def check(self, request: OrderCheck, state: GateState) -> Sequence[Refusal]:
        """Every reason the orders may not be written and sent now; empty: they may. No database access."""
        ...

    def halts(self, *, pool: AccountPool) -> Sequence[Halt]:
        """What halts orders by hand on `pool` now (sync: database reads)."""
        ...


class OrderRefused(Exception):
    """The pre-trade gate refused the orders: nothing was written. The message names every reason. `request`: the
    orders asked about; `reported`: the refusal went to the gate's record (`report_refused`)."""

    def __init__(self, refusals: Sequence[Refusal], request: OrderCheck | None = None) -> None:
        self.refusals = tuple(refusals)
        self.request = request
        self.reported = False
        super().__init__(" ".join(refusal.message for refusal in self.refusals))

    def as_dicts(self) -> list[dict[str, object]]:
        return [refusal.as_dict() for refusal in self.refusals]


@dataclass(frozen=True)
class _NoState:
    pool_id: int
    read_at_ms: int = 0
    cfd_terminal_block: None = None


class _Unwired:
    """The gate in place until the composition root installs one: it refuses everything."""

    def read_state(self, *, pool: AccountPool, strategy_id: int | None) -> GateState:
        return _NoState(pool.pk)

    def check(self, request: OrderCheck, state: GateState) -> Sequence[Refusal]:
        return (Refusal("gate_unwired", _unwired_message()),)

    def halts(self, *, pool: AccountPool) -> Sequence[Halt]:
        return (Halt(_("Pre-trade gate"), _unwired_message()),)


def _unwired_message() -> str:
    return _("No pre-trade gate is installed in this process: no order is sent.")


_lock = threading.Lock()
_installed: PreTradeGate = _Unwired()


def install_pre_trade_gate(gate: PreTradeGate | None) -> PreTradeGate:
    """Install the process's pre-trade gate (None: none, i.e. refuse everything). Returns the one it replaces."""
    global _installed
    with _lock:
        previous, _installed = _installed, gate if gate is not None else _Unwired()
    return previous


def pre_trade_gate() -> PreTradeGate:
    return _installed


def gate_state(*, pool: AccountPool, strategy_id: int | None) -> GateState:
    """The installed gate's state for `pool` (database reads: sync)."""
    return _installed.read_state(pool=pool, strategy_id=strategy_id)


def halts(*, pool: AccountPool) -> Sequence[Halt]:
    """What halts orders by hand on `pool` now, as the installed gate sees it."""
    return _installed.halts(pool=pool)


def refusals(request: OrderCheck, *, state: GateState | None = None) -> Sequence[Refusal]:
    """Ask the installed gate about `request`; `state` None: read it now (database reads: sync)."""
    gate = _installed
    if state is None or state.pool_id != request.pool.pk:
        state = gate.read_state(pool=request.pool, strategy_id=request.strategy_id)
    return gate.check(request, state)


def clear_orders(request: OrderCheck, *, state: GateState | None = None) -> None:
    """Raise OrderRefused with every reason unless the installed gate clears the orders."""
    found = refusals(request, state=state)
    if found:
        raise OrderRefused(found, request)


def report_refusals(request: OrderCheck, found: Sequence[Refusal], *, actor: Any = None) -> None:
    """Hand refusals to the installed gate's record (risk audits its compliance rules' refusals). Call it outside
    the transaction that asked — a rolled-back transaction would take the record with it (sync: database
    writes)."""
    record = getattr(_installed, "record_refusal", None)
    if record is not None and found:
        record(request, found, actor)


def report_refused(refused: OrderRefused, *, actor: Any = None) -> None:
    """`report_refusals` for a raised refusal, once (the order writers report theirs, and so may their callers)."""
    if refused.reported or refused.request is None:
        return
    refused.reported = True
    report_refusals(refused.request, refused.refusals, actor=actor)
