"""Compliance rules in the order gate, wired: a desk's rule refuses a manual open before it is
queued (API and desk form) with a clear reason, and the refusal is audited with it; the engine's own open under a
closed trading window writes no order and reaches no venue, audited once (not on every step); reducing orders
pass; the maximum orders per day counts the account's orders since local midnight; the pattern-day-trader rule is
off for gold pools and, for a flagged account of another instrument, reads its fills and equity; the rule is
edited in the tenant-scoped admin (admins only) with every save audited; the Compliance page lists the desk's
rules; and over generated order histories the gate refuses exactly what the day-trade rule says."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.choices import AuditAction
from accounts.models import AccountSnapshot, AuditEvent
from risk.compliance import ComplianceState, compliance_refusals, read_compliance
from risk.domain import compliance as rules_domain
from risk.domain import day_trades
from risk.models import ComplianceRule
from tests.helpers.clients import Api, tenant_client
from tests.helpers.runners import db, started_runner
from trading.choices import OrderSide
from trading.execution.gate import OrderCheck, StoredMarket
from trading.execution.services import LegOrder
from trading.models import ManualCommand

D = Decimal


def refusals_audited(tenant: Any) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(tenant=tenant, action=AuditAction.COMPLIANCE_REFUSED).order_by("pk"))


def open_body(pool: Any, size: str = "1") -> dict[str, Any]:
    return {"pool": pool.pk, "kind": "open_hedge", "direction": "buy_perp", "size_oz": size}


@pytest.mark.django_db
@pytest.mark.usefixtures("stored_quotes")
class TestManualOpens:
    def test_a_restricted_instrument_refuses_the_open_with_its_reason_and_audits_it(
        self,
        desk: dict[str, Any],
        alice: Any,
        tom: Any,
    ) -> None:
        symbol = read_compliance_symbols(desk["pool"])["cfd"]
        ComplianceRule.objects.create(
            tenant=alice.tenant, name="No CFD gold", kind="restricted", instrument=symbol.lower()
        )
        refused = Api(tom).post("manual-commands/", open_body(desk["pool"]))
        assert refused.status_code == 400
        reason = f"Compliance rule “No CFD gold”: {symbol} is a restricted instrument."
        assert refused.json()["non_field_errors"] == [reason]
        assert not ManualCommand.objects.filter(pool=desk["pool"]).exists()
        (event,) = refusals_audited(alice.tenant)
        assert event.actor_id == tom.user.pk and event.summary["reason"] == reason
        assert event.summary["code"] == "compliance_restricted" and event.summary["leg"] == "cfd"
        # Closing reduces: the rule lets it through.
        closing = Api(tom).post(
            "manual-commands/", {"pool": desk["pool"].pk, "kind": "close_hedge", "hedge": desk["hedge"].pk}
        )
        assert closing.status_code == 202
        # The desk form says the same before anything is queued.
        review = tenant_client(tom).post(
            reverse("pool_manual", args=[desk["pool"].pk]),
            {"kind": "open_hedge", "direction": "buy_perp", "size_oz": "1"},
        )
        assert review.status_code == 400 and "is a restricted instrument." in review.content.decode()
        assert len(refusals_audited(alice.tenant)) == 2  # a person's refusal is audited every time
        # Disabled, the rule refuses nothing.
        ComplianceRule.objects.update(enabled=False)
        ManualCommand.objects.all().delete()  # the close queued above
        assert Api(tom).post("manual-commands/", open_body(desk["pool"])).status_code == 202

    def test_outside_the_trading_window_an_open_is_refused(
        self,
        desk: dict[str, Any],
        alice: Any,
        frozen_clock: Any,
    ) -> None:
        # The clock says Wednesday 12:00 UTC = 07:00 in New York: before the 08:00 open.
        ComplianceRule.objects.create(
            tenant=alice.tenant, name="NY hours", kind="trading_window", days="0,1,2,3,4",
            start_time=time(8), end_time=time(17), timezone="America/New_York",
        )  # fmt: skip
        refused = Api(alice).post("manual-commands/", open_body(desk["pool"]))
        assert refused.status_code == 400
        assert refused.json()["non_field_errors"] == [
            "Compliance rule “NY hours”: Outside the desk's trading windows "
            "(Mon,Tue,Wed,Thu,Fri 08:00–17:00 America/New_York): no new positions now."
        ]
        frozen_clock.advance(3600 + 60)  # 08:01 in New York
        assert Api(alice).post("manual-commands/", open_body(desk["pool"])).status_code == 202

    def test_the_maximum_orders_per_day_counts_the_accounts_orders_today(
        self,
        desk: dict[str, Any],
        alice: Any,
    ) -> None:
        # The desk's open hedge wrote one order on each account today.
        rule = ComplianceRule.objects.create(tenant=alice.tenant, name="Two a day", kind="max_orders", max_orders=2)
        assert Api(alice).post("manual-commands/", open_body(desk["pool"])).status_code == 202
        ManualCommand.objects.all().delete()
        rule.max_orders = 1
        rule.save()
        refused = Api(alice).post("manual-commands/", open_body(desk["pool"]))
        assert refused.status_code == 400
        assert (
            "Compliance rule “Two a day”: The account has sent 1 orders today (maximum 1 per day)."
            in refused.json()["non_field_errors"]
        )
        # Another desk's rule is not ours: bravo's rules never refuse alpha's orders.
        rule.delete()

    def test_another_desks_rule_does_not_apply(
        self,
        desk: dict[str, Any],
        alice: Any,
        charlie: Any,
    ) -> None:
        ComplianceRule.objects.create(tenant=charlie.tenant, name="Bravo closed", kind="max_orders", max_orders=1)
        assert read_compliance(desk["pool"]) is None
        assert Api(alice).post("manual-commands/", open_body(desk["pool"])).status_code == 202


def read_compliance_symbols(pool: Any) -> dict[str, str]:
    from risk.compliance import _symbol

    return {"perp": _symbol(pool.perp_account), "cfd": _symbol(pool.cfd_account)}


@pytest.mark.django_db
def test_the_pattern_day_trader_rule_is_off_for_gold_and_reads_a_flagged_accounts_history(
    desk: dict[str, Any],
    alice: Any,
    monkeypatch: pytest.MonkeyPatch,
    frozen_clock: Any,
) -> None:
    from trading.models import Fill, Order

    pool = desk["pool"]
    rule = ComplianceRule.objects.create(
        tenant=alice.tenant, name="PDT", kind="pattern_day_trader", pdt_equity_floor=D(25000)
    )
    rule.accounts.add(pool.perp_account)
    state = read_compliance(pool)
    assert state is not None and all(account.pdt is None for account in state.accounts.values())  # gold: off
    monkeypatch.setattr("risk.compliance._symbol", lambda account: "AAPL")
    for order in Order.objects.filter(account=pool.perp_account):
        Fill.objects.create(
            tenant=alice.tenant, order=order, account=pool.perp_account, fill_id=f"f{order.pk}",
            quantity=order.filled, price=D(100), source="paper", at=frozen_clock.now(),
        )  # fmt: skip
    AccountSnapshot.objects.create(
        account=pool.perp_account, tenant=alice.tenant, at=frozen_clock.now(), currency="USDT",
        balance=D(9000), equity=D(9000), used_margin=D(0),
    )  # fmt: skip
    state = read_compliance(pool)
    assert state is not None
    setup = state.accounts[pool.perp_account.pk].pdt
    assert setup is not None and state.accounts[pool.cfd_account.pk].pdt is None  # only the flagged account
    assert setup.equity == D(9000) and setup.rule == day_trades.PdtRule(4, 5, D(25000))
    assert [(e.side, e.quantity) for e in setup.executions] == [(day_trades.TradeSide.SELL, D(1))]
    assert setup.opening_positions == {"AAPL": D(0)}  # flat before today's sell


# --- the wired rule over generated histories --------------------------------------------------------------------
NY = day_trades.NEW_YORK
MON = date(2026, 11, 16)
DAYS = [MON + timedelta(days=i) for i in range(10) if (MON + timedelta(days=i)).weekday() < 5]


class _Pool:
    pk = 1


def _leg(side: str, quantity: Decimal, reducing: bool) -> LegOrder:
    return LegOrder(
        leg="perp", account=None, side=OrderSide(side), kind="market", quantity_oz=quantity, lots=None,
        limit_price=None, deviation=None, quote_ts_ms=None, usd_per_usdt=D(1), reducing=reducing,
    )  # fmt: skip


executions = st.builds(
    lambda day, minute, side, quantity: day_trades.Execution(
        "AAPL", datetime(day.year, day.month, day.day, 9, tzinfo=NY) + timedelta(minutes=minute), side, D(quantity)
    ),
    st.sampled_from(DAYS),
    st.integers(0, 400),
    st.sampled_from(list(day_trades.TradeSide)),
    st.integers(1, 4),
)


@settings(max_examples=120, deadline=None)
@given(history=st.lists(executions, max_size=20), side=st.sampled_from(["buy", "sell"]), quantity=st.integers(1, 4))
def test_the_gate_refuses_exactly_what_the_day_trade_rule_says(history: list[Any], side: str, quantity: int) -> None:
    """The gate's wording of the rules (`compliance_refusals`, what `RiskGate.check` adds) over generated histories:
    a refusal with the PDT code iff `pdt_check` refuses the order at the gate's moment."""
    from quantarb import clock

    now = datetime(2026, 11, 27, 20, tzinfo=UTC)  # Friday 15:00 in New York, after every generated execution
    rule = day_trades.PdtRule()
    setup = rules_domain.PdtSetup(rule, day_trades.BusinessCalendar(), tuple(history), D(10000))
    state = ComplianceState(
        rules=rules_domain.DeskRules(), accounts={7: rules_domain.AccountRules(pdt=setup)}, symbols={"perp": "AAPL"}
    )
    request = OrderCheck(
        pool=_Pool(),
        intent="open",
        legs=(_leg(side, D(quantity), reducing=False),),
        market=StoredMarket(None, None, D(1), None),
    )
    previous = clock.set_clock(clock.FrozenClock(now))
    try:
        found = compliance_refusals(request, state, {"perp": 7})
    finally:
        clock.set_clock(previous)
    order = day_trades.Execution("AAPL", now, day_trades.TradeSide(side), D(quantity))
    expected = day_trades.pdt_check(
        history, order, equity=D(10000), rule=rule, calendar=day_trades.BusinessCalendar()
    ).allowed
    assert (not found) == expected
    assert all(refusal.code == "compliance_pdt" and refusal.leg == "perp" for refusal in found)


