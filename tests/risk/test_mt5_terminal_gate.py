"""A terminal that is not ready to trade blocks opening orders on its account through the one order gate, with its
reason; reducing orders pass. The gate reads mt5ops' state (risk → mt5ops' selector); the
runner reads it too and holds (no new hedge) while the terminal is not ready."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from mt5ops.health import status_of
from mt5ops.models import TerminalInstance, TerminalStatus
from tests.helpers.clients import Api
from tests.helpers.runners import db, started_runner
from trading.models import Hedge, ManualCommand, Order


def on_terminal(account: Any, state: str, failure: str = "", checked_ago_s: float = 1) -> TerminalInstance:
    from quantarb import clock

    terminal = TerminalInstance.objects.create(tenant=account.tenant, label="MT5 box 1", backend="sim")
    account.terminal = terminal
    account.save(update_fields=["terminal"])
    status = status_of(terminal)
    TerminalStatus.objects.filter(pk=status.pk).update(
        state=state, failure=failure, last_check_at=clock.now() - timedelta(seconds=checked_ago_s)
    )
    return terminal


def open_body(pool: Any) -> dict[str, Any]:
    return {"pool": pool.pk, "kind": "open_hedge", "direction": "buy_perp", "size_oz": "1"}


@pytest.mark.django_db
@pytest.mark.usefixtures("stored_quotes")
@pytest.mark.parametrize(
    ("state", "failure", "words"),
    [
        ("down", "ipc_timeout", "(down, IPC timeout)"),
        ("degraded", "bridge_down", "(degraded, bridge down)"),
        ("maintenance", "", "(maintenance)"),
    ],
)
def test_an_opening_order_on_a_terminal_not_ready_is_refused_with_the_reason_and_reducing_orders_pass(
    desk: dict[str, Any],
    tom: Any,
    state: str,
    failure: str,
    words: str,
) -> None:
    on_terminal(desk["pool"].cfd_account, state, failure)
    api = Api(tom)
    refused = api.post("manual-commands/", open_body(desk["pool"]))
    assert refused.status_code == 400
    assert refused.json()["non_field_errors"] == [
        f"The MT5 terminal MT5 box 1 is not ready to trade {words}: no new positions on its account; reducing "
        "orders still pass."
    ]
    assert not ManualCommand.objects.filter(pool=desk["pool"], kind="open_hedge").exists()
    closing = api.post("manual-commands/", {"pool": desk["pool"].pk, "kind": "close_hedge", "hedge": desk["hedge"].pk})
    assert closing.status_code == 202


@pytest.mark.django_db
@pytest.mark.usefixtures("stored_quotes")
def test_a_healthy_terminal_lets_it_through_and_a_stale_check_does_not(desk: dict[str, Any], tom: Any) -> None:
    terminal = on_terminal(desk["pool"].cfd_account, "healthy")
    assert Api(tom).post("manual-commands/", open_body(desk["pool"])).status_code == 202
    from quantarb import clock

    TerminalStatus.objects.filter(terminal=terminal).update(last_check_at=clock.now() - timedelta(seconds=61))
    refused = Api(tom).post("manual-commands/", open_body(desk["pool"]))
    assert refused.status_code == 400
    assert "its last health check is too old" in refused.json()["non_field_errors"][0]


def test_the_terminal_reason_reads_in_chinese() -> None:
    from django.utils import translation

    from risk.gate import _terminal_text

    with translation.override("zh-hans"):
        text = _terminal_text("MT5 box 1", "down", "not_logged_in")
    assert text == "MT5 终端 MT5 box 1 未就绪（中断，未登录）：其账户不可开新仓；减仓订单仍可发送。"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("thread_connections_closed")
async def test_the_runner_holds_while_its_terminal_is_not_ready_and_trades_once_it_is(
    alice: Any, strategy: Any, market: Any, frozen_clock: Any
) -> None:
    cfd = await db(lambda: strategy.pool.cfd_account)()
    terminal = await db(on_terminal)(cfd, "down", "ipc_timeout")
    runner = await started_runner(alice, strategy, market, frozen_clock)
    market.wide_sell_perp(Decimal("8"))
    await runner.step()
    assert await db(Order.objects.count)() == 0
    assert runner.last_decision["action"] == "hold" and runner.last_decision["code"] == "mt5_terminal"
    assert runner.last_decision["params"] == {"terminal": "MT5 box 1", "state": "down", "failure": "ipc_timeout"}
    from strategies.messages import reason_text

    assert reason_text(runner.last_decision) == (
        "Holding: the MT5 terminal MT5 box 1 is down (IPC timeout): no new hedge until it is ready."
    )

    from quantarb import clock

    await db(TerminalStatus.objects.filter(terminal=terminal).update)(
        state="healthy", failure="", last_check_at=clock.now()
    )
    frozen_clock.advance(1)
    await runner.step()
    [hedge] = await db(lambda: list(Hedge.objects.all()))()
    assert hedge.status == "open"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("thread_connections_closed")
async def test_the_pause_policy_pauses_the_strategy_while_its_terminal_is_not_ready(
    alice: Any, strategy: Any, market: Any, frozen_clock: Any
) -> None:
    """A strategy whose terminal policy is `pause` pauses (audited, with the reason) instead of holding; it stays
    paused once the terminal is ready again, until an operator resumes it."""
    from django.db import transaction

    from accounts.models import AuditEvent
    from strategies.domain.params import TerminalPolicy
    from strategies.models import Strategy
    from strategies.services import current_params, strategy_update

    def pause_policy() -> None:
        with transaction.atomic():
            params = current_params(strategy).replace(terminal_policy=TerminalPolicy.PAUSE)
            strategy_update(strategy=strategy, params=params, actor=alice.user)

    await db(pause_policy)()
    cfd = await db(lambda: strategy.pool.cfd_account)()
    terminal = await db(on_terminal)(cfd, "down", "not_logged_in")
    runner = await started_runner(alice, strategy, market, frozen_clock)
    market.wide_sell_perp(Decimal("8"))
    await runner.step()
    paused = await db(Strategy.objects.get)(pk=strategy.pk)
    assert paused.state == "paused" and "MT5 terminal MT5 box 1 is down (not_logged_in)" in paused.state_reason
    assert runner.last_decision["code"] == "mt5_terminal_paused"
    assert await db(AuditEvent.objects.filter(summary__to="paused").exists)()
    assert await db(Order.objects.count)() == 0
    from quantarb import clock

    await db(TerminalStatus.objects.filter(terminal=terminal).update)(
        state="healthy", failure="", last_check_at=clock.now()
    )
    frozen_clock.advance(1)
    assert await runner.step()  # still running its loop, managing what is in flight, but opening nothing
    assert (await db(Strategy.objects.get)(pk=strategy.pk)).state == "paused"
    assert await db(Order.objects.count)() == 0
