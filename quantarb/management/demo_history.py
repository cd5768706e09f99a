"""The demo desk's history (manage.py seed_demo): thirty days of booked deposits, closed paper hedges and the
equity series written from them, so the Reports page has something to show in the demo. Deterministic (a fixed
seed) and created once: a desk that already has cash flows is left as it is. Part of the composition root: it
writes through trading's execution package (booking the hedges) and its portfolio package (the series) alike."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.apps import apps
from django.db import transaction

from accounts.audit import audit_record
from accounts.choices import AccountMode, AuditAction
from accounts.models import AccountPool, Tenant
from quantarb import clock
from trading.choices import CarryKind, HedgeStatus, OrderKind
from trading.execution.paper import move_paper_position
from trading.execution.services import rebook_pnl
from trading.models import (
    CarryEntry,
    CashFlow,
    CashFlowKind,
    CashFlowSource,
    CashFlowStatus,
    EquityResolution,
    Fill,
    Hedge,
    Order,
    PaperOrder,
    SourcePair,
    SpreadSample,
)
from trading.portfolio.analytics import MINUTE_WINDOW
from trading.portfolio.equity import SETTLE, equity_write, floor_to

DAYS = 30
CENT = Decimal("0.01")
EIGHT = Decimal("0.00000001")
PERP_FEE_RATE = Decimal("0.0002")


def _sample(pair: SourcePair, at: Any, perp_mid: Decimal, cfd_mid: Decimal, rate: Decimal) -> dict[str, Decimal]:
    """A stored spread sample at these mids (perp spread 0.10, CFD spread 0.30) and what it prices."""
    perp_bid, perp_ask = perp_mid - Decimal("0.05"), perp_mid + Decimal("0.05")
    cfd_bid, cfd_ask = cfd_mid - Decimal("0.15"), cfd_mid + Decimal("0.15")
    sell_perp = (perp_bid * rate - cfd_ask).quantize(EIGHT)
    buy_perp = (cfd_bid - perp_ask * rate).quantize(EIGHT)
    SpreadSample.objects.create(
        pair=pair, ts=at, perp_bid=perp_bid, perp_ask=perp_ask, cfd_bid=cfd_bid, cfd_ask=cfd_ask, usd_per_usdt=rate,
        edge_sell_perp=sell_perp, edge_buy_perp=buy_perp, net_sell_perp=sell_perp, net_buy_perp=buy_perp,
        basis=((perp_bid + perp_ask) / 2 * rate - (cfd_bid + cfd_ask) / 2).quantize(EIGHT),
    )  # fmt: skip
    return {"perp_bid": perp_bid, "perp_ask": perp_ask, "cfd_bid": cfd_bid, "cfd_ask": cfd_ask}


def _leg_order(hedge: Hedge, *, leg: str, side: str, intent: str, price: Decimal, rate: Decimal, at: Any) -> None:
    pool = hedge.pool
    account = pool.perp_account if leg == "perp" else pool.cfd_account
    fee = (price * hedge.size_oz * PERP_FEE_RATE).quantize(EIGHT, rounding=ROUND_HALF_EVEN) if leg == "perp" else 0
    currency = "USDT" if leg == "perp" else "USD"
    order = Order.objects.create(
        tenant_id=hedge.tenant_id, hedge=hedge, account=account, strategy=hedge.strategy, leg=leg, intent=intent,
        client_order_id=f"demo-{hedge.pk}-{leg}-{intent}", side=side, kind="limit_ioc", quantity=hedge.size_oz,
        status="filled", filled=hedge.size_oz, avg_price=price, fee=fee, fee_currency=currency, usd_per_usdt=rate,
        paper=True, quote_ts=at, created_at=at, submitted_at=at,
    )  # fmt: skip
    Fill.objects.create(
        tenant_id=hedge.tenant_id, account=account, order=order, fill_id=f"demo-{order.pk}", quantity=hedge.size_oz,
        price=price, fee=fee, fee_currency=currency, maker=False, source="paper", paper=True, at=at,
    )  # fmt: skip
    # The simulated venue executed it too: its own ledger holds the order and its position moved, so reconciling
    # the demo pool against the paper venue finds the history there, as a real venue's trade history would.
    PaperOrder.objects.create(
        account=account, client_order_id=order.client_order_id,
        venue_order_id=f"P{account.pk}-{PaperOrder.objects.filter(account=account).count() + 1}", side=side,
        kind=OrderKind.LIMIT_IOC, quantity=hedge.size_oz, limit_price=price, status="filled", filled=hedge.size_oz,
        avg_price=price, fee=fee, at=at,
        fills=[{"fill_id": f"demo-{order.pk}", "quantity": str(hedge.size_oz), "price": str(price), "fee": str(fee),
                "fee_currency": currency, "ts_ms": int(at.timestamp() * 1000)}],
    )  # fmt: skip
    move_paper_position(account, side=side, quantity=hedge.size_oz, price=price)


@transaction.atomic
def seed_demo_history(*, tenant: Tenant, pair: SourcePair) -> dict[str, int] | None:
    """Create the history once; None when the desk already has cash flows or has no paper demo pool."""
    pool = AccountPool.objects.filter(tenant=tenant, name="Demo pool").select_related("perp_account", "cfd_account")
    demo_pool = pool.first()
    if demo_pool is None or CashFlow.objects.filter(tenant=tenant).exists():
        return None
    if {demo_pool.perp_account.mode, demo_pool.cfd_account.mode} != {AccountMode.PAPER}:
        return None  # a pool an admin turned live under the demo's name: its history is the venues', never invented
    strategy = apps.get_model("strategies", "Strategy").objects.filter(tenant=tenant, pool=demo_pool).first()
    now = clock.now()
    start = floor_to(now - timedelta(days=DAYS), EquityResolution.HOUR)
    rng = random.Random(18)
    for account, amount, currency in ((demo_pool.perp_account, 50_000, "USDT"), (demo_pool.cfd_account, 50_000, "USD")):
        flow = CashFlow.objects.create(
            tenant=tenant, account=account, kind=CashFlowKind.DEPOSIT, status=CashFlowStatus.BOOKED,
            source=CashFlowSource.MANUAL, amount=Decimal(amount), currency=currency, usd_per_usdt=Decimal(1),
            amount_usd=Decimal(amount), at=start + timedelta(minutes=5), note="Demo capital (seeded)",
            booked_at=now, created_at=now,
        )  # fmt: skip
        audit_record(tenant=tenant, actor=None, action=AuditAction.CASH_FLOW_BOOKED, obj=flow,
                     summary={"amount": str(flow.amount), "currency": currency, "seeded": True})  # fmt: skip
    withdrawal = CashFlow.objects.create(
        tenant=tenant, account=demo_pool.cfd_account, kind=CashFlowKind.WITHDRAWAL, status=CashFlowStatus.BOOKED,
        source=CashFlowSource.MANUAL, amount=Decimal(-5_000), currency="USD", usd_per_usdt=Decimal(1),
        amount_usd=Decimal(-5_000), at=start + timedelta(days=12, hours=3), note="Demo withdrawal (seeded)",
        booked_at=now, created_at=now,
    )  # fmt: skip
    audit_record(tenant=tenant, actor=None, action=AuditAction.CASH_FLOW_BOOKED, obj=withdrawal,
                 summary={"amount": str(withdrawal.amount), "currency": "USD", "seeded": True})  # fmt: skip
    mid = Decimal("4600")
    at = start + timedelta(hours=2)
    hedges = 0
    while at < now - timedelta(hours=3):
        mid = (mid + Decimal(rng.gauss(0, 6)).quantize(CENT)).quantize(CENT)
        rate = (Decimal(1) + Decimal(rng.gauss(0, 0.0003))).quantize(Decimal("0.000001"))
        entry_basis = Decimal(rng.uniform(2.2, 3.6)).quantize(CENT)  # the perp dear: sell perp, buy the CFD
        opened = _sample(pair, at, mid + entry_basis / 2, mid - entry_basis / 2, rate)
        hold = timedelta(minutes=rng.randint(20, 600))
        closed_at = at + hold
        exit_basis = Decimal(rng.uniform(-0.8, 1.0)).quantize(CENT)
        exit_mid = mid + Decimal(rng.gauss(0, 3)).quantize(CENT)
        exit_rate = (rate + Decimal(rng.gauss(0, 0.0001))).quantize(Decimal("0.000001"))
        closing = _sample(pair, closed_at, exit_mid + exit_basis / 2, exit_mid - exit_basis / 2, exit_rate)
        size = Decimal(rng.choice([1, 1, 2, 3]))
        hedge = Hedge.objects.create(
            tenant=tenant, pool=demo_pool, strategy=strategy, direction="sell_perp", status=HedgeStatus.CLOSED,
            paper=True, size_oz=size, perp_oz=0, cfd_oz=0,
            entry_net_edge=(opened["perp_bid"] * rate - opened["cfd_ask"] - Decimal("1.0")).quantize(EIGHT),
            entry_usd_per_usdt=rate, exit_usd_per_usdt=exit_rate, planned_at=at, opened_at=at, closed_at=closed_at,
        )  # fmt: skip
        leg_skew = timedelta(milliseconds=rng.randint(40, 400))
        _leg_order(hedge, leg="perp", side="sell", intent="open", price=opened["perp_bid"], rate=rate, at=at)
        _leg_order(hedge, leg="cfd", side="buy", intent="open", price=opened["cfd_ask"], rate=rate, at=at + leg_skew)
        _leg_order(hedge, leg="perp", side="buy", intent="close", price=closing["perp_ask"], rate=exit_rate,
                   at=closed_at)  # fmt: skip
        _leg_order(hedge, leg="cfd", side="sell", intent="close", price=closing["cfd_bid"], rate=exit_rate,
                   at=closed_at + leg_skew)  # fmt: skip
        if hold > timedelta(hours=4):  # held through a funding time: a short perp receives at a positive rate
            funding = (size * mid * Decimal("0.0001")).quantize(EIGHT)
            CarryEntry.objects.create(
                tenant=tenant, account=demo_pool.perp_account, hedge=hedge, kind=CarryKind.FUNDING, amount=funding,
                currency="USDT", amount_usd=(funding * rate).quantize(EIGHT), usd_per_usdt=rate,
                venue_ref=f"demo-funding-{hedge.pk}", paper=True, at=at + hold / 2,
            )  # fmt: skip
        rebook_pnl(hedge_id=hedge.pk)
        hedges += 1
        at = closed_at + timedelta(minutes=rng.randint(120, 1500))
    until = floor_to(now - SETTLE, EquityResolution.MINUTE)
    points = equity_write(tenant=tenant, since=start, until=until, resolution=EquityResolution.HOUR)
    # Minute points for the last two days: what a report of up to two days reads (analytics.MINUTE_WINDOW).
    points += equity_write(tenant=tenant, since=now - MINUTE_WINDOW, until=until, resolution="1m")
    return {"hedges": hedges, "points": points}