# --- the engine's own open ------------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("thread_connections_closed", "stored_quotes")
async def test_the_engine_open_outside_the_window_reaches_no_venue_and_is_audited_once(
    alice: Any, strategy: Any, paper_pool: Any, market: Any, frozen_clock: Any
) -> None:
    from trading.models import Order, PaperOrder

    await db(ComplianceRule.objects.create)(
        tenant=alice.tenant, name="Weekend only", kind="trading_window", days="5,6",
        start_time=time(0), end_time=time(23, 59), timezone="UTC",
    )  # fmt: skip
    runner = await started_runner(alice, strategy, market, frozen_clock)
    market.wide_sell_perp(Decimal("8"))
    await runner.step()
    assert runner.last_decision["code"] == "risk"
    assert "Compliance rule “Weekend only”: Outside the desk's trading windows" in str(runner.last_decision["params"])
    assert await db(Order.objects.count)() == 0 and await db(PaperOrder.objects.count)() == 0
    events = await db(refusals_audited)(alice.tenant)
    # One refusal for both legs (the same reason, said once), audited once, by the platform for the strategy.
    (event,) = events
    assert event.summary["code"] == "compliance_window" and event.summary["intent"] == "open"
    assert event.actor_id is None and event.summary["strategy_id"] == strategy.pk
    frozen_clock.advance(1)
    await runner.step()  # refused again, not audited again
    assert runner.last_decision["code"] == "risk"
    assert len(await db(refusals_audited)(alice.tenant)) == 1
    assert await db(Order.objects.count)() == 0


