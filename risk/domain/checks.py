"""Pre-trade checks (ARCHITECTURE.md "Order safety"): pure, over Decimal, one call per order.

`pre_trade(intent, ctx)` lists every reason the order may not be sent; an empty list means send. The caller
builds the context from fresh venue reads (quotes, account settings, margin, liquidation price) and the kill
switch state; nothing here reads a clock or a database.

Rules for reducing orders: an intent flagged `reducing` must really reduce its leg's position (opposite side,
no more than held) or it is refused (`not_reducing`) — the flag is what lets an order through a halt. Reducing
orders skip the checks that protect against new risk (session entry windows, CFD spread, position, notional,
margin, liquidation distance, stop-out) but never the ones that make any order unsafe: stale quotes, a closed
market on the order's leg, account settings, the venue's rate limit and growing unhedged exposure.

Venue quantity rules (`InstrumentLimits`: step, minimum, maximum, minimum notional, all in ounces and the leg's
quote currency) apply to every order, reducing or not — a venue refuses an order off its step or above its
maximum whatever it does to the position — except the minimum notional, which only opening orders must reach.

The rate limiter is keyed by leg ("perp", "cfd"): one limiter per account, recorded by the caller when an order
is actually sent.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from trading.domain.calendar import SessionView, entry_block
from trading.domain.orders import Leg as Leg  # re-exported: the gate and its callers name them through checks
from trading.domain.orders import Side as Side

ZERO = Decimal(0)
BPS = Decimal(10_000)


class Check(StrEnum):
    """Violation codes, one per check (stable: they are stored and translated)."""

    KILL_SWITCH = "kill_switch"
    NOT_REDUCING = "not_reducing"
    INVALID_QUANTITY = "invalid_quantity"
    STALE_QUOTE = "stale_quote"
    MARKET_CLOSED = "market_closed"
    SESSION_WINDOW = "session_window"
    CFD_SPREAD = "cfd_spread"
    MAX_POSITION = "max_position"
    MAX_NOTIONAL = "max_notional"
    MAX_UNHEDGED = "max_unhedged"
    MARGIN = "margin"
    LIQUIDATION_DISTANCE = "liquidation_distance"
    STOP_OUT = "stop_out"
    ACCOUNT_SETTINGS = "account_settings"
    RATE_LIMIT = "rate_limit"
    QUANTITY_STEP = "quantity_step"
    BELOW_MINIMUM = "below_minimum"
    ABOVE_MAXIMUM = "above_maximum"
    MIN_NOTIONAL = "min_notional"
    TERMINAL_NOT_READY = "mt5_terminal"


@dataclass(frozen=True, slots=True)
class Violation:
    code: Check
    message: str  # English, filled in; translate by `code` + `params`
    params: Mapping[str, str] = field(default_factory=dict, hash=False)

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code.value, "message": self.message, "params": dict(self.params)}


def _text(value: object) -> str:
    """A parameter as the message shows it: Decimals in plain notation (1000000000, never 1E+9)."""
    return f"{value:f}" if isinstance(value, Decimal) else str(value)


def _plain(value: Decimal) -> str:
    """A venue figure without its stored trailing zeros: 0.00100000 → 0.001, 1000 → 1000."""
    plain = value.normalize()
    return f"{abs(plain) if plain == 0 else plain:f}"  # never "-0"


def _violation(code: Check, template: str, **params: object) -> Violation:
    text = {key: _text(value) for key, value in params.items()}
    return Violation(code, template % text, text)


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """One order about to be sent. `quantity_oz` > 0; `price` is the expected fill price (USDT/oz on the perp,
    USD/oz on the CFD). `companion_oz` is the signed ounces the other leg's order sent with this one adds
    (a hedge opens or closes both legs concurrently: −signed quantity of this one; 0 for a lone repair order)."""

    leg: Leg
    side: Side
    quantity_oz: Decimal
    price: Decimal
    reducing: bool
    companion_oz: Decimal = ZERO

    @property
    def signed_oz(self) -> Decimal:
        return self.quantity_oz if self.side is Side.BUY else -self.quantity_oz


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Limits from the strategy's parameters (`StrategyParams.risk_limits()`)."""

    max_quote_age_ms: int
    max_position_oz: Decimal
    max_unhedged_oz: Decimal
    max_cfd_spread: Decimal
    max_notional_usd: Decimal | None = None
    no_entry_before_close_minutes: int = 0
    no_entry_after_open_minutes: int = 0
    min_liquidation_distance_bps: Decimal = ZERO
    stop_out_buffer_pct: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class PerpAccount:
    """Binance USDⓈ-M account facts, read fresh. `position_oz` signed (one-way mode). None = not known, which
    fails the check that needs it for opening orders."""

    position_oz: Decimal
    available_margin_usdt: Decimal | None = None
    leverage: Decimal | None = None
    mark_price: Decimal | None = None
    liquidation_price: Decimal | None = None  # None or 0 with no position: no liquidation price
    one_way_mode: bool = True
    margin_type: str = "cross"  # "cross" | "isolated" as the venue reports it


