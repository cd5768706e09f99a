"""Weekend and session-gap exposure: pure, over Decimal, no Django, no I/O.

While the CFD is closed the perp trades on: a gold move over the gap hits the perp's margin with no offsetting CFD
mark until the CFD reopens, where its PnL jumps by the whole move at once. This module

- measures how far gold moves over a gap from recorded (close, reopen) price pairs — the 95th and 99th
  percentiles of the absolute return, linearly interpolated between order statistics (numpy's default method),
  labelled with the period and the number of gaps they cover — or takes an operator's override, labelled as such;
- finds the next gap from the CFD's calendar (`next_gap`) and says from when the projection is shown
  (`projection_due`, a lead time before the close);
- projects both legs after a move of each percentile, up and down: the perp's margin balance, margin ratio,
  liquidation price and distance at its moved mark, the CFD's PnL jump and margin level at its reopen price, and
  the pool's net PnL at the reopen — with the scheduled margin changes (new Binance brackets, new MT5 margin
  rates) that take effect before the reopen applied, the latest of each kind winning.

A move is a fraction of the price (0.02 = 2 %) applied to both the perp's mark and the CFD's last price before the
close: the pool's basis is held where it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from trading.domain.calendar import SessionCalendar, SessionState
from trading.domain.margin import ONE, ZERO, LeverageBracket, validate_brackets

from .liquidation import (
    MarginType,
    Mt5Account,
    Mt5Position,
    Mt5StopOut,
    PerpPosition,
    PerpRisk,
    mt5_position_margin,
    mt5_state_after_move,
    mt5_stop_out,
    perp_risk,
)

HUNDRED = Decimal(100)
PERCENTILES = (95, 99)


# --- how far gold moves over a gap -----------------------------------------------------------------------------


class GapMoveSource(StrEnum):
    RECORDED = "recorded"
    OVERRIDE = "override"


@dataclass(frozen=True, slots=True)
class GapObservation:
    """One recorded gap: the last price before the close and the first after the reopen."""

    close_at: datetime
    close_price: Decimal
    open_at: datetime
    open_price: Decimal

    def __post_init__(self) -> None:
        if self.close_price <= 0 or self.open_price <= 0:
            raise ValueError("Gap prices must be positive.")
        if self.open_at <= self.close_at:
            raise ValueError("A gap reopens after it closes.")

    @property
    def gap_return(self) -> Decimal:
        return self.open_price / self.close_price - ONE


@dataclass(frozen=True, slots=True)
class GapMove:
    """The absolute gold move over a gap at the 95th and 99th percentiles, as fractions of the price, with where
    the figures come from: recorded gaps (`samples`, over `period_start` … `period_end`) or an operator's
    override (`note` says why)."""

    p95: Decimal
    p99: Decimal
    source: GapMoveSource
    samples: int = 0
    period_start: datetime | None = None
    period_end: datetime | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if not ZERO <= self.p95 <= self.p99 < ONE:
            raise ValueError("Gap moves need 0 <= p95 <= p99 < 1.")

    def at(self, percentile: int) -> Decimal:
        if percentile == 95:
            return self.p95
        if percentile == 99:
            return self.p99
        raise ValueError(f"No gap move at the {percentile}th percentile.")

    @property
    def label(self) -> str:
        """English, for logs; screens build theirs from the fields."""
        if self.source is GapMoveSource.OVERRIDE:
            return f"operator override{': ' + self.note if self.note else ''}"
        assert self.period_start is not None and self.period_end is not None
        return (
            f"{self.samples} recorded gaps, {self.period_start.date().isoformat()} to "
            f"{self.period_end.date().isoformat()}"
        )


def percentile(values: Sequence[Decimal], q: Decimal | int) -> Decimal:
    """The q-th percentile (0 … 100) by linear interpolation between order statistics: position (n − 1)·q/100
    in the sorted values (numpy's default, Hyndman and Fan's type 7)."""
    if not values:
        raise ValueError("No values.")
    q = Decimal(q)
    if not ZERO <= q <= HUNDRED:
        raise ValueError("A percentile lies in 0 … 100.")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / HUNDRED
    below = int(position)
    if below == len(ordered) - 1:
        return ordered[below]
    weight = position - below
    return ordered[below] + weight * (ordered[below + 1] - ordered[below])


def gap_move_from_returns(returns: Sequence[Decimal], *, period_start: datetime, period_end: datetime) -> GapMove:
    """p95 and p99 of the absolute gap returns (fractions), over the period they were recorded in."""
    if not returns:
        raise ValueError("No recorded gaps.")
    moves = [abs(value) for value in returns]
    return GapMove(
        p95=percentile(moves, 95),
        p99=percentile(moves, 99),
        source=GapMoveSource.RECORDED,
        samples=len(moves),
        period_start=period_start,
        period_end=period_end,
    )


def gap_move_from_observations(observations: Iterable[GapObservation]) -> GapMove:
    """p95 and p99 of recorded (close, reopen) pairs, labelled with the first close and the last reopen."""
    recorded = list(observations)
    if not recorded:
        raise ValueError("No recorded gaps.")
    return gap_move_from_returns(
        [gap.gap_return for gap in recorded],
        period_start=min(gap.close_at for gap in recorded),
        period_end=max(gap.open_at for gap in recorded),
    )


def override_gap_move(*, p95: Decimal, p99: Decimal, note: str = "") -> GapMove:
    """An operator's figures, labelled as an override."""
    return GapMove(p95=p95, p99=p99, source=GapMoveSource.OVERRIDE, note=note)