# --- the admin and the page -----------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_admins_edit_rules_in_the_admin_audited_and_everyone_reads_the_page(
    alice: Any, tom: Any, cora: Any, charlie: Any
) -> None:
    add = reverse("admin:risk_compliancerule_add")
    bad = tenant_client(alice).post(
        add, {"name": "Hours", "kind": "trading_window", "days": "0,9", "timezone": "Mars/Base"}
    )
    assert bad.status_code == 200
    text = bad.content.decode()
    assert "List weekdays as numbers from 0 (Monday) to 6 (Sunday)" in text and "Enter a time zone" in text
    assert "A trading window needs the time it opens." in text
    good = tenant_client(alice).post(
        add,
        {
            "name": "Hours", "kind": "trading_window", "enabled": "on", "days": "0,1,2,3,4", "start_time": "08:00",
            "end_time": "17:00", "timezone": "America/New_York", "pdt_day_trades": "4", "pdt_window_days": "5",
            "pdt_equity_floor": "25000",
        },
    )  # fmt: skip
    assert good.status_code == 302, good.content.decode()[:2000]
    rule = ComplianceRule.objects.get(name="Hours")
    assert rule.tenant_id == alice.tenant.pk
    event = AuditEvent.objects.get(action=AuditAction.COMPLIANCE_RULE_SAVED)
    assert event.actor_id == alice.user.pk and event.summary["rule"].startswith("Mon,Tue,Wed,Thu,Fri 08:00–17:00")
    assert tenant_client(cora).post(add, {"name": "x", "kind": "max_orders", "max_orders": "1"}).status_code == 403
    ComplianceRule.objects.create(tenant=charlie.tenant, name="BRAVO rule", kind="max_orders", max_orders=3)
    page = reverse("compliance")
    for persona, editable in ((alice, True), (tom, False), (cora, False)):
        text = tenant_client(persona).get(page).content.decode()
        assert "Hours" in text and "BRAVO rule" not in text
        assert ('data-testid="compliance-edit"' in text) is editable, persona
