"""Margin by the venues' own rules: pure, over Decimal, no Django, no I/O.

One module for every figure of margin the desk shows or checks — the paper ledger, the pre-trade gate's available
margin and the risk centre — so a paper account is margined exactly as the venue would margin it.

**Binance USDⓈ-M** (`GET /fapi/v1/leverageBracket`): a position's notional is |ounces| × mark price in USDT. Its
bracket is the first whose `notionalCap` holds the notional. Initial margin is notional ÷ leverage, where the
leverage is the account's, capped by the bracket's `initialLeverage` (a position past the cap of its leverage is
refused by the venue with `-2027`; `max_notional_at_leverage` says where that cap is). Maintenance margin is
notional × `maintMarginRatio` − `cum`: the bracket's "quick amount" `cum` makes it continuous across brackets
(`cum` of a bracket = `cum` of the one below + its floor × the difference of their ratios). The brackets are read
as the venue sends them for the account (`notionalCoef` says they were already adjusted for this user).

**MetaTrader 5** (the symbol's `trade_calc_mode`, ENUM_SYMBOL_CALC_MODE, with MetaTrader's documented formulas, in
the symbol's margin currency — `currency_margin`):

| mode | margin |
|---|---|
| Forex | lots × contract size ÷ account leverage × margin rate |
| Forex no leverage | lots × contract size × margin rate |
| CFD | lots × contract size × market price × margin rate |
| CFD leverage | lots × contract size × market price ÷ account leverage × margin rate |
| CFD index | lots × contract size × market price × tick value ÷ tick size × margin rate |
| Futures, Exchange futures | lots × initial margin × margin rate |
| Exchange stocks (and MOEX stocks) | lots × contract size × last price × margin rate |
| Exchange bonds (and MOEX bonds) | lots × contract size × face value × clean price ÷ 100 |
| Collateral | 0 (the position is not margined) |

The margin rate is the symbol's initial margin rate for the order's direction (`SymbolInfoMarginRate`; 1 when the
broker sets none). A symbol with "its own leverage" — metals commonly get less than the account's leverage — is a
margin rate of account leverage ÷ symbol leverage in the leveraged modes (`margin_rate_for_leverage`). The market
price is the ask for a buy and the bid for a sell. The result is converted into the account's currency by
`margin_to_account_rate` (`margin_conversion_rate` derives it from the symbol's currencies). Exchange options and
FORTS futures need the exchange's own risk parameters and are refused (`UnsupportedCalcMode`), never guessed.
Positions are margined one by one and summed: the relief some brokers give to opposite positions of one symbol
(hedged margin) is not applied, which overstates margin on the safe side.

**Margin level** is equity ÷ used margin × 100 (MT5's `margin_level`), `None` when no margin is used.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum
from itertools import pairwise

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)


class MarginError(ValueError):
    """Inputs the venue's rules cannot margin (negative size, no bracket for the notional, bad brackets)."""


class UnsupportedCalcMode(MarginError):
    """A `trade_calc_mode` whose margin needs figures the terminal does not give through `symbol_info`."""


# --- Binance USDⓈ-M ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LeverageBracket:
    """One row of `GET /fapi/v1/leverageBracket`: notional in (floor, cap] USDT may use up to `initial_leverage`
    and needs `maint_margin_ratio` × notional − `cum` of maintenance margin."""

    bracket: int
    initial_leverage: int
    notional_floor: Decimal
    notional_cap: Decimal
    maint_margin_ratio: Decimal
    cum: Decimal

    @classmethod
    def from_wire(cls, row: Mapping[str, object]) -> LeverageBracket:
        """A bracket from the venue's JSON row (numbers arrive as JSON numbers; read through `str` so that a float
        such as 0.025 becomes Decimal("0.025"), not its binary expansion)."""
        try:
            return cls(
                bracket=int(str(row["bracket"])),
                initial_leverage=int(str(row["initialLeverage"])),
                notional_floor=Decimal(str(row["notionalFloor"])),
                notional_cap=Decimal(str(row["notionalCap"])),
                maint_margin_ratio=Decimal(str(row["maintMarginRatio"])),
                cum=Decimal(str(row["cum"])),
            )
        except (KeyError, ValueError, ArithmeticError) as exc:
            raise MarginError(f"Not a leverage bracket: {dict(row)!r}") from exc


