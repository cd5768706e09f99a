"""Carries out operators' manual commands (trading/manual/services.py) in the engine, where the pool's venues and quotes
are: claims the oldest queued command, does it through the same execution path as the strategies (the pre-trade
gate asked before any order is written, orders persisted before sending, lookups before any resend), and records
the outcome — a refusal with every reason the gate gave."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from asgiref.sync import sync_to_async
from django.db import connection, transaction
from django.utils.translation import gettext as _

from quantarb import clock
from quantarb.live import send_on_commit
from strategies.domain.params import StrategyParams
from strategies.events import strategy_group
from strategies.models import Strategy
from strategies.runner import (
    MarketSnapshot,
    VenuesFactory,
    _pool_specs,
    _target_perp,
    price_leg,
    repair_legs,
)
from strategies.services import current_params
from trading.choices import (
    LIVE_HEDGE_STATUSES,
    OPEN_ORDER_STATUSES,
    CommandStatus,
    Direction,
    HedgeStatus,
    Leg,
    ManualKind,
    OrderIntent,
    OrderSide,
    OrderStatus,
)
from trading.domain import hedges as hedge_rules
from trading.execution.executor import Executor
from trading.execution.gate import OrderRefused
from trading.execution.services import (
    ExecutionRefused,
    StaleQuote,
    hedge_leg_orders,
    hedge_mark,
    hedge_open,
    working_orders,
)
from trading.execution.venue_factory import close_venues
from trading.instruments import pair_id_for_pool
from trading.models import Hedge, ManualCommand, Order

log = logging.getLogger(__name__)


def _db(function: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    return sync_to_async(function, thread_sensitive=True)


# What "flatten" closes: a whole hedge, or a legged one (its remaining leg or legs), never one whose orders are still
# settling or that awaits reconciliation (its legs are not known).
FLATTENABLE = (HedgeStatus.OPEN, HedgeStatus.LEGGED)


class CommandFailed(Exception):
    """The command cannot be carried out; its message is recorded for the operator."""


@transaction.atomic
def _claim() -> ManualCommand | None:
    command = (
        ManualCommand.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(status=CommandStatus.QUEUED)
        .order_by("requested_at", "pk")
        .select_related("pool__perp_account", "pool__cfd_account", "pool__tenant", "hedge", "requested_by")
        .first()
    )
    if command is None:
        return None
    command.status = CommandStatus.RUNNING
    command.started_at = clock.now()
    command.save(update_fields=["status", "started_at"])
    return command


def _finish(command: ManualCommand, status: str, result: str) -> None:
    ManualCommand.objects.filter(pk=command.pk).update(status=status, result=result[:500], finished_at=clock.now())
    for strategy_id in Strategy.objects.filter(pool_id=command.pool_id).values_list("pk", flat=True):
        send_on_commit(strategy_group(strategy_id), {"type": "strategy.changed", "strategy_id": strategy_id})


def _params_for(pool: Any) -> StrategyParams:
    """The pool's strategy's parameters (slippage, deviation, quote age) when it has one, else the defaults."""
    strategy = Strategy.objects.filter(pool=pool).select_related("current_version").order_by("-pk").first()
    return current_params(strategy) if strategy is not None and strategy.current_version else StrategyParams()


def _reset_connection() -> None:
    """Close this thread's database connection (a dropped one heals on the next use)."""
    connection.close()


