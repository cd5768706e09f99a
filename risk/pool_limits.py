"""The risk centre's pool table against the desk's limits: where each pool stands on every enabled
`RiskLimit` that applies to it — per figure of the table and for the pool as a whole (its worst).

Which limits apply to a pool, per metric: the pool's own (a pool-scoped limit), else the desk's; besides, the
limits of the pool's strategies and of its two accounts. A limit with a recorded level (`RiskLimitState`, written
by risk/limits.py `evaluate_limits`) shows that level and the value it was evaluated at: what the page says is what
the gate and the alerts act on. A limit not evaluated yet, and a desk limit read against one pool's figure (the
desk's recorded level is about the desk's figure), take their level from the same pure `evaluate`
(risk/domain/limits.py) over the figures on the page — no second threshold logic here.

One query (the limits with their states and targets) whatever the number of pools."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from django.utils.translation import gettext as _

from quantarb import formatting

from .choices import LimitLevelChoice, LimitScopeKind
from .domain.limits import Direction, Limit, LimitLevel, Metric, Scope, ScopeKind, evaluate
from .limits import domain_limit, limit_key
from .metrics import DeskRisk
from .models import RiskLimit, RiskLimitState

# The pool table's figures (templates/risk/_centre.html) and the metrics each shows. The daily loss and the weekend
# gap have no column: their limits count for the pool's summary.
COLUMNS: Mapping[str, tuple[Metric, ...]] = {
    "net": (Metric.UNHEDGED_OZ, Metric.UNHEDGED_USD),
    "usdt": (Metric.USDT_EXPOSURE_USD, Metric.GROSS_NOTIONAL_USD),
    "rate": (Metric.USDT_RATE_AGE_S, Metric.USDT_DEPEG_BPS),
    "liquidation": (Metric.LIQUIDATION_DISTANCE_PCT,),
    "mt5": (Metric.MT5_MARGIN_LEVEL_PCT, Metric.MT5_LEVEL_ABOVE_STOP_OUT),
    "drawdown": (Metric.DRAWDOWN_PCT, Metric.LOSS_STREAK),
}
RANK = {LimitLevel.OK: 1, LimitLevel.WARNING: 2, LimitLevel.BREACH: 3}  # 0: no limit (the state column's sort)
BADGES = {LimitLevel.OK: "bg-green-lt", LimitLevel.WARNING: "bg-yellow-lt", LimitLevel.BREACH: "bg-red-lt"}


@dataclass(frozen=True)
class LimitMark:
    """One limit as it stands for one pool."""

    limit_id: int
    label: str
    scope_kind: str
    metric: Metric
    level: LimitLevel
    value: Decimal | None
    warning: Decimal | None
    breach: Decimal | None
    direction: Direction
    recorded: bool  # the evaluation's stored level (else read now from the page's figures)

    @property
    def line(self) -> str:
        """The limit in words, for the cell's title: its level, name, direction, levels and value."""
        direction = _("at most") if self.direction is Direction.MAX else _("at least")
        words = {
            "level": LimitLevelChoice(self.level.value).label,
            "limit": self.label,
            "direction": direction,
            "warning": formatting.trimmed(self.warning, group=True),
            "breach": formatting.trimmed(self.breach, group=True),
            "value": formatting.trimmed(self.value, group=True),
        }
        line = (
            _("%(level)s: %(limit)s (%(direction)s) — warning at %(warning)s, breach at %(breach)s; value %(value)s")
            % words
        )
        if self.scope_kind == LimitScopeKind.DESK:
            line += " " + _("(the desk's limit, against this pool's figure)")
        elif not self.recorded:
            line += " " + _("(not evaluated yet: against the figure shown)")
        return line


@dataclass(frozen=True)
class LimitCell:
    """A figure's state: the worst of the limits on it, with every one named (the title)."""

    marks: tuple[LimitMark, ...]

    @property
    def level(self) -> LimitLevel:
        return max((mark.level for mark in self.marks), key=RANK.__getitem__)

    @property
    def rank(self) -> int:
        return RANK[self.level]

    @property
    def badge(self) -> str:
        """Tabler's light badge of the level: readable in the light and the dark theme."""
        return BADGES[self.level]

    @property
    def word(self) -> str:
        return str(LimitLevelChoice(self.level.value).label)

    @property
    def title(self) -> str:
        ordered = sorted(self.marks, key=lambda mark: (-RANK[mark.level], mark.label))
        return "\n".join(mark.line for mark in ordered)


