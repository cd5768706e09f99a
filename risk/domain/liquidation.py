"""How far each leg is from being closed by its venue: pure, over Decimal, no Django, no I/O.

**Binance USDⓈ-M, one-way mode.** The margin balance is the wallet balance plus unrealised PnL; the maintenance
margin is `margin.binance_maintenance_margin` (notional × the bracket's ratio − its `cum`); the margin ratio is
maintenance margin ÷ margin balance (the venue liquidates at 100 %). The liquidation price is Binance's
published formula for one-way mode ("How to Calculate Liquidation Price of USDⓈ-M Futures Contracts"):

    LP = (WB − TMM1 + UPNL1 + cumB − side1 × position1 × EP1) / (position1 × MMR_B − side1 × position1)

with WB the wallet balance (cross: the cross wallet balance; isolated: the position's isolated wallet balance),
TMM1 and UPNL1 the maintenance margin and unrealised PnL of the account's *other* cross positions (0 when
isolated), side1 = +1 long / −1 short, position1 the absolute size, EP1 the entry price, and MMR_B / cumB the rate
and maintenance amount of the bracket **holding the notional at the liquidation price** (position1 × LP), which
may differ from the bracket of today's notional. It is the price where margin balance = maintenance margin.

Writing N = position1 × P, the margin balance minus the maintenance margin is, in bracket b,

    g(N) = WB + UPNL1 − TMM1 + side1 × (N − position1 × EP1) − (N × MMR_b − cum_b),

continuous across brackets (that is what `cum` is for) and strictly monotone (rising for a long, falling for a
short, as every MMR < 1). So g is evaluated at each bracket's cap, exactly, to find the one bracket where it
changes sign, and the formula is applied with that bracket: no iteration, no rounding at a boundary. A long
whose margin covers it down to a price of 0 has no liquidation price (None: the venue shows "--"). A root past
the last bracket's cap is found with the last bracket's rate carried on and flagged `beyond_brackets` (the venue
publishes no rate there). Other positions' TMM1 and UPNL1 are held where they are, as in the venue's formula.

**MetaTrader 5.** Margin level = equity ÷ margin × 100. The account's margin call and stop-out levels
(`account_info().margin_so_call`, `margin_so_so`) are in percent of margin level or in money, per
`margin_so_mode` (ACCOUNT_STOPOUT_MODE_PERCENT = 0, ACCOUNT_STOPOUT_MODE_MONEY = 1). A level in money is compared
with the equity by default; MQL4's documentation describes the money mode as a comparison of the *free margin*,
so the basis is a parameter (`MoneyLevelBasis`) until a broker's behaviour is confirmed. A level counts as
reached when the figure is at or below it.

The gold move that brings the account to a level applies one move Δ (in the symbol's profit currency per unit,
USD/oz for XAUUSD) to every given position: equity moves by Δ × Σ signed ounces (× `profit_to_account`), and the
margin moves as `margin.mt5_margin` says at the moved price (it does in the CFD modes, not in the Forex and
futures modes). The account's reported margin is kept as the starting point and only the positions' change is
added, so figures at Δ = 0 are the terminal's own. Every supported mode's margin is affine in the price, so the
move is solved exactly; a margin that is not (a CFD mode margined in the base currency) is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from enum import IntEnum, StrEnum

from trading.domain.margin import (
    HUNDRED,
    ONE,
    ZERO,
    LeverageBracket,
    MarginError,
    Mt5MarginSpec,
    binance_maintenance_margin,
    mt5_margin_in_account_currency,
)

PRECISION = 60
LINEARITY_TOLERANCE = Decimal("1e-40")  # division residues at 60 digits, far below any money


# --- Binance USDⓈ-M ------------------------------------------------------------------------------------------


class MarginType(StrEnum):
    CROSS = "cross"
    ISOLATED = "isolated"


@dataclass(frozen=True, slots=True)
class PerpPosition:
    """A one-way position: `quantity` signed ounces (> 0 long), `entry_price` USDT/oz."""

    quantity: Decimal
    entry_price: Decimal

    def __post_init__(self) -> None:
        if self.entry_price <= 0:
            raise MarginError("An entry price must be positive.")

    @property
    def side(self) -> int:
        return 1 if self.quantity > 0 else -1

    @property
    def size(self) -> Decimal:
        return abs(self.quantity)


def perp_unrealized_pnl(position: PerpPosition, mark_price: Decimal) -> Decimal:
    """quantity × (mark − entry), USDT."""
    return position.quantity * (mark_price - position.entry_price)


def binance_margin_balance(*, wallet_balance: Decimal, unrealized_pnl: Decimal) -> Decimal:
    """Wallet balance + unrealised PnL (USDT)."""
    return wallet_balance + unrealized_pnl


def binance_margin_ratio(*, maintenance_margin: Decimal, margin_balance: Decimal) -> Decimal | None:
    """Maintenance margin ÷ margin balance × 100, in percent (liquidation at 100). None with no maintenance
    margin (no position) or a margin balance at or below 0 (past liquidation: see `PerpRisk.liquidatable`)."""
    if maintenance_margin <= 0 or margin_balance <= 0:
        return None
    return maintenance_margin / margin_balance * HUNDRED


@dataclass(frozen=True, slots=True)
class LiquidationPrice:
    """The price (USDT/oz) where the margin balance meets the maintenance margin, the bracket holding the notional
    there, that notional, and whether the root lies past the last bracket (its rate carried on)."""

    price: Decimal
    bracket: LeverageBracket
    notional: Decimal
    beyond_brackets: bool = False


def _margin_surplus(notional: Decimal, bracket: LeverageBracket, *, base: Decimal, position: PerpPosition) -> Decimal:
    """g(N): margin balance − maintenance margin at notional N (see the module), `base` = WB + UPNL1 − TMM1."""
    side = Decimal(position.side)
    return (
        base
        + side * (notional - position.size * position.entry_price)
        - (notional * bracket.maint_margin_ratio - bracket.cum)
    )


def liquidation_price(
    *,
    position: PerpPosition,
    wallet_balance: Decimal,
    brackets: Sequence[LeverageBracket],
    margin_type: MarginType = MarginType.CROSS,
    other_maintenance: Decimal = ZERO,
    other_unrealized_pnl: Decimal = ZERO,
) -> LiquidationPrice | None:
    """Binance's one-way liquidation price (see the module). `brackets` sorted by floor (`validate_brackets`).

    Cross: `wallet_balance` is the cross wallet balance and `other_*` the account's other cross positions.
    Isolated: `wallet_balance` is the position's isolated wallet balance and there are no others. None when
    there is no position or a long is covered down to a price of 0. A short whose margin balance is below its
    maintenance margin at any price is liquidatable at once: its price is 0.
    """
    if not brackets:
        raise MarginError("No leverage brackets.")
    if margin_type is MarginType.ISOLATED and (other_maintenance != ZERO or other_unrealized_pnl != ZERO):
        raise MarginError("An isolated position's liquidation price does not depend on other positions.")
    if position.quantity == ZERO:
        return None
    with localcontext(prec=PRECISION):
        base = wallet_balance + other_unrealized_pnl - other_maintenance
        long = position.side > 0
        first = brackets[0]
        at_zero = _margin_surplus(ZERO, first, base=base, position=position)
        if long and at_zero >= 0:
            return None
        if not long and at_zero <= 0:
            return LiquidationPrice(ZERO, first, ZERO)
        chosen, beyond = brackets[-1], True
        for bracket in brackets:
            surplus = _margin_surplus(bracket.notional_cap, bracket, base=base, position=position)
            if (long and surplus >= 0) or (not long and surplus <= 0):
                chosen, beyond = bracket, False
                break
        side = Decimal(position.side)
        size = position.size
        numerator = base + chosen.cum - side * size * position.entry_price
        denominator = size * chosen.maint_margin_ratio - side * size
    price = numerator / denominator  # in the caller's context, like every figure this module returns
    return LiquidationPrice(price, chosen, size * price, beyond)


@dataclass(frozen=True, slots=True)
class LiquidationDistance:
    """From the mark to the liquidation price: `move_usdt` (LP − mark, USDT/oz, signed: negative for a long),
    `move_usd` the same gold move in USD/oz (× `usd_per_usdt`), `percent` (LP − mark) ÷ mark × 100, signed."""

    liquidation_price: Decimal
    mark_price: Decimal
    move_usdt: Decimal
    move_usd: Decimal
    percent: Decimal

    @property
    def abs_percent(self) -> Decimal:
        return abs(self.percent)


def liquidation_distance(
    *, liquidation_price: Decimal, mark_price: Decimal, usd_per_usdt: Decimal
) -> LiquidationDistance:
    if mark_price <= 0:
        raise MarginError("A mark price must be positive.")
    if usd_per_usdt <= 0:
        raise MarginError("usd_per_usdt must be positive.")
    move = liquidation_price - mark_price
    return LiquidationDistance(liquidation_price, mark_price, move, move * usd_per_usdt, move / mark_price * HUNDRED)


@dataclass(frozen=True, slots=True)
class PerpRisk:
    """One Binance account's margin state at a mark price (USDT unless said)."""

    notional: Decimal
    unrealized_pnl: Decimal  # this position's
    margin_balance: Decimal  # WB + this position's and the others' unrealised PnL
    maintenance_margin: Decimal  # this position's + the others'
    margin_ratio: Decimal | None  # percent; liquidation at 100
    liquidation: LiquidationPrice | None
    distance: LiquidationDistance | None

    @property
    def liquidatable(self) -> bool:
        """At or past liquidation: the margin balance no longer covers the maintenance margin."""
        return self.maintenance_margin > 0 and self.margin_balance <= self.maintenance_margin