@dataclass
class ManualDesk:
    market: Any
    venues_factory: VenuesFactory
    poll_s: float = 0.5
    retry_s: float = 0.5  # between repair attempts of a legged hedge
    sleep: Callable[[float], Awaitable[Any]] = field(default=asyncio.sleep)
    # The venues the command being carried out opened: closed when it ends (their ccxt sessions with them), unless
    # the factory hands out venues its caller keeps open and closes itself (`owns_venues` False).
    opened_venues: list[Any] = field(default_factory=list)
    owns_venues: bool = True

    async def run(self) -> None:
        """Claim and carry out queued commands until cancelled."""
        while True:
            try:
                command = await _db(_claim)()
            except Exception:
                await _db(_reset_connection)()
                log.exception("manual desk: could not read the queue")
                command = None
            if command is None:
                await self.sleep(self.poll_s)
                continue
            await self.execute(command)

    async def execute(self, command: ManualCommand) -> ManualCommand:
        """Carry out one claimed command and record its outcome (never raises for a venue or state problem)."""
        try:
            result = await self._do(command)
        except (CommandFailed, StaleQuote, ExecutionRefused, OrderRefused) as exc:
            await _db(_finish)(command, CommandStatus.FAILED, str(exc))
        except Exception as exc:
            log.exception("manual command %s failed", command.pk)
            await _db(_finish)(command, CommandStatus.FAILED, _("Failed: %(error)s") % {"error": exc})
        else:
            await _db(_finish)(command, CommandStatus.DONE, result)
        finally:
            opened, self.opened_venues = self.opened_venues, []
            for venues in opened:
                await close_venues(venues)
        finished: ManualCommand = await _db(ManualCommand.objects.get)(pk=command.pk)
        return finished

    async def _do(self, command: ManualCommand) -> str:
        """Carry the command out; the text of a command done. A command is done only when the hedges' state says
        so (open, closed, whole again); otherwise it fails with the reason (CommandFailed)."""
        pool = command.pool
        pair_id = await _db(pair_id_for_pool)(pool)
        if pair_id is None:
            raise CommandFailed(_("No quote source prices this pool."))
        snapshot: MarketSnapshot | None = self.market.snapshot(pair_id)
        if snapshot is None:
            raise CommandFailed(_("No quotes for this pool yet; try again in a moment."))
        venues = await _db(self.venues_factory)(pool, pair_id)
        if self.owns_venues:
            self.opened_venues.append(venues)
        executor = Executor(venues=venues, sleep=self.sleep)
        params = await _db(_params_for)(pool)
        perp_spec, cfd_spec = await _db(_pool_specs)(pool)
        actor = command.requested_by
        desk = _Repairs(self, executor, pool, pair_id, params, perp_spec, cfd_spec, actor)

        def leg(leg_name: str, side: str, quantity: Decimal, *, reducing: bool) -> Any:
            assert snapshot is not None
            priced = price_leg(
                pool,
                leg=leg_name,
                side=side,
                quantity=quantity,
                params=params,
                snapshot=snapshot,
                perp_spec=perp_spec,
                cfd_spec=cfd_spec,
                reducing=reducing,
            )
            if priced is None:
                raise CommandFailed(_("No %(leg)s quote to price the order.") % {"leg": leg_name})
            return priced

        kind = command.kind
        if kind == ManualKind.OPEN_HEDGE:
            direction = Direction(command.params["direction"])
            size = Decimal(command.params["size_oz"])
            sell_perp = direction == Direction.SELL_PERP
            hedge, perp_order, cfd_order = await _db(hedge_open)(
                pool=pool,
                direction=direction,
                size_oz=size,
                perp=leg(Leg.PERP, OrderSide.SELL if sell_perp else OrderSide.BUY, size, reducing=False),
                cfd=leg(Leg.CFD, OrderSide.BUY if sell_perp else OrderSide.SELL, size, reducing=False),
                max_quote_age_ms=params.max_quote_age_ms,
                market=snapshot,
                reason={"code": "manual", "params": {}},
                usd_per_usdt=snapshot.usd_per_usdt,
                actor=actor,
            )
            await executor.send_all([perp_order, cfd_order])
            # A leg that did not fill is completed within the legging time (or, failing that, the other unwound):
            # no runner trades a hand-opened hedge, so the desk does it before it answers.
            await desk.make_whole(hedge.pk, prefer=None)
            return await self._outcome(hedge.pk, done=(HedgeStatus.OPEN,))
        if kind in (ManualKind.CLOSE_HEDGE, ManualKind.FLATTEN_POOL):
            hedges: list[Hedge | None] = (
                [command.hedge]
                if kind == ManualKind.CLOSE_HEDGE
                else [*await self._settled_live_hedges(pool, executor)]
            )
            outcomes = []
            failed = False
            for hedge in hedges:
                assert hedge is not None
                hedge = await _db(Hedge.objects.get)(pk=hedge.pk)
                if hedge.status not in FLATTENABLE:
                    # Still settling, or waiting for reconciliation: not closed by this command.
                    try:
                        outcomes.append(await self._outcome(hedge.pk, done=(HedgeStatus.CLOSED,)))
                    except CommandFailed as exc:
                        outcomes.append(str(exc))
                        failed = True
                    continue
                # Every leg the hedge holds back to flat: an open hedge's two, a legged hedge's one or two.
                legs = [
                    leg(name, OrderSide.SELL if held > 0 else OrderSide.BUY, abs(held), reducing=True)
                    for name, held in ((Leg.PERP, hedge.perp_oz), (Leg.CFD, hedge.cfd_oz))
                    if held != 0
                ]
                if not legs:
                    continue
                orders = await _db(hedge_leg_orders)(
                    hedge=hedge,
                    intent=OrderIntent.CLOSE,
                    legs=legs,
                    max_quote_age_ms=params.max_quote_age_ms,
                    market=snapshot,
                    actor=actor,
                )
                await _db(
                    lambda h=hedge: Hedge.objects.filter(pk=h.pk, close_reason={}).update(
                        close_reason={"code": "manual"}
                    )
                )()
                await executor.send_all(orders)
                await desk.make_whole(hedge.pk, prefer=hedge_rules.RepairPreference.UNWIND)
                try:
                    outcomes.append(await self._outcome(hedge.pk, done=(HedgeStatus.CLOSED,)))
                except CommandFailed as exc:
                    outcomes.append(str(exc))
                    failed = True
            text = " ".join(outcomes) or _("Nothing to close.")
            if failed:
                raise CommandFailed(text)
            return text
        if kind in (ManualKind.REPAIR_COMPLETE, ManualKind.REPAIR_UNWIND):
            prefer = (
                hedge_rules.RepairPreference.COMPLETE
                if kind == ManualKind.REPAIR_COMPLETE
                else hedge_rules.RepairPreference.UNWIND
            )
            hedge = await _db(Hedge.objects.get)(pk=command.hedge_id)
            if not await desk.make_whole(hedge.pk, prefer=prefer, by_hand=True):
                raise CommandFailed(_("Hedge #%(id)s needs no repair.") % {"id": hedge.pk})
            return await self._outcome(hedge.pk, done=(HedgeStatus.OPEN, HedgeStatus.CLOSED))
        if kind == ManualKind.CANCEL_ORDERS:
            working = await _db(
                lambda: list(
                    Order.objects.filter(
                        account_id__in=[pool.perp_account_id, pool.cfd_account_id],
                        status__in=[s.value for s in OPEN_ORDER_STATUSES],
                    )
                )
            )()
            cancelled = 0
            for order in working:
                with contextlib.suppress(Exception):
                    await executor.cancel(order)
                    cancelled += 1
            return _("%(done)s of %(count)s open orders cancelled.") % {"done": cancelled, "count": len(working)}
        raise CommandFailed(_("Unknown command."))

    async def _settled_live_hedges(self, pool: Any, executor: Executor) -> list[Hedge]:
        """The pool's live hedges, after asking the venues about their working orders (an order still unknown or
        working would leave its fill out of the legs the flatten closes)."""
        hedges: list[Hedge] = await _db(
            lambda: list(
                Hedge.objects.filter(pool=pool, status__in=[s.value for s in LIVE_HEDGE_STATUSES]).order_by(
                    "planned_at", "pk"
                )
            )
        )()
        for hedge in hedges:
            for order in await _db(working_orders)(hedge):
                if order.status in (OrderStatus.UNKNOWN, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED):
                    await executor.refresh(order)
        return hedges

    async def _outcome(self, hedge_id: int, *, done: tuple[str, ...]) -> str:
        """What became of the hedge, in words; raises CommandFailed (with the reason) unless its state is one of
        `done`."""
        hedge, reason = await _db(_hedge_and_reason)(hedge_id)
        text = _("Hedge #%(id)s is %(status)s (perp %(perp)s oz, CFD %(cfd)s oz).") % {
            "id": hedge.pk,
            "status": hedge.get_status_display(),
            "perp": hedge.perp_oz,
            "cfd": hedge.cfd_oz,
        }
        if hedge.status in done:
            return text
        if reason:
            text = _("%(outcome)s Last venue answer: %(reason)s") % {"outcome": text, "reason": reason}
        raise CommandFailed(text)


