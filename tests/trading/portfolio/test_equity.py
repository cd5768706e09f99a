"""The equity series: at each tick it equals the money model's split of every hedge of the scope
(closed ones as booked, an open one marked at the marks of that tick) plus the booked flows — with a hedge open
across the period end; the beat job is idempotent per slot and prunes minute points after 7 days; the backfill
command reports progress; the daily check alerts on a live account whose venue disagrees."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from accounts.models import AccountSnapshot, VenueAccount
from alerts.models import Alert
from tests.helpers.books import NOW, OPENED
from tests.trading.domain.pnl_cases import A_SELL_PERP_CLOSED, C_SELL_PERP_OPEN, Case
from trading.domain import pnl
from trading.models import CashFlow, EquityPoint
from trading.portfolio.cashflows import Entry, cash_flow_enter
from trading.portfolio.equity import equity_check_accounts, equity_record, equity_write

pytestmark = pytest.mark.django_db


def expected_split(case: Case, at: datetime, at_marks: pnl.Marks) -> pnl.PnlSplit:
    """The hedge's split at `at` straight from the money model over the case's own fills and carry."""
    fills = [fill for fill in case.opening if at >= OPENED]
    if case.closing is not None and at >= OPENED + timedelta(hours=9):
        return pnl.pnl_split(
            fills=case.fills, carry=case.carry, valuation=pnl.Valuation(usd_per_usdt=case.closing[0].usd_per_usdt)
        )
    carry = [booking for booking in case.carry if at >= OPENED + timedelta(hours=8)]
    return pnl.mark_to_market(fills=fills, carry=carry, marks=at_marks)


def marks_at(hourly: dict[datetime, pnl.Marks], at: datetime) -> pnl.Marks:
    return hourly[max(moment for moment in hourly if moment <= at)]


def test_each_point_is_the_money_models_split_plus_flows_with_a_hedge_open_across_the_end(
    alice: Any, history: dict[str, Any]
) -> None:
    pool, scored = history["pool"], history["strategy"]
    since, until = OPENED - timedelta(hours=1), NOW + timedelta(hours=1)  # C is still open at the period's end

    written = equity_write(tenant=alice.tenant, since=since, until=until, resolution="1h")

    flows = list(CashFlow.objects.filter(status="booked").values_list("at", "amount_usd"))
    points = {point.at: point for point in EquityPoint.objects.filter(scope="pool", scope_id=pool.pk)}
    assert sorted(points) == [since + timedelta(hours=h) for h in range(12)]
    for at, point in points.items():
        mark = marks_at(history["marks"], at)
        split = expected_split(A_SELL_PERP_CLOSED, at, mark) + expected_split(C_SELL_PERP_OPEN, at, mark)
        booked_flows = sum((amount for moment, amount in flows if moment <= at), Decimal(0))
        assert point.equity == (booked_flows + split.total).quantize(pnl.MONEY_QUANTUM), at
        assert point.split == split.quantized() and point.flows == booked_flows
        assert point.equity == point.flows + point.split.total  # the stored lines add up exactly
        assert point.open_hedges == (0 if at < OPENED else 1 if at >= NOW else 2)
        same = EquityPoint.objects.filter(at=at, resolution="1h")
        assert same.get(scope="strategy", scope_id=scored.pk).equity == point.equity
        assert same.get(scope="desk").equity == point.equity
        legs = same.filter(scope="account", scope_id__in=[pool.perp_account_id, pool.cfd_account_id])
        # The accounts hold the legs: they add up to the pool within their own roundings.
        assert abs(sum(leg.equity for leg in legs) - point.equity) <= Decimal("0.00000002")
    assert written == 12 * (1 + 1 + 1 + 2)  # desk, pool, strategy, two accounts
    last = points[until]
    assert last.split.total != A_SELL_PERP_CLOSED.expected.quantized().total  # C's mark is in it


def test_the_beat_job_is_idempotent_per_slot_and_prunes_old_minutes(alice: Any, history: dict[str, Any]) -> None:
    first = equity_record(NOW)
    rows = sorted(EquityPoint.objects.values_list("scope", "scope_id", "resolution", "at", "equity"))
    assert first["points"] > 0 and rows

    equity_record(NOW)  # a second beat process, or the same slot again: the same rows

    assert sorted(EquityPoint.objects.values_list("scope", "scope_id", "resolution", "at", "equity")) == rows
    minute = max(at for _scope, _id, resolution, at, _eq in rows if resolution == "1m")
    assert minute == NOW - timedelta(minutes=2)  # the settled minute
    old = EquityPoint.objects.filter(resolution="1m").first()
    assert old is not None
    EquityPoint.objects.filter(pk=old.pk).update(at=NOW - timedelta(days=8))
    assert equity_record(NOW)["pruned"] == 1


def test_a_flow_booked_late_rewrites_the_points_after_it(
    alice: Any, history: dict[str, Any], frozen_clock: Any
) -> None:
    equity_record(NOW)
    pool = history["pool"]
    point = EquityPoint.objects.get(scope="pool", scope_id=pool.pk, resolution="1m", at=NOW - timedelta(minutes=2))
    cash_flow_enter(
        tenant=alice.tenant, actor=alice.user,
        entry=Entry(account=pool.cfd_account, kind="deposit", amount=Decimal("100"), at=NOW - timedelta(minutes=30)),
    )  # fmt: skip

    equity_record(NOW + timedelta(seconds=30))

    point.refresh_from_db()
    withdrawal = CashFlow.objects.get(kind="withdrawal").amount_usd
    assert point.flows == Decimal("9000") + withdrawal + Decimal("100")


def test_the_backfill_command_writes_history_with_progress(alice: Any, history: dict[str, Any]) -> None:
    out = StringIO()
    call_command("backfill_equity", "--tenant", alice.tenant.slug, stdout=out)
    text = out.getvalue()
    assert "1h: " in text and "(100 %)" in text and "1m: " in text
    hours = EquityPoint.objects.filter(scope="desk", resolution="1h").count()
    assert hours == 9  # the whole hours from the deposit (9 h 30 min ago) to the last settled minute
    again = StringIO()
    call_command("backfill_equity", "--tenant", alice.tenant.slug, stdout=again)
    assert EquityPoint.objects.filter(scope="desk", resolution="1h").count() == hours
    with pytest.raises(Exception, match="ISO 8601"):
        call_command("backfill_equity", "--since", "yesterday", stdout=StringIO())


def test_the_daily_check_alerts_when_the_venue_disagrees_and_resolves_when_it_agrees(
    alice: Any, frozen_clock: Any
) -> None:
    account = VenueAccount.objects.create(
        tenant=alice.tenant, owner=alice.user, venue="binance-usdm", label="Binance live", mode="live"
    )
    cash_flow_enter(
        tenant=alice.tenant, actor=alice.user,
        entry=Entry(account=account, kind="deposit", amount=Decimal("1000"), at=NOW - timedelta(days=2)),
    )  # fmt: skip

    def venue_says(equity: str, minutes_ago: int) -> None:
        AccountSnapshot.objects.create(
            account=account, tenant=alice.tenant, at=NOW - timedelta(minutes=minutes_ago), currency="USDT",
            balance=Decimal(equity), equity=Decimal(equity), used_margin=0,
        )  # fmt: skip

    venue_says("1003", 30)
    assert equity_check_accounts(NOW) == {"checked": 1, "mismatched": 0, "skipped": 0}
    venue_says("990", 20)  # 10 USD apart: beyond the 5 USD floor
    assert equity_check_accounts(NOW)["mismatched"] == 1
    alert = Alert.objects.get(dedup_key=f"equity_check:{account.pk}")
    assert (alert.status, alert.category, alert.detail["difference_usd"]) == ("open", "account", "10.00000000")
    venue_says("1000", 10)
    equity_check_accounts(NOW)
    alert.refresh_from_db()
    assert alert.status == "resolved"