@dataclass(frozen=True, slots=True)
class CfdAccount:
    """MT5 account facts, read fresh. `position_oz` signed (net of the strategy's positions on the symbol)."""

    position_oz: Decimal
    free_margin_usd: Decimal | None = None
    margin_level_pct: Decimal | None = None  # equity / margin × 100; None with no margin used
    stop_out_level_pct: Decimal | None = None  # margin_so_so
    hedging_account: bool = True  # ACCOUNT_MARGIN_MODE_RETAIL_HEDGING
    trade_allowed: bool = True  # terminal_info().trade_allowed (AutoTrading) and account trade_allowed
    # The account's MT5 terminal when it is not ready to trade (mt5ops' state): its label, its state
    # (degraded, down, maintenance; healthy for a check too old to vouch for it) and its failure class ("" when
    # none). Opening orders on the CFD leg are refused; reducing orders pass.
    terminal_not_ready: tuple[str, str, str] | None = None


@dataclass(frozen=True, slots=True)
class InstrumentLimits:
    """One leg's venue quantity rules in ounces, from the instrument's specs (Binance `LOT_SIZE` and `MIN_NOTIONAL`;
    MT5 `volume_step`/`volume_min`/`volume_max` × `trade_contract_size`). `max_oz` None: the venue states no
    maximum we have read; `min_notional` in the leg's quote currency (0: none)."""

    step_oz: Decimal
    min_oz: Decimal
    max_oz: Decimal | None = None
    min_notional: Decimal = ZERO

    def __post_init__(self) -> None:
        if self.step_oz <= 0:
            raise ValueError("the quantity step must be positive")


@dataclass(frozen=True, slots=True)
class ExpectedSettings:
    """How the accounts must be set up before any order (ARCHITECTURE.md "Order safety")."""

    perp_one_way: bool = True
    perp_margin_type: str = "cross"
    perp_leverage: Decimal | None = None  # None: any leverage
    cfd_hedging: bool = True


@dataclass(frozen=True, slots=True)
class RiskContext:
    """Everything `pre_trade` reads. Quote times and `now_ms` are epoch ms (the caller's injectable clock).

    `cfd_margin_per_oz` is the margin one ounce of the CFD needs (from MT5 `order_calc_margin` per lot ÷ the
    contract size); `halted` is true when any kill switch covering the strategy is in force.
    """

    now_ms: int
    limits: RiskLimits
    perp: PerpAccount
    cfd: CfdAccount
    perp_quote_ts_ms: int | None
    cfd_quote_ts_ms: int | None
    cfd_bid: Decimal | None
    cfd_ask: Decimal | None
    session: SessionView
    usd_per_usdt: Decimal = Decimal(1)
    perp_open: bool = True
    halted: bool = False
    expected: ExpectedSettings = ExpectedSettings()
    cfd_margin_per_oz: Decimal | None = None
    rate_limiter: OrderRateLimiter | None = None
    margin_buffer: Decimal = Decimal("1.2")  # required margin × this must fit the available margin
    perp_instrument: InstrumentLimits | None = None  # None: the venue's quantity rules are not checked here
    cfd_instrument: InstrumentLimits | None = None

    def position(self, leg: Leg) -> Decimal:
        return self.perp.position_oz if leg is Leg.PERP else self.cfd.position_oz


def _is_really_reducing(intent: OrderIntent, position: Decimal) -> bool:
    return position != 0 and (intent.signed_oz > 0) != (position > 0) and intent.quantity_oz <= abs(position)