def brackets_from_wire(entry: Mapping[str, object]) -> tuple[LeverageBracket, ...]:
    """The brackets of one symbol's entry (`{"symbol", "notionalCoef"?, "brackets": [...]}`), validated."""
    rows = entry.get("brackets")
    if not isinstance(rows, list) or not rows:
        raise MarginError("The leverage bracket entry has no brackets.")
    return validate_brackets(LeverageBracket.from_wire(row) for row in rows)


def validate_brackets(brackets: Iterable[LeverageBracket]) -> tuple[LeverageBracket, ...]:
    """The brackets sorted by floor, checked to tile [0, last cap) without gaps, with leverage not rising, ratios
    not falling and each `cum` continuing the maintenance margin of the bracket below (to a cent)."""
    ordered = tuple(sorted(brackets, key=lambda b: b.notional_floor))
    if not ordered:
        raise MarginError("No leverage brackets.")
    if ordered[0].notional_floor != ZERO:
        raise MarginError("The first leverage bracket must start at a notional of 0.")
    for lower, upper in pairwise(ordered):
        if upper.notional_floor != lower.notional_cap:
            raise MarginError(f"Leverage bracket {upper.bracket} does not start where bracket {lower.bracket} ends.")
        if upper.initial_leverage > lower.initial_leverage or upper.maint_margin_ratio < lower.maint_margin_ratio:
            raise MarginError(f"Leverage bracket {upper.bracket} allows more risk than bracket {lower.bracket}.")
        expected_cum = lower.cum + upper.notional_floor * (upper.maint_margin_ratio - lower.maint_margin_ratio)
        if abs(expected_cum - upper.cum) > Decimal("0.01"):
            raise MarginError(
                f"Leverage bracket {upper.bracket}'s cum {upper.cum} breaks the maintenance margin "
                f"(expected {expected_cum})."
            )
    for b in ordered:
        if b.notional_cap <= b.notional_floor or b.initial_leverage < 1 or not ZERO <= b.maint_margin_ratio < ONE:
            raise MarginError(f"Leverage bracket {b.bracket} is not a valid bracket.")
    return ordered


def _bracket(floor: int, cap: int, leverage: int, ratio: str, cum: int, n: int) -> LeverageBracket:
    return LeverageBracket(n, leverage, Decimal(floor), Decimal(cap), Decimal(ratio), Decimal(cum))


DEFAULT_BRACKETS: tuple[LeverageBracket, ...] = validate_brackets(
    (
        _bracket(0, 100_000, 50, "0.01", 0, 1),
        _bracket(100_000, 1_000_000, 20, "0.025", 1_500, 2),
        _bracket(1_000_000, 5_000_000, 10, "0.05", 26_500, 3),
        _bracket(5_000_000, 10_000_000, 5, "0.1", 276_500, 4),
        _bracket(10_000_000, 20_000_000, 2, "0.125", 526_500, 5),
        _bracket(20_000_000, 50_000_000, 1, "0.5", 8_026_500, 6),
    )
)
"""The brackets a paper perp account is margined by when none are configured — an assumption, not XAUUSDT's
published table (read it from `GET /fapi/v1/leverageBracket` for a live account): 50× to 100,000 USDT, then 20×,
10×, 5×, 2×, 1× up to 50,000,000 USDT, with maintenance ratios 1 % to 50 %."""


def position_notional(*, quantity: Decimal, mark_price: Decimal) -> Decimal:
    """|quantity| × mark price: what the brackets, initial and maintenance margin are computed on."""
    if mark_price < 0:
        raise MarginError("A mark price cannot be negative.")
    return abs(quantity) * mark_price


