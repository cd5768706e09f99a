"""The strategy runner: one asyncio task per running strategy inside the engine (`runengine`, `runplatform`).

A runner holds the strategy's lease (strategies/services.py) and, each step:
1. renews the lease (a lost lease ends the runner at once: it writes nothing more);
2. carries out a requested stop (flattening first when the stop policy says so);
3. manages what is in flight: settles unknown orders by lookup, repairs legged hedges within the maximum
   legging time or trips the kill switch, trips it on the loss and drawdown limits;
4. when running (not paused), asks the pure decision (strategies/domain/decision.py) what to do and does it
   through the executor. Every order it writes — open, close, repair, flatten on stop — is cleared by the
   pre-trade gate inside the write (trading/execution/gate.py); a refusal is remembered as the step's decision.
Before its first step it reconciles the pool with the venues and refuses to start on a mismatch.

Everything reads time from `quantarb.clock` and sleeps through an injectable `sleep`, so tests run it on
simulated time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, Protocol

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db.models import Q

from accounts.models import AccountPool
from mt5ops.selectors import TerminalBlock, account_terminal_block
from quantarb import clock
from quantarb.live import group_send
from risk.choices import KillScope, KillTrigger
from risk.limits import flatten_finished, flatten_requested, limits_on_step
from risk.services import is_halted, kill_switch_trip
from strategies.domain import decision as decide_mod
from strategies.domain.params import StopPolicy, StrategyParams, TerminalPolicy
from trading.choices import (
    LIVE_HEDGE_STATUSES,
    Direction,
    HedgeStatus,
    Leg,
    OrderIntent,
    OrderKind,
    OrderSide,
    OrderStatus,
    ReconciliationStatus,
    ReconciliationTrigger,
)
from trading.domain import hedges as hedge_rules
from trading.domain import pnl
from trading.domain.calendar import SessionView
from trading.domain.orders import ADJUSTMENT_PREFIX
from trading.domain.quotes import Quote
from trading.domain.sizing import InstrumentSpec
from trading.domain.spread import Direction as SpreadDirection
from trading.execution.executor import Executor
from trading.execution.gate import GateState, OrderRefused, gate_state, report_refused
from trading.execution.leases import Lease, LeaseLost
from trading.execution.order_writer import OrderWriter
from trading.execution.services import (
    ExecutionRefused,
    LegOrder,
    StaleQuote,
    hedge_flag_unsettled,
    hedge_leg_orders,
    hedge_open,
    working_orders,
)
from trading.execution.venue_factory import close_venues
from trading.instruments import pair_id_for_pool, pool_specs
from trading.models import Hedge, Order, SourcePair
from trading.portfolio.pnl import marked_split, realised_split
from trading.reconciliation.services import reconcile_pool
from trading.venues.base import ExecutionVenue

from .choices import StrategyState
from .events import StrategyChanged, strategy_group
from .models import Strategy
from .services import current_params, lease_acquire, lease_renew, runner_transition

log = logging.getLogger(__name__)
BPS = Decimal(10_000)


def _db(function: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    return sync_to_async(function, thread_sensitive=True)


# --- what the runner reads from the market --------------------------------------------------------------------
@dataclass(frozen=True)
class MarketSnapshot:
    perp: Quote | None
    cfd: Quote | None
    usd_per_usdt: Decimal
    rate_ts_ms: int | None  # None: a fixed rate (an assumption, never stale)
    session: SessionView
    zscore: Decimal | None = None


class MarketSource(Protocol):
    def snapshot(self, pair_id: int) -> MarketSnapshot | None:
        """The latest validated quotes of a source pair (None: the pair is not streamed in this process)."""
        ...


def perp_limit_price(side: str, quote: Quote, slippage_bps: Decimal, tick: Decimal) -> Decimal:
    """The perp leg's IOC limit: the touch moved by the slippage limit, rounded to the tick in the order's favour
    of filling (up for a buy, down for a sell)."""
    if side == OrderSide.BUY:
        raw = quote.ask_price * (1 + slippage_bps / BPS)
        return (raw / tick).to_integral_value(rounding=ROUND_CEILING) * tick
    raw = quote.bid_price * (1 - slippage_bps / BPS)
    return (raw / tick).to_integral_value(rounding=ROUND_FLOOR) * tick


VenuesFactory = Callable[[AccountPool, int], dict[int, ExecutionVenue]]


@dataclass
class StrategyRunner:
    strategy_id: int
    runner_id: str
    market: MarketSource
    venues_factory: VenuesFactory
    lease_ttl: timedelta = field(default_factory=lambda: timedelta(seconds=settings.QUANTARB_LEASE_TTL_SECONDS))
    step_interval_s: float = 0.5
    sleep: Callable[[float], Awaitable[Any]] = field(default=asyncio.sleep)
    lease: Lease | None = None
    executor: Executor | None = None
    writer: OrderWriter | None = (
        None  # the runner's own order connection (PostgreSQL), see trading/execution/order_writer.py
    )
    pair_id: int | None = None
    last_decision: dict[str, Any] = field(default_factory=dict)
    peak_pnl: Decimal = Decimal(0)
    pushed_mono: float = 0.0

    # -- the loop ------------------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Take the lease, reconcile, then step until stopped, errored or the lease is lost."""
        lease = await _db(lease_acquire)(strategy_id=self.strategy_id, runner_id=self.runner_id, ttl=self.lease_ttl)
        if lease is None:
            return  # another runner holds it, or nobody wants this strategy to run
        self.lease = lease
        try:
            self.writer = await OrderWriter.connect()
            if not await self.start():
                return
            while await self.step():
                await self.sleep(self.step_interval_s)
        except LeaseLost as exc:
            log.warning("runner %s: %s; stopping without writing", self.runner_id, exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("runner %s of strategy %s failed", self.runner_id, self.strategy_id)
            with contextlib.suppress(LeaseLost):
                await _db(runner_transition)(
                    lease=lease,
                    to=StrategyState.ERROR,
                    code="runner_failed",
                    params={"error": f"{type(exc).__name__}: {exc}"[:200]},
                    release=True,
                )
        finally:
            if self.writer is not None:
                await self.writer.close()
            if self.executor is not None:
                await close_venues(self.executor.venues)  # their ccxt sessions end with the runner

    async def start(self) -> bool:
        """Reconcile the pool with the venues before any order; refuse to start on a mismatch."""
        assert self.lease is not None
        strategy = await _db(self._load)()
        pool = strategy.pool
        self.pair_id = await _db(pair_id_for_pool)(pool)
        if self.pair_id is None:
            await _db(runner_transition)(lease=self.lease, to=StrategyState.ERROR, code="no_pair", release=True)
            return False
        venues = await _db(self.venues_factory)(pool, self.pair_id)
        self.executor = Executor(
            venues=venues,
            lease=self.lease,
            sleep=self.sleep,
            keep_alive=self._renew_lease,
            keep_alive_every_s=max(self.lease_ttl.total_seconds() / 3, 0.05),
        )
        # Orders left unknown by a previous runner (a crash mid-send) are settled first: the lookup is the truth.
        for order in await _db(_unsettled_orders)(pool):
            await self.executor.settle_unknown(order)
        report = await reconcile_pool(
            pool=pool, venues=venues, trigger=ReconciliationTrigger.START, strategy_id=self.strategy_id
        )
        if report.status != ReconciliationStatus.MATCHED:
            refused = {"report": report.pk, "status": report.status, "differences": len(report.differences)}
            await _db(runner_transition)(
                lease=self.lease, to=StrategyState.ERROR, code="reconciliation_refused", params=refused, release=True
            )
            if report.status == ReconciliationStatus.MISMATCH:
                await _db(kill_switch_trip)(
                    scope=KillScope.STRATEGY,
                    trigger=KillTrigger.RECONCILIATION_MISMATCH,
                    code="reconciliation_refused",
                    params=refused,
                    strategy=strategy,
                )
            return False
        if strategy.state == StrategyState.STARTING:
            await _db(runner_transition)(lease=self.lease, to=StrategyState.RUNNING, code="reconciled")
        return True

    async def _renew_lease(self) -> None:
        """Renew the lease from this process while an order call is in flight (the executor's keeper): a slow
        answer keeps the lease, a dead process lets it run out after one TTL as before."""
        assert self.lease is not None
        await _db(lease_renew)(self.lease, ttl=self.lease_ttl)

    def _load(self) -> Strategy:
        return Strategy.objects.select_related(
            "pool__perp_account", "pool__cfd_account", "pool__tenant", "current_version", "tenant"
        ).get(pk=self.strategy_id)

    async def step(self) -> bool:
        """One pass: renew, obey a stop, manage hedges in flight, decide and act. False: the runner ends."""
        assert self.lease is not None and self.executor is not None and self.pair_id is not None
        await _db(lease_renew)(self.lease, ttl=self.lease_ttl, decision=self.last_decision or None)
        await self._push()
        strategy = await _db(self._load)()
        params = current_params(strategy)
        snapshot = self.market.snapshot(self.pair_id)
        if strategy.state == StrategyState.STOPPING:
            return await self.stop(strategy, params, snapshot)
        if strategy.state not in (StrategyState.RUNNING, StrategyState.PAUSED, StrategyState.STARTING):
            return False
        if await _db(limits_on_step)(strategy) is not None:
            strategy = await _db(self._load)()  # a breached limit may have paused it
        await self.manage(strategy, params, snapshot)
        if await self.flatten_for_limits(strategy, params, snapshot):
            return True
        pausing = strategy.state == StrategyState.RUNNING and params.terminal_policy is TerminalPolicy.PAUSE
        if pausing and await self._terminal_pauses(strategy):
            return True
        if strategy.state == StrategyState.RUNNING:
            await self.decide_and_act(strategy, params, snapshot)
        return True

    async def _push(self) -> None:
        """Refresh the strategy's open status panels (heartbeat age, last decision) at most once a second."""
        mono = clock.monotonic()
        if mono - self.pushed_mono < 1.0:
            return
        self.pushed_mono = mono
        message: StrategyChanged = {"type": "strategy.changed", "strategy_id": self.strategy_id}
        await group_send(strategy_group(self.strategy_id), dict(message))

    async def stop(self, strategy: Strategy, params: StrategyParams, snapshot: MarketSnapshot | None) -> bool:
        """Flatten first when the stop policy says so (finishing repairs), then release the strategy."""
        assert self.lease is not None
        if params.stop_policy == StopPolicy.FLATTEN:
            await self.manage(strategy, params, snapshot)
            hedges = await _db(_live_hedges)(strategy)
            pending = False
            for hedge in hedges:
                if hedge.status == HedgeStatus.OPEN and snapshot is not None:
                    await self.close_hedge(hedge, params, snapshot, reason={"code": "stop_flatten"})
                    pending = True
                elif hedge.status != HedgeStatus.OPEN:
                    pending = True
            if pending:
                return True  # come back next step until every hedge is closed (or flagged)
        await _db(runner_transition)(lease=self.lease, to=StrategyState.STOPPED, code="stopped", release=True)
        return False

    async def flatten_for_limits(
        self, strategy: Strategy, params: StrategyParams, snapshot: MarketSnapshot | None
    ) -> bool:
        """A breached limit's flatten covering this strategy (risk/limits.py): close every open hedge through the
        one order gate, as a stop with the flatten policy does; once none is live, the flatten is done. True: a
        flatten is under way (nothing new is decided this step)."""
        breaches = await _db(flatten_requested)(strategy)
        if not breaches:
            return False
        pending = False
        for hedge in await _db(_live_hedges)(strategy):
            pending = True
            if hedge.status == HedgeStatus.OPEN and snapshot is not None:
                await self.close_hedge(hedge, params, snapshot, reason={"code": "risk_flatten"})
        if not pending or not await _db(_live_hedges)(strategy):
            await _db(flatten_finished)(strategy, breaches)
        self._remember({"action": "hold", "code": "risk_flatten", "params": {}})
        return True

    # -- hedges in flight --------------------------------------------------------------------------------------
    async def manage(self, strategy: Strategy, params: StrategyParams, snapshot: MarketSnapshot | None) -> None:
        """Settle working orders, repair legged hedges, watch the loss limits."""
        assert self.executor is not None and self.lease is not None
        for hedge in await _db(_live_hedges)(strategy):
            for order in await _db(working_orders)(hedge):
                if order.status in (OrderStatus.UNKNOWN, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED):
                    await self.executor.refresh(order)
            hedge = await _db(Hedge.objects.get)(pk=hedge.pk)
            if hedge.status == HedgeStatus.LEGGED:
                await self.repair(strategy, hedge, params, snapshot)
            elif hedge.status in (HedgeStatus.OPENING, HedgeStatus.CLOSING, HedgeStatus.REPAIRING):
                await self._watch_legging(strategy, hedge, params)
        await self._watch_loss(strategy, params)

    async def _watch_legging(self, strategy: Strategy, hedge: Hedge, params: StrategyParams) -> None:
        """A hedge left exposed past the maximum legging time by orders still unknown is flagged `needs_reconcile`
        (with its legged alert: never an unflagged naked leg) and halts the strategy. It is not repaired: while an
        order is unknown a repair could duplicate it. Its orders are still looked up at every step."""
        since = hedge.legged_at or hedge.closing_at or hedge.planned_at
        if (clock.now() - since).total_seconds() < params.max_legging_seconds:
            return
        flagged = await _db(hedge_flag_unsettled)(hedge_id=hedge.pk, max_legging_seconds=params.max_legging_seconds)
        if flagged is not None:
            await self._trip(
                strategy,
                KillTrigger.LEGGING_TIMEOUT,
                "legging_unknown",
                {"hedge": hedge.pk, "oz": flagged.perp_oz + flagged.cfd_oz},
            )

    async def repair(
        self, strategy: Strategy, hedge: Hedge, params: StrategyParams, snapshot: MarketSnapshot | None
    ) -> None:
        """Complete the missing leg or unwind the done one (trading/domain/hedges.py `assess`) within the maximum
        legging time; past it, trip the kill switch (the hedge stays flagged as legged).

        Completing is tried for the first half of the legging time: the missing leg is *opened* (not reduce-only),
        priced like an opening leg — the perp an IOC limit at the touch ± the slippage limit, the CFD at market
        within the deviation —, so a completion never chases the price. A completion the venue keeps refusing, or
        that cannot fill within those limits, gives way to unwinding the leg that filled (reduce-only) for the
        second half, so the hedge is whole or flat before the kill switch. Nothing is written while a venue of
        the repair asks us to back off: an order row is a send that is made."""
        assert self.executor is not None and self.lease is not None
        perp_spec, cfd_spec = await _db(_pool_specs)(strategy.pool)
        target_perp = await _db(_target_perp)(hedge)
        target = hedge_rules.LegPosition(target_perp, -target_perp)
        actual = hedge_rules.LegPosition(hedge.perp_oz, hedge.cfd_oz)
        legged_since = hedge.legged_at or clock.now()
        # A leg the venue changed on its own (liquidation, auto-deleverage, stop-out, a manual trade) is unwound,
        # never re-opened: the venue just showed that position cannot be held. A leg our own order left short is
        # completed.
        venue_changed = await _db(_venue_changed)(hedge)
        legged_ms = int((clock.now() - legged_since).total_seconds() * 1000)
        max_legging_ms = params.max_legging_seconds * 1000
        complete_first = not venue_changed and legged_ms < max_legging_ms // 2
        plan = hedge_rules.assess(
            target=target,
            actual=actual,
            perp_step_oz=perp_spec.step_oz,
            cfd_step_oz=cfd_spec.step_oz,
            legged_ms=legged_ms,
            max_legging_ms=max_legging_ms,
            prefer=hedge_rules.RepairPreference.COMPLETE if complete_first else hedge_rules.RepairPreference.UNWIND,
        )
        if plan.kind == hedge_rules.RepairKind.NONE:
            return
        if plan.kind == hedge_rules.RepairKind.TRIP_KILL_SWITCH:
            await self._trip(
                strategy,
                KillTrigger.LEGGING_TIMEOUT,
                "legging_timeout",
                {"hedge": hedge.pk, "oz": plan.unhedged_oz, "seconds": params.max_legging_seconds},
            )
            return
        if snapshot is None:
            return
        legs = repair_legs(strategy.pool, plan, actual, params, snapshot, perp_spec, cfd_spec)
        if not legs:
            return
        if self._backing_off(legs):
            return
        try:
            orders = await _db(hedge_leg_orders)(
                hedge=hedge,
                intent=OrderIntent.REPAIR,
                legs=legs,
                max_quote_age_ms=params.max_quote_age_ms,
                market=snapshot,
                lease=self.lease,
            )
        except StaleQuote as exc:
            self._remember({"code": "stale_quote", "params": {"detail": str(exc)}})
            return
        except ExecutionRefused as exc:
            self._remember({"code": "replan", "params": {"detail": str(exc)}})
            return
        except OrderRefused as refused:
            self._remember({"action": "hold", "code": "risk", "params": {"violations": refused.as_dicts()}})
            return
        await self.executor.send_all(orders)

    def _backing_off(self, legs: list[LegOrder], action: str | None = None) -> bool:
        """Whether a venue of these legs asked its account to wait (a rate limit, shared by every gateway of the
        account): then nothing is written — the orders would not leave, and a hedge's legs leave together or not
        at all (one leg sent without the other is a legged hedge of our own making)."""
        assert self.executor is not None
        waits = {leg.leg: self.executor.venues[leg.account.pk].backoff_s() for leg in legs}
        if not any(wait > 0 for wait in waits.values()):
            return False
        params = {"perp": "0.0", "cfd": "0.0", **{leg: f"{wait:.1f}" for leg, wait in waits.items()}}
        decision: dict[str, Any] = {"code": "backing_off", "params": params}
        if action is not None:
            decision["action"] = action
        self._remember(decision)
        return True

    async def _trip(self, strategy: Strategy, trigger: str, code: str, params: dict[str, Any]) -> None:
        switch = await _db(kill_switch_trip)(
            scope=KillScope.STRATEGY, trigger=trigger, code=code, params=params, strategy=strategy
        )
        self._remember({"code": "halted", "params": {"reason": switch.reason}})

    async def _watch_loss(self, strategy: Strategy, params: StrategyParams) -> None:
        if params.loss_limit_usd is None and params.drawdown_limit_usd is None:
            return
        pnl = await _db(strategy_realised_pnl)(strategy)
        self.peak_pnl = max(self.peak_pnl, pnl)
        if params.loss_limit_usd is not None and pnl <= -params.loss_limit_usd:
            await self._trip(
                strategy, KillTrigger.LOSS_LIMIT, "loss_limit", {"loss": -pnl, "limit": params.loss_limit_usd}
            )
        elif params.drawdown_limit_usd is not None and self.peak_pnl - pnl >= params.drawdown_limit_usd:
            await self._trip(
                strategy,
                KillTrigger.DRAWDOWN_LIMIT,
                "drawdown_limit",
                {"drawdown": self.peak_pnl - pnl, "limit": params.drawdown_limit_usd},
            )

    # -- deciding and acting -------------------------------------------------------------------------------------
    async def _terminal_holds(self, strategy: Strategy, prefetched: PreTradeState | None = None) -> bool:
        """The runner's policy while the CFD account's MT5 terminal is not ready to trade (mt5ops' state, read
        here — mt5ops never reaches up into strategies): hold — no new hedge; hedges in flight are still managed
        and closed (reducing orders pass the gate). Read with the pre-trade state when there is one: a trip to the
        database between the signal and the send cost the order path ~2 ms (bench/order_legs.py)."""
        if prefetched is not None:
            block = prefetched.terminal_block
        else:
            block = await _db(account_terminal_block)(strategy.pool.cfd_account_id)
        if block is None:
            return False
        self._remember(
            {
                "action": "hold",
                "code": "mt5_terminal",
                "params": {"terminal": block.label, "state": block.state, "failure": block.failure},
            }
        )
        return True

    async def _terminal_pauses(self, strategy: Strategy) -> bool:
        """The `pause` terminal policy: a terminal not ready to trade pauses the strategy (audited, its reason
        stored); an operator resumes it. Hedges in flight are still managed while it is paused."""
        assert self.lease is not None
        block = await _db(account_terminal_block)(strategy.pool.cfd_account_id)
        if block is None:
            return False
        params = {"terminal": block.label, "state": block.state, "failure": block.failure}
        self._remember({"action": "hold", "code": "mt5_terminal_paused", "params": params})
        await _db(runner_transition)(
            lease=self.lease, to=StrategyState.PAUSED, code="mt5_terminal_paused", params=params
        )
        return True

    def _remember(self, decision: dict[str, Any]) -> None:
        self.last_decision = {**decision, "at_ms": int(clock.now().timestamp() * 1000)}

    async def decide_and_act(self, strategy: Strategy, params: StrategyParams, snapshot: MarketSnapshot | None) -> None:
        """Ask the pure decision what to do now and do it (one open or one close per step)."""
        now_ms = int(clock.now().timestamp() * 1000)
        if snapshot is None:
            self._remember({"code": "no_quote", "params": {}})
            return
        book = await _db(_book_view)(strategy, snapshot)
        market = decide_mod.MarketView(
            perp=None if snapshot.perp is None else decide_mod.LegQuote.of(snapshot.perp),
            cfd=None if snapshot.cfd is None else decide_mod.LegQuote.of(snapshot.cfd),
            usd_per_usdt=snapshot.usd_per_usdt,
            session=snapshot.session,
            usd_per_usdt_ts_ms=snapshot.rate_ts_ms,
            fees=await _db(_fees)(strategy.pool),
            carry=await _db(_carry)(strategy.pool),
            zscore=snapshot.zscore,
        )
        prefetched = await self.prefetch(strategy, params, snapshot)
        decision = decide_mod.decide(params, market, book, now_ms)
        self._remember({"action": decision.action.value, **decision.reason.as_dict()})
        if isinstance(decision, decide_mod.Open):
            await self.open_hedge(strategy, params, snapshot, decision, prefetched)
        elif isinstance(decision, decide_mod.Close):
            hedge = await _db(Hedge.objects.get)(pk=decision.hedge_id)
            await self.close_hedge(hedge, params, snapshot, reason=decision.reason.as_dict())

    async def open_hedge(
        self,
        strategy: Strategy,
        params: StrategyParams,
        snapshot: MarketSnapshot,
        decision: Any,
        prefetched: PreTradeState | None = None,
    ) -> Hedge | None:
        """Persist the hedge and both legs (fenced), check them before the send, send them together."""
        assert self.executor is not None and self.lease is not None
        perp_spec, cfd_spec = prefetched.specs if prefetched is not None else await _db(_pool_specs)(strategy.pool)
        sell_perp = decision.direction == Direction.SELL_PERP
        perp = price_leg(
            strategy.pool,
            leg=Leg.PERP,
            side=OrderSide.SELL if sell_perp else OrderSide.BUY,
            quantity=decision.size_oz,
            params=params,
            snapshot=snapshot,
            perp_spec=perp_spec,
            cfd_spec=cfd_spec,
            reducing=False,
        )
        cfd = price_leg(
            strategy.pool,
            leg=Leg.CFD,
            side=OrderSide.BUY if sell_perp else OrderSide.SELL,
            quantity=decision.size_oz,
            params=params,
            snapshot=snapshot,
            perp_spec=perp_spec,
            cfd_spec=cfd_spec,
            reducing=False,
        )
        if perp is None or cfd is None:
            return None
        if self._backing_off([perp, cfd], "hold"):
            return None
        if await self._terminal_holds(strategy, prefetched):
            return None
        write = self.writer.hedge_open if self.writer is not None else _db(hedge_open)
        try:
            opened: tuple[Hedge, Order, Order] = await write(
                pool=strategy.pool,
                direction=decision.direction.value,
                size_oz=decision.size_oz,
                perp=perp,
                cfd=cfd,
                max_quote_age_ms=params.max_quote_age_ms,
                market=snapshot,
                gate_state=prefetched.gate if prefetched is not None else None,
                strategy=strategy,
                version=strategy.current_version,
                lease=self.lease,
                reason=decision.reason.as_dict(),
                entry_net_edge=decision.expected_edge,
                usd_per_usdt=snapshot.usd_per_usdt,
            )
        except StaleQuote as exc:
            self._remember({"action": "hold", "code": "stale_quote", "params": {"detail": str(exc)}})
            return None
        except OrderRefused as refused:
            if not refused.reported:  # the runner's own order writer has no transaction of Django's to report after
                await _db(report_refused)(refused)
            self._remember({"action": "hold", "code": "risk", "params": {"violations": refused.as_dicts()}})
            return None
        hedge, perp_order, cfd_order = opened
        await self.executor.send_all([perp_order, cfd_order])
        return hedge

    async def close_hedge(
        self, hedge: Hedge, params: StrategyParams, snapshot: MarketSnapshot, *, reason: dict[str, Any]
    ) -> None:
        """Persist and send the orders that take both legs back to flat (reducing: they pass a halt)."""
        assert self.executor is not None and self.lease is not None
        strategy = await _db(self._load)()
        perp_spec, cfd_spec = await _db(_pool_specs)(strategy.pool)
        legs = []
        for leg, held in ((Leg.PERP, hedge.perp_oz), (Leg.CFD, hedge.cfd_oz)):
            if held == 0:
                continue
            leg_order = price_leg(
                strategy.pool,
                leg=leg,
                side=OrderSide.SELL if held > 0 else OrderSide.BUY,
                quantity=abs(held),
                params=params,
                snapshot=snapshot,
                perp_spec=perp_spec,
                cfd_spec=cfd_spec,
                reducing=True,
            )
            if leg_order is None:
                return
            legs.append(leg_order)
        if not legs:
            return
        if self._backing_off(legs, "hold"):
            return
        try:
            orders = await _db(hedge_leg_orders)(
                hedge=hedge,
                intent=OrderIntent.CLOSE,
                legs=legs,
                max_quote_age_ms=params.max_quote_age_ms,
                market=snapshot,
                lease=self.lease,
            )
        except StaleQuote as exc:
            self._remember({"action": "hold", "code": "stale_quote", "params": {"detail": str(exc)}})
            return
        except ExecutionRefused as exc:
            self._remember({"action": "hold", "code": "replan", "params": {"detail": str(exc)}})
            return
        except OrderRefused as refused:
            self._remember({"action": "hold", "code": "risk", "params": {"violations": refused.as_dicts()}})
            return
        await _db(_set_close_reason)(hedge.pk, reason)
        await self.executor.send_all(orders)

    async def prefetch(self, strategy: Strategy, params: StrategyParams, snapshot: MarketSnapshot) -> PreTradeState:
        """What the pre-trade gate reads from the database (kill switches, limits, positions, margins, venue rules)
        and the instruments' specs, read once per step before the decision, so that between a signal and its
        orders on the wire there is only the one transaction that checks, persists and fences them."""
        state: PreTradeState = await _db(_pre_trade_state)(strategy)
        if self.writer is not None:
            await self.writer.ready()
        return state


def repair_legs(
    pool: AccountPool,
    plan: hedge_rules.RepairPlan,
    actual: hedge_rules.LegPosition,
    params: StrategyParams,
    snapshot: MarketSnapshot,
    perp_spec: InstrumentSpec,
    cfd_spec: InstrumentSpec,
) -> list[LegOrder]:
    """The orders of a repair plan, priced. An order that shrinks the hedge's leg (an unwind) is reduce-only; one
    that grows it (completing the missing leg) opens a position — a reduce-only completion has nothing to reduce
    and is refused by the venue. Empty when a leg has no quote."""
    legs = []
    for repair_order in plan.orders:
        held = actual.of(repair_order.leg)
        leg_order = price_leg(
            pool,
            leg=repair_order.leg.value,
            side=OrderSide.BUY if repair_order.signed_oz > 0 else OrderSide.SELL,
            quantity=abs(repair_order.signed_oz),
            params=params,
            snapshot=snapshot,
            perp_spec=perp_spec,
            cfd_spec=cfd_spec,
            reducing=hedge_rules.reduces(held, repair_order.signed_oz),
        )
        if leg_order is None:
            return []
        legs.append(leg_order)
    return legs


def price_leg(
    pool: AccountPool,
    *,
    leg: str,
    side: str,
    quantity: Decimal,
    params: StrategyParams,
    snapshot: MarketSnapshot,
    perp_spec: InstrumentSpec,
    cfd_spec: InstrumentSpec,
    reducing: bool,
) -> LegOrder | None:
    """One leg's order priced from the snapshot: the perp as an IOC limit at the touch ± the slippage limit, the CFD
    as a market order with the deviation (its quote still dated, so its age is checked). None: no quote."""
    if leg == Leg.PERP:
        if snapshot.perp is None:
            return None
        return LegOrder(
            account=pool.perp_account,
            leg=Leg.PERP,
            side=side,
            kind=OrderKind.LIMIT_IOC,
            quantity_oz=quantity,
            lots=None,
            limit_price=perp_limit_price(side, snapshot.perp, params.slippage_bps, perp_spec.tick),
            deviation=None,
            quote_ts_ms=snapshot.perp.ts_ms,
            reducing=reducing,
            usd_per_usdt=snapshot.usd_per_usdt,
        )
    if snapshot.cfd is None:
        return None
    return LegOrder(
        account=pool.cfd_account,
        leg=Leg.CFD,
        side=side,
        kind=OrderKind.MARKET,
        quantity_oz=quantity,
        lots=(quantity / cfd_spec.contract_size).quantize(Decimal("0.01")),
        limit_price=None,
        deviation=params.cfd_deviation_points,
        # The CFD leg is a market order with a deviation, but the decision that sends it priced it from this
        # quote, so its age is checked like any other.
        quote_ts_ms=snapshot.cfd.ts_ms,
        reducing=reducing,
        usd_per_usdt=snapshot.usd_per_usdt,
    )


# --- reads (sync, for sync_to_async) --------------------------------------------------------------------------
def _pool_specs(pool: AccountPool) -> tuple[InstrumentSpec, InstrumentSpec]:
    """The pool's perpetual and CFD specs, re-read when the runner (re)loads."""
    specs = pool_specs(pool)
    if specs is None:
        raise ValueError(f"pool {pool.pk}: an account's instrument is unknown")
    return specs


def _fees(pool: AccountPool) -> decide_mod.Fees:
    """The fees the pool's pair is configured with (the account's own rates, as its operator entered or the
    venue reported them), so the decision's net edge is the one the dashboard shows."""
    pair_id = pair_id_for_pool(pool)
    pair = SourcePair.objects.filter(pk=pair_id).first() if pair_id is not None else None
    if pair is None:
        perp, cfd = _pool_specs(pool)
        return decide_mod.Fees(perp_fee_rate=perp.taker_fee_rate, cfd_fee_rate=cfd.taker_fee_rate)
    return decide_mod.Fees(
        perp_fee_rate=pair.perp_fee_rate,
        cfd_fee_rate=pair.cfd_fee_rate,
        cfd_commission_per_oz=pair.cfd_commission_per_oz,
    )


def _carry(pool: AccountPool) -> decide_mod.CarryInputs:
    pair_id = pair_id_for_pool(pool)
    pair = SourcePair.objects.filter(pk=pair_id).first() if pair_id is not None else None
    if pair is None:
        return decide_mod.CarryInputs()
    return decide_mod.CarryInputs(
        funding_rate=pair.funding_rate,
        funding_interval_hours=pair.funding_interval_hours,
        swap_long_per_oz_night=pair.swap_long_per_oz_night,
        swap_short_per_oz_night=pair.swap_short_per_oz_night,
    )


def _live_hedges(strategy: Strategy) -> list[Hedge]:
    return list(
        Hedge.objects.filter(strategy=strategy, status__in=[s.value for s in LIVE_HEDGE_STATUSES]).order_by(
            "planned_at", "pk"
        )
    )


def _unsettled_orders(pool: AccountPool) -> list[Order]:
    return list(
        Order.objects.filter(
            Q(account_id=pool.perp_account_id) | Q(account_id=pool.cfd_account_id),
            status__in=[OrderStatus.UNKNOWN, OrderStatus.SUBMITTING],
        )
    )


def _venue_changed(hedge: Hedge) -> bool:
    return hedge.orders.filter(client_order_id__startswith=ADJUSTMENT_PREFIX).exists()


def _target_perp(hedge: Hedge) -> Decimal:
    """What the perp leg should hold now: ±size while the hedge is meant to be open, 0 once it is closing."""
    closing = hedge.orders.filter(intent=OrderIntent.CLOSE).exists()
    if closing:
        return Decimal(0)
    return -hedge.size_oz if hedge.direction == Direction.SELL_PERP else hedge.size_oz


def _set_close_reason(hedge_id: int, reason: dict[str, Any]) -> None:
    Hedge.objects.filter(pk=hedge_id, close_reason={}).update(close_reason=reason)


def _book_view(strategy: Strategy, snapshot: MarketSnapshot) -> decide_mod.BookView:
    hedges = []
    unhedged = Decimal(0)
    for hedge in _live_hedges(strategy):
        unhedged += hedge.perp_oz + hedge.cfd_oz
        hedges.append(
            decide_mod.HedgeView(
                hedge_id=hedge.pk,
                direction=SpreadDirection(hedge.direction),  # the domain enum: the decision compares by identity
                size_oz=hedge.size_oz,
                opened_at_ms=int((hedge.opened_at or hedge.planned_at).timestamp() * 1000),
                unrealised_pnl_usd=hedge_unrealised_usd(hedge, snapshot),
                in_flight=hedge.status != HedgeStatus.OPEN,
            )
        )
    last_closed = (
        Hedge.objects.filter(strategy=strategy, closed_at__isnull=False)
        .order_by("-closed_at")
        .values_list("closed_at", flat=True)
        .first()
    )
    return decide_mod.BookView(
        hedges=tuple(hedges),
        unhedged_oz=unhedged,
        last_close_ms=None if last_closed is None else int(last_closed.timestamp() * 1000),
        halted=is_halted(strategy),
    )


def snapshot_marks(snapshot: MarketSnapshot | None) -> pnl.Marks | None:
    """The runner's market as PnL marks: both legs' touch and its USDT/USD rate (None without both quotes)."""
    if snapshot is None or snapshot.perp is None or snapshot.cfd is None:
        return None
    return pnl.Marks(
        usd_per_usdt=snapshot.usd_per_usdt,
        perp_bid=snapshot.perp.bid_price,
        perp_ask=snapshot.perp.ask_price,
        cfd_bid=snapshot.cfd.bid_price,
        cfd_ask=snapshot.cfd.ask_price,
    )


def hedge_unrealised_usd(hedge: Hedge, snapshot: MarketSnapshot | None) -> Decimal | None:
    """The hedge's unrealised PnL total in USD at the snapshot (8 dp): the one money model's split marked at the
    touch its legs would close at — fees paid, funding, swap and USDT/USD included (trading/portfolio/pnl.py). None
    when it cannot be marked (no quotes, or an execution without a price)."""
    marks = snapshot_marks(snapshot)
    if marks is None:
        return None
    split = marked_split(hedge, marks)
    return None if split is None else split.total


def strategy_realised_pnl(strategy: Strategy) -> Decimal:
    """The strategy's realised PnL in USD (8 dp): the database's sum of its settled hedges' booked splits."""
    return realised_split(Hedge.objects.filter(strategy=strategy)).total


@dataclass(frozen=True)
class PreTradeState:
    gate: GateState  # the pre-trade gate's state for the strategy's pool (trading/execution/gate.py)
    specs: tuple[InstrumentSpec, InstrumentSpec]  # perp, CFD: the instruments' specs as last read
    terminal_block: TerminalBlock | None = None  # why the CFD terminal takes no new hedge (None: it takes them)


def _pre_trade_state(strategy: Strategy) -> PreTradeState:
    """The gate's state (the MT5 terminal's readiness with it) and the specs, read in one go (one trip to the
    database thread, before the decision: nothing of it is read between the signal and the send)."""
    gate = gate_state(pool=strategy.pool, strategy_id=strategy.pk)
    return PreTradeState(gate, _pool_specs(strategy.pool), gate.cfd_terminal_block)


def default_runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"
