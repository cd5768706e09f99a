"""Reads about strategies for the portal and the API, always for one tenant (a foreign id reads as absent).

`strategy_status` builds the live status panel: state, heartbeat age, last decision and why, open hedges,
realised and unrealised PnL split into spread, fees, funding, swap and USDT/USD, and the kill switches covering
the strategy. The PnL is the one money model's (trading/portfolio/pnl.py): realised is the database's sum of the
booked splits of the strategy's hedges that are no longer live; unrealised is the sum of the live hedges' splits
marked at the pool's latest stored spread sample, as the hedge pages and the API mark them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet

from accounts.grants import may_operate, operable
from accounts.models import AccountPool, Membership
from accounts.permissions import Perm, role_has
from quantarb import clock
from risk.services import switches_covering
from trading.choices import LIVE_HEDGE_STATUSES
from trading.domain.pnl import PnlSplit
from trading.models import Hedge
from trading.portfolio import pnl as hedge_pnl

from .choices import ACTIVE_STATES
from .messages import action_label, reason_text
from .models import Strategy, StrategyVersion


def strategies_for(*, membership: Membership | None) -> QuerySet[Strategy]:
    """The member's tenant's strategies (for_member "view"), with their open hedges and realised PnL."""
    live = [status.value for status in LIVE_HEDGE_STATUSES]
    return (
        Strategy.objects.for_member(membership)
        .select_related("pool", "current_version")
        .annotate(
            open_hedges=Count("hedges", filter=Q(hedges__status__in=live), distinct=True),
            realised=hedge_pnl.realised_total("hedges__"),
        )
        .order_by("name")
    )


def active_strategy_of_pool(pool: AccountPool) -> Strategy | None:
    """The strategy trading the pool now (starting, running, paused or stopping), if any."""
    return Strategy.objects.filter(pool=pool, state__in=[state.value for state in ACTIVE_STATES]).first()


def strategy_for(*, membership: Membership | None, strategy_id: int) -> Strategy | None:
    """One strategy of the member's tenant; None for a foreign or missing id (the caller's 404)."""
    return (
        Strategy.objects.for_member(membership).filter(pk=strategy_id).select_related("pool", "current_version").first()
    )


def versions_for(strategy: Strategy) -> QuerySet[StrategyVersion]:
    return strategy.versions.select_related("created_by").order_by("-number")


def may_operate_strategy(membership: Membership | None, strategy: Strategy) -> bool:
    """The role may operate strategies and, for a trader, the strategy's pool is granted to them."""
    if membership is None or membership.tenant_id != strategy.tenant_id:
        return False
    return role_has(membership.role, Perm.STRATEGY_OPERATE) and may_operate(membership, strategy.pool)


def operable_pools(membership: Membership | None) -> QuerySet[AccountPool]:
    return operable(membership, AccountPool.objects.all()).order_by("name")


# --- version history -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VersionRow:
    version: StrategyVersion
    changes: list[tuple[str, Any, Any]]  # (field, before, after); every field for the first version


def version_history(strategy: Strategy) -> list[VersionRow]:
    """Each version with what it changed against the one before it (oldest has no predecessor)."""
    versions = list(strategy.versions.select_related("created_by").order_by("number"))
    rows: list[VersionRow] = []
    before: dict[str, Any] = {}
    for version in versions:
        params = version.params or {}
        keys = sorted(set(before) | set(params)) if before else []
        changes = [(key, before.get(key), params.get(key)) for key in keys if before.get(key) != params.get(key)]
        rows.append(VersionRow(version=version, changes=changes))
        before = params
    rows.reverse()
    return rows


# --- the live status panel -------------------------------------------------------------------------------------
@dataclass
class StrategyStatus:
    strategy: Strategy
    heartbeat_age_s: float | None
    decision_text: str
    decision_action: str
    decision_age_s: float | None
    open_hedges: list[Hedge]
    realised: PnlSplit
    unrealised: PnlSplit
    unrealised_known: bool
    switches: list[Any] = field(default_factory=list)
    mark_age_s: float | None = None

    @property
    def heartbeat_stale(self) -> bool:
        return self.strategy.is_active and (self.heartbeat_age_s is None or self.heartbeat_age_s > 10)

    @property
    def total(self) -> PnlSplit:
        return self.realised + self.unrealised


def unrealised_of(hedges: list[Hedge], marks: hedge_pnl.PoolMarks) -> tuple[PnlSplit, bool, datetime | None]:
    """Σ of the live hedges' marked splits; whether every one could be marked; when the marks were stored."""
    unrealised, known, marked_at = PnlSplit(), True, None
    for hedge in hedges:
        shown = hedge_pnl.hedge_pnl(hedge, marks)
        if shown.split is None:
            known = False
            continue
        unrealised += shown.split
        marked_at = shown.marked_at
    return unrealised, known, marked_at


def strategy_status(strategy: Strategy) -> StrategyStatus:
    now = clock.now()
    strategy.refresh_from_db()
    live = [status.value for status in LIVE_HEDGE_STATUSES]
    strategy_hedges = Hedge.objects.filter(strategy=strategy)
    open_hedges = list(strategy_hedges.filter(status__in=live).select_related("pool").order_by("-planned_at", "-id"))
    unrealised, known, marked_at = unrealised_of(open_hedges, hedge_pnl.PoolMarks())
    decision = strategy.last_decision or {}
    return StrategyStatus(
        strategy=strategy,
        heartbeat_age_s=None if strategy.heartbeat_at is None else (now - strategy.heartbeat_at).total_seconds(),
        decision_text=reason_text(decision) if decision else "",
        decision_action=action_label(str(decision.get("action", ""))),
        decision_age_s=None if strategy.last_decision_at is None else (now - strategy.last_decision_at).total_seconds(),
        open_hedges=open_hedges,
        realised=hedge_pnl.realised_split(strategy_hedges),
        unrealised=unrealised,
        unrealised_known=known,
        switches=list(switches_covering(strategy).select_related("tripped_by")),
        mark_age_s=None if marked_at is None else (now - marked_at).total_seconds(),
    )