def perp_risk(
    *,
    position: PerpPosition,
    mark_price: Decimal,
    wallet_balance: Decimal,
    brackets: Sequence[LeverageBracket],
    usd_per_usdt: Decimal,
    margin_type: MarginType = MarginType.CROSS,
    other_maintenance: Decimal = ZERO,
    other_unrealized_pnl: Decimal = ZERO,
) -> PerpRisk:
    """Margin balance, maintenance margin, margin ratio, liquidation price and the distance to it. A notional past
    the last bracket raises `MarginError` (the venue would not hold that position)."""
    notional = position.size * mark_price
    pnl = perp_unrealized_pnl(position, mark_price)
    maintenance = binance_maintenance_margin(notional=notional, brackets=brackets) + other_maintenance
    balance = binance_margin_balance(wallet_balance=wallet_balance, unrealized_pnl=pnl + other_unrealized_pnl)
    liquidation = liquidation_price(
        position=position,
        wallet_balance=wallet_balance,
        brackets=brackets,
        margin_type=margin_type,
        other_maintenance=other_maintenance,
        other_unrealized_pnl=other_unrealized_pnl,
    )
    distance = (
        None
        if liquidation is None
        else liquidation_distance(liquidation_price=liquidation.price, mark_price=mark_price, usd_per_usdt=usd_per_usdt)
    )
    return PerpRisk(
        notional=notional,
        unrealized_pnl=pnl,
        margin_balance=balance,
        maintenance_margin=maintenance,
        margin_ratio=binance_margin_ratio(maintenance_margin=maintenance, margin_balance=balance),
        liquidation=liquidation,
        distance=distance,
    )