@dataclass(frozen=True)
class PoolLimits:
    """A pool's cells by column (None: no limit on that figure) and its summary (the worst of all its limits)."""

    cells: Mapping[str, LimitCell]
    summary: LimitCell | None

    @property
    def net(self) -> LimitCell | None:
        return self.cells.get("net")

    @property
    def usdt(self) -> LimitCell | None:
        return self.cells.get("usdt")

    @property
    def rate(self) -> LimitCell | None:
        return self.cells.get("rate")

    @property
    def liquidation(self) -> LimitCell | None:
        return self.cells.get("liquidation")

    @property
    def mt5(self) -> LimitCell | None:
        return self.cells.get("mt5")

    @property
    def drawdown(self) -> LimitCell | None:
        return self.cells.get("drawdown")


NO_LIMITS = PoolLimits(cells={}, summary=None)


def limit_rows(tenant_id: int) -> list[RiskLimit]:
    """The desk's enabled limits with their recorded states and targets (one query)."""
    return list(
        RiskLimit.objects.filter(tenant_id=tenant_id, enabled=True)
        .select_related("state", "pool", "strategy", "account")
        .defer("account__credentials")
        .order_by("pk")
    )


def _recorded(row: RiskLimit) -> tuple[LimitLevel, Decimal | None] | None:
    """The level and value the last evaluation stored (None: not evaluated yet)."""
    try:
        state = row.state  # loaded with the limit (select_related)
    except RiskLimitState.DoesNotExist:
        return None
    if state.evaluated_at is None:
        return None
    return LimitLevel(state.level), state.value


def pool_limits(desk: DeskRisk, rows: Iterable[RiskLimit] | None = None) -> dict[int, PoolLimits]:
    """Per pool id of `desk`, where its figures stand on the limits that apply to it (see the module). `rows`: the
    desk's enabled limits (read when not given)."""
    limits = [row for row in (limit_rows(desk.tenant_id) if rows is None else rows) if row.tenant_id == desk.tenant_id]
    pool_ids = [pool.pool_id for pool in desk.pools]
    strategy_pool = {strategy.strategy_id: strategy.pool_id for strategy in desk.strategies}
    account_pools: dict[int, list[int]] = defaultdict(list)
    for pool in desk.pools:
        for account_id in {pool.perp.account_id, pool.cfd.account_id}:
            account_pools[account_id].append(pool.pool_id)
    own = {(row.pool_id, Metric(row.metric)) for row in limits if row.scope_kind == LimitScopeKind.POOL}

    marks: dict[int, list[LimitMark]] = defaultdict(list)
    to_evaluate: list[tuple[int, RiskLimit, Limit]] = []
    for row in limits:
        metric = Metric(row.metric)
        if row.scope_kind == LimitScopeKind.DESK:
            for pool_id in pool_ids:
                if (pool_id, metric) not in own:  # the pool's own limit on the metric replaces the desk's
                    key, scope = f"{limit_key(row.pk)}@pool:{pool_id}", Scope(ScopeKind.POOL, pool_id)
                    scoped = replace(domain_limit(row), key=key, scope=scope)
                    to_evaluate.append((pool_id, row, scoped))
            continue
        if row.scope_kind == LimitScopeKind.POOL:
            targets = [row.pool_id] if row.pool_id in pool_ids else []
        elif row.scope_kind == LimitScopeKind.STRATEGY:
            targets = [strategy_pool[row.strategy_id]] if row.strategy_id in strategy_pool else []
        else:
            targets = account_pools.get(row.account_id or 0, [])
        recorded = _recorded(row)
        for pool_id in targets:
            if recorded is None:
                to_evaluate.append((pool_id, row, domain_limit(row)))
            else:
                marks[pool_id].append(_mark(row, recorded[0], recorded[1], recorded=True))
    states = evaluate([limit for _pool, _row, limit in to_evaluate], desk.values)
    for (pool_id, row, _limit), state in zip(to_evaluate, states, strict=True):
        marks[pool_id].append(_mark(row, state.level, state.value, recorded=False))

    result: dict[int, PoolLimits] = {}
    for pool_id in pool_ids:
        found = marks.get(pool_id, [])
        if not found:
            result[pool_id] = NO_LIMITS
            continue
        cells = {
            column: LimitCell(tuple(mark for mark in found if mark.metric in metrics))
            for column, metrics in COLUMNS.items()
            if any(mark.metric in metrics for mark in found)
        }
        result[pool_id] = PoolLimits(cells=cells, summary=LimitCell(tuple(found)))
    return result


def _mark(row: RiskLimit, level: LimitLevel, value: Decimal | None, *, recorded: bool) -> LimitMark:
    return LimitMark(
        limit_id=row.pk,
        label=row.label,
        scope_kind=row.scope_kind,
        metric=Metric(row.metric),
        level=level,
        value=value,
        warning=row.warning_level,
        breach=row.breach_level,
        direction=Direction(row.effective_direction()),
        recorded=recorded,
    )
