"""The selectors the pages and the API read through take a membership and start from `for_member` (accounts/scoping.py):
whatever they read, another tenant's rows are never among them; and the risk centre asks who operates what once per
page, not once per row."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.grants import set_grant
from accounts.models import ChangeLogEntry, Membership
from mt5ops import selectors as mt5_selectors
from mt5ops.models import TerminalInstance
from quantarb import clock
from quantarb.models import LongJob
from risk import limit_views, transfers
from risk import views as risk_views
from risk.choices import KillScope, KillTrigger
from risk.limits import pending_confirmations
from risk.models import Breach, KillSwitch, RiskLimit, Transfer
from strategies.models import Strategy
from tests.helpers.personas import Persona
from trading.execution import selectors as execution
from trading.marketdata import selectors as market
from trading.models import (
    BasisCandle,
    CashFlow,
    ManualCommand,
    Opportunity,
    PairAccess,
    PositionSnapshot,
    QuoteSource,
    QuoteTick,
    ReconciliationReport,
    SourcePair,
    SpreadSample,
)
from trading.portfolio.cashflows import cash_flows_for

from ..factories import AccountPoolFactory, StrategyFactory, hedge_with_orders

pytestmark = pytest.mark.django_db


@dataclass
class Desk:
    """One tenant's rows of every kind a converted selector reads."""

    membership: Membership
    rows: dict[str, Any]


def _desk(persona: Persona, pair: SourcePair) -> Desk:
    tenant, user = persona.tenant, persona.user
    now = clock.now()
    pool = AccountPoolFactory.create(tenant=tenant, owner=user)
    hedge = hedge_with_orders(strategy__pool=pool)
    order = hedge.orders.order_by("pk").first()
    assert order is not None
    perp, cfd = pool.perp_account, pool.cfd_account
    terminal = TerminalInstance.objects.create(tenant=tenant, label=f"{tenant.slug} terminal")
    source = QuoteSource.objects.create(
        tenant=tenant,
        key=f"{tenant.slug}-perp",
        venue="simulated-perp",
        endpoint="http://127.0.0.1:9",
        instrument=pair.perp_source.instrument,
        label=f"{tenant.slug} perp",
    )
    QuoteTick.objects.create(source=pair.perp_source, ts=now, bid=Decimal(1), ask=Decimal(2), received_at=now)
    rows = {
        "hedge": hedge,
        "order": order,
        "fill": order.fills.get(),
        "position": PositionSnapshot.objects.create(tenant=tenant, account=perp, pool=pool, at=now, ours_oz=1),
        "report": ReconciliationReport.objects.create(tenant=tenant, pool=pool, trigger="manual", started_at=now),
        "long_job": LongJob.objects.create(tenant=tenant, kind="audit_export", requested_by=user, created_at=now),
        "command": ManualCommand.objects.create(
            tenant=tenant, pool=pool, kind="flatten_pool", requested_by=user, requested_at=now
        ),
        "cash_flow": CashFlow.objects.create(
            tenant=tenant,
            account=perp,
            kind="deposit",
            amount=Decimal(100),
            currency="USDT",
            usd_per_usdt=Decimal(1),
            amount_usd=Decimal(100),
            at=now,
            created_at=now,
        ),
        "transfer": Transfer.objects.create(
            tenant=tenant,
            from_account=perp,
            to_account=cfd,
            amount=Decimal(10),
            currency="USDT",
            requested_by=user,
            requested_at=now,
        ),
        "limit": RiskLimit.objects.create(
            tenant=tenant, scope_kind="desk", metric="unhedged_oz", breach_level=Decimal(2)
        ),
        "breach": Breach.objects.create(
            tenant=tenant,
            limit_label="Unhedged",
            metric="unhedged_oz",
            scope_kind="desk",
            scope_ref=tenant.pk,
            scope_label=tenant.name,
            threshold=Decimal(1),
            started_at=now,
            start_value=Decimal(2),
            peak_value=Decimal(2),
            peak_at=now,
            action="pause",
            action_status="pending",
        ),
        "switch": KillSwitch.objects.create(
            tenant=tenant, scope=KillScope.TENANT, trigger=KillTrigger.MANUAL, reason="test", tripped_at=now
        ),
        "terminal": terminal,
        "source": source,
        "pair": pair,
        "pair_source": pair.perp_source,
        "opportunity": Opportunity.objects.create(
            pair=pair,
            direction="sell_perp",
            started_at=now,
            peak_net_edge=Decimal(1),
            peak_at=now,
            threshold=Decimal(1),
        ),
        "candle": BasisCandle.objects.create(
            pair=pair,
            interval="1m",
            start=now - timedelta(minutes=1),
            open=Decimal(1),
            high=Decimal(1),
            low=Decimal(1),
            close=Decimal(1),
            best_net_edge=Decimal(1),
        ),
        "sample": SpreadSample.objects.create(
            pair=pair,
            ts=now,
            perp_bid=Decimal(2),
            perp_ask=Decimal(3),
            cfd_bid=Decimal(1),
            cfd_ask=Decimal(2),
            usd_per_usdt=Decimal(1),
            edge_sell_perp=Decimal(0),
            edge_buy_perp=Decimal(-2),
            net_sell_perp=Decimal(0),
            net_buy_perp=Decimal(-2),
            basis=Decimal(1),
        ),
        "changelog": ChangeLogEntry.objects.filter(tenant_id=tenant.pk).order_by("pk").first(),
    }
    return Desk(Membership.objects.get(user=user, tenant=tenant), rows)


