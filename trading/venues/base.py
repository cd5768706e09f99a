"""What every quote feed offers the pipeline, whatever the venue."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from trading.domain.orders import FillEvent, VenueOrderReport
from trading.domain.quotes import Quote

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RateObservation:
    """usd_per_usdt (the USD value of one USDT) observed at `ts_ms` by `source` (a `RateSource` value)."""

    usd_per_usdt: Decimal
    ts_ms: int
    source: str = "simulated"


class QuoteFeed(Protocol):
    def stream(self) -> AsyncIterator[Quote | RateObservation]:
        """Quotes (and, for feeds that carry it, the USDT/USD rate) as they arrive; runs until cancelled."""
        ...

    def snapshot(self) -> list[Quote | RateObservation]:
        """One poll of the venue's current quotes (REST / `symbol_info_tick`), for when no stream runs."""
        ...


# --- execution ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OrderRequest:
    """One order as a venue adapter sends it. Quantities in ounces (adapters convert to lots for MT5);
    `limit_price` None: a market order (MT5 with `deviation` points); a limit order is immediate-or-cancel."""

    client_order_id: str
    side: str  # "buy" | "sell"
    quantity_oz: Decimal
    limit_price: Decimal | None = None
    deviation: int | None = None
    reduce_only: bool = False


@dataclass(frozen=True, slots=True)
class VenueAnswer:
    """What a venue says about one order: its status and cumulative fill (`report`), the fills it named, and
    its own id for the order."""

    report: VenueOrderReport
    fills: tuple[FillEvent, ...] = ()
    venue_order_id: str = ""


# The answer budget of the venue call in flight: (deadline on the event loop's clock, its length in seconds), set
# by the caller that times the call out (trading/execution/executor.py). A venue that makes optional requests after the
# answer (reading an order's trades) spends only part of it, so the optional read never costs the answer itself.
_ANSWER_BUDGET: ContextVar[tuple[float, float] | None] = ContextVar("answer_budget", default=None)


@contextlib.contextmanager
def answer_budget(seconds: float) -> Iterator[None]:
    """Within this block, venue calls are answered within `seconds` from now (the caller times them out then)."""
    token = _ANSWER_BUDGET.set((asyncio.get_running_loop().time() + seconds, seconds))
    try:
        yield
    finally:
        _ANSWER_BUDGET.reset(token)


def optional_read_budget_s(default_s: float) -> float:
    """Seconds an optional read after the answer may take: `default_s`, and within a caller's answer budget it must end
    by the middle of that budget — the other half is the margin in which the answer is still returned before
    the caller gives up on it. 0 or less: no time left, skip the read."""
    budget = _ANSWER_BUDGET.get()
    if budget is None:
        return default_s
    deadline, length = budget
    return min(default_s, deadline - length / 2 - asyncio.get_running_loop().time())


class ExecutionVenue(Protocol):
    """Orders by client order id on one account. `place` raises `VenueError` (trading/venues/errors.py):
    `sent` False when the request never left, `refused` when the venue's own code says nothing was executed;
    anything else means the order may exist — look it up, never resend blindly."""

    async def place(self, request: OrderRequest) -> VenueAnswer: ...

    async def lookup(self, client_order_id: str) -> VenueAnswer:
        """The venue's view of the order (`report.found` False when it holds none)."""
        ...

    async def cancel(self, client_order_id: str) -> VenueAnswer: ...

    async def position_oz(self) -> Decimal:
        """The account's signed net position in the instrument, in ounces."""
        ...

    async def open_orders(self) -> list[tuple[str, VenueAnswer]]:
        """(client order id, answer) of every order still working at the venue."""
        ...

    async def mark_price(self) -> Decimal | None:
        """The instrument's price now (mark or mid, in the leg's currency), which a position the venue changed
        without saying at what price is booked at; None when the venue has none."""
        ...

    def backoff_s(self) -> float:
        """Seconds the venue asked this account to wait before sending anything more (0: send now)."""
        ...


@contextlib.asynccontextmanager
async def closing_stream(feed: QuoteFeed) -> AsyncIterator[AsyncIterator[Quote | RateObservation]]:
    """A feed's stream, closed when the block ends however it ends (cancelled included): the feed's own clean-up —
    closing its venue connections — runs then, not whenever the garbage collector finalises the generator."""
    stream = feed.stream()
    try:
        yield stream
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


@dataclass
class MergedFeed:
    """Several feeds as one (a pair's perp leg from one venue, its CFD leg and the rate from others). A feed that
    fails is restarted after `restart_after_s` on its own; the others carry on."""

    feeds: list[QuoteFeed]
    restart_after_s: float = 1.0

    async def stream(self) -> AsyncIterator[Quote | RateObservation]:
        queue: asyncio.Queue[Quote | RateObservation] = asyncio.Queue(maxsize=1000)

        async def pump(feed: QuoteFeed) -> None:
            while True:
                try:
                    # Closed as soon as the pump ends, so the feed's own clean-up (its venue sessions) runs now.
                    async with closing_stream(feed) as events:
                        async for event in events:
                            await queue.put(event)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("feed %s failed; restarting in %s s", type(feed).__name__, self.restart_after_s)
                await asyncio.sleep(self.restart_after_s)

        tasks = [asyncio.create_task(pump(feed), name=f"feed-{type(feed).__name__}") for feed in self.feeds]
        try:
            while True:
                yield await queue.get()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def snapshot(self) -> list[Quote | RateObservation]:
        """Every feed's poll, the rates first (nothing is priced before a pair has its usd_per_usdt)."""
        events = [event for feed in self.feeds for event in feed.snapshot()]
        return sorted(events, key=lambda event: not isinstance(event, RateObservation))
