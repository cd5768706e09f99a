"""One pre-trade gate by construction.

- Every function that sends orders asks the gate: a gate that records its calls is driven through every path —
  the runner's open, close, repair and stop-with-flatten, the manual desk's open, close, flatten, repair by
  completing and by unwinding — and every order written is one it cleared; a gate that refuses everything lets
  no order be written or reach a venue on any of them; with no gate installed nothing is sent either.
- Nothing else can send: the only call of a venue's `place` is the executor's, and the only writes of sendable
  order rows are behind the gate (read from the code itself, so a new send path fails here).
- Flatten leaves no hedge open or legged.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from risk.gate import RiskGate
from strategies.domain.params import StopPolicy, StrategyParams
from strategies.limits import risk_limits_for
from strategies.manual_desk import ManualDesk, _claim
from strategies.services import strategy_request, strategy_update
from tests.helpers.runners import db, started_runner
from trading.choices import CommandStatus, HedgeStatus
from trading.domain.orders import ADJUSTMENT_PREFIX
from trading.execution.gate import GateState, Halt, OrderCheck, Refusal, install_pre_trade_gate
from trading.execution.venue_factory import execution_venues
from trading.manual.services import describe, manual_request
from trading.models import Hedge, ManualCommand, Order, PaperOrder, PaperPosition
from trading.reconciliation.services import adopt_venue_position, our_position_oz

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("thread_connections_closed", "stored_quotes"),
]
ROOT = Path(__file__).resolve().parents[2]


class RecordingGate:
    """The real gate, with every question it is asked recorded (or, `refuse_all`, refused)."""

    def __init__(self, *, refuse_all: bool = False) -> None:
        self.inner = RiskGate(limits_for=risk_limits_for)
        self.refuse_all = refuse_all
        self.asked: list[OrderCheck] = []

    def read_state(self, *, pool: Any, strategy_id: int | None) -> GateState:
        return self.inner.read_state(pool=pool, strategy_id=strategy_id)

    def check(self, request: OrderCheck, state: GateState) -> Sequence[Refusal]:
        self.asked.append(request)
        if self.refuse_all:
            return (Refusal("test", "Refused by the test's gate."),)
        return self.inner.check(request, state)

    def halts(self, *, pool: Any) -> Sequence[Halt]:
        return self.inner.halts(pool=pool)


@pytest.fixture
def recording() -> Iterator[RecordingGate]:
    gate = RecordingGate()
    previous = install_pre_trade_gate(gate)
    yield gate
    install_pre_trade_gate(previous)


def sendable_orders() -> list[Order]:
    """Orders we wrote to send (an adjustment records what a venue did on its own: never sent)."""
    return list(
        Order.objects.exclude(client_order_id__startswith=ADJUSTMENT_PREFIX).select_related("hedge").order_by("pk")
    )


class PathLedger:
    """Which send path wrote which orders, and whether the gate cleared each one."""

    def __init__(self, gate: RecordingGate) -> None:
        self.gate = gate
        self.seen_orders: set[int] = set()
        self.paths: dict[str, list[Order]] = {}

    async def after(self, path: str, intent: str) -> list[Order]:
        orders = [o for o in await db(sendable_orders)() if o.pk not in self.seen_orders]
        assert orders, f"{path}: no order was written"
        for order in orders:
            cleared = [
                asked
                for asked in self.gate.asked
                if asked.intent == order.intent
                and asked.pool.pk == order.hedge.pool_id
                and (asked.hedge_id is None or asked.hedge_id == order.hedge_id)
                and any(
                    leg.leg == order.leg and leg.side == order.side and leg.quantity_oz == order.quantity
                    for leg in asked.legs
                )
            ]
            assert cleared, f"{path}: order {order.client_order_id} was written without the gate clearing it"
            assert order.intent == intent, f"{path}: {order.client_order_id} is {order.intent}, not {intent}"
        self.seen_orders.update(o.pk for o in orders)
        self.paths.setdefault(path, []).extend(orders)
        return orders


def desk_for(market: Any) -> ManualDesk:
    return ManualDesk(market=market, venues_factory=lambda pool, pair_id: execution_venues(pool, pair_id, market))


async def by_hand(desk: ManualDesk, alice: Any, pool: Any, kind: str, **kwargs: Any) -> ManualCommand:
    await db(manual_request)(pool=pool, kind=kind, actor=alice.user, **kwargs)
    command = await db(_claim)()
    assert command is not None
    done: ManualCommand = await desk.execute(command)
    return done


async def venue_closes_cfd(pool: Any, market: Any, hedge: Hedge) -> Hedge:
    """The venue took the hedge's CFD leg away (a stop-out): our records adopt it and the hedge is legged."""
    delta = -hedge.cfd_oz
    position = await db(PaperPosition.objects.get)(account=pool.cfd_account)
    await db(PaperPosition.objects.filter(pk=position.pk).update)(quantity_oz=position.quantity_oz + delta)
    await db(adopt_venue_position)(pool, pool.cfd_account, delta, reason="stop-out", price=market.cfd_bid)
    hedge = await db(Hedge.objects.get)(pk=hedge.pk)
    assert hedge.status == HedgeStatus.LEGGED, hedge.status
    return hedge