def pre_trade(intent: OrderIntent, ctx: RiskContext) -> list[Violation]:
    """Every reason `intent` may not be sent now; empty when it may."""
    out: list[Violation] = []
    add = out.append
    limits = ctx.limits
    position = ctx.position(intent.leg)
    leg = intent.leg.value

    if intent.quantity_oz <= 0 or intent.price <= 0:
        add(_violation(Check.INVALID_QUANTITY, "The order's quantity and price must be positive."))
        return out
    if intent.reducing and not _is_really_reducing(intent, position):
        add(
            _violation(
                Check.NOT_REDUCING,
                "A %(side)s of %(quantity)s oz does not reduce the %(leg)s position of %(position)s oz.",
                side=intent.side.value,
                quantity=_plain(intent.quantity_oz),
                leg=leg,
                position=_plain(position),
            )
        )
    reducing = intent.reducing and not out
    opening = not reducing

    if ctx.halted and opening:
        add(_violation(Check.KILL_SWITCH, "Trading is halted by a kill switch: only reducing orders may be sent."))
    if opening and intent.leg is Leg.CFD and ctx.cfd.terminal_not_ready is not None:
        label, state, failure = ctx.cfd.terminal_not_ready
        add(
            _violation(
                Check.TERMINAL_NOT_READY,
                "The MT5 terminal %(terminal)s is not ready to trade (%(state)s%(failure)s): no new positions on "
                "its account; reducing orders still pass.",
                terminal=label,
                state=state,
                failure=f", {failure}" if failure else "",
            )
        )

    # Quotes: a stale quote never prices an order, reducing or not. The other leg's quote matters for new
    # positions (the hedge is priced on both); a reducing order on one leg needs only its own, so the perp can
    # still be unwound while the CFD market is closed (its quotes are closed, not stale).
    for name, ts in (("perp", ctx.perp_quote_ts_ms), ("cfd", ctx.cfd_quote_ts_ms)):
        if reducing and name != leg:
            continue
        age = None if ts is None else ctx.now_ms - ts
        if age is None or age > limits.max_quote_age_ms:
            add(
                _violation(
                    Check.STALE_QUOTE,
                    "The %(leg)s quote is %(age)s ms old (limit %(limit)s ms).",
                    leg=name,
                    age="unknown" if age is None else age,
                    limit=limits.max_quote_age_ms,
                )
            )

    # Sessions.
    leg_open = ctx.perp_open if intent.leg is Leg.PERP else ctx.session.is_open
    if not leg_open:
        add(_violation(Check.MARKET_CLOSED, "The %(leg)s market is closed.", leg=leg))
    elif opening:
        block = entry_block(
            ctx.session,
            ctx.now_ms,
            no_entry_before_close_minutes=limits.no_entry_before_close_minutes,
            no_entry_after_open_minutes=limits.no_entry_after_open_minutes,
        )
        if block is not None:
            add(_violation(Check.SESSION_WINDOW, "No new positions now (%(window)s).", window=block.value))
    if opening:
        if ctx.cfd_bid is None or ctx.cfd_ask is None:
            add(_violation(Check.CFD_SPREAD, "The CFD spread is unknown."))
        elif ctx.cfd_ask - ctx.cfd_bid > limits.max_cfd_spread:
            add(
                _violation(
                    Check.CFD_SPREAD,
                    "The CFD spread %(spread)s exceeds %(limit)s.",
                    spread=ctx.cfd_ask - ctx.cfd_bid,
                    limit=limits.max_cfd_spread,
                )
            )

    # Position and notional of the order's leg after it fills.
    after = position + intent.signed_oz
    if opening:
        if abs(after) > limits.max_position_oz:
            add(
                _violation(
                    Check.MAX_POSITION,
                    "The %(leg)s position would reach %(after)s oz (limit %(limit)s oz).",
                    leg=leg,
                    after=_plain(after),
                    limit=_plain(limits.max_position_oz),
                )
            )
        usd_price = intent.price * (ctx.usd_per_usdt if intent.leg is Leg.PERP else 1)
        if limits.max_notional_usd is not None and abs(after) * usd_price > limits.max_notional_usd:
            add(
                _violation(
                    Check.MAX_NOTIONAL,
                    "The %(leg)s notional would reach %(notional)s USD (limit %(limit)s USD).",
                    leg=leg,
                    notional=(abs(after) * usd_price).quantize(Decimal("0.01")),
                    limit=limits.max_notional_usd,
                )
            )

    # Unhedged exposure after this order and its companion: refused when over the limit and growing.
    unhedged_now = ctx.perp.position_oz + ctx.cfd.position_oz
    unhedged_after = unhedged_now + intent.signed_oz + intent.companion_oz
    if abs(unhedged_after) > limits.max_unhedged_oz and abs(unhedged_after) > abs(unhedged_now):
        add(
            _violation(
                Check.MAX_UNHEDGED,
                "Unhedged exposure would reach %(after)s oz (limit %(limit)s oz).",
                after=_plain(unhedged_after),
                limit=_plain(limits.max_unhedged_oz),
            )
        )

    instrument = ctx.perp_instrument if intent.leg is Leg.PERP else ctx.cfd_instrument
    if instrument is not None:
        out.extend(venue_checks(intent, instrument, opening=opening))
    if opening:
        out.extend(_margin_checks(intent, ctx))
    out.extend(_settings_checks(intent.leg, ctx))

    if ctx.rate_limiter is not None and not ctx.rate_limiter.allows(leg, ctx.now_ms):
        add(_violation(Check.RATE_LIMIT, "The %(leg)s venue's order rate limit is reached.", leg=leg))
    return out


