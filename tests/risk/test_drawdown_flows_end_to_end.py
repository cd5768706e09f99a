"""A withdrawal does not trip the drawdown limit, end to end: a desk whose equity series is written by
the real equity job (trading/portfolio/equity.py `equity_record`, hourly on simulated time) from its booked cash
flows and its hedges' money model; a desk limit at 5 % drawdown; a withdrawal of 20 % of equity entered, approved by
a second admin and booked — the series drops by a fifth but the drawdown metric risk/metrics.py computes from it (on
the flow-adjusted wealth index) stays at 0 and `evaluate_limits` opens no breach; then a trading loss of about 6 %
(a hedge that closes at a loss) does breach.

The amounts are small because the loss is a real closed hedge of the money model's cases (tests/trading/domain/
pnl_cases.py B: −0.4920948 USD): on 8 USD of equity it is a 6.15 % loss."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings

from accounts.models import Membership, User
from risk.domain.limits import Metric, Scope, ScopeKind
from risk.limits import evaluate_limits, limit_save
from risk.metrics import metric_values
from risk.models import Breach, RiskLimit, RiskLimitState
from tests.helpers.books import hedge_of
from tests.trading.domain.pnl_cases import B_BUY_PERP_CLOSED
from trading.models import CashFlow, EquityPoint
from trading.portfolio.cashflows import Entry, cash_flow_approve, cash_flow_enter
from trading.portfolio.equity import equity_record

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)


def hourly_desk_equity(tenant: Any) -> list[Decimal]:
    return list(
        EquityPoint.objects.filter(tenant=tenant, scope="desk", resolution="1h").order_by("at").values_list(
            "equity", flat=True)
    )  # fmt: skip


@override_settings(QUANTARB_CASH_FLOW_APPROVAL_USD="1")  # every flow here waits for a second admin
@pytest.mark.parametrize("approved_after_hours", [0, 2], ids=["approved-at-once", "approved-two-hours-later"])
def test_a_withdrawal_does_not_trip_the_drawdown_limit_and_a_trading_loss_does(
    alice: Any,
    strategy: Any,
    frozen_clock: Any,
    approved_after_hours: int,
) -> None:
    """Approved at once, or two hours later (the job has written points without it meanwhile, and writes them
    again from the withdrawal's time once it is booked)."""
    tenant, pool = alice.tenant, strategy.pool
    second = User.objects.create_user(username="avery", password="correct horse battery staple 1")
    Membership.objects.create(user=second, tenant=tenant, role="admin")
    frozen_clock.set(START)

    def book(kind: str, amount: str, at: datetime, *, after: int = 0) -> CashFlow:
        entry = Entry(account=pool.cfd_account, kind=kind, amount=Decimal(amount), at=at)
        [flow] = cash_flow_enter(tenant=tenant, actor=alice.user, entry=entry)
        assert flow.status == "requested"  # above the approval threshold: a second admin decides
        if after:
            run_equity_job_until((frozen_clock.now() - START) / timedelta(hours=1) + after)
        booked = cash_flow_approve(flow=flow, actor=second)
        assert booked.status == "booked"
        return booked

    def run_equity_job_until(hours: float) -> None:
        """The beat job, every hour on the clock (5 minutes past, once the slot has settled)."""
        moment = frozen_clock.now()
        while moment < START + timedelta(hours=hours):
            moment = START + timedelta(hours=int((moment - START) / timedelta(hours=1)) + 1, minutes=5)
            frozen_clock.set(moment)
            equity_record(moment)

    def drawdowns() -> dict[str, Decimal | None]:
        values = metric_values([tenant.pk])[tenant.pk]
        return {
            name: values[(Metric.DRAWDOWN_PCT, scope)]
            for name, scope in {
                "desk": Scope(ScopeKind.DESK, tenant.pk),
                "pool": Scope(ScopeKind.POOL, pool.pk),
                "strategy": Scope(ScopeKind.STRATEGY, strategy.pk),
            }.items()
        }

    book("deposit", "10", START - timedelta(hours=1))
    limit = limit_save(
        row=RiskLimit(tenant=tenant, name="Drawdown 5 %", scope_kind="desk", metric="drawdown_pct",
                      breach_level=Decimal(5), action="block_entries"),
        actor=alice.user,
    )  # fmt: skip
    equity_record(START + timedelta(minutes=5))
    run_equity_job_until(3)

    frozen_clock.set(START + timedelta(hours=3, minutes=30))
    withdrawal = book("withdrawal", "2", frozen_clock.now(), after=approved_after_hours)  # 20 % of the equity
    assert withdrawal.amount_usd == Decimal(-2)
    equity_record(frozen_clock.now())  # the beat's next run
    run_equity_job_until(8)

    # The series drops by a fifth; the drawdown (flow-adjusted) does not move, and the limit stays ok.
    # (from 11:00, the deposit's hour: the job writes back to a flow booked late)
    assert hourly_desk_equity(tenant) == [Decimal(10)] * 5 + [Decimal(8)] * 5
    assert drawdowns() == {"desk": Decimal(0), "pool": Decimal(0), "strategy": Decimal(0)}
    outcome = evaluate_limits()
    assert [state.value for state in outcome.states] == [Decimal(0)]
    assert RiskLimitState.objects.get(limit=limit).level == "ok" and not Breach.objects.exists()

    # A real trading loss: a hedge that closes now at −0.4920948 USD, 6.15 % of the 8 USD left.
    frozen_clock.set(START + timedelta(hours=8, minutes=30))
    hedge = hedge_of(strategy, B_BUY_PERP_CLOSED)
    assert hedge.status == "closed" and hedge.pnl_total == B_BUY_PERP_CLOSED.total
    run_equity_job_until(9)

    assert hourly_desk_equity(tenant)[-1] == Decimal(8) + B_BUY_PERP_CLOSED.total
    loss_pct = -B_BUY_PERP_CLOSED.total / Decimal(8) * 100
    for value in drawdowns().values():
        assert value is not None and abs(value - loss_pct) < Decimal("0.0001"), value
    evaluate_limits()
    breach = Breach.objects.get()
    assert breach.limit == limit and breach.metric == "drawdown_pct"
    assert abs(breach.start_value - loss_pct) < Decimal("0.0001")
