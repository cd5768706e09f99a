"""A desk whose every table has rows that test a layout: long labels, a 1e9 oz legged hedge (marked now, as every
live hedge), a closed 1e9 oz hedge with a −46 bn USD booked PnL, zeros stored as `0E-8`, MT5 orders in lots, fills
whose fee was charged in BNB, balance and margin snapshots (one stale), a reconciliation with differences, alerts
and notifications.

It lives in its own tenant ("layout"), so no other browser test sees its rows. Run inside the platform's
environment (it writes the platform's database):

    python -c "from tests.e2e.layout_desk import main; main()"

and prints the ids the pages need, as JSON.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

LONG = "with a deliberately long name that a table must cut"
USERNAME = "layout-admin"


def seed() -> dict[str, Any]:
    from accounts.models import AccountPool, AccountSnapshot, Membership, Tenant, User, VenueAccount
    from alerts.models import Channel, Delivery
    from alerts.services import alert_raise
    from mt5ops.models import TerminalInstance
    from quantarb import clock
    from quantarb.management.commands.seed_demo import DEFAULT_PASSWORD, Command
    from risk.models import KillSwitch
    from strategies.domain.params import StrategyParams
    from strategies.services import strategy_create, strategy_update
    from trading.models import (
        CarryEntry,
        Fill,
        Hedge,
        ManualCommand,
        Order,
        PairAccess,
        PositionSnapshot,
        ReconciliationReport,
    )

    tenant, created = Tenant.objects.get_or_create(
        slug="layout", defaults={"name": "Layout desk", "require_admin_two_factor": False}
    )
    if not created:
        pool = AccountPool.objects.get(tenant=tenant)
        return _ids(tenant, pool)
    admin = User.objects.create_user(username=USERNAME, password=DEFAULT_PASSWORD)
    Membership.objects.create(user=admin, tenant=tenant, role="admin")
    for n in range(3):
        user = User.objects.create_user(username=f"layout-trader-{n}", email=f"trader{n}@layout.example")
        Membership.objects.create(user=user, tenant=tenant, role="trader")
    PairAccess.objects.get_or_create(tenant=tenant, pair=Command._simulated_pair())
    now = clock.now()

    terminal = TerminalInstance.objects.create(tenant=tenant, label=f"MT5 terminal {LONG}")
    perp = VenueAccount.objects.create(
        tenant=tenant, owner=admin, venue="simulated-perp", label=f"Paper perpetual account {LONG}", mode="paper"
    )
    cfd = VenueAccount.objects.create(
        tenant=tenant, owner=admin, venue="simulated-cfd", label=f"Paper CFD account {LONG}", mode="paper"
    )
    VenueAccount.objects.create(
        tenant=tenant,
        owner=admin,
        venue="bybit-mt5",
        label="Bybit MT5 live",
        mode="live",
        status="error",
        terminal=terminal,
        last_error="Terminal not connected: the bridge at 127.0.0.1:18812 refused the connection " + LONG,
    )
    perp_terms = {"rule": "binance_brackets", "brackets": "default", "leverage": 20, "effective_leverage": 20}
    cfd_terms = {"rule": "mt5", "calc_mode": "CFD leverage", "leverage": 100, "margin_rate": "1"}
    for account, currency, used, terms, at in (
        (perp, "USDT", Decimal("2305052530.12345678"), perp_terms, now),
        (cfd, "USD", Decimal("0E-8"), cfd_terms, now - timedelta(minutes=10)),  # stale: past the 3 min limit
    ):
        AccountSnapshot.objects.create(
            account=account,
            tenant=tenant,
            at=at,
            currency=currency,
            balance=Decimal("1E+9"),
            equity=Decimal("-46034150000.0000000"),
            used_margin=used,
            margin_level=Decimal("123.456") if used else None,
            margin_terms=terms,
        )
    pool = AccountPool.objects.create(
        tenant=tenant,
        name=f"Gold basis pool {LONG}",
        perp_account=perp,
        cfd_account=cfd,
        perp_allocation=Decimal("1E+9"),
        cfd_allocation=Decimal("0E-8"),
    )
    strategy = strategy_create(
        tenant=tenant,
        name=f"Basis strategy {LONG}",
        pool=pool,
        mode="paper",
        params=StrategyParams(),
        actor=admin,
        note="first",
    )
    strategy_update(
        strategy=strategy,
        params=StrategyParams(entry_threshold=Decimal("0.80"), size_oz=Decimal("2"), max_position_oz=Decimal("6")),
        actor=admin,
        note="wider entry after a week of paper trading " + LONG,
    )

    # Live: nothing booked yet (the pages mark it now at the pair's latest quotes).
    legged = Hedge.objects.create(
        tenant=tenant,
        pool=pool,
        strategy=strategy,
        strategy_version=strategy.current_version,
        direction="sell_perp",
        status="legged",
        manual=True,
        size_oz=Decimal("1E+9"),
        perp_oz=Decimal("-150"),
        cfd_oz=Decimal("1E+9"),
        entry_net_edge=Decimal("0.4321"),
        entry_usd_per_usdt=Decimal("0.999800"),
        planned_at=now,
        opened_at=now,
        legged_at=now,
        pnl_fees=Decimal("-0E-8"),
    )
    # Settled: its split as booked when its legs went flat, figures as the arithmetic left them.
    Hedge.objects.create(
        tenant=tenant,
        pool=pool,
        strategy=strategy,
        strategy_version=strategy.current_version,
        direction="sell_perp",
        status="closed",
        size_oz=Decimal("1E+9"),
        entry_net_edge=Decimal("0.4321"),
        entry_usd_per_usdt=Decimal("0.999800"),
        exit_usd_per_usdt=Decimal("0.999800"),
        planned_at=now - timedelta(hours=3),
        opened_at=now - timedelta(hours=3),
        closed_at=now - timedelta(hours=2),
        pnl_spread=Decimal("-46034150000.0000000000000"),
        pnl_fees=Decimal("-0E-8"),
        pnl_funding=Decimal("1.5"),
        pnl_swap=Decimal("-0.45"),
    )
    closed = Hedge.objects.create(
        tenant=tenant,
        pool=pool,
        strategy=strategy,
        direction="buy_perp",
        status="closed",
        size_oz=Decimal("1.000"),
        planned_at=now - timedelta(hours=1),
        opened_at=now - timedelta(hours=1),
        closed_at=now,
        pnl_spread=Decimal("2.5"),
        pnl_fees=Decimal("-0.4"),
    )
    for n, (hedge, leg, account, side, quantity, lots, price) in enumerate(
        [
            (legged, "perp", perp, "sell", Decimal("150"), None, Decimal("4605.7")),
            (legged, "cfd", cfd, "buy", Decimal("1E+9"), Decimal("1E+7"), Decimal("4600.05")),
            (closed, "perp", perp, "buy", Decimal("1"), None, Decimal("4601.25")),
            (closed, "cfd", cfd, "sell", Decimal("1"), Decimal("0.01"), Decimal("4602.5")),
        ]
    ):
        order = Order.objects.create(
            tenant=tenant,
            hedge=hedge,
            account=account,
            strategy=strategy,
            leg=leg,
            intent="open",
            client_order_id=f"qa-layout-{hedge.pk}-{leg}-{n}",
            venue_order_id=f"{9_000_000_000 + n}",
            side=side,
            kind="market",
            quantity=quantity,
            lots=lots,
            status="filled",
            filled=quantity,
            avg_price=price,
            fee=Decimal("0E-8") if leg == "cfd" else Decimal("0.92114000"),
            fee_currency="USD" if leg == "cfd" else "USDT",
            paper=True,
            created_at=now,
        )
        bnb = leg == "perp"  # the perp's fee charged in BNB and converted to USDT
        Fill.objects.create(
            tenant=tenant,
            account=account,
            order=order,
            fill_id=f"paper-fill-{order.pk}-a-very-long-venue-fill-identifier",
            quantity=quantity,
            price=price,
            fee=order.fee,
            fee_currency=order.fee_currency,
            maker=hedge is closed,
            venue_fee=Decimal("0.00150432") if bnb else None,
            venue_fee_asset="BNB" if bnb else "",
            fee_rate=Decimal("612.34000000") if bnb else None,
            fee_rate_source="binance-usdm:BNBUSDT:1m-open" if bnb else "",
            fee_rate_at=now if bnb else None,
            source="paper",
            paper=True,
            at=now,
        )
    CarryEntry.objects.create(
        tenant=tenant,
        account=perp,
        hedge=legged,
        kind="funding",
        amount=Decimal("1.50000000"),
        currency="USDT",
        amount_usd=Decimal("1.4997"),
        venue_ref="funding-1",
        at=now,
    )
    for account, ours, venue in ((perp, Decimal("-150"), Decimal("-150")), (cfd, Decimal("1E+9"), Decimal("0E-3"))):
        PositionSnapshot.objects.create(
            tenant=tenant,
            account=account,
            pool=pool,
            at=now,
            ours_oz=ours,
            venue_oz=venue,
            avg_price=Decimal("4605.7"),
            mark_price=Decimal("4606"),
            unrealised=Decimal("-46034150000.0000000000000"),
            currency="USD",
        )
    ManualCommand.objects.create(
        tenant=tenant,
        pool=pool,
        hedge=None,
        kind="open_hedge",
        params={"direction": "sell_perp", "size_oz": "1E+9"},
        status="failed",
        result="The CFD leg filled 1000000000 oz and the perp 150 oz: the hedge is legged. " + LONG,
        requested_by=admin,
        requested_at=now,
    )
    KillSwitch.objects.create(
        tenant=tenant,
        scope="tenant",
        trigger="manual",
        reason="Drill: the desk halts while the bridge is moved " + LONG,
        tripped_by=admin,
        tripped_at=now - timedelta(hours=2),
        reset_by=admin,
        reset_at=now - timedelta(hours=1),
        reset_note="Bridge moved, quotes fresh again " + LONG,
    )
    ReconciliationReport.objects.create(
        tenant=tenant,
        pool=pool,
        strategy=strategy,
        trigger="manual",
        status="mismatch",
        started_at=now,
        finished_at=now,
        differences=[
            {"kind": "position", "account_id": cfd.pk, "ours": "1E+9", "venue": "0E-8"},
            {
                "kind": "order_status",
                "account_id": perp.pk,
                "client_order_id": "qa-layout-x",
                "ours": "filled",
                "venue": "cancelled",
            },
        ],
    )
    channel = Channel.objects.create(
        tenant=tenant,
        name=f"Desk webhook {LONG}",
        kind="webhook",
        target="https://hooks.example/" + "x" * 80,
        categories=["risk", "account"],
    )
    raised = alert_raise(
        tenant=tenant,
        category="risk",
        severity="critical",
        title=f"Hedge #{legged.pk} is legged: 999,999,850 oz unhedged on {pool.name}",
        dedup_key="layout-legged",
    )
    Delivery.objects.create(
        tenant=tenant,
        alert=raised.alert,
        channel=channel,
        status="failed",
        attempts=3,
        error="HTTP 502 from https://hooks.example/: Bad gateway; the receiver did not answer in time " + LONG,
        created_at=now,
    )
    from datetime import time as clock_time

    from risk.models import ComplianceRule, Transfer

    ComplianceRule.objects.create(
        tenant=tenant, name=f"London and New York hours {LONG}", kind="trading_window", days="0,1,2,3,4",
        start_time=clock_time(7), end_time=clock_time(21), timezone="Europe/London", note=LONG,
    )  # fmt: skip
    ComplianceRule.objects.create(tenant=tenant, name="Orders per day", kind="max_orders", max_orders=5000)
    Transfer.objects.create(
        tenant=tenant, from_account=cfd, to_account=perp, amount=Decimal("999999999.99"), currency="USD",
        status="approved", note=LONG, requested_by=admin, requested_at=now, approved_by=admin, approved_at=now,
    )  # fmt: skip
    _limits(tenant, pool, now)
    return _ids(tenant, pool)


def _limits(tenant: Any, pool: Any, now: Any) -> None:
    """A limit with a long name and a 1e9 level, breached and waiting for a person's confirmation; a disabled one."""
    from risk.models import Breach, RiskLimit, RiskLimitState

    limit = RiskLimit.objects.create(
        tenant=tenant,
        name=f"Unhedged ounces {LONG}",
        scope_kind="pool",
        pool=pool,
        metric="unhedged_oz",
        warning_level=Decimal(1),
        breach_level=Decimal(2),
        action="flatten",
        confirm=True,
    )
    RiskLimitState.objects.create(limit=limit, tenant=tenant, level="breach", value=Decimal(999_999_850),
                                  changed_at=now, evaluated_at=now)  # fmt: skip
    Breach.objects.create(
        tenant=tenant, limit=limit, limit_label=limit.name, metric=limit.metric, scope_kind="pool", scope_ref=pool.pk,
        scope_label=f"Pool {pool.name}", threshold=Decimal(2), started_at=now, start_value=Decimal(999_999_850),
        peak_value=Decimal(999_999_850), peak_at=now, action="flatten", action_status="pending",
        action_note="Waiting for an admin to confirm the action on the limits page.",
    )  # fmt: skip
    RiskLimit.objects.create(tenant=tenant, scope_kind="desk", metric="gross_notional_usd",
                             breach_level=Decimal(10) ** 9, enabled=False)  # fmt: skip


def _ids(tenant: Any, pool: Any) -> dict[str, Any]:
    from alerts.models import Alert
    from trading.models import Hedge, ManualCommand, ReconciliationReport

    return {
        "username": USERNAME,
        "pool": pool.pk,
        "perp_account": pool.perp_account_id,
        "strategy": pool.strategies.first().pk,
        "hedge": Hedge.objects.filter(tenant=tenant, status="legged").first().pk,
        "closed_hedge": Hedge.objects.filter(tenant=tenant, status="closed", size_oz__gt=1).first().pk,
        "report": ReconciliationReport.objects.filter(tenant=tenant).first().pk,
        "alert": Alert.objects.filter(tenant=tenant).first().pk,
        "command": ManualCommand.objects.filter(tenant=tenant).first().pk,
    }


def main() -> None:
    import django

    django.setup()
    from django.db import transaction

    with transaction.atomic():
        ids = seed()
    print(json.dumps(ids))