@pytest.fixture
def desks(alice: Persona, charlie: Persona, sim_pair: SourcePair) -> dict[str, Desk]:
    """Alpha (alice, granted the platform's pair) and bravo (charlie, with a pair of its own), each with one row of
    every kind."""
    PairAccess.objects.create(tenant=alice.tenant, pair=sim_pair)
    bravo_pair = SourcePair.objects.create(
        tenant=charlie.tenant,
        name="bravo's",
        perp_source=QuoteSource.objects.create(
            tenant=charlie.tenant,
            key="bravo-pair-perp",
            venue="simulated-perp",
            instrument=sim_pair.perp_source.instrument,
            label="bravo pair perp",
        ),
        cfd_source=QuoteSource.objects.create(
            tenant=charlie.tenant,
            key="bravo-pair-cfd",
            venue="simulated-cfd",
            instrument=sim_pair.cfd_source.instrument,
            label="bravo pair CFD",
        ),
    )
    PairAccess.objects.create(tenant=charlie.tenant, pair=bravo_pair)
    return {"alpha": _desk(alice, sim_pair), "bravo": _desk(charlie, bravo_pair)}


Read = Callable[[Membership, Desk], Iterable[Any]]

# selector → (the kind of row it reads, how to read it for a member: rows or their ids, whichever it gives)
SELECTORS: dict[str, tuple[str, Read]] = {
    "hedges_for": ("hedge", lambda m, d: execution.hedges_for(membership=m)),
    "orders_for": ("order", lambda m, d: execution.orders_for(membership=m)),
    "fills_for": ("fill", lambda m, d: execution.fills_for(membership=m)),
    "positions_for": ("position", lambda m, d: execution.positions_for(membership=m)),
    "reports_for": ("report", lambda m, d: execution.reports_for(membership=m)),
    "commands_for": ("command", lambda m, d: execution.commands_for(membership=m)),
    "pairs_for": ("pair", lambda m, d: market.pairs_for(membership=m)),
    "pair_for": ("pair", lambda m, d: [market.pair_for(membership=m, pair_id=d.rows["pair"].pk)]),
    "sources_for": ("pair_source", lambda m, d: market.sources_for(membership=m)),
    "setup_sources_for": ("source", lambda m, d: market.setup_sources_for(membership=m)),
    "setup_source_for": ("source", lambda m, d: [market.setup_source_for(membership=m, source_id=d.rows["source"].pk)]),
    "quotes_for": ("pair_source", lambda m, d: [tick.source for tick in market.quotes_for(membership=m)]),
    "latest_samples_for": ("sample", lambda m, d: [s.pk for s in market.latest_samples_for(membership=m)]),
    "candles_for": (
        "candle",
        lambda m, d: market.candles_for(membership=m, pair_id=d.rows["pair"].pk, interval="1m", since=None, until=None),
    ),
    "opportunities_for": ("opportunity", lambda m, d: market.opportunities_for(membership=m)),
    "chart_history_for": (
        "pair",
        lambda m, d: (
            [d.rows["pair"]]
            if market.chart_history_for(membership=m, pair_id=d.rows["pair"].pk, since=clock.now() - timedelta(hours=1))
            else []
        ),
    ),
    "cash_flows_for": ("cash_flow", lambda m, d: cash_flows_for(membership=m)),
    "transfers_for": ("transfer", lambda m, d: transfers.transfers_for(membership=m)),
    "limits_for": ("limit", lambda m, d: limit_views.limits_for(membership=m)),
    "breaches_for": ("breach", lambda m, d: limit_views.breaches_for(membership=m)),
    "pending_confirmations": ("breach", lambda m, d: pending_confirmations(membership=m)),
    "switches_for": ("switch", lambda m, d: risk_views.switches_for(membership=m)),
    "terminal_rows": ("terminal", lambda m, d: [row.terminal for row in mt5_selectors.terminal_rows(membership=m)]),
    "strip_states": ("terminal", lambda m, d: [state.id for state in mt5_selectors.strip_states(membership=m)]),
    "changelog": ("changelog", lambda m, d: ChangeLogEntry.objects.for_member(m)),
    "long_jobs": ("long_job", lambda m, d: LongJob.objects.for_member(m)),
}