def venue_checks(intent: OrderIntent, limits: InstrumentLimits, *, opening: bool = True) -> list[Violation]:
    """What the venue itself would refuse about the order's quantity: off its step, below its minimum, above its
    maximum, and (opening orders only) below its minimum notional at the order's price."""
    out: list[Violation] = []
    quantity, leg = intent.quantity_oz, intent.leg.value
    if quantity % limits.step_oz != 0:
        out.append(
            _violation(
                Check.QUANTITY_STEP,
                "%(quantity)s oz is not a multiple of the %(leg)s step %(step)s oz.",
                quantity=_plain(quantity),
                leg=leg,
                step=_plain(limits.step_oz),
            )
        )
    if quantity < limits.min_oz:
        out.append(
            _violation(
                Check.BELOW_MINIMUM,
                "%(quantity)s oz is below the %(leg)s minimum %(minimum)s oz.",
                quantity=_plain(quantity),
                leg=leg,
                minimum=_plain(limits.min_oz),
            )
        )
    if limits.max_oz is not None and quantity > limits.max_oz:
        out.append(
            _violation(
                Check.ABOVE_MAXIMUM,
                "%(quantity)s oz is above the %(leg)s maximum %(maximum)s oz per order.",
                quantity=_plain(quantity),
                leg=leg,
                maximum=_plain(limits.max_oz),
            )
        )
    if opening and limits.min_notional > 0 and quantity * intent.price < limits.min_notional:
        out.append(
            _violation(
                Check.MIN_NOTIONAL,
                "%(quantity)s oz at %(price)s is below the %(leg)s minimum notional %(minimum)s.",
                quantity=_plain(quantity),
                price=intent.price,
                leg=leg,
                minimum=_plain(limits.min_notional),
            )
        )
    return out


def _margin_checks(intent: OrderIntent, ctx: RiskContext) -> list[Violation]:
    out: list[Violation] = []
    limits = ctx.limits
    if intent.leg is Leg.PERP:
        perp = ctx.perp
        if perp.available_margin_usdt is None or perp.leverage is None or perp.leverage <= 0:
            out.append(_violation(Check.MARGIN, "The perp account's available margin is unknown."))
        else:
            required = intent.quantity_oz * intent.price / perp.leverage * ctx.margin_buffer
            if required > perp.available_margin_usdt:
                out.append(
                    _violation(
                        Check.MARGIN,
                        "The perp order needs %(required)s USDT of margin; %(available)s USDT is available.",
                        required=required.quantize(Decimal("0.01")),
                        available=perp.available_margin_usdt,
                    )
                )
        if perp.position_oz != 0 and perp.liquidation_price and perp.mark_price:
            distance = abs(perp.mark_price - perp.liquidation_price) / perp.mark_price * BPS
            if distance < limits.min_liquidation_distance_bps:
                out.append(
                    _violation(
                        Check.LIQUIDATION_DISTANCE,
                        "The perp is %(distance)s bps from liquidation (minimum %(limit)s bps).",
                        distance=distance.quantize(Decimal("0.1")),
                        limit=limits.min_liquidation_distance_bps,
                    )
                )
    else:
        cfd = ctx.cfd
        if cfd.free_margin_usd is None or ctx.cfd_margin_per_oz is None:
            out.append(_violation(Check.MARGIN, "The CFD account's free margin is unknown."))
        else:
            required = intent.quantity_oz * ctx.cfd_margin_per_oz * ctx.margin_buffer
            if required > cfd.free_margin_usd:
                out.append(
                    _violation(
                        Check.MARGIN,
                        "The CFD order needs %(required)s USD of margin; %(available)s USD is free.",
                        required=required.quantize(Decimal("0.01")),
                        available=cfd.free_margin_usd,
                    )
                )
        if cfd.margin_level_pct is not None and cfd.stop_out_level_pct is not None:
            floor = cfd.stop_out_level_pct + limits.stop_out_buffer_pct
            if cfd.margin_level_pct < floor:
                out.append(
                    _violation(
                        Check.STOP_OUT,
                        "The MT5 margin level %(level)s %% is below %(floor)s %% (stop-out %(stop_out)s %% + buffer).",
                        level=cfd.margin_level_pct,
                        floor=floor,
                        stop_out=cfd.stop_out_level_pct,
                    )
                )
    return out


