"""The order state machine (ARCHITECTURE.md "Order safety"), pure: events in, a new `OrderView` out.

    new ─submit─▶ submitting ─accept─▶ accepted ─fill─▶ partially_filled ─fill─▶ filled
                      │  └─timeout/ambiguous─▶ unknown (resolved only by looking the order up: `resolve`)
                      └─▶ rejected · cancelled · expired

Every event is a function returning a new view, or raising `IllegalTransition` with the view untouched (the
caller keeps the old value; nothing is mutated). Rules, chosen so that the venues' out-of-order and repeated
messages are harmless:

- A fill is identified by its venue fill id: a fill id already applied changes nothing (duplicates). Its fee
  may be negative (a maker rebate).
- Fills are summed exactly (quantity and notional), so the same set of fills gives the same view in any order.
  A fill that would take the filled quantity above the order's quantity is refused (`OverFill`), never clamped.
- A fill may arrive after the venue's cancel or expiry (venues report fills before cancels): it is accepted and
  the status stays cancelled/expired — or becomes filled when the order is then complete.
- A fill on a submitting or unknown order proves the venue has it: the order moves on to partially filled/filled.
- An `accept` after a fill, a cancel or an expiry is late and changes nothing; a cancel or expiry of a filled
  order lost the race and changes nothing. Repeating an event that already happened changes nothing.
- Terminal states (filled, cancelled, rejected, expired) absorb: no event takes an order back to a live state.
- Rejected means the venue never held the order: anything the venue later says it did with it (accept, fill,
  cancel, expiry) contradicts that and is refused — the caller flags the order for reconciliation.
- `apply_cumulative` records the venue's own cumulative filled quantity and average price (order answers,
  lookups); it never decreases what we know. The order's `filled` is the larger of the summed fills and the
  venue's cumulative, so a cumulative followed by the fills it covers does not count them twice.

Quantities are in the leg's venue unit (ounces on the perp, lots on the CFD); prices in the leg's currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Literal

ZERO = Decimal(0)
PRICE_QUANTUM = Decimal("0.00000001")
ADJUSTMENT_PREFIX = "qa-adj-"
"""Client ids of the adjustment orders reconciliation books: never sent, they record a position the venue made on
its own (so fill syncing and reconciliation's order comparison pass over them)."""


class IllegalTransition(ValueError):
    """An event the current state does not allow. The view it was applied to is unchanged."""


class OverFill(IllegalTransition):
    """A fill or cumulative report that would take the filled quantity above the order's quantity."""


class OrderStatus(StrEnum):
    NEW = "new"
    SUBMITTING = "submitting"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


TERMINAL: frozenset[OrderStatus] = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)
# States in which the venue may hold the order and fills can still come.
LIVE: frozenset[OrderStatus] = frozenset(
    {OrderStatus.SUBMITTING, OrderStatus.UNKNOWN, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED}
)
# States in which the venue has never confirmed the order (no accept, no fill).
UNACKNOWLEDGED: frozenset[OrderStatus] = frozenset({OrderStatus.NEW, OrderStatus.SUBMITTING, OrderStatus.UNKNOWN})


class Leg(StrEnum):
    PERP = "perp"
    CFD = "cfd"


LegName = Literal["perp", "cfd"]


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


@dataclass(frozen=True, slots=True)
class FeeConversion:
    """How a fee the venue charged in another asset (BNB on Binance; USDT on a CFD leg booked in USD) became the
    booked fee: `amount` of `asset` as the venue charged it, at `rate` units of the booked currency per unit of
    `asset`, as `source` (a named rate source) gave it for `ts_ms`."""

    amount: Decimal
    asset: str
    rate: Decimal
    source: str
    ts_ms: int

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ValueError("a fee conversion rate must be positive")
        if not self.asset or not self.source:
            raise ValueError("a fee conversion names its asset and its rate source")


@dataclass(frozen=True, slots=True)
class FillEvent:
    """One execution as the venue reports it (a Binance trade, an MT5 deal), identified by the venue's own id.

    `fee` is the cost in `fee_currency` (USD or USDT, the currencies PnL is booked in); negative is a rebate.
    `conversion` says how it was converted when the venue charged another asset. `maker` is the venue's
    maker/taker flag (None: the venue does not say). `realized_pnl` and `swap` are the venue's own figures for
    the fill, kept for reconciliation: Binance's `realizedPnl`, an MT5 deal's `profit` and `swap` (a closing
    deal carries its position's accumulated swap)."""

    fill_id: str
    quantity: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    ts_ms: int
    maker: bool | None = None
    conversion: FeeConversion | None = None
    realized_pnl: Decimal | None = None
    swap: Decimal | None = None