def _hedge_and_reason(hedge_id: int) -> tuple[Hedge, str]:
    """The hedge and why it is not where it should be: its status reason, or its latest order's error."""
    hedge = Hedge.objects.get(pk=hedge_id)
    error = hedge.orders.exclude(error="").order_by("-created_at", "-pk").values_list("error", flat=True).first()
    return hedge, error or hedge.status_reason


@dataclass
class _Repairs:
    """Repairs of one command's hedges, by the desk itself (no runner trades a manual hedge, and an operator's
    repair is carried out now): the same plan (`assess`), pricing and execution path as the runner's."""

    desk: ManualDesk
    executor: Executor
    pool: Any
    pair_id: int
    params: StrategyParams
    perp_spec: Any
    cfd_spec: Any
    actor: Any

    async def make_whole(
        self, hedge_id: int, *, prefer: hedge_rules.RepairPreference | None, by_hand: bool = False
    ) -> bool:
        """Repair the hedge while it is legged, within the maximum legging time: settle its unknown orders, then
        complete the missing leg (opened, not reduce-only) or unwind the leg ahead (reduce-only), again after a
        refusal, until it is whole. `prefer` None: complete for the first half of the time, then unwind.
        `by_hand`: an operator's repair command, which also takes a hedge waiting for reconciliation (their
        decision). True when a repair order was sent."""
        budget_s = self.params.max_legging_seconds
        started = clock.now()
        tried = False
        if by_hand:
            hedge = await _db(Hedge.objects.get)(pk=hedge_id)
            if hedge.status == HedgeStatus.NEEDS_RECONCILE and hedge.perp_oz + hedge.cfd_oz != 0:
                await _db(hedge_mark)(hedge=hedge, status=HedgeStatus.LEGGED, reason=_("Repair requested by hand."))
        while True:
            hedge = await _db(Hedge.objects.get)(pk=hedge_id)
            for order in await _db(working_orders)(hedge):
                if order.status in (OrderStatus.UNKNOWN, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED):
                    await self.executor.refresh(order)
            hedge = await _db(Hedge.objects.get)(pk=hedge_id)
            elapsed_s = (clock.now() - started).total_seconds()
            if hedge.status != HedgeStatus.LEGGED or elapsed_s >= budget_s:
                return tried
            way = prefer or (
                hedge_rules.RepairPreference.COMPLETE
                if elapsed_s < budget_s / 2
                else hedge_rules.RepairPreference.UNWIND
            )
            target_perp = await _db(_target_perp)(hedge)
            actual = hedge_rules.LegPosition(hedge.perp_oz, hedge.cfd_oz)
            plan = hedge_rules.assess(
                target=hedge_rules.LegPosition(target_perp, -target_perp),
                actual=actual,
                perp_step_oz=self.perp_spec.step_oz,
                cfd_step_oz=self.cfd_spec.step_oz,
                legged_ms=0,  # the budget is this command's, counted above
                max_legging_ms=1,
                prefer=way,
            )
            if not plan.orders:
                return tried
            snapshot = self.desk.market.snapshot(self.pair_id)
            if snapshot is None:
                raise CommandFailed(_("No quotes for this pool yet; try again in a moment."))
            legs = repair_legs(self.pool, plan, actual, self.params, snapshot, self.perp_spec, self.cfd_spec)
            if not legs:
                raise CommandFailed(_("No quote to price the repair."))
            wait = max(self.executor.venues[leg.account.pk].backoff_s() for leg in legs)
            if wait > 0:  # a venue asked the account to wait: nothing would leave, nothing is written
                await self.desk.sleep(min(wait, max(budget_s - elapsed_s, 0.0)) or self.desk.retry_s)
                continue
            orders = await _db(hedge_leg_orders)(
                hedge=hedge,
                intent=OrderIntent.REPAIR,
                legs=legs,
                max_quote_age_ms=self.params.max_quote_age_ms,
                market=snapshot,
                actor=self.actor,
            )
            tried = True
            await self.executor.send_all(orders)
            hedge = await _db(Hedge.objects.get)(pk=hedge_id)
            if hedge.status != HedgeStatus.LEGGED:
                continue  # whole (or still settling): looked at again above
            await self.desk.sleep(self.desk.retry_s)
