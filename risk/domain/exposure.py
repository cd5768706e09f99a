"""A pool's exposure and carry: pure, over Decimal, no Django, no I/O.

ARCHITECTURE.md "Units and formulas": a pool is hedged when `perp_oz + cfd_oz == 0`; the unhedged exposure is that
sum in ounces and in USD (valued at the CFD's USD price). A hedge is neutral in gold but not in money: the short
perp leg is long USDT, the long CFD leg short USD (and the reverse). With gold at G USD/oz, the perp priced in
USDT at m = G ÷ r (r = usd_per_usdt) and a USDT margin balance MB holding a perp position q (signed ounces), the
balance is worth MB·r = (MB − q·m)·r + q·G in USD: `MB − q·m` USDT moves with the rate alone — the **USDT/USD
exposure**, positive when long USDT — and q·G with gold. `usdt_balance` is every USDT balance of the pool valued
now (the Binance margin balance, and a USDT-funded MT5 account's balance), `−perp_oz × perp_mark` the perp leg's
part: a short perp adds its notional.

Which leg reaches its limit first: the Binance liquidation price (as a gold move in USD/oz, `liquidation.py`)
against the MT5 stop-out move; the smaller move comes first.

Carry: the next funding payment is `pnl.funding_accrual` on mark × ounces at the next funding instant (from the
venue's `nextFundingTime`, or its schedule: every `interval_hours` from 00:00 UTC); tonight's swap is
`pnl.swap_accrual` at the next rollover (broker midnight in server time, on a server day Monday to Friday, as the
carry booking does), three nights on the broker's triple day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from trading.domain.calendar import SessionCalendar
from trading.domain.orders import Leg
from trading.domain.pnl import USD, SwapMode, SwapTerms, funding_accrual, swap_accrual, swap_nights

from .liquidation import Mt5StopOut, PerpRisk

ZERO = Decimal(0)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class PoolPositions:
    """A pool's legs now: signed ounces (> 0 long), the perp mark (USDT/oz), the CFD price (USD/oz, mid) and the
    USDT/USD rate."""

    perp_oz: Decimal
    cfd_oz: Decimal
    perp_mark: Decimal
    cfd_price: Decimal
    usd_per_usdt: Decimal

    def __post_init__(self) -> None:
        if self.perp_mark <= 0 or self.cfd_price <= 0 or self.usd_per_usdt <= 0:
            raise ValueError("Prices and usd_per_usdt must be positive.")


@dataclass(frozen=True, slots=True)
class Exposure:
    """Unhedged gold (ounces, USD), notionals (USD) and the USDT/USD exposure (USDT and its USD value; > 0 long
    USDT) of a pool — or of several, added with `+`."""

    net_oz: Decimal
    net_usd: Decimal
    perp_notional_usd: Decimal
    cfd_notional_usd: Decimal
    usdt_from_perp: Decimal  # −perp_oz × perp_mark, USDT
    usdt_balance: Decimal  # USDT held, valued now
    usd_per_usdt: Decimal

    @property
    def hedged(self) -> bool:
        return self.net_oz == 0

    @property
    def gross_notional_usd(self) -> Decimal:
        return self.perp_notional_usd + self.cfd_notional_usd

    @property
    def usdt_exposure(self) -> Decimal:
        return self.usdt_from_perp + self.usdt_balance

    @property
    def usdt_exposure_usd(self) -> Decimal:
        return self.usdt_exposure * self.usd_per_usdt

    def __add__(self, other: Exposure) -> Exposure:
        """Pools added up (a desk): the rate of the sum is the first's (they are read at one moment)."""
        return Exposure(
            self.net_oz + other.net_oz,
            self.net_usd + other.net_usd,
            self.perp_notional_usd + other.perp_notional_usd,
            self.cfd_notional_usd + other.cfd_notional_usd,
            self.usdt_from_perp + other.usdt_from_perp,
            self.usdt_balance + other.usdt_balance,
            self.usd_per_usdt,
        )


def pool_exposure(positions: PoolPositions, *, usdt_balance: Decimal = ZERO) -> Exposure:
    """The pool's exposure (see the module); `usdt_balance` the USDT it holds, valued now."""
    net_oz = positions.perp_oz + positions.cfd_oz
    return Exposure(
        net_oz=net_oz,
        net_usd=net_oz * positions.cfd_price,
        perp_notional_usd=abs(positions.perp_oz) * positions.perp_mark * positions.usd_per_usdt,
        cfd_notional_usd=abs(positions.cfd_oz) * positions.cfd_price,
        usdt_from_perp=-positions.perp_oz * positions.perp_mark,
        usdt_balance=usdt_balance,
        usd_per_usdt=positions.usd_per_usdt,
    )


def desk_exposure(exposures: Iterable[Exposure]) -> Exposure | None:
    """The sum of pools' exposures; None for none."""
    total: Exposure | None = None
    for exposure in exposures:
        total = exposure if total is None else total + exposure
    return total