# --- MetaTrader 5 ----------------------------------------------------------------------------------------------


class StopOutMode(IntEnum):
    """ENUM_ACCOUNT_STOPOUT_MODE (`account_info().margin_so_mode`)."""

    PERCENT = 0
    MONEY = 1


class MoneyLevelBasis(StrEnum):
    """What a level in money is compared with (see the module)."""

    EQUITY = "equity"
    FREE_MARGIN = "free_margin"


@dataclass(frozen=True, slots=True)
class Mt5Levels:
    """An account's own margin call and stop-out levels (percent of margin level, or account-currency money)."""

    margin_call: Decimal
    stop_out: Decimal
    mode: StopOutMode
    money_basis: MoneyLevelBasis = MoneyLevelBasis.EQUITY

    def __post_init__(self) -> None:
        if self.stop_out < 0 or self.margin_call < self.stop_out:
            raise MarginError("The margin call level must be at or above the stop-out level, both non-negative.")

    @classmethod
    def from_account_info(
        cls, info: Mapping[str, object], *, money_basis: MoneyLevelBasis = MoneyLevelBasis.EQUITY
    ) -> Mt5Levels:
        """From `account_info()._asdict()` (floats read through `str`)."""
        try:
            return cls(
                margin_call=Decimal(str(info["margin_so_call"])),
                stop_out=Decimal(str(info["margin_so_so"])),
                mode=StopOutMode(int(str(info["margin_so_mode"]))),
                money_basis=money_basis,
            )
        except (KeyError, ValueError, ArithmeticError) as exc:
            raise MarginError("The account's margin call / stop-out levels cannot be read.") from exc


