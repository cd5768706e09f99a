"""The execution beat jobs: carry booking (paper model, live venue records), position snapshots, reconciliation
of every pool with the kill switch tripped on a mismatch under an active strategy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from risk.models import KillSwitch
from strategies.choices import StrategyState
from strategies.housekeeping import reconcile_pools
from strategies.models import Strategy
from trading.choices import CarryKind, HedgeStatus
from trading.models import CarryEntry, FundingPayment, Hedge, Order, PaperPosition, PositionSnapshot
from trading.portfolio.housekeeping import book_carry, funding_times, rollover_times, snapshot_positions

pytestmark = pytest.mark.django_db


def open_hedge(pool: Any, *, paper: bool, opened_at: datetime, perp_oz: str = "-2", cfd_oz: str = "2") -> Hedge:
    hedge = Hedge.objects.create(
        tenant_id=pool.tenant_id,
        pool=pool,
        direction="sell_perp",
        status=HedgeStatus.OPEN,
        paper=paper,
        size_oz=Decimal(2),
        perp_oz=Decimal(perp_oz),
        cfd_oz=Decimal(cfd_oz),
        entry_usd_per_usdt=Decimal("0.9996"),
        planned_at=opened_at,
        opened_at=opened_at,
    )
    Order.objects.create(
        tenant_id=pool.tenant_id, hedge=hedge, account=pool.perp_account, leg="perp", intent="open",
        client_order_id=f"qa1-{hedge.pk}PO1", side="sell", kind="limit_ioc", quantity=Decimal(2), status="filled",
        filled=Decimal(2), avg_price=Decimal("4600"), paper=paper, created_at=opened_at,
    )  # fmt: skip
    return hedge


def test_funding_and_rollover_instants() -> None:
    start = datetime(2026, 11, 18, 7, 0, tzinfo=UTC)  # Wednesday, US winter time
    assert funding_times(start, start + timedelta(hours=10)) == [
        datetime(2026, 11, 18, 8, 0, tzinfo=UTC),
        datetime(2026, 11, 18, 16, 0, tzinfo=UTC),
    ]
    assert rollover_times(start, start + timedelta(days=1)) == [datetime(2026, 11, 18, 22, 0, tzinfo=UTC)]
    summer = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert rollover_times(summer, summer + timedelta(hours=12)) == [datetime(2026, 7, 1, 21, 0, tzinfo=UTC)]


def test_paper_carry_is_booked_once_per_funding_time_and_rollover(paper_pool: Any, sim_pair: Any) -> None:
    opened = datetime(2026, 11, 18, 7, 0, tzinfo=UTC)  # Wednesday: triple swap
    hedge = open_hedge(paper_pool, paper=True, opened_at=opened)
    now = opened + timedelta(hours=16)  # 08:00 and 16:00 funding, 22:00 rollover
    first = book_carry(now)
    again = book_carry(now)
    assert first == {"funding": 2, "swap": 1} and again == {"funding": 0, "swap": 0}
    funding = CarryEntry.objects.filter(hedge=hedge, kind=CarryKind.FUNDING)
    # Short 2 oz at a positive rate: the short receives 2 · 4600 · rate at each funding time.
    assert all(entry.amount == Decimal(2) * Decimal(4600) * sim_pair.funding_rate for entry in funding)
    swap = CarryEntry.objects.get(hedge=hedge, kind=CarryKind.SWAP)
    assert swap.amount == Decimal(2) * sim_pair.swap_long_per_oz_night * 3  # long CFD, triple Wednesday


def test_live_funding_comes_from_the_venue_records(paper_pool: Any) -> None:
    pool = paper_pool
    pool.perp_account.mode = "live"
    pool.perp_account.save()
    opened = datetime(2026, 11, 18, 7, 0, tzinfo=UTC)
    hedge = open_hedge(pool, paper=False, opened_at=opened)
    FundingPayment.objects.create(
        tenant_id=pool.tenant_id, account=pool.perp_account, venue_id="9001", symbol="XAUUSDT", asset="USDT",
        amount=Decimal("0.92000000"), at=opened + timedelta(hours=1),
    )  # fmt: skip
    assert book_carry(opened + timedelta(hours=2))["funding"] == 1
    entry = CarryEntry.objects.get(hedge=hedge)
    assert (entry.amount, entry.venue_ref, entry.paper) == (Decimal("0.92"), f"binance-9001-h{hedge.pk}", False)


def test_positions_are_snapshotted_with_the_venue_view(paper_pool: Any) -> None:
    PaperPosition.objects.create(account=paper_pool.perp_account, quantity_oz=Decimal("-1"))
    assert snapshot_positions() == 2
    perp = PositionSnapshot.objects.get(account=paper_pool.perp_account)
    assert (perp.ours_oz, perp.venue_oz) == (Decimal(0), Decimal("-1"))


def test_a_mismatch_under_an_active_strategy_trips_its_kill_switch(strategy: Any, paper_pool: Any) -> None:
    Strategy.objects.filter(pk=strategy.pk).update(state=StrategyState.RUNNING)
    PaperPosition.objects.create(account=paper_pool.cfd_account, quantity_oz=Decimal("1"))
    counts = reconcile_pools()
    assert counts["mismatch"] == 1
    switch = KillSwitch.objects.get(strategy=strategy)
    assert switch.trigger == "reconciliation_mismatch" and switch.active


def test_risk_rule_types_keep_alerts_open_while_the_condition_lasts(alice: Any, strategy: Any, paper_pool: Any) -> None:
    from alerts.models import Alert
    from alerts.rules import evaluate_types
    from risk.services import kill_switch_reset, kill_switch_trip

    switch = kill_switch_trip(scope="strategy", trigger="manual", reason="test", strategy=strategy, actor=alice.user)
    hedge = open_hedge(paper_pool, paper=True, opened_at=datetime(2026, 11, 18, 7, 0, tzinfo=UTC), cfd_oz="0")
    Hedge.objects.filter(pk=hedge.pk).update(
        status=HedgeStatus.LEGGED, legged_at=datetime(2026, 11, 18, 7, 0, tzinfo=UTC)
    )
    evaluate_types(tenant=alice.tenant, rule_types=["kill_switch_active", "hedge_legged"])
    keys = set(Alert.objects.filter(tenant=alice.tenant, status="open").values_list("dedup_key", flat=True))
    assert f"rule:kill_switch_active:kill_switch_active:{switch.pk}" in keys
    assert f"rule:hedge_legged:hedge_legged:{hedge.pk}" in keys
    kill_switch_reset(switch=switch, actor=alice.user, note="checked")
    evaluate_types(tenant=alice.tenant, rule_types=["kill_switch_active"])
    assert not Alert.objects.filter(dedup_key__endswith=f"kill_switch_active:{switch.pk}", status="open").exists()