def newest_hedge(pool: Any) -> Hedge:
    return Hedge.objects.filter(pool=pool).order_by("-pk").first()  # type: ignore[return-value]


SEND_PATHS = {
    "runner open",
    "runner close",
    "runner repair",
    "runner stop with flatten",
    "manual open",
    "manual close",
    "manual repair: complete",
    "manual repair: unwind",
    "manual flatten",
}


async def test_every_function_that_sends_an_order_goes_through_the_gate(
    alice: Any, strategy: Any, paper_pool: Any, market: Any, frozen_clock: Any, recording: RecordingGate
) -> None:
    ledger = PathLedger(recording)
    params = StrategyParams.from_json(strategy.current_version.params).replace(stop_policy=StopPolicy.FLATTEN)
    await db(strategy_update)(strategy=strategy, params=params, actor=alice.user)
    runner = await started_runner(alice, strategy, market, frozen_clock)

    market.wide_sell_perp(Decimal("8"))
    await runner.step()
    [perp, cfd] = await ledger.after("runner open", "open")
    assert {(perp.leg, perp.side), (cfd.leg, cfd.side)} == {("perp", "sell"), ("cfd", "buy")}

    market.converge()
    frozen_clock.advance(5)
    await runner.step()
    await ledger.after("runner close", "close")

    market.wide_sell_perp(Decimal("8"))
    frozen_clock.advance(1)
    await runner.step()
    await ledger.after("runner open", "open")
    hedge = await venue_closes_cfd(paper_pool, market, await db(newest_hedge)(paper_pool))
    market.converge()
    await runner.step()  # the runner unwinds the perp leg the venue left alone
    await ledger.after("runner repair", "repair")
    assert (await db(Hedge.objects.get)(pk=hedge.pk)).status == HedgeStatus.CLOSED

    market.wide_sell_perp(Decimal("8"))
    frozen_clock.advance(1)
    await runner.step()
    await ledger.after("runner open", "open")
    await db(strategy_request)(strategy=strategy, action="stop", actor=alice.user)
    while await runner.step():
        frozen_clock.advance(1)
    await ledger.after("runner stop with flatten", "close")

    desk = desk_for(market)
    market.converge()
    done = await by_hand(desk, alice, paper_pool, "open_hedge", params={"direction": "buy_perp", "size_oz": "1"})
    assert done.status == CommandStatus.DONE, done.result
    await ledger.after("manual open", "open")
    hedge = await db(newest_hedge)(paper_pool)
    done = await by_hand(desk, alice, paper_pool, "close_hedge", hedge=hedge)
    assert done.status == CommandStatus.DONE, done.result
    await ledger.after("manual close", "close")

    await by_hand(desk, alice, paper_pool, "open_hedge", params={"direction": "buy_perp", "size_oz": "1"})
    await ledger.after("manual open", "open")
    hedge = await venue_closes_cfd(paper_pool, market, await db(newest_hedge)(paper_pool))
    done = await by_hand(desk, alice, paper_pool, "repair_complete", hedge=hedge)
    assert done.status == CommandStatus.DONE, done.result
    [completing] = await ledger.after("manual repair: complete", "repair")
    # Completing the missing leg opens a position on it: sent as an opening order, checked as one.
    assert (completing.leg, completing.reducing) == ("cfd", False)
    hedge = await venue_closes_cfd(paper_pool, market, await db(Hedge.objects.get)(pk=hedge.pk))
    done = await by_hand(desk, alice, paper_pool, "repair_unwind", hedge=hedge)
    assert done.status == CommandStatus.DONE, done.result
    [unwinding] = await ledger.after("manual repair: unwind", "repair")
    assert (unwinding.leg, unwinding.reducing) == ("perp", True)

    await by_hand(desk, alice, paper_pool, "open_hedge", params={"direction": "buy_perp", "size_oz": "1"})
    await ledger.after("manual open", "open")
    await venue_closes_cfd(paper_pool, market, await db(newest_hedge)(paper_pool))
    done = await by_hand(desk, alice, paper_pool, "flatten_pool")
    assert done.status == CommandStatus.DONE, done.result
    await ledger.after("manual flatten", "close")

    assert set(ledger.paths) == SEND_PATHS
    # Every order that reached the (paper) venue is one of ours, each written after the gate cleared it.
    sent = await db(lambda: set(PaperOrder.objects.values_list("client_order_id", flat=True)))()
    assert sent == {o.client_order_id for orders in ledger.paths.values() for o in orders}