# --- when ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GapWindow:
    """A closed spell of the CFD: `close_at` … `reopen_at` (UTC). `kind` is the calendar's word for it (break,
    weekend, holiday); `in_progress` when the market is already closed (then `close_at` is the moment asked)."""

    close_at: datetime
    reopen_at: datetime
    kind: SessionState
    in_progress: bool = False

    @property
    def duration(self) -> timedelta:
        return self.reopen_at - self.close_at


def next_gap(calendar: SessionCalendar, now: datetime) -> GapWindow | None:
    """The coming (or current) closed spell of the CFD; None on an always-open calendar or without a session
    within the calendar's search range."""
    if calendar.always_open:
        return None
    status = calendar.status(now)
    if not status.is_open:
        if status.opens_at is None:
            return None
        return GapWindow(now, status.opens_at, status.state, in_progress=True)
    assert status.closes_at is not None
    after = calendar.status(status.closes_at)
    if after.opens_at is None:
        return None
    return GapWindow(status.closes_at, after.opens_at, after.state)


def projection_due(now: datetime, window: GapWindow, *, lead: timedelta) -> bool:
    """Show the gap projection from `lead` before the close until the reopen."""
    return window.in_progress or window.close_at - lead <= now < window.reopen_at


# --- scheduled margin changes ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MarginChange:
    """An announced margin change: from `effective_at` (UTC) the perp's brackets and/or the CFD's initial margin
    rates become these (None: unchanged)."""

    effective_at: datetime
    brackets: tuple[LeverageBracket, ...] | None = None
    cfd_margin_rate_buy: Decimal | None = None
    cfd_margin_rate_sell: Decimal | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.brackets is not None:
            object.__setattr__(self, "brackets", validate_brackets(self.brackets))
        for rate in (self.cfd_margin_rate_buy, self.cfd_margin_rate_sell):
            if rate is not None and rate < 0:
                raise ValueError("A margin rate cannot be negative.")


@dataclass(frozen=True, slots=True)
class EffectiveMargin:
    """What is in force at an instant after the scheduled changes up to it, and which changes those were."""

    brackets: tuple[LeverageBracket, ...]
    cfd_margin_rate_buy: Decimal | None
    cfd_margin_rate_sell: Decimal | None
    applied: tuple[MarginChange, ...]


def margin_in_force(
    changes: Iterable[MarginChange], *, at: datetime, brackets: Sequence[LeverageBracket]
) -> EffectiveMargin:
    """Apply, in order of their effective time, the changes effective at or before `at` to today's `brackets`
    (the CFD's rates stay None when no change sets them: the positions' own rates hold)."""
    applied = tuple(sorted((c for c in changes if c.effective_at <= at), key=lambda c: c.effective_at))
    in_force = tuple(brackets)
    rate_buy: Decimal | None = None
    rate_sell: Decimal | None = None
    for change in applied:
        if change.brackets is not None:
            in_force = change.brackets
        if change.cfd_margin_rate_buy is not None:
            rate_buy = change.cfd_margin_rate_buy
        if change.cfd_margin_rate_sell is not None:
            rate_sell = change.cfd_margin_rate_sell
    return EffectiveMargin(in_force, rate_buy, rate_sell, applied)


# --- projection ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PerpAccountState:
    """A Binance account as `liquidation.perp_risk` reads it."""

    position: PerpPosition
    mark_price: Decimal
    wallet_balance: Decimal
    brackets: tuple[LeverageBracket, ...]
    usd_per_usdt: Decimal
    margin_type: MarginType = MarginType.CROSS
    other_maintenance: Decimal = ZERO
    other_unrealized_pnl: Decimal = ZERO

    def risk(self, *, mark_price: Decimal, brackets: Sequence[LeverageBracket]) -> PerpRisk:
        return perp_risk(
            position=self.position,
            mark_price=mark_price,
            wallet_balance=self.wallet_balance,
            brackets=brackets,
            usd_per_usdt=self.usd_per_usdt,
            margin_type=self.margin_type,
            other_maintenance=self.other_maintenance,
            other_unrealized_pnl=self.other_unrealized_pnl,
        )


@dataclass(frozen=True, slots=True)
class CfdAccountState:
    """An MT5 account frozen at the close: its figures, its positions on the gold symbol and the symbol's last
    price before the close (USD/oz) that the move is applied to."""

    account: Mt5Account
    positions: tuple[Mt5Position, ...]
    close_price: Decimal