# --- which leg first -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LegLimit:
    """Where a leg's venue closes it: the signed gold move from now (USD/oz), the leg's own price there (perp
    USDT/oz, CFD USD/oz) and that price in USD/oz."""

    leg: Leg
    move_usd: Decimal
    price: Decimal
    price_usd: Decimal


@dataclass(frozen=True, slots=True)
class LimitRace:
    """Both legs' limits and the one a gold move reaches first (None: neither leg can be closed by a move)."""

    perp: LegLimit | None
    cfd: LegLimit | None

    @property
    def first(self) -> LegLimit | None:
        candidates = [limit for limit in (self.perp, self.cfd) if limit is not None]
        # The perp first on a tie: a liquidation costs more than a stop-out.
        return min(candidates, key=lambda limit: abs(limit.move_usd), default=None)


def limit_race(
    *, perp: PerpRisk | None, cfd: Mt5StopOut | None, cfd_price: Decimal, usd_per_usdt: Decimal
) -> LimitRace:
    """The Binance liquidation against the MT5 stop-out. `cfd_price` is the CFD price the stop-out move is
    measured from."""
    perp_limit = None
    if perp is not None and perp.liquidation is not None and perp.distance is not None:
        liquidation = perp.liquidation.price
        move = ZERO if perp.liquidatable else perp.distance.move_usd
        perp_limit = LegLimit(Leg.PERP, move, liquidation, liquidation * usd_per_usdt)
    cfd_limit = None
    if cfd is not None and cfd.move_to_stop_out is not None:
        price = cfd_price + cfd.move_to_stop_out
        cfd_limit = LegLimit(Leg.CFD, cfd.move_to_stop_out, price, price)
    return LimitRace(perp_limit, cfd_limit)


# --- carry -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FundingForecast:
    """The next funding payment: its instant (UTC), the rate, and the signed amount (> 0 received) in USDT and
    at today's rate in USD."""

    at: datetime
    rate: Decimal
    amount_usdt: Decimal
    amount_usd: Decimal


def next_funding_time(now: datetime, *, interval_hours: Decimal | int = 8) -> datetime:
    """The first funding instant strictly after `now` on a schedule of every `interval_hours` from 00:00 UTC
    (00:00, 08:00, 16:00 for 8 h)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    interval = timedelta(minutes=int(Decimal(interval_hours) * 60))
    if interval <= timedelta(0):
        raise ValueError("The funding interval must be positive.")
    elapsed = now.astimezone(UTC) - EPOCH
    return EPOCH + (elapsed // interval + 1) * interval


def next_funding(
    *,
    perp_oz: Decimal,
    mark_price: Decimal,
    rate: Decimal,
    usd_per_usdt: Decimal,
    now: datetime,
    venue_next_funding: datetime | None = None,
    interval_hours: Decimal | int = 8,
) -> FundingForecast:
    """The next funding payment at the current rate and mark. The venue's `nextFundingTime` wins when it is still
    ahead of `now`; otherwise the schedule says."""
    if venue_next_funding is not None and venue_next_funding > now:
        at = venue_next_funding.astimezone(UTC)
    else:
        at = next_funding_time(now, interval_hours=interval_hours)
    amount = funding_accrual(mark_price=mark_price, signed_oz=perp_oz, rate=rate)
    return FundingForecast(at, rate, amount, amount * usd_per_usdt)


@dataclass(frozen=True, slots=True)
class SwapForecast:
    """Tonight's swap: the rollover instant (UTC), the server day it ends, the nights charged and the signed
    amount (> 0 received) in `currency`."""

    rollover_at: datetime
    server_day: date
    nights: int
    amount: Decimal
    currency: str


def next_rollover(now: datetime, calendar: SessionCalendar) -> tuple[datetime, date]:
    """The next rollover strictly after `now` (UTC instant of server midnight) and the server day it ends.
    Server days ending on a Saturday or Sunday have no rollover."""
    server_day = calendar.to_server(now).date()
    while server_day.weekday() >= 5:
        server_day += timedelta(days=1)
    midnight = datetime.combine(server_day + timedelta(days=1), time())
    return calendar.to_utc(midnight), server_day


def tonight_swap(
    terms: SwapTerms,
    *,
    cfd_oz: Decimal,
    price: Decimal,
    now: datetime,
    calendar: SessionCalendar,
    profit_currency: str = USD,
) -> SwapForecast:
    """The swap the CFD position is charged at the next rollover (three nights on the triple day)."""
    rollover_at, server_day = next_rollover(now, calendar)
    amount = swap_accrual(terms, signed_lots=cfd_oz / terms.contract_size, price=price, rollover_day=server_day)
    currency = terms.currency if terms.mode is SwapMode.MONEY else profit_currency
    return SwapForecast(rollover_at, server_day, swap_nights(terms, server_day), amount, currency)