async def test_a_gate_that_refuses_lets_no_path_write_or_send_an_order(
    alice: Any, strategy: Any, paper_pool: Any, market: Any, frozen_clock: Any
) -> None:
    # A hedge on the pool to close, flatten and repair: written as a venue would leave it, not through our paths.
    runner = await started_runner(alice, strategy, market, frozen_clock)
    market.wide_sell_perp(Decimal("8"))
    await runner.step()
    hedge = await db(newest_hedge)(paper_pool)
    assert hedge.status == HedgeStatus.OPEN
    before = await db(Order.objects.count)()
    refusing = RecordingGate(refuse_all=True)
    previous = install_pre_trade_gate(refusing)
    try:
        market.converge()
        frozen_clock.advance(5)
        await runner.step()  # would close
        assert runner.last_decision["code"] == "risk"
        assert "Refused by the test's gate." in str(runner.last_decision["params"])
        hedge = await venue_closes_cfd(paper_pool, market, hedge)
        await runner.step()  # would repair
        desk = desk_for(market)
        for kind, kwargs in (
            ("repair_unwind", {"hedge": hedge}),
            ("repair_complete", {"hedge": hedge}),
            ("flatten_pool", {}),
        ):
            done = await by_hand(desk, alice, paper_pool, kind, **kwargs)
            assert done.status == CommandStatus.FAILED and done.result == "Refused by the test's gate.", kind
        # An open queued before the gate said no (its queue-time check is the same gate: refused there too).
        with pytest.raises(Exception, match="Refused by the test's gate"):
            await db(manual_request)(
                pool=paper_pool, kind="open_hedge", actor=alice.user, params={"direction": "buy_perp", "size_oz": "1"}
            )
        await db(ManualCommand.objects.create)(
            tenant_id=paper_pool.tenant_id,
            pool=paper_pool,
            kind="open_hedge",
            params={"direction": "buy_perp", "size_oz": "1"},
            requested_by=alice.user,
            requested_at=frozen_clock.now(),
        )
        done = await desk.execute(await db(_claim)())
        assert done.status == CommandStatus.FAILED and "Refused by the test's gate." in done.result
    finally:
        install_pre_trade_gate(previous)
    assert {check.intent for check in refusing.asked} == {"open", "close", "repair"}
    assert await db(Order.objects.exclude(client_order_id__startswith=ADJUSTMENT_PREFIX).count)() == before
    assert await db(PaperOrder.objects.count)() == before  # nothing more reached the venue


async def test_with_no_gate_installed_nothing_is_sent(
    alice: Any, strategy: Any, paper_pool: Any, market: Any, frozen_clock: Any
) -> None:
    previous = install_pre_trade_gate(None)
    try:
        runner = await started_runner(alice, strategy, market, frozen_clock)
        market.wide_sell_perp(Decimal("8"))
        await runner.step()
        assert runner.last_decision["code"] == "risk"
        assert "No pre-trade gate is installed" in str(runner.last_decision["params"])
        with pytest.raises(Exception, match="No pre-trade gate is installed"):
            await db(manual_request)(
                pool=paper_pool, kind="open_hedge", actor=alice.user, params={"direction": "buy_perp", "size_oz": "1"}
            )
    finally:
        install_pre_trade_gate(previous)
    assert await db(Order.objects.count)() == 0 and await db(Hedge.objects.count)() == 0