def bracket_for_notional(brackets: Sequence[LeverageBracket], notional: Decimal) -> LeverageBracket:
    """The bracket a notional falls in: the first whose cap holds it (a notional equal to a cap is still in
    that bracket, as the cap is the most that bracket's leverage allows). `brackets` sorted by floor."""
    if notional < 0:
        raise MarginError("A notional cannot be negative.")
    for bracket in brackets:
        if notional <= bracket.notional_cap:
            return bracket
    raise MarginError(f"A notional of {notional} exceeds the last leverage bracket ({brackets[-1].notional_cap}).")


def max_notional_at_leverage(brackets: Sequence[LeverageBracket], leverage: int) -> Decimal:
    """The largest notional a position may have at `leverage` (the cap of the last bracket allowing it); 0 when
    no bracket allows that leverage."""
    if leverage < 1:
        raise MarginError("Leverage must be at least 1.")
    allowed = [b.notional_cap for b in brackets if b.initial_leverage >= leverage]
    return max(allowed, default=ZERO)


def effective_leverage(brackets: Sequence[LeverageBracket], *, notional: Decimal, leverage: int) -> int:
    """The account's leverage, capped by the bracket of `notional`."""
    if leverage < 1:
        raise MarginError("Leverage must be at least 1.")
    return min(leverage, bracket_for_notional(brackets, notional).initial_leverage)


def binance_initial_margin(*, notional: Decimal, leverage: int, brackets: Sequence[LeverageBracket]) -> Decimal:
    """Initial margin in USDT: notional ÷ the account's leverage capped by the notional's bracket."""
    if notional == ZERO:
        return ZERO
    return notional / Decimal(effective_leverage(brackets, notional=notional, leverage=leverage))


def binance_maintenance_margin(*, notional: Decimal, brackets: Sequence[LeverageBracket]) -> Decimal:
    """Maintenance margin in USDT: notional × the bracket's ratio − its `cum` (0 for no position)."""
    if notional == ZERO:
        return ZERO
    bracket = bracket_for_notional(brackets, notional)
    return notional * bracket.maint_margin_ratio - bracket.cum


# --- MetaTrader 5 ----------------------------------------------------------------------------------------------


class CalcMode(IntEnum):
    """ENUM_SYMBOL_CALC_MODE, with the MetaTrader5 package's values (`symbol_info().trade_calc_mode`)."""

    FOREX = 0
    FUTURES = 1
    CFD = 2
    CFDINDEX = 3
    CFDLEVERAGE = 4
    FOREX_NO_LEVERAGE = 5
    EXCH_STOCKS = 32
    EXCH_FUTURES = 33
    EXCH_FUTURES_FORTS = 34
    EXCH_OPTIONS = 35
    EXCH_OPTIONS_MARGIN = 36
    EXCH_BONDS = 37
    EXCH_STOCKS_MOEX = 38
    EXCH_BONDS_MOEX = 39
    SERV_COLLATERAL = 64


@dataclass(frozen=True, slots=True)
class Mt5MarginSpec:
    """What an MT5 symbol's margin depends on, from `symbol_info` (re-read at sizing time, never stored as truth).

    `margin_rate_buy`/`margin_rate_sell`: the initial margin rates of the two directions (1 when the broker sets
    none). `margin_initial`: the symbol's initial margin per lot (futures modes). `tick_value`/`tick_size`: the
    CFD index mode's tick value and size. `face_value`: the bond modes' face value.
    """

    calc_mode: CalcMode
    contract_size: Decimal
    currency_margin: str
    currency_base: str = ""
    currency_profit: str = ""
    margin_rate_buy: Decimal = ONE
    margin_rate_sell: Decimal = ONE
    margin_initial: Decimal = ZERO
    tick_value: Decimal = ZERO
    tick_size: Decimal = ZERO
    face_value: Decimal = ZERO


def margin_rate_for_leverage(*, account_leverage: int, symbol_leverage: int) -> Decimal:
    """The margin rate that gives a symbol its own leverage in the leveraged modes (Forex, CFD leverage): an
    account at 1:500 trading gold limited to 1:100 has a gold margin rate of 5."""
    if account_leverage < 1 or symbol_leverage < 1:
        raise MarginError("Leverage must be at least 1.")
    return Decimal(account_leverage) / Decimal(symbol_leverage)