def _found(rows: Iterable[Any], row: Any) -> bool:
    """Whether `row` is among what a selector gave: the rows themselves or their ids."""
    if row is None:
        return False
    return any((item.pk if hasattr(item, "pk") else item) == row.pk for item in rows if item is not None)


@pytest.mark.parametrize("selector", SELECTORS)
def test_a_foreign_tenants_rows_never_appear_through_a_selector(desks: dict[str, Desk], selector: str) -> None:
    kind, read = SELECTORS[selector]
    for own, foreign in (("alpha", "bravo"), ("bravo", "alpha")):
        member, desk, other = desks[own].membership, desks[own], desks[foreign]

        rows = list(read(member, other))  # a detail selector asked for the other tenant's id
        mine = list(read(member, desk))

        assert not _found(rows, other.rows[kind]), f"{selector} showed {foreign}'s {kind} to {own}"
        assert not _found(mine, other.rows[kind]), f"{selector} showed {foreign}'s {kind} to {own}"
        assert _found(mine, desk.rows[kind]), f"{selector} lost {own}'s own {kind}"  # not simply empty


def test_no_membership_reads_nothing(desks: dict[str, Desk]) -> None:
    assert not execution.hedges_for(membership=None).exists()
    assert not market.pairs_for(membership=None).exists()
    assert not market.setup_sources_for(membership=None).exists()
    assert market.latest_samples_for(membership=None) == []
    assert not risk_views.switches_for(membership=None).exists()
    assert mt5_selectors.terminal_rows(membership=None) == []
    assert not LongJob.objects.for_member(None).exists()


def test_global_switches_concern_every_tenant(desks: dict[str, Desk]) -> None:
    switch = KillSwitch.objects.create(
        scope=KillScope.GLOBAL, trigger=KillTrigger.MANUAL, reason="platform", tripped_at=clock.now()
    )

    for desk in desks.values():
        assert switch in risk_views.switches_for(membership=desk.membership)


# --- the risk centre asks who operates what once -------------------------------------------------------------
def _risk_centre_with(alice: Persona, tom: Persona, strategies: int) -> Client:
    """Alpha with `strategies` strategies (each on its own pool, granted to tom), each with an active kill switch;
    tom (a trader) signed in."""
    tom_member = Membership.objects.get(user=tom.user)
    for _number in range(strategies):
        strategy = StrategyFactory.create(pool=AccountPoolFactory.create(tenant=alice.tenant, owner=alice.user))
        set_grant(actor=alice.user, member=tom_member, obj=strategy.pool, granted=True)
        KillSwitch.objects.create(
            tenant=alice.tenant,
            scope=KillScope.STRATEGY,
            strategy=strategy,
            trigger=KillTrigger.MANUAL,
            reason="test",
            tripped_at=clock.now(),
        )
    client = Client()
    client.force_login(tom.user)
    return client


def _operability_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len([q for q in queries.captured_queries if "guardian_userobjectpermission" in q["sql"]])


@pytest.mark.parametrize("url_name", ["risk", "risk_figures", "reconciliation"])
def test_the_risk_pages_ask_who_operates_what_once_whatever_the_rows(
    alice: Persona, tom: Persona, url_name: str
) -> None:
    client = _risk_centre_with(alice, tom, 2)
    url = reverse(url_name)
    few = _operability_queries(client, url)
    _risk_centre_with(alice, tom, 8)

    many = _operability_queries(client, url)

    # Each per-row `may_operate` was a query of the trader's grants: 2 and 10 rows used to differ by 8 such queries.
    assert many == few
    assert few <= 2


def test_the_risk_page_still_says_which_switches_a_trader_may_reset(alice: Persona, tom: Persona) -> None:
    client = _risk_centre_with(alice, tom, 2)
    ungranted = StrategyFactory.create(pool=AccountPoolFactory.create(tenant=alice.tenant, owner=alice.user))
    KillSwitch.objects.create(
        tenant=alice.tenant,
        scope=KillScope.STRATEGY,
        strategy=ungranted,
        trigger=KillTrigger.MANUAL,
        reason="not granted",
        tripped_at=clock.now(),
    )

    response = client.get(reverse("risk"))

    may_reset = {switch.strategy.pk: switch.may_reset for switch in response.context["active"]}
    assert may_reset.pop(ungranted.pk) is False
    assert set(may_reset.values()) == {True}
    trippable = {strategy.pk for strategy in response.context["strategies"]}
    assert trippable == set(
        Strategy.objects.filter(tenant=alice.tenant).exclude(pk=ungranted.pk).values_list("pk", flat=True)
    )

    runnable = client.get(reverse("reconciliation")).context["runnable_pools"]
    assert ungranted.pool not in runnable
    assert len(runnable) == 2