async def test_flatten_leaves_no_hedge_open_or_legged(
    alice: Any, paper_pool: Any, market: Any, frozen_clock: Any
) -> None:
    desk = desk_for(market)
    for _ in range(2):
        done = await by_hand(desk, alice, paper_pool, "open_hedge", params={"direction": "buy_perp", "size_oz": "1"})
        assert done.status == CommandStatus.DONE, done.result
    legged = await venue_closes_cfd(paper_pool, market, await db(newest_hedge)(paper_pool))
    assert (legged.perp_oz, legged.cfd_oz) == (Decimal(1), Decimal(0))
    text = await db(describe)(kind="flatten_pool", pool=paper_pool)
    assert "both legs of 1 open hedges and the remaining legs of 1 legged hedges" in text

    done = await by_hand(desk, alice, paper_pool, "flatten_pool")
    assert done.status == CommandStatus.DONE, done.result
    statuses = await db(lambda: sorted(Hedge.objects.filter(pool=paper_pool).values_list("status", flat=True)))()
    assert statuses == [HedgeStatus.CLOSED, HedgeStatus.CLOSED]
    for account in (paper_pool.perp_account, paper_pool.cfd_account):
        assert await db(our_position_oz)(account) == 0
        assert (await db(PaperPosition.objects.get)(account=account)).quantity_oz == 0  # the venue agrees


# --- no other way to the wire ---------------------------------------------------------------------------------------
APP_PACKAGES = ("accounts", "alerts", "mt5ops", "quantarb", "risk", "strategies", "trading")
# Where an order row is created, and why that is allowed.
ORDER_ROW_WRITERS = {
    ("trading/execution/services.py", "_order_instance"): "builds the rows of hedge_open / hedge_leg_orders (gated)",
    ("trading/execution/services.py", "hedge_open"): "bulk_create after plan_hedge_open (gated)",
    ("trading/reconciliation/services.py", "_adopt_position"): "records a fill the venue made on its own: never sent",
    # seed_demo's thirty days of past hedges: written to the paper venue's ledger and ours at once, never sent (an
    # order for the past cannot be placed); a live account is never touched (only the demo pool's paper accounts).
    ("quantarb/management/demo_history.py", "_leg_order"): "the demo's simulated past, booked on both sides at once",
}
# Functions of trading/execution/services.py that may build order rows, and the gate call each makes first.
GATED_ENTRY_POINTS = {
    "plan_hedge_open": "clear_orders",
    "hedge_open": "plan_hedge_open",
    "hedge_leg_orders": "clear_orders",
}
ORDER_BUILDERS = {"_order_instance", "_order", "_order_fields", "HedgePlan"}


def app_modules() -> Iterator[tuple[str, ast.Module]]:
    for package in APP_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            yield str(path.relative_to(ROOT)), ast.parse(path.read_text(), filename=str(path))


