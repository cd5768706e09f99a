"""Reads about strategies for the portal and the API, always for one tenant (a foreign id reads as absent).

`strategy_status` builds the live status panel: state, heartbeat age, last decision and why, open hedges,
realised and unrealised PnL split into spread, fees, funding, swap and USDT/USD, carry, and the kill switches
covering the strategy. Unrealised PnL marks the open hedges' filled legs at the pool's latest stored spread
sample (the touch they would close at), the same mark the runner uses (`hedge_unrealised_usd`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from accounts.grants import may_operate
from accounts.models import AccountPool, Membership, Tenant
from accounts.permissions import Perm, role_has
from quantarb import clock
from trading.choices import LIVE_HEDGE_STATUSES, CarryKind, HedgeStatus, Leg, OrderSide
from trading.models import CarryEntry, Hedge, SpreadSample

from .models import Strategy, StrategyVersion

PNL_LINES = ("spread", "fees", "funding", "swap", "fx")
ZERO = Decimal(0)


def strategies_for(*, tenant: Tenant) -> QuerySet[Strategy]:
    live = [status.value for status in LIVE_HEDGE_STATUSES]
    return (
        Strategy.objects.filter(tenant=tenant)
        .select_related("pool", "current_version")
        .annotate(
            open_hedges=Count("hedges", filter=Q(hedges__status__in=live), distinct=True),
            realised=Sum("hedges__pnl_spread", filter=Q(hedges__status=HedgeStatus.CLOSED))
            + Sum("hedges__pnl_fees", filter=Q(hedges__status=HedgeStatus.CLOSED))
            + Sum("hedges__pnl_funding", filter=Q(hedges__status=HedgeStatus.CLOSED))
            + Sum("hedges__pnl_swap", filter=Q(hedges__status=HedgeStatus.CLOSED))
            + Sum("hedges__pnl_fx", filter=Q(hedges__status=HedgeStatus.CLOSED)),
        )
        .order_by("name")
    )


def strategy_for(*, tenant: Tenant, strategy_id: int) -> Strategy | None:
    return Strategy.objects.filter(tenant=tenant, pk=strategy_id).select_related("pool", "current_version").first()


def versions_for(strategy: Strategy) -> QuerySet[StrategyVersion]:
    return strategy.versions.select_related("created_by").order_by("-number")


def may_operate_strategy(membership: Membership | None, strategy: Strategy) -> bool:
    """The role may operate strategies and, for a trader, the strategy's pool is granted to them."""
    if membership is None or membership.tenant_id != strategy.tenant_id:
        return False
    return role_has(membership.role, Perm.STRATEGY_OPERATE) and may_operate(membership, strategy.pool)


def operable_pools(membership: Membership | None) -> QuerySet[AccountPool]:
    from accounts.grants import operable

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
class PnlSplit:
    spread: Decimal = ZERO
    fees: Decimal = ZERO
    funding: Decimal = ZERO
    swap: Decimal = ZERO
    fx: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.spread + self.fees + self.funding + self.swap + self.fx

    def add_hedge(self, hedge: Hedge) -> None:
        self.spread += hedge.pnl_spread
        self.fees += hedge.pnl_fees
        self.funding += hedge.pnl_funding
        self.swap += hedge.pnl_swap
        self.fx += hedge.pnl_fx

    def lines(self) -> list[tuple[str, Decimal]]:
        return [(name, getattr(self, name)) for name in PNL_LINES]


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
    carry_funding: Decimal
    carry_swap: Decimal
    switches: list[Any] = field(default_factory=list)
    mark_age_s: float | None = None

    @property
    def heartbeat_stale(self) -> bool:
        return self.strategy.is_active and (self.heartbeat_age_s is None or self.heartbeat_age_s > 10)


def latest_mark(pool: AccountPool) -> SpreadSample | None:
    """The pool's pair's latest spread sample: the touch prices and USDT/USD the open hedges are marked at."""
    from strategies.runner import pair_id_for_pool

    pair_id = pair_id_for_pool(pool)
    if pair_id is None:
        return None
    return SpreadSample.objects.filter(pair_id=pair_id).order_by("-ts").first()


def unrealised_split(hedge: Hedge, mark: SpreadSample | None) -> PnlSplit | None:
    """Mark-to-market of a hedge's filled legs: the price move is spread capture (perp leg at the entry
    USDT/USD) and the move of USDT/USD since entry on the perp leg is the USDT/USD line; fees, funding and swap
    booked so far are added as they stand."""
    if mark is None:
        return None
    split = PnlSplit(fees=hedge.pnl_fees, funding=hedge.pnl_funding, swap=hedge.pnl_swap)
    entry_rate = hedge.entry_usd_per_usdt or mark.usd_per_usdt
    for order in hedge.orders.exclude(filled=0):
        sign = 1 if order.side == OrderSide.BUY else -1
        price = order.avg_price or ZERO
        if order.leg == Leg.PERP:
            exit_price = mark.perp_bid if sign > 0 else mark.perp_ask
            usdt = sign * order.filled * (exit_price - price)
            split.spread += usdt * entry_rate
            split.fx += usdt * (mark.usd_per_usdt - entry_rate)
        else:
            exit_price = mark.cfd_bid if sign > 0 else mark.cfd_ask
            split.spread += sign * order.filled * (exit_price - price)
    quantum = Decimal("0.01")
    for name in PNL_LINES:
        setattr(split, name, getattr(split, name).quantize(quantum))
    return split


def strategy_status(strategy: Strategy) -> StrategyStatus:
    from risk.services import switches_covering

    from .messages import action_label, reason_text

    now = clock.now()
    strategy.refresh_from_db()
    hedges = list(Hedge.objects.filter(strategy=strategy).order_by("-planned_at", "-id"))
    live = {status.value for status in LIVE_HEDGE_STATUSES}
    open_hedges = [hedge for hedge in hedges if hedge.status in live]
    realised = PnlSplit()
    for hedge in hedges:
        if hedge.status == HedgeStatus.CLOSED:
            realised.add_hedge(hedge)
    mark = latest_mark(strategy.pool) if open_hedges else None
    unrealised = PnlSplit()
    known = True
    for hedge in open_hedges:
        split = unrealised_split(hedge, mark)
        if split is None:
            known = False
            continue
        for name in PNL_LINES:
            setattr(unrealised, name, getattr(unrealised, name) + getattr(split, name))
    carry = CarryEntry.objects.filter(hedge__strategy=strategy)
    funding = carry.filter(kind=CarryKind.FUNDING).aggregate(total=Sum("amount_usd"))["total"] or ZERO
    swap = carry.filter(kind=CarryKind.SWAP).aggregate(total=Sum("amount_usd"))["total"] or ZERO
    decision = strategy.last_decision or {}
    return StrategyStatus(
        strategy=strategy,
        heartbeat_age_s=None if strategy.heartbeat_at is None else (now - strategy.heartbeat_at).total_seconds(),
        decision_text=reason_text(decision) if decision else "",
        decision_action=action_label(str(decision.get("action", ""))),
        decision_age_s=None if strategy.last_decision_at is None else (now - strategy.last_decision_at).total_seconds(),
        open_hedges=open_hedges,
        realised=realised,
        unrealised=unrealised,
        unrealised_known=known,
        carry_funding=funding,
        carry_swap=swap,
        switches=list(switches_covering(strategy).select_related("tripped_by")),
        mark_age_s=None if mark is None else (now - mark.ts).total_seconds(),
    )
