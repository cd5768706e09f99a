"""Manual control: commands queued by the web (validated, described, audited), carried out by
the engine's manual desk on the pool's venues, with the outcome recorded on the command."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from accounts.models import AuditEvent
from strategies.manual_desk import ManualDesk, _claim
from tests.helpers.runners import db
from trading.choices import CommandStatus, HedgeStatus
from trading.execution.venue_factory import execution_venues
from trading.manual.services import describe, manual_request
from trading.models import Hedge, PaperPosition

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("thread_connections_closed", "stored_quotes"),
]


async def run_next(desk: ManualDesk) -> Any:
    command = await db(_claim)()
    assert command is not None
    return await desk.execute(command)


async def test_open_then_close_a_hedge_by_hand(alice: Any, paper_pool: Any, market: Any, frozen_clock: Any) -> None:
    desk = ManualDesk(market=market, venues_factory=lambda pool, pair_id: execution_venues(pool, pair_id, market))
    text = await db(describe)(kind="open_hedge", pool=paper_pool, params={"direction": "sell_perp", "size_oz": "2"})
    assert "2 oz" in text and "Paper pool" in text
    with pytest.raises(ValidationError):
        await db(manual_request)(
            pool=paper_pool, kind="open_hedge", actor=alice.user, params={"direction": "sell_perp", "size_oz": "0.5"}
        )
    await db(manual_request)(
        pool=paper_pool, kind="open_hedge", actor=alice.user, params={"direction": "sell_perp", "size_oz": "2"}
    )
    with pytest.raises(ValidationError, match="still running"):
        await db(manual_request)(pool=paper_pool, kind="cancel_orders", actor=alice.user)
    done = await run_next(desk)
    assert done.status == CommandStatus.DONE, done.result
    hedge = await db(Hedge.objects.get)(pool=paper_pool)
    assert (hedge.status, hedge.perp_oz, hedge.cfd_oz, hedge.manual) == (HedgeStatus.OPEN, -2, 2, True)

    await db(manual_request)(pool=paper_pool, kind="close_hedge", actor=alice.user, hedge=hedge)
    done = await run_next(desk)
    assert done.status == CommandStatus.DONE, done.result
    hedge = await db(Hedge.objects.get)(pk=hedge.pk)
    assert hedge.status == HedgeStatus.CLOSED and hedge.close_reason == {"code": "manual"}
    assert await db(AuditEvent.objects.filter(action="order_submitted", actor_id=alice.user.pk).count)() >= 2


async def test_repair_a_legged_hedge_by_hand(alice: Any, paper_pool: Any, market: Any, frozen_clock: Any) -> None:
    desk = ManualDesk(market=market, venues_factory=lambda pool, pair_id: execution_venues(pool, pair_id, market))
    await db(manual_request)(
        pool=paper_pool, kind="open_hedge", actor=alice.user, params={"direction": "buy_perp", "size_oz": "3"}
    )
    await run_next(desk)
    hedge = await db(Hedge.objects.get)(pool=paper_pool)
    # The venue closed 1 oz of the CFD leg on its own (a stop-out), and reconciliation adopted it: legged.
    await db(PaperPosition.objects.filter(account=paper_pool.cfd_account).update)(quantity_oz=Decimal("-2"))
    from trading.models import Order

    await db(Order.objects.create)(
        tenant_id=hedge.tenant_id, hedge=hedge, account=paper_pool.cfd_account, leg="cfd", intent="repair",
        client_order_id="qa-adj-test", side="buy", kind="market", quantity=Decimal(1), status="filled",
        filled=Decimal(1), paper=True, created_at=hedge.planned_at,
    )  # fmt: skip
    from trading.execution.services import hedge_mark, hedge_sync

    await db(hedge_sync)(hedge_id=hedge.pk)
    hedge = await db(hedge_mark)(hedge=hedge, status=HedgeStatus.LEGGED, reason="stop-out")
    assert hedge.perp_oz + hedge.cfd_oz == Decimal(1)

    await db(manual_request)(pool=paper_pool, kind="repair_unwind", actor=alice.user, hedge=hedge)
    done = await run_next(desk)
    assert done.status == CommandStatus.DONE, done.result
    hedge = await db(Hedge.objects.get)(pk=hedge.pk)
    assert hedge.perp_oz + hedge.cfd_oz == 0 and hedge.status == HedgeStatus.OPEN
    assert (hedge.perp_oz, hedge.cfd_oz) == (Decimal(2), Decimal(-2))  # unwound on the perp, the leg ahead
