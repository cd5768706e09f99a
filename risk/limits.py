"""Limits that act: the desk's `RiskLimit` rows evaluated against the risk metrics, and what a
change of level does.

`evaluate_limits` loads the enabled limits, takes the metrics from `risk.metrics.metric_values` (or those given),
runs the pure `evaluate` (risk/domain/limits.py) after each limit's stored level (hysteresis), stores the new
levels and acts on the changes:

- **warning**: a risk alert (warning), nothing else;
- **breach**: a risk alert (critical), a `Breach` in the log (its peak kept while it lasts), an audit record, and
  the limit's action — *alert* only; *block entries*: the pre-trade gate (risk/gate.py) refuses opening orders in
  the scope, naming the limit, while the breach lasts (reducing orders pass); *pause*: the running strategies in
  the scope are paused through the strategies' own lifecycle service (installed by the composition root,
  quantarb/wiring.py: risk sits below strategies); *flatten*: the strategies in the scope are paused and their
  runner closes their hedges at its next step through the one order gate (trading/execution/services.py
  `hedge_leg_orders`), entries blocked meanwhile. With `confirm` the action waits (`pending`) until an admin
  confirms it on the limits page (audited); the alert says so.
- leaving the breach level (past the hysteresis band) ends the `Breach` (audited) and lifts the block; back to ok
  resolves the alert.

Scopes key the metrics as `Scope(kind, id)`: the desk by its tenant's id, a pool, strategy or account by its own.
The beat job (risk/tasks.py) evaluates every desk; each running strategy's runner evaluates the limits covering it
on every engine step (`limits_on_step`) and carries out a flatten (`flatten_requested` / `flatten_finished`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.audit import audit_record
from accounts.choices import AuditAction
from accounts.http import AuditContext
from accounts.models import AccountPool, Membership, Tenant, User
from alerts.choices import Category
from alerts.models import Alert, AlertRule
from alerts.registry import get
from alerts.rules import rule_dedup_key
from alerts.services import alert_raise, alert_resolve
from quantarb import clock, formatting, reasons
from quantarb.phrases import Phrase, phrase, said
from trading.choices import LIVE_HEDGE_STATUSES, RateSource
from trading.models import Hedge

from .choices import ActionStatus, LimitAction, LimitLevelChoice, LimitScopeKind
from .domain.limits import Action, Direction, Limit, LimitLevel, LimitState, Metric, Scope, ScopeKind, evaluate
from .live import push_risk
from .models import Breach, RiskLimit, RiskLimitState
from .reasons import BREACH_NOTES

log = logging.getLogger(__name__)

Metrics = Mapping[tuple[Metric, Scope], Decimal | None]
TenantMetrics = Mapping[int, Metrics]
# Actions that hold entries while their breach lasts (a pause or flatten too: nothing new opens meanwhile).
BLOCKING_ACTIONS = (LimitAction.BLOCK_ENTRIES, LimitAction.PAUSE, LimitAction.FLATTEN)
RULE_TYPES = {LimitLevel.WARNING: "risk_limit_warning", LimitLevel.BREACH: "risk_limit_breach"}


# --- what risk asks of strategies, installed by the composition root ----------------------------------------------
@dataclass
class _StrategyActions:
    pause: Callable[[Any, str], bool] | None = None


_ACTIONS = _StrategyActions()


def install_strategy_actions(*, pause: Callable[[Any, str], bool]) -> None:
    """The composition root hands risk the strategies' pause (strategies sits above risk: risk must not import
    it). `pause(strategy, limit)` pauses a running strategy, audited with the breached limit's label as its
    reason, and says whether it did."""
    _ACTIONS.pause = pause


def _strategy_model() -> Any:
    return RiskLimit._meta.get_field("strategy").related_model


# --- model → domain -------------------------------------------------------------------------------------------
def limit_key(limit_id: int) -> str:
    return f"limit:{limit_id}"


def domain_limit(row: RiskLimit) -> Limit:
    return Limit(
        key=limit_key(row.pk),
        metric=Metric(row.metric),
        scope=Scope(ScopeKind(row.scope_kind), row.scope_ref()),
        warning=row.warning_level,
        breach=row.breach_level,
        direction=Direction(row.effective_direction()),
        action=Action(row.action),
        confirm=row.confirm,
        hysteresis=row.hysteresis,
    )


def alert_key(limit_id: int, level: LimitLevel) -> str:
    """The dedup key of a limit's alert at a level: the `risk_limit_warning` / `risk_limit_breach` rules
    (risk/alert_rules.py) keep the same alert open while the level lasts, and their severity and channels apply."""
    return rule_dedup_key(RULE_TYPES[level], limit_key(limit_id))


def _rule(tenant: Tenant, level: LimitLevel) -> Any:

    rule_type = get(RULE_TYPES[level])
    assert rule_type is not None
    rule, _created = AlertRule.objects.get_or_create(
        tenant=tenant,
        rule_type=RULE_TYPES[level],
        defaults={"params": rule_type.defaults(), "severity": rule_type.default_severity},
    )
    return rule


# --- metrics ----------------------------------------------------------------------------------------------------
def metric_values(tenant_ids: Iterable[int] | None, now: datetime | None) -> TenantMetrics:
    """The risk metrics per tenant (risk/metrics.py, the risk centre's figures), imported when first needed."""
    from risk import metrics as risk_metrics  # type: ignore[attr-defined,unused-ignore]

    values: TenantMetrics = risk_metrics.metric_values(tenant_ids, now=now)
    return values


# --- evaluation -----------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    """What one evaluation did: the states, and the breaches it started and ended."""

    states: list[LimitState] = field(default_factory=list)
    started: list[Breach] = field(default_factory=list)
    ended: list[Breach] = field(default_factory=list)
    warned: list[int] = field(default_factory=list)


def enabled_limits(tenant_ids: Iterable[int] | None = None) -> QuerySet[RiskLimit]:
    rows = RiskLimit.objects.filter(enabled=True)
    if tenant_ids is not None:
        rows = rows.filter(tenant_id__in=list(tenant_ids))
    return rows


def covering(strategy: Any) -> Q:
    """The limits whose scope covers `strategy`: its own, its pool's, its desk's, its pool's accounts'."""
    pool = strategy.pool
    return Q(tenant_id=strategy.tenant_id) & (
        Q(scope_kind=LimitScopeKind.DESK)
        | Q(scope_kind=LimitScopeKind.POOL, pool_id=pool.pk)
        | Q(scope_kind=LimitScopeKind.STRATEGY, strategy_id=strategy.pk)
        | Q(scope_kind=LimitScopeKind.ACCOUNT, account_id__in=[pool.perp_account_id, pool.cfd_account_id])
    )


def evaluate_limits(
    tenant_ids: Iterable[int] | None = None,
    *,
    metrics: TenantMetrics | None = None,
    now: datetime | None = None,
    limits: QuerySet[RiskLimit] | None = None,
) -> Outcome:
    """Evaluate the enabled limits of `tenant_ids` (every desk: None), or the given `limits`, and act on every
    change of level (see the module). `metrics`: per tenant id, the metric of each (Metric, Scope); read from
    risk/metrics.py when not given."""
    now = now or clock.now()
    ids = None if tenant_ids is None else list(tenant_ids)
    base = limits if limits is not None else enabled_limits(ids)
    outcome = Outcome()
    with transaction.atomic():
        rows = list(
            base.select_for_update(of=("self",))
            .select_related("tenant", "pool", "strategy", "account", "state")
            .order_by("pk")
        )
        if not rows:
            return outcome
        if metrics is None:
            metrics = metric_values(sorted({row.tenant_id for row in rows}), now)
        previous = {limit_key(row.pk): LimitLevel(_state_of(row).level) for row in rows}
        by_tenant: dict[int, list[RiskLimit]] = {}
        for row in rows:
            by_tenant.setdefault(row.tenant_id, []).append(row)
        open_breaches = {
            breach.limit_id: breach
            for breach in Breach.objects.select_for_update().filter(
                limit_id__in=[row.pk for row in rows], ended_at__isnull=True
            )
        }
        touched_states: list[RiskLimitState] = []
        changed_desks: set[int] = set()
        new_states: list[RiskLimitState] = []
        peaks: list[Breach] = []
        for tenant_id, tenant_rows in by_tenant.items():
            states = evaluate([domain_limit(row) for row in tenant_rows], metrics.get(tenant_id, {}), previous)
            for row, state in zip(tenant_rows, states, strict=True):
                outcome.states.append(state)
                stored = _state_of(row)
                if stored.pk is None:
                    new_states.append(stored)
                else:
                    touched_states.append(stored)
                stored.evaluated_at = now
                stored.value = state.value
                if state.changed:
                    stored.level = state.level.value
                    stored.changed_at = now
                breach = open_breaches.get(row.pk)
                if state.level is LimitLevel.BREACH:
                    if breach is None:
                        breach = _start_breach(row, state, now)
                        if breach is not None:
                            outcome.started.append(breach)
                    elif state.value is not None and _worse(row, state.value, breach.peak_value):
                        breach.peak_value, breach.peak_at = state.value, now
                        peaks.append(breach)
                elif breach is not None:
                    _end_breach(row, breach, state, now)
                    outcome.ended.append(breach)
                if state.changed:
                    changed_desks.add(row.tenant_id)
                    _alert(row, state)
                    if state.level is LimitLevel.WARNING and state.worsened:
                        outcome.warned.append(row.pk)
        if new_states:
            RiskLimitState.objects.bulk_create(new_states)
        if touched_states:
            RiskLimitState.objects.bulk_update(touched_states, ["level", "value", "changed_at", "evaluated_at"])
        if peaks:
            Breach.objects.bulk_update(peaks, ["peak_value", "peak_at"])
        changed_desks |= {breach.tenant_id for breach in (*outcome.started, *outcome.ended)}
        push_risk(changed_desks)  # a level changed, a breach started or ended: the risk centres refresh
    return outcome


def _state_of(row: RiskLimit) -> RiskLimitState:
    try:
        return row.state
    except RiskLimitState.DoesNotExist:
        state = RiskLimitState(limit=row, tenant_id=row.tenant_id, level=LimitLevelChoice.OK)
        row.state = state
        return state


def _worse(row: RiskLimit, value: Decimal, peak: Decimal) -> bool:
    return value > peak if row.effective_direction() == Direction.MAX else value < peak


def _words(value: Decimal | None) -> str:
    return "—" if value is None else formatting.trimmed(value, group=True)


def _alert(row: RiskLimit, state: LimitState) -> None:
    """Raise (or bump, with its severity refreshed) the limit's alert on a warning or breach; resolve it back at ok."""

    others = [alert_key(row.pk, level) for level in RULE_TYPES if level is not state.level]
    for alert in Alert.objects.filter(tenant_id=row.tenant_id, dedup_key__in=others).exclude(status="resolved"):
        alert_resolve(alert=alert, actor=None, code="limit_level_changed")
    if state.level is LimitLevel.OK:
        return
    condition = limit_condition(row, state.level.value, state.value)
    rule = _rule(row.tenant, state.level)
    if not rule.enabled:
        return
    alert_raise(
        tenant=row.tenant,
        category=Category.RISK,
        severity=rule.severity,
        title=condition["title"],
        dedup_key=alert_key(row.pk, state.level),
        detail=condition["detail"],
        source=row,
        rule=rule,
    )


def limit_condition(row: RiskLimit, level: str, value: Decimal | None) -> dict[str, Any]:
    """The alert's title and detail for a limit at `level` (shared with the `risk_limit` alert rule)."""
    threshold = row.breach_level if level == LimitLevelChoice.BREACH else row.warning_level
    words = {
        "limit": row.label_phrase,
        "value": _words(value),
        "threshold": _words(threshold),
        "action": LimitAction(row.action).label,
    }
    title: Phrase
    if level == LimitLevelChoice.BREACH:
        title = phrase(
            gettext_noop("Limit breached: %(limit)s at %(value)s (breach level %(threshold)s) → %(action)s"), **words
        )
        if row.confirm and row.action != LimitAction.ALERT:
            title = said(title, phrase(gettext_noop("(awaiting a person's confirmation)")))
    else:
        title = phrase(gettext_noop("Limit warning: %(limit)s at %(value)s (warning level %(threshold)s)"), **words)
    detail: dict[str, Any] = {
        "limit": row.pk,
        "metric": row.metric,
        "scope": row.scope_kind,
        "scope_id": row.scope_ref(),
        "level": level,
        "value": None if value is None else str(value),
        "threshold": None if threshold is None else str(threshold),
        "action": row.action,
    }
    if row.metric in RATE_METRICS and level != LimitLevelChoice.OK:
        causes, sources = _rate_causes(row, threshold)
        if causes:  # first: an alert's title is cut at 200 characters, and the source at fault is the news
            title = said(*causes, title)
            detail["rate_sources"] = sources
    return {"title": title, "detail": detail}


RATE_METRICS = (Metric.USDT_RATE_AGE_S.value, Metric.USDT_DEPEG_BPS.value)


def _rate_causes(row: RiskLimit, threshold: Decimal | None) -> tuple[list[Phrase], list[dict[str, Any]]]:
    """Which USDT/USD rate source a rate limit's alert is about, in words and as data: the sources pricing the
    scope's pools whose figure is at the level (the worst one when none is, the figure having moved since)."""
    from risk import metrics as risk_metrics  # type: ignore[attr-defined,unused-ignore]

    rates = risk_metrics.usdt_rates(row.tenant_id, row.scope_kind, row.scope_ref())
    age = row.metric == Metric.USDT_RATE_AGE_S

    def figure(rate: Any) -> Decimal | None:
        return rate.age_metric if age else rate.depeg_bps  # type: ignore[no-any-return]

    measured = [rate for rate in rates if figure(rate) is not None]
    at_fault = [rate for rate in measured if threshold is None or figure(rate) >= threshold]  # type: ignore[operator]
    at_fault = at_fault or measured[:1]
    causes = []
    for rate in at_fault:
        source = RateSource(rate.source).label if rate.source in RateSource.values else rate.source
        if age and rate.missing:
            causes.append(
                phrase(gettext_noop("No USDT/USD rate from %(source)s: edges are not priced."), source=source)
            )
        elif age and rate.age_s is not None:
            seconds = formatting.trimmed(rate.age_s.quantize(Decimal("0.1")), group=True)
            causes.append(
                phrase(
                    gettext_noop("The USDT/USD rate from %(source)s is %(age)s s old: edges are not priced."),
                    source=source,
                    age=seconds,
                )
            )
        elif not age:
            causes.append(
                phrase(
                    gettext_noop("USDT is worth %(rate)s USD (%(source)s)."),
                    source=source,
                    rate=formatting.trimmed(rate.usd_per_usdt),
                )
            )
    sources = [
        {
            "rate_source": rate.source,
            "age_s": None if rate.age_s is None else str(rate.age_s),
            "usd_per_usdt": None if rate.usd_per_usdt is None else str(rate.usd_per_usdt),
            "missing": rate.missing,
        }
        for rate in at_fault
    ]
    return causes, sources


# --- breaches -------------------------------------------------------------------------------------------------
def _start_breach(row: RiskLimit, state: LimitState, now: datetime) -> Breach | None:
    assert state.value is not None and row.breach_level is not None
    needs_person = row.confirm and row.action != LimitAction.ALERT
    status = ActionStatus.NONE if row.action == LimitAction.ALERT else ActionStatus.PENDING
    try:
        with transaction.atomic():
            breach = Breach.objects.create(
                tenant_id=row.tenant_id,
                limit=row,
                limit_label=row.label[:200],
                metric=row.metric,
                scope_kind=row.scope_kind,
                scope_ref=row.scope_ref(),
                scope_label=row.scope_label[:200],
                threshold=row.breach_level,
                started_at=now,
                start_value=state.value,
                peak_value=state.value,
                peak_at=now,
                action=row.action,
                action_status=status,
            )
    except IntegrityError:  # another evaluation (the runner's, the beat's) opened it a moment ago
        return None
    audit_record(
        tenant=row.tenant,
        actor=None,
        action=AuditAction.RISK_LIMIT_BREACH,
        obj=breach,
        summary={
            "event": "started",
            "limit": row.label,
            "metric": row.metric,
            "scope": row.scope_label,
            "value": str(state.value),
            "breach_level": str(row.breach_level),
            "action": row.action,
            "confirm": needs_person,
        },
    )
    if status == ActionStatus.PENDING and not needs_person:
        _carry_out(breach, row, actor=None)
    elif needs_person:
        _set_note(breach, [reasons.part("awaiting_confirmation")])
        breach.save(update_fields=["action_note", "action_note_parts"])
    return breach


def _end_breach(row: RiskLimit, breach: Breach, state: LimitState, now: datetime) -> None:
    breach.ended_at = now
    fields = ["ended_at"]
    if breach.action_status in (ActionStatus.PENDING, ActionStatus.CONFIRMED):
        breach.action_status = ActionStatus.LIFTED
        fields.append("action_status")
    breach.save(update_fields=fields)
    audit_record(
        tenant=row.tenant,
        actor=None,
        action=AuditAction.RISK_LIMIT_BREACH,
        obj=breach,
        summary={
            "event": "ended",
            "limit": row.label,
            "value": None if state.value is None else str(state.value),
            "peak": str(breach.peak_value),
            "level": state.level.value,
        },
    )


def strategies_in_scope(tenant_id: int, scope_kind: str, scope_ref: int) -> Any:
    strategies = _strategy_model().objects.filter(tenant_id=tenant_id)
    if scope_kind == LimitScopeKind.STRATEGY:
        return strategies.filter(pk=scope_ref)
    if scope_kind == LimitScopeKind.POOL:
        return strategies.filter(pool_id=scope_ref)
    if scope_kind == LimitScopeKind.ACCOUNT:
        return strategies.filter(Q(pool__perp_account_id=scope_ref) | Q(pool__cfd_account_id=scope_ref))
    return strategies


def _pause_all(breach: Breach) -> list[str]:
    """Pause the running strategies in the breach's scope; the names of those paused."""
    if _ACTIONS.pause is None:
        raise RuntimeError("risk's strategy actions are not installed (quantarb/wiring.py)")
    paused = []
    for strategy in strategies_in_scope(breach.tenant_id, breach.scope_kind, breach.scope_ref).filter(state="running"):
        if _ACTIONS.pause(strategy, breach.limit_label):
            paused.append(strategy.name)
    return paused


def _set_note(breach: Breach, parts: list[dict[str, Any]]) -> None:
    """The breach's note as its parts (translated when shown) and their English rendering (logs, the audit)."""
    breach.action_note_parts = parts
    breach.action_note = reasons.english_parts(BREACH_NOTES, parts)[:300]


def _carry_out(breach: Breach, row: RiskLimit | None, *, actor: User | None) -> None:
    """Do the breach's action now (at the breach, or when a person confirmed it)."""
    parts: list[dict[str, Any]] = []
    status = ActionStatus.DONE
    if breach.action == LimitAction.BLOCK_ENTRIES:
        parts = [reasons.part("entries_refused")]
    elif breach.action == LimitAction.PAUSE:
        paused = _pause_all(breach)
        parts = [reasons.part("paused", {"names": ", ".join(paused)}) if paused else reasons.part("nothing_to_pause")]
    elif breach.action == LimitAction.FLATTEN:
        paused = _pause_all(breach)
        status = ActionStatus.CONFIRMED
        running = strategies_in_scope(breach.tenant_id, breach.scope_kind, breach.scope_ref).filter(
            state__in=["running", "paused"], runner_id__gt=""
        )
        parts = [
            reasons.part("flattening", {"names": ", ".join(running.values_list("name", flat=True))})
            if running.exists()
            else reasons.part("nothing_to_flatten")
        ]
        if paused:
            parts.append(reasons.part("paused", {"names": ", ".join(paused)}))
    breach.action_status = status
    _set_note(breach, parts)
    breach.action_done_at = clock.now() if status == ActionStatus.DONE else None
    breach.save(update_fields=["action_status", "action_note", "action_note_parts", "action_done_at"])
    tenant = row.tenant if row is not None else Tenant.objects.get(pk=breach.tenant_id)
    audit_record(
        tenant=tenant,
        actor=actor,
        action=AuditAction.RISK_LIMIT_BREACH,
        obj=breach,
        summary={"event": "action", "limit": breach.limit_label, "action": breach.action, "note": breach.action_note},
    )


def pending_confirmations(*, membership: Membership | None) -> QuerySet[Breach]:
    """The member's tenant's ongoing breaches whose action waits for a person's confirmation."""
    return Breach.objects.for_member(membership, "view").filter(
        ended_at__isnull=True, action_status=ActionStatus.PENDING
    )


@transaction.atomic
def breach_confirm(*, breach: Breach, actor: User, context: AuditContext | None = None) -> Breach:
    """A person confirms a breach's pending action: it is carried out now, audited with their name."""
    breach = Breach.objects.select_for_update().get(pk=breach.pk)
    if breach.ended_at is not None:
        raise ValidationError(_("This breach has ended: there is nothing left to confirm."))
    if breach.action_status != ActionStatus.PENDING:
        raise ValidationError(_("This breach's action is not waiting for a confirmation."))
    breach.confirmed_by = actor
    breach.confirmed_at = clock.now()
    breach.save(update_fields=["confirmed_by", "confirmed_at"])
    audit_record(
        tenant=Tenant.objects.get(pk=breach.tenant_id),
        actor=actor,
        action=AuditAction.RISK_LIMIT_BREACH,
        obj=breach,
        summary={"event": "confirmed", "limit": breach.limit_label, "action": breach.action},
        context=context,
    )
    _carry_out(breach, None, actor=actor)
    return breach


# --- what the pre-trade gate and the runner read ---------------------------------------------------------------
@dataclass(frozen=True)
class Block:
    """An open breach that holds opening orders: the limit's label, and the account it is limited to (None: both
    legs)."""

    limit: str
    account_id: int | None = None


def blocks_for(pool: AccountPool, strategy_id: int | None) -> tuple[Block, ...]:
    """The open breaches that refuse opening orders on `pool` for `strategy_id` (by hand, None: any of the pool's
    strategies): blocking actions whose action is not waiting for a person."""
    scope = (
        Q(scope_kind=LimitScopeKind.DESK, scope_ref=pool.tenant_id)
        | Q(scope_kind=LimitScopeKind.POOL, scope_ref=pool.pk)
        | Q(scope_kind=LimitScopeKind.ACCOUNT, scope_ref__in=[pool.perp_account_id, pool.cfd_account_id])
    )
    if strategy_id is not None:
        scope |= Q(scope_kind=LimitScopeKind.STRATEGY, scope_ref=strategy_id)
    else:
        ids = list(_strategy_model().objects.filter(pool_id=pool.pk).values_list("pk", flat=True))
        scope |= Q(scope_kind=LimitScopeKind.STRATEGY, scope_ref__in=ids)
    rows = (
        Breach.objects.filter(tenant_id=pool.tenant_id, ended_at__isnull=True, action__in=BLOCKING_ACTIONS)
        .exclude(action_status=ActionStatus.PENDING)
        .filter(scope)
        .order_by("started_at", "pk")
        .values_list("limit_label", "scope_kind", "scope_ref")
    )
    return tuple(Block(label, int(ref) if kind == LimitScopeKind.ACCOUNT else None) for label, kind, ref in rows)


def limits_on_step(strategy: Any, *, metrics: TenantMetrics | None = None) -> Outcome | None:
    """The runner's engine step: evaluate the enabled limits covering `strategy` (None: it has none)."""
    rows = enabled_limits().filter(covering(strategy))
    if not rows.exists():
        return None
    return evaluate_limits(metrics=metrics, limits=rows)


def flatten_requested(strategy: Any) -> list[int]:
    """The open breaches whose flatten covers `strategy` and is to be carried out (confirmed or needing no one)."""
    pool = strategy.pool
    scope = (
        Q(scope_kind=LimitScopeKind.DESK, scope_ref=strategy.tenant_id)
        | Q(scope_kind=LimitScopeKind.POOL, scope_ref=pool.pk)
        | Q(scope_kind=LimitScopeKind.STRATEGY, scope_ref=strategy.pk)
    )
    return list(
        Breach.objects.filter(
            tenant_id=strategy.tenant_id,
            ended_at__isnull=True,
            action=LimitAction.FLATTEN,
            action_status=ActionStatus.CONFIRMED,
        )
        .filter(scope)
        .values_list("pk", flat=True)
    )


def flatten_finished(strategy: Any, breach_ids: Iterable[int]) -> None:
    """The runner closed every hedge of `strategy`: a flatten whose scope has no live hedge left is done."""

    live = [status.value for status in LIVE_HEDGE_STATUSES]
    for breach in Breach.objects.filter(pk__in=list(breach_ids), action_status=ActionStatus.CONFIRMED):
        strategies = strategies_in_scope(breach.tenant_id, breach.scope_kind, breach.scope_ref)
        if Hedge.objects.filter(strategy__in=strategies, status__in=live).exists():
            continue
        breach.action_status = ActionStatus.DONE
        breach.action_done_at = clock.now()
        _set_note(breach, [reasons.part("flattened", {"name": strategy.name})])
        breach.save(update_fields=["action_status", "action_done_at", "action_note", "action_note_parts"])
        audit_record(
            tenant=strategy.tenant,
            actor=None,
            action=AuditAction.RISK_LIMIT_BREACH,
            obj=breach,
            summary={"event": "flattened", "limit": breach.limit_label, "strategy": strategy.name},
        )


# --- editing ----------------------------------------------------------------------------------------------------
LIMIT_FIELDS = (
    "name",
    "scope_kind",
    "pool",
    "strategy",
    "account",
    "metric",
    "warning_level",
    "breach_level",
    "direction",
    "action",
    "confirm",
    "hysteresis",
    "enabled",
)


def limit_summary(row: RiskLimit) -> dict[str, Any]:
    return {
        name: (formatting.trimmed(value) if isinstance(value, Decimal) else value)
        for name in LIMIT_FIELDS
        for value in [getattr(row, f"{name}_id" if name in ("pool", "strategy", "account") else name)]
    }


@transaction.atomic
def limit_save(
    *, row: RiskLimit, actor: User | None, before: dict[str, Any] | None = None, context: AuditContext | None = None
) -> RiskLimit:
    """Save a validated limit (created or changed), audited with what changed. A limit disabled or changed starts
    from ok at its next evaluation when its levels moved (its open breach ends there)."""
    row.full_clean()
    created = row.pk is None
    if created:
        row.created_by = actor
    row.save()
    after = limit_summary(row)
    changed = {key: [None if before is None else before.get(key), value] for key, value in after.items()}
    if before is not None:
        changed = {key: pair for key, pair in changed.items() if pair[0] != pair[1]}
    if not row.enabled:
        limit_retire(row)
    push_risk([row.tenant_id])  # the risk centre's colours follow the limit
    audit_record(
        tenant=row.tenant,
        actor=actor,
        action=AuditAction.RISK_LIMIT_SAVED,
        obj=row,
        summary={"limit": row.label, "created": created, "changed": changed},
        context=context,
    )
    return row


@transaction.atomic
def limit_delete(*, row: RiskLimit, actor: User, context: AuditContext | None = None) -> None:
    """Delete a limit: it is retired first (its open breach ends, its alert resolves), audited, then removed."""
    row.enabled = False
    limit_retire(row)
    audit_record(
        tenant=row.tenant,
        actor=actor,
        action=AuditAction.RISK_LIMIT_SAVED,
        obj=row,
        summary={"limit": row.label, "deleted": True},
        context=context,
    )
    row.delete()


def limit_retire(row: RiskLimit) -> None:
    """A disabled limit holds nothing: its open breach ends, its alert resolves, its level returns to ok."""

    now = clock.now()
    for breach in Breach.objects.filter(limit=row, ended_at__isnull=True):
        breach.ended_at = now
        if breach.action_status in (ActionStatus.PENDING, ActionStatus.CONFIRMED):
            breach.action_status = ActionStatus.LIFTED
        # A note stored before the codes keeps its words, after the part that says the limit was disabled.
        before = breach.action_note_parts or ([reasons.verbatim(breach.action_note)] if breach.action_note else [])
        _set_note(breach, [reasons.part("limit_disabled"), *before])
        breach.save(update_fields=["ended_at", "action_status", "action_note", "action_note_parts"])
    RiskLimitState.objects.filter(limit=row).update(level=LimitLevelChoice.OK, changed_at=now)
    push_risk([row.tenant_id])
    keys = [alert_key(row.pk, level) for level in RULE_TYPES]
    for alert in Alert.objects.filter(tenant_id=row.tenant_id, dedup_key__in=keys).exclude(status="resolved"):
        alert_resolve(alert=alert, actor=None, code="limit_disabled")