@dataclass(frozen=True, slots=True)
class VenueOrderReport:
    """A venue's answer about one order, looked up by client id: its status mapped onto ours (the venue's
    "new" is `ACCEPTED`), cumulative filled quantity and average price. `found=False` is "no such order"."""

    found: bool
    status: OrderStatus | None = None
    filled: Decimal = ZERO
    avg_price: Decimal | None = None

    @classmethod
    def not_found(cls) -> VenueOrderReport:
        return cls(found=False)

    def __post_init__(self) -> None:
        if self.found and self.status is None:
            raise ValueError("a found order needs a status")
        if self.status in (OrderStatus.NEW, OrderStatus.SUBMITTING, OrderStatus.UNKNOWN):
            raise ValueError(f"a venue cannot report {self.status}: map its 'new' to accepted")
        if self.filled < 0:
            raise ValueError("filled cannot be negative")
        if self.filled > 0 and (self.avg_price is None or self.avg_price <= 0):
            raise ValueError("a filled quantity needs a positive average price")


@dataclass(frozen=True, slots=True)
class OrderView:
    """What we know of one order. Build one with `new_order`; change it only through the event functions.

    `fill_qty`/`fill_notional` sum the individual fills in `fill_ids`; `venue_filled`/`venue_avg_price` are
    the largest cumulative the venue reported. `fees` is a sorted tuple of (currency, total) pairs.
    """

    status: OrderStatus
    quantity: Decimal
    fill_qty: Decimal = ZERO
    fill_notional: Decimal = ZERO
    fill_ids: frozenset[str] = field(default_factory=frozenset)
    fees: tuple[tuple[str, Decimal], ...] = ()
    venue_filled: Decimal = ZERO
    venue_avg_price: Decimal | None = None

    @property
    def filled(self) -> Decimal:
        return self.fill_qty if self.fill_qty >= self.venue_filled else self.venue_filled

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled

    @property
    def avg_price(self) -> Decimal | None:
        """Average fill price at 8 dp (half-even), from our fills unless the venue's cumulative is ahead."""
        if self.fill_qty >= self.venue_filled:
            if self.fill_qty == 0:
                return None
            return (self.fill_notional / self.fill_qty).quantize(PRICE_QUANTUM, rounding=ROUND_HALF_EVEN)
        return self.venue_avg_price

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    def fee_in(self, currency: str) -> Decimal:
        return dict(self.fees).get(currency, ZERO)


def new_order(quantity: Decimal) -> OrderView:
    """A persisted, not yet sent order of `quantity` (> 0) in the leg's venue unit."""
    if quantity <= 0:
        raise ValueError("an order's quantity must be positive")
    return OrderView(status=OrderStatus.NEW, quantity=quantity)


def _refuse(order: OrderView, event: str) -> IllegalTransition:
    return IllegalTransition(f"{event} is not allowed on a {order.status} order")


def _status_after_fill(order: OrderView, filled: Decimal) -> OrderStatus:
    if filled == order.quantity:
        return OrderStatus.FILLED
    if order.status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED):
        return order.status
    return OrderStatus.PARTIALLY_FILLED if filled > 0 else order.status


# --- events ------------------------------------------------------------------------------------------------
def submit(order: OrderView) -> OrderView:
    """The order is about to go on the wire (persisted as submitting before the send). Never repeated: a resend
    is a new attempt with a new client id."""
    if order.status is not OrderStatus.NEW:
        raise _refuse(order, "submit")
    return replace(order, status=OrderStatus.SUBMITTING)


def accept(order: OrderView) -> OrderView:
    """The venue acknowledged the order."""
    if order.status in (OrderStatus.SUBMITTING, OrderStatus.UNKNOWN):
        return replace(order, status=OrderStatus.ACCEPTED)
    if order.status in (OrderStatus.NEW, OrderStatus.REJECTED):
        raise _refuse(order, "accept")
    return order  # late acknowledgement: already accepted, filling or done


def mark_unknown(order: OrderView) -> OrderView:
    """The send timed out or the answer was ambiguous: only a lookup by client id (`resolve`) settles it."""
    if order.status is OrderStatus.SUBMITTING:
        return replace(order, status=OrderStatus.UNKNOWN)
    if order.status is OrderStatus.UNKNOWN:
        return order
    raise _refuse(order, "mark_unknown")


def reject(order: OrderView) -> OrderView:
    """The venue refused the order (or a local check refused it before the send, from new)."""
    if order.status in UNACKNOWLEDGED:
        return replace(order, status=OrderStatus.REJECTED)
    if order.status is OrderStatus.REJECTED:
        return order
    raise _refuse(order, "reject")