def mt5_margin(*, spec: Mt5MarginSpec, lots: Decimal, buy: bool, price: Decimal, account_leverage: int) -> Decimal:
    """Margin of `lots` of the symbol in its margin currency, by its calc mode.

    `price` is the market price the mode reads: the ask for a buy, the bid for a sell (the last price for the
    exchange stock modes, the clean price in percent of face value for the bond modes); Forex and futures modes
    do not read it.
    """
    if lots < 0:
        raise MarginError("Lots cannot be negative.")
    if price < 0:
        raise MarginError("A price cannot be negative.")
    if account_leverage < 1:
        raise MarginError("Leverage must be at least 1.")
    rate = spec.margin_rate_buy if buy else spec.margin_rate_sell
    leverage = Decimal(account_leverage)
    volume = lots * spec.contract_size
    mode = spec.calc_mode
    if mode is CalcMode.FOREX:
        return volume / leverage * rate
    if mode is CalcMode.FOREX_NO_LEVERAGE:
        return volume * rate
    if mode is CalcMode.CFD:
        return volume * price * rate
    if mode is CalcMode.CFDLEVERAGE:
        return volume * price / leverage * rate
    if mode is CalcMode.CFDINDEX:
        if spec.tick_size <= 0:
            raise MarginError("The CFD index mode needs the symbol's tick size.")
        return volume * price * spec.tick_value / spec.tick_size * rate
    if mode in (CalcMode.FUTURES, CalcMode.EXCH_FUTURES):
        return lots * spec.margin_initial * rate
    if mode in (CalcMode.EXCH_STOCKS, CalcMode.EXCH_STOCKS_MOEX):
        return volume * price * rate
    if mode in (CalcMode.EXCH_BONDS, CalcMode.EXCH_BONDS_MOEX):
        return volume * spec.face_value * price / HUNDRED
    if mode is CalcMode.SERV_COLLATERAL:
        return ZERO
    raise UnsupportedCalcMode(f"Margin of calc mode {mode.name} needs the exchange's risk parameters.")


def margin_conversion_rate(
    *, spec: Mt5MarginSpec, account_currency: str, price: Decimal, profit_to_account: Decimal
) -> Decimal:
    """Account-currency value of one unit of the symbol's margin currency.

    `profit_to_account` is the account-currency value of one unit of the profit currency (1 when they are the
    same; ÷ `usd_per_usdt` for a USDT account trading a USD-profit symbol). A margin currency equal to the base
    currency (XAU of XAUUSD in Forex mode) is worth the symbol's price in profit currency. Any other margin
    currency needs a cross rate the caller must supply.
    """
    if spec.currency_margin == account_currency:
        return ONE
    if spec.currency_margin == spec.currency_profit:
        return profit_to_account
    if spec.currency_margin == spec.currency_base:
        return price * profit_to_account
    raise MarginError(
        f"No rate from the margin currency {spec.currency_margin} to the account currency {account_currency}."
    )


def mt5_margin_in_account_currency(
    *,
    spec: Mt5MarginSpec,
    lots: Decimal,
    buy: bool,
    price: Decimal,
    account_leverage: int,
    account_currency: str,
    profit_to_account: Decimal = ONE,
) -> Decimal:
    """`mt5_margin` converted into the account's currency (what `order_calc_margin` answers)."""
    margin = mt5_margin(spec=spec, lots=lots, buy=buy, price=price, account_leverage=account_leverage)
    rate = margin_conversion_rate(
        spec=spec, account_currency=account_currency, price=price, profit_to_account=profit_to_account
    )
    return margin * rate


# --- both ------------------------------------------------------------------------------------------------------


def margin_level(*, equity: Decimal, used_margin: Decimal) -> Decimal | None:
    """Equity ÷ used margin × 100 in percent; None when no margin is used (MT5 reports 0, the portal "—")."""
    if used_margin <= 0:
        return None
    return equity / used_margin * HUNDRED


def free_margin(*, equity: Decimal, used_margin: Decimal) -> Decimal:
    """Equity − used margin: what new positions may use (negative once the account is under water)."""
    return equity - used_margin