def _settings_checks(leg: Leg, ctx: RiskContext) -> list[Violation]:
    expected = ctx.expected
    wrong: list[str] = []
    if leg is Leg.PERP:
        perp = ctx.perp
        if perp.one_way_mode != expected.perp_one_way:
            wrong.append("position_mode")
        if perp.margin_type != expected.perp_margin_type:
            wrong.append("margin_type")
        if expected.perp_leverage is not None and perp.leverage != expected.perp_leverage:
            wrong.append("leverage")
    else:
        cfd = ctx.cfd
        if cfd.hedging_account != expected.cfd_hedging:
            wrong.append("margin_mode")
        if not cfd.trade_allowed:
            wrong.append("trade_allowed")
    if not wrong:
        return []
    return [
        _violation(
            Check.ACCOUNT_SETTINGS,
            "The %(leg)s account is not set up as expected: %(settings)s.",
            leg=leg.value,
            settings=", ".join(wrong),
        )
    ]


# --- order rate limit -----------------------------------------------------------------------------------------
BINANCE_ORDER_WINDOWS: tuple[tuple[int, int], ...] = ((300, 10_000), (1_200, 60_000))


class OrderRateLimiter:
    """Sliding-window order counters per venue, fed with timestamps (no clock inside).

    `windows` maps a venue key to (limit, window_ms) pairs; an order is allowed when, in every window ending at
    `now_ms`, fewer than `limit` orders were recorded. Venues without windows are unlimited. Deterministic:
    the same timestamps give the same answers. Not thread-safe; one per runner.
    """

    __slots__ = ("_sent", "windows")

    def __init__(self, windows: Mapping[str, Iterable[tuple[int, int]]]) -> None:
        self.windows: dict[str, tuple[tuple[int, int], ...]] = {}
        for venue, pairs in windows.items():
            checked = tuple(pairs)
            for limit, window_ms in checked:
                if limit < 1 or window_ms < 1:
                    raise ValueError("rate limits and windows must be positive")
            self.windows[venue] = checked
        self._sent: dict[str, deque[int]] = {venue: deque() for venue in self.windows}

    def _prune(self, venue: str, now_ms: int) -> deque[int]:
        sent = self._sent[venue]
        longest = max(window for _, window in self.windows[venue])
        while sent and sent[0] <= now_ms - longest:
            sent.popleft()
        return sent

    def count(self, venue: str, now_ms: int, window_ms: int) -> int:
        """Orders recorded in (now_ms − window_ms, now_ms]."""
        return sum(1 for ts in self._sent.get(venue, ()) if now_ms - window_ms < ts <= now_ms)

    def allows(self, venue: str, now_ms: int) -> bool:
        if venue not in self.windows:
            return True
        return all(self.count(venue, now_ms, window) < limit for limit, window in self.windows[venue])

    def record(self, venue: str, now_ms: int) -> None:
        """Count an order sent at `now_ms` (timestamps must not go backwards per venue)."""
        if venue not in self.windows:
            return
        sent = self._prune(venue, now_ms)
        if sent and now_ms < sent[-1]:
            raise ValueError("order timestamps must not go backwards")
        sent.append(now_ms)

    def try_acquire(self, venue: str, now_ms: int) -> bool:
        """Record an order at `now_ms` if the limit allows it; False (and nothing recorded) otherwise."""
        if not self.allows(venue, now_ms):
            return False
        self.record(venue, now_ms)
        return True