def _close(order: OrderView, to: OrderStatus, event: str) -> OrderView:
    if order.status in LIVE or (order.status is OrderStatus.NEW and to is OrderStatus.CANCELLED):
        return replace(order, status=to)
    if order.status in (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED):
        return order  # repeated, or lost the race against the last fill
    raise _refuse(order, event)


def cancel(order: OrderView) -> OrderView:
    """The venue cancelled the order (what was filled stays filled). A new order is cancelled locally."""
    return _close(order, OrderStatus.CANCELLED, "cancel")


def expire(order: OrderView) -> OrderView:
    """The venue expired the rest of the order (an IOC's unfilled remainder)."""
    return _close(order, OrderStatus.EXPIRED, "expire")


def apply_fill(order: OrderView, fill: FillEvent) -> OrderView:
    if fill.fill_id in order.fill_ids:
        return order
    if order.status in (OrderStatus.NEW, OrderStatus.REJECTED):
        raise _refuse(order, "a fill")
    if fill.quantity <= 0 or fill.price <= 0:
        raise IllegalTransition(f"fill {fill.fill_id} has a non-positive quantity or price")
    fill_qty = order.fill_qty + fill.quantity
    if fill_qty > order.quantity:
        raise OverFill(f"fill {fill.fill_id} would fill {fill_qty} of {order.quantity}")
    fees = dict(order.fees)
    fees[fill.fee_currency] = fees.get(fill.fee_currency, ZERO) + fill.fee
    filled = fill_qty if fill_qty >= order.venue_filled else order.venue_filled
    return replace(
        order,
        status=_status_after_fill(order, filled),
        fill_qty=fill_qty,
        fill_notional=order.fill_notional + fill.quantity * fill.price,
        fill_ids=order.fill_ids | {fill.fill_id},
        fees=tuple(sorted(fees.items())),
    )


def apply_cumulative(order: OrderView, filled: Decimal, avg_price: Decimal | None) -> OrderView:
    """Record the venue's cumulative filled quantity and average price. Never decreases what we know."""
    if filled <= order.venue_filled:
        return order
    if order.status in (OrderStatus.NEW, OrderStatus.REJECTED):
        raise _refuse(order, "a cumulative fill")
    if filled > order.quantity:
        raise OverFill(f"the venue reports {filled} filled of {order.quantity}")
    if avg_price is None or avg_price <= 0:
        raise IllegalTransition("a cumulative fill needs a positive average price")
    known = order.fill_qty if order.fill_qty >= filled else filled
    return replace(order, status=_status_after_fill(order, known), venue_filled=filled, venue_avg_price=avg_price)


def resolve(order: OrderView, report: VenueOrderReport) -> OrderView:
    """Map the venue's answer about the order onto it: for an unknown order, and for reconciliation.

    "Not found" on an order the venue never acknowledged means it never arrived: rejected. The caller decides
    when a "not found" is trustworthy (after the order's send deadline has passed). "Not found" on an order the
    venue did acknowledge contradicts what we know and is refused (reconcile by hand). Idempotent:
    `resolve(resolve(o, r), r) == resolve(o, r)`.
    """
    if not report.found:
        # An unacknowledged order has no fills: the first fill or cumulative moves it on.
        if order.status in UNACKNOWLEDGED or order.status is OrderStatus.REJECTED:
            return replace(order, status=OrderStatus.REJECTED)
        raise _refuse(order, "a 'not found' answer")
    status = report.status
    assert status is not None  # checked by VenueOrderReport
    if status is OrderStatus.REJECTED:
        if report.filled > 0:
            raise IllegalTransition("the venue reports a rejected order with fills")
        return reject(order)
    if status is OrderStatus.FILLED and report.filled != order.quantity:
        raise IllegalTransition(f"the venue reports filled with {report.filled} of {order.quantity}")
    if status is OrderStatus.PARTIALLY_FILLED and not 0 < report.filled < order.quantity:
        raise IllegalTransition(f"the venue reports partially filled with {report.filled} of {order.quantity}")
    resolved = order
    if resolved.status is OrderStatus.NEW:
        resolved = submit(resolved)  # the venue holds it, so it was sent
    resolved = accept(resolved)
    resolved = apply_cumulative(resolved, report.filled, report.avg_price)
    if status is OrderStatus.CANCELLED:
        resolved = cancel(resolved)
    elif status is OrderStatus.EXPIRED:
        resolved = expire(resolved)
    return resolved