@dataclass(frozen=True, slots=True)
class Mt5Position:
    """An open MT5 position: `lots` (positive), its direction, open price and the price it would close at now
    (the bid for a buy, the ask for a sell); `margin_price` the price its margin reads (the ask for a buy, the
    bid for a sell), the close price when not given."""

    spec: Mt5MarginSpec
    lots: Decimal
    buy: bool
    open_price: Decimal
    current_price: Decimal
    margin_price: Decimal | None = None

    def __post_init__(self) -> None:
        if self.lots <= 0:
            raise MarginError("A position's lots must be positive.")

    @property
    def signed_oz(self) -> Decimal:
        oz = self.lots * self.spec.contract_size
        return oz if self.buy else -oz

    @property
    def profit(self) -> Decimal:
        """Floating profit in the profit currency: signed ounces × (current − open)."""
        return self.signed_oz * (self.current_price - self.open_price)


@dataclass(frozen=True, slots=True)
class Mt5Account:
    """`account_info()` figures (account currency) and what converting the symbol's money needs:
    `profit_to_account` = account-currency value of one unit of the profit currency (1 for a USD account trading
    XAUUSD; ÷ usd_per_usdt for a USDT account)."""

    equity: Decimal
    margin: Decimal
    leverage: int
    currency: str
    levels: Mt5Levels
    profit_to_account: Decimal = ONE


@dataclass(frozen=True, slots=True)
class Mt5StopOut:
    """An MT5 account against its own levels, and the signed gold moves (profit currency per unit, USD/oz) that
    reach them: 0 when already reached, None when no move can (no exposure, or the level can never be met)."""

    equity: Decimal
    margin: Decimal
    free_margin: Decimal
    margin_level: Decimal | None
    measured: Decimal | None  # what the levels are compared with: margin level %, equity or free margin
    margin_call_reached: bool
    stop_out_reached: bool
    headroom: Decimal | None  # measured − stop-out level (percentage points, or money)
    move_to_margin_call: Decimal | None
    move_to_stop_out: Decimal | None


def _margin_price(position: Mt5Position) -> Decimal:
    return position.current_price if position.margin_price is None else position.margin_price


def mt5_position_margin(account: Mt5Account, position: Mt5Position, move: Decimal = ZERO) -> Decimal:
    """One position's margin in the account's currency at its margin price moved by `move`."""
    price = _margin_price(position) + move
    return mt5_margin_in_account_currency(
        spec=position.spec,
        lots=position.lots,
        buy=position.buy,
        price=price,
        account_leverage=account.leverage,
        account_currency=account.currency,
        profit_to_account=account.profit_to_account,
    )