@dataclass(frozen=True, slots=True)
class GapScenario:
    """Both legs after a gap move of `move` (signed fraction) at the `percentile`, `up` or down."""

    percentile: int
    up: bool
    move: Decimal
    perp_mark: Decimal | None  # USDT/oz after the move
    perp: PerpRisk | None
    perp_pnl_usd: Decimal  # the perp's PnL change over the move, in USD
    cfd_price: Decimal | None  # USD/oz at the reopen
    cfd: Mt5StopOut | None  # at the reopen
    cfd_pnl_jump_usd: Decimal  # the CFD's PnL jump at the reopen (profit currency, USD)

    @property
    def net_pnl_usd(self) -> Decimal:
        return self.perp_pnl_usd + self.cfd_pnl_jump_usd

    @property
    def perp_liquidated(self) -> bool:
        return self.perp is not None and self.perp.liquidatable

    @property
    def cfd_stopped_out(self) -> bool:
        return self.cfd is not None and self.cfd.stop_out_reached


@dataclass(frozen=True, slots=True)
class GapProjection:
    window: GapWindow
    move: GapMove
    in_force: EffectiveMargin
    scenarios: tuple[GapScenario, ...] = field(default_factory=tuple)

    def scenario(self, percentile: int, *, up: bool) -> GapScenario:
        for scenario in self.scenarios:
            if scenario.percentile == percentile and scenario.up is up:
                return scenario
        raise LookupError(f"No {'up' if up else 'down'} scenario at the {percentile}th percentile.")

    @property
    def min_liquidation_distance_pct(self) -> Decimal | None:
        """The smallest distance to liquidation left after any scenario, in percent (0 once liquidated); None
        without a perp position that can be liquidated."""
        distances = [
            ZERO if s.perp_liquidated else s.perp.distance.abs_percent
            for s in self.scenarios
            if s.perp is not None and s.perp.distance is not None
        ]
        return min(distances, default=None)

    @property
    def min_cfd_margin_level(self) -> Decimal | None:
        """The lowest MT5 margin level at the reopen over the scenarios (percent)."""
        levels = [s.cfd.margin_level for s in self.scenarios if s.cfd is not None and s.cfd.margin_level is not None]
        return min(levels, default=None)


def _cfd_after(cfd: CfdAccountState, move: Decimal, in_force: EffectiveMargin) -> tuple[Decimal, Mt5StopOut, Decimal]:
    """(reopen price, the account against its levels there, the PnL jump in the profit currency)."""
    shift = cfd.close_price * move
    account = cfd.account
    equity, margin = mt5_state_after_move(account, cfd.positions, shift)
    moved: list[Mt5Position] = []
    for position in cfd.positions:
        spec = position.spec
        if in_force.cfd_margin_rate_buy is not None:
            spec = replace(spec, margin_rate_buy=in_force.cfd_margin_rate_buy)
        if in_force.cfd_margin_rate_sell is not None:
            spec = replace(spec, margin_rate_sell=in_force.cfd_margin_rate_sell)
        shifted = replace(
            position,
            spec=spec,
            current_price=position.current_price + shift,
            margin_price=None if position.margin_price is None else position.margin_price + shift,
        )
        margin += mt5_position_margin(account, shifted) - mt5_position_margin(account, position, shift)
        moved.append(shifted)
    reopened = replace(account, equity=equity, margin=margin)
    jump = sum((p.signed_oz for p in cfd.positions), ZERO) * shift
    return cfd.close_price + shift, mt5_stop_out(reopened, moved), jump


def project_gap(
    *,
    window: GapWindow,
    move: GapMove,
    perp: PerpAccountState | None,
    cfd: CfdAccountState | None,
    changes: Iterable[MarginChange] = (),
    percentiles: Sequence[int] = PERCENTILES,
) -> GapProjection:
    """Both legs after the gap's move at each percentile, up then down (see the module). The changes in force at
    the reopen apply to both the perp after the move and the CFD at its reopen."""
    in_force = margin_in_force(changes, at=window.reopen_at, brackets=perp.brackets if perp is not None else ())
    scenarios = []
    for level in percentiles:
        size = move.at(level)
        for up, signed in ((True, size), (False, -size)):
            perp_mark = perp_after = None
            perp_pnl = ZERO
            if perp is not None:
                perp_mark = perp.mark_price * (ONE + signed)
                perp_after = perp.risk(mark_price=perp_mark, brackets=in_force.brackets)
                perp_pnl = perp.position.quantity * (perp_mark - perp.mark_price) * perp.usd_per_usdt
            cfd_price = cfd_after = None
            jump = ZERO
            if cfd is not None:
                cfd_price, cfd_after, jump = _cfd_after(cfd, signed, in_force)
            scenarios.append(
                GapScenario(level, up, signed, perp_mark, perp_after, perp_pnl, cfd_price, cfd_after, jump)
            )
    return GapProjection(window, move, in_force, tuple(scenarios))