def functions(tree: ast.Module) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef, list[str]]]:
    """(name, node, enclosing class names) of every function, methods included."""

    def walk(node: ast.AST, classes: list[str]) -> Iterator[tuple[str, Any, list[str]]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                yield from walk(child, [*classes, child.name])
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                yield child.name, child, classes
                yield from walk(child, classes)

    yield from walk(tree, [])


def calls(node: ast.AST) -> Iterator[ast.Call]:
    yield from (child for child in ast.walk(node) if isinstance(child, ast.Call))


def dotted(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return f"{dotted(func.value)}.{func.attr}"
    return "?"


def innermost(tree: ast.Module, call: ast.Call) -> str:
    found = ""
    for name, node, _classes in functions(tree):
        if node.lineno <= call.lineno <= (node.end_lineno or node.lineno):
            found = name  # functions() goes outer to inner
    return found


def test_only_the_executor_places_orders_at_a_venue() -> None:
    """A venue's `place` (and the adapters' own order calls) are called from one place: `Executor.send`, which
    sends only orders persisted by the gated writes. A new caller is a new send path: this test fails for it."""
    placing: list[str] = []
    adapter_calls: list[str] = []
    for path, tree in app_modules():
        for call in calls(tree):
            if not isinstance(call.func, ast.Attribute):
                continue
            where = f"{path}:{call.lineno} in {innermost(tree, call)}"
            if call.func.attr == "place":
                placing.append(where)
            if call.func.attr in ("place_order", "create_order", "order_send") and not path.startswith(
                "trading/venues/"
            ):
                adapter_calls.append(where)
    assert (
        len(placing) == 1 and placing[0].startswith("trading/execution/executor.py") and placing[0].endswith(" in send")
    ), placing
    assert adapter_calls == [], adapter_calls


def test_order_rows_are_written_only_behind_the_gate() -> None:
    writers: set[tuple[str, str]] = set()
    for path, tree in app_modules():
        for call in calls(tree):
            name = dotted(call.func)
            creates = name == "Order" or (
                name.startswith("Order.objects.")
                and name.rsplit(".", 1)[1]
                in (
                    "create",
                    "bulk_create",
                    "get_or_create",
                    "update_or_create",
                )
            )
            if creates:
                writers.add((path, innermost(tree, call)))
            for text in (node.value for node in ast.walk(call) if isinstance(node, ast.Constant)):
                if isinstance(text, str) and "INSERT INTO" in text.upper() and "trading_order" in text:
                    writers.add((path, innermost(tree, call)))
    assert writers <= set(ORDER_ROW_WRITERS), writers - set(ORDER_ROW_WRITERS)

    execution = ast.parse((ROOT / "trading/execution/services.py").read_text())
    builders_called: dict[str, ast.Call] = {}
    for name, node, classes in functions(execution):
        if classes:  # HedgePlan's methods: a plan exists only once plan_hedge_open made it
            continue
        builders = [c for c in calls(node) if dotted(c.func).split(".")[-1] in ORDER_BUILDERS]
        if not builders or name in ORDER_BUILDERS:
            continue
        builders_called[name] = min(builders, key=lambda c: c.lineno)
    assert set(builders_called) == set(GATED_ENTRY_POINTS), builders_called
    for name, first_builder in builders_called.items():
        node = next(n for fname, n, _c in functions(execution) if fname == name)
        gates = [c for c in calls(node) if dotted(c.func) == GATED_ENTRY_POINTS[name]]
        assert gates, f"{name} builds orders and never asks the gate ({GATED_ENTRY_POINTS[name]})"
        assert min(c.lineno for c in gates) < first_builder.lineno, f"{name} builds orders before asking the gate"
    # The HedgePlan table statement — the runner's own writer's path — comes only from plan_hedge_open.
    writer = (ROOT / "trading/execution/order_writer.py").read_text()
    assert "plan_hedge_open(" in writer and "HedgePlan(" not in writer


async def test_a_kill_switch_tripped_after_queueing_stops_the_open_in_the_engine_not_the_close(
    alice: Any, paper_pool: Any, market: Any, frozen_clock: Any
) -> None:
    from risk.services import kill_switch_trip

    desk = desk_for(market)
    done = await by_hand(desk, alice, paper_pool, "open_hedge", params={"direction": "sell_perp", "size_oz": "1"})
    assert done.status == CommandStatus.DONE, done.result
    hedge = await db(newest_hedge)(paper_pool)
    await db(manual_request)(
        pool=paper_pool, kind="open_hedge", actor=alice.user, params={"direction": "sell_perp", "size_oz": "1"}
    )
    await db(kill_switch_trip)(scope="tenant", trigger="manual", reason="fat finger", tenant=alice.tenant)
    done = await desk.execute(await db(_claim)())
    assert done.status == CommandStatus.FAILED
    assert (
        done.result == "Halted by a kill switch (the desk: fat finger): only orders that reduce a position may be sent."
    )
    assert await db(Hedge.objects.count)() == 1  # nothing written for the refused open
    done = await by_hand(desk, alice, paper_pool, "close_hedge", hedge=hedge)
    assert done.status == CommandStatus.DONE, done.result
    assert (await db(Hedge.objects.get)(pk=hedge.pk)).status == HedgeStatus.CLOSED