def mt5_state_after_move(
    account: Mt5Account, positions: Sequence[Mt5Position], move: Decimal
) -> tuple[Decimal, Decimal]:
    """(equity, margin) in account currency after every position's price moves by `move`."""
    with localcontext(prec=PRECISION):
        exposure = sum((p.signed_oz for p in positions), ZERO) * account.profit_to_account
        margin_change = sum(
            (mt5_position_margin(account, p, move) - mt5_position_margin(account, p) for p in positions), ZERO
        )
        equity, margin = account.equity + exposure * move, account.margin + margin_change
    return +equity, +margin


def _measured(levels: Mt5Levels, equity: Decimal, margin: Decimal) -> Decimal | None:
    """The figure the levels apply to; None with no margin in use (nothing a stop-out could close)."""
    if margin <= 0:
        return None
    if levels.mode is StopOutMode.PERCENT:
        return equity / margin * HUNDRED
    if levels.money_basis is MoneyLevelBasis.EQUITY:
        return equity
    return equity - margin


def _move_to_level(
    account: Mt5Account, positions: Sequence[Mt5Position], threshold: Decimal, slopes: tuple[Decimal, Decimal]
) -> Decimal | None:
    """The Δ where the measured figure equals `threshold`, with equity E0 + aΔ and margin M0 + bΔ."""
    a, b = slopes
    e0, m0 = account.equity, account.margin
    levels = account.levels
    if levels.mode is StopOutMode.PERCENT:
        ratio = threshold / HUNDRED
        numerator, denominator = ratio * m0 - e0, a - ratio * b
    elif levels.money_basis is MoneyLevelBasis.EQUITY:
        numerator, denominator = threshold - e0, a
    else:
        numerator, denominator = threshold - e0 + m0, a - b
    if denominator == 0:
        return None
    move = numerator / denominator
    if any(min(_margin_price(p), p.current_price) + move <= 0 for p in positions):
        return None  # only past a price of zero
    if levels.mode is StopOutMode.PERCENT and m0 + b * move <= 0:
        return None
    return move


def mt5_stop_out(account: Mt5Account, positions: Sequence[Mt5Position]) -> Mt5StopOut:
    """Margin level, the account's levels reached or not, and the gold move to each (see the module)."""
    levels = account.levels
    with localcontext(prec=PRECISION):
        equity0, margin0 = account.equity, account.margin
        equity1, margin1 = mt5_state_after_move(account, positions, ONE)
        _, margin2 = mt5_state_after_move(account, positions, Decimal(2))
        slopes = (equity1 - equity0, margin1 - margin0)
        curvature = abs(margin2 - margin1 - slopes[1])
        if curvature > LINEARITY_TOLERANCE * (ONE + abs(margin0) + abs(margin2)):
            raise MarginError("The positions' margin does not move linearly with the price.")
        measured = _measured(levels, equity0, margin0)
        call_reached = measured is not None and measured <= levels.margin_call
        stop_reached = measured is not None and measured <= levels.stop_out
        exposed = bool(positions) and slopes != (ZERO, ZERO)

        def move_to(threshold: Decimal, reached: bool) -> Decimal | None:
            if reached:
                return ZERO
            if not exposed or measured is None:
                return None
            return _move_to_level(account, positions, threshold, slopes)

        to_call = move_to(levels.margin_call, call_reached)
        to_stop_out = move_to(levels.stop_out, stop_reached)
    # Figures leave in the caller's context (unary plus rounds to it).
    return Mt5StopOut(
        equity=equity0,
        margin=margin0,
        free_margin=equity0 - margin0,
        margin_level=None if margin0 <= 0 else equity0 / margin0 * HUNDRED,
        measured=None if measured is None else +measured,
        margin_call_reached=call_reached,
        stop_out_reached=stop_reached,
        headroom=None if measured is None else measured - levels.stop_out,
        move_to_margin_call=None if to_call is None else +to_call,
        move_to_stop_out=None if to_stop_out is None else +to_stop_out,
    )
