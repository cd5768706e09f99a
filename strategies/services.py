"""Writes around strategies: configuration (every change a new version), lifecycle requests, the runner lease.

Lifecycle: the web and API only *request* a transition — start → `starting`, stop → `stopping`,
pause → `paused`, resume → `running`, restart → `starting` with the lease taken away — and the runner in the
engine carries it out (reconcile, trade, flatten, release). A request the state forbids raises
`TransitionRefused` (the API answers 409). Every request and every transition the runner makes is audited.

The lease: `lease_acquire` bumps `lease_epoch` and names the runner; `lease_renew` extends it only while the
epoch is still the runner's; `trading.execution.leases.fence` (called inside every order write's transaction)
refuses a runner whose epoch is no longer current or whose lease ran out, so a stale runner cannot write an order.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.choices import AccountMode, AuditAction
from accounts.http import AuditContext
from accounts.models import AccountPool, Tenant, User
from quantarb import clock, live, reasons
from strategies.domain.params import StrategyParams, validate
from trading.execution.leases import Lease, LeaseLost, fence
from trading.instruments import sizing_specs

from .choices import ACTIVE_STATES, LifecycleAction, StrategyMode, StrategyState
from .events import strategy_group
from .messages import problem_text
from .models import Strategy, StrategyVersion
from .reasons import STATE_REASONS


class TransitionRefused(Exception):
    """The strategy's state forbids the requested action (HTTP 409)."""

    def __init__(self, message: str, *, state: str) -> None:
        super().__init__(message)
        self.message = message
        self.state = state


# --- configuration ----------------------------------------------------------------------------------------
def params_problems(params: StrategyParams, pool: AccountPool) -> dict[str, list[str]]:
    """Validation messages per field, translated (the domain returns codes and English text)."""
    problems: dict[str, list[str]] = {}
    for problem in validate(params, *sizing_specs(pool)):
        problems.setdefault(problem.field, []).append(problem_text(problem))
    return problems


def _check_pool(*, tenant: Tenant, pool: AccountPool, mode: str, strategy: Strategy | None) -> None:
    if pool.tenant_id != tenant.pk:
        raise ValidationError({"pool": [_("Choose a pool of this desk.")]})
    if not pool.enabled:
        raise ValidationError({"pool": [_("This pool is disabled; enable it on the pools page first.")]})
    pool_mode = pool.perp_account.mode
    if mode == StrategyMode.LIVE and pool_mode != AccountMode.LIVE:
        raise ValidationError({"mode": [_("A live strategy needs a pool of live accounts; this pool is paper.")]})
    if mode == StrategyMode.PAPER and pool_mode != AccountMode.PAPER:
        raise ValidationError(
            {"mode": [_("This pool trades live accounts; paper strategies run on pools of paper accounts.")]}
        )


def _check_lengths(*, name: str, note: str) -> None:
    """The name and the version note fit their columns (a 100 KB name was a database error, not a message)."""
    errors = {}
    for field, value, model in (("name", name, Strategy), ("note", note, StrategyVersion)):
        limit = int(getattr(model._meta.get_field(field), "max_length", None) or 0)
        if len(value) > limit:
            errors[field] = [
                _("Use at most %(limit)d characters (this has %(length)d).") % {"limit": limit, "length": len(value)}
            ]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def strategy_create(
    *,
    tenant: Tenant,
    name: str,
    pool: AccountPool,
    mode: str,
    params: StrategyParams,
    actor: User | None,
    note: str = "",
    context: AuditContext | None = None,
) -> Strategy:
    """Create a stopped strategy with version 1 of its parameters. Raises ValidationError naming the field."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": [_("Give the strategy a name.")]})
    _check_lengths(name=name, note=note)
    if Strategy.objects.filter(tenant=tenant, name=name).exists():
        raise ValidationError({"name": [_("A strategy of this desk already has that name.")]})
    _check_pool(tenant=tenant, pool=pool, mode=mode, strategy=None)
    problems = params_problems(params, pool)
    if problems:
        raise ValidationError(problems)
    strategy = Strategy.objects.create(
        tenant=tenant,
        name=name,
        pool=pool,
        mode=mode,
        state=StrategyState.STOPPED,
        created_by=actor,
        state_changed_at=clock.now(),
    )
    version = StrategyVersion.objects.create(
        strategy=strategy, tenant=tenant, number=1, params=params.to_json(), note=note, created_by=actor
    )
    strategy.current_version = version
    strategy.save(update_fields=["current_version"])
    audit_record(
        tenant=tenant,
        actor=actor,
        action=AuditAction.SETTINGS_CHANGED,
        obj=strategy,
        summary={"strategy": name, "version": 1, "pool": pool.name, "mode": mode, "params": params.to_json()},
        context=context,
    )
    return strategy


@transaction.atomic
def strategy_update(
    *,
    strategy: Strategy,
    params: StrategyParams,
    actor: User | None,
    name: str | None = None,
    note: str = "",
    context: AuditContext | None = None,
) -> StrategyVersion:
    """Save new parameters as the next version (the old ones stay, with the hedges they opened). A running
    strategy picks the new version up at its next decision; the pool and mode cannot change while it runs."""
    _check_lengths(name=(name or "").strip(), note=note)
    strategy = Strategy.objects.select_for_update().get(pk=strategy.pk)
    problems = params_problems(params, strategy.pool)
    if problems:
        raise ValidationError(problems)
    if name is not None and name.strip() and name.strip() != strategy.name:
        if Strategy.objects.filter(tenant_id=strategy.tenant_id, name=name.strip()).exclude(pk=strategy.pk).exists():
            raise ValidationError({"name": [_("A strategy of this desk already has that name.")]})
        strategy.name = name.strip()
        strategy.save(update_fields=["name"])
    current = strategy.current_version
    if current is not None and current.params == params.to_json() and not note:
        return current
    number = (strategy.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    version = StrategyVersion.objects.create(
        strategy=strategy,
        tenant_id=strategy.tenant_id,
        number=number,
        params=params.to_json(),
        note=note,
        created_by=actor,
    )
    strategy.current_version = version
    strategy.save(update_fields=["current_version"])
    before = current.params if current is not None else {}
    changed = {key: [before.get(key), value] for key, value in params.to_json().items() if before.get(key) != value}
    audit_record(
        tenant=strategy.tenant,
        actor=actor,
        action=AuditAction.SETTINGS_CHANGED,
        obj=strategy,
        summary={"strategy": strategy.name, "version": number, "changed": changed},
        context=context,
    )
    return version


def current_params(strategy: Strategy) -> StrategyParams:
    assert strategy.current_version is not None, "a strategy always has a version once created"
    return StrategyParams.from_json(strategy.current_version.params)


# --- lifecycle requests (web, API, admin) -----------------------------------------------------------------
# action → (states it may be requested from, state it sets)
_REQUESTS: dict[str, tuple[tuple[str, ...], str]] = {
    LifecycleAction.START: ((StrategyState.STOPPED, StrategyState.ERROR), StrategyState.STARTING),
    LifecycleAction.STOP: (
        (StrategyState.STARTING, StrategyState.RUNNING, StrategyState.PAUSED, StrategyState.ERROR),
        StrategyState.STOPPING,
    ),
    LifecycleAction.PAUSE: ((StrategyState.RUNNING,), StrategyState.PAUSED),
    LifecycleAction.RESUME: ((StrategyState.PAUSED,), StrategyState.RUNNING),
    LifecycleAction.RESTART: (
        (StrategyState.RUNNING, StrategyState.PAUSED, StrategyState.ERROR, StrategyState.STOPPED),
        StrategyState.STARTING,
    ),
}


def allowed_actions(state: str) -> list[str]:
    return [action for action, (sources, _target) in _REQUESTS.items() if state in sources]


@transaction.atomic
def strategy_request(
    *,
    strategy: Strategy,
    action: str,
    actor: User | None,
    context: AuditContext | None = None,
    reason: str = "",
    code: str = "",
    params: Mapping[str, Any] | None = None,
) -> Strategy:
    """Request a lifecycle action; the runner carries it out. Raises TransitionRefused when the state forbids it.

    Stopping a strategy in `error` (nothing runs) stops it at once. Restart takes the lease away (epoch + 1), so
    the running runner can write nothing more and the engine starts a fresh one, which reconciles first.
    """
    action = LifecycleAction(action)
    strategy = Strategy.objects.select_for_update().get(pk=strategy.pk)
    sources, target = _REQUESTS[action]
    if strategy.state not in sources:
        raise TransitionRefused(
            _("Cannot %(action)s a strategy that is %(state)s.")
            % {"action": action.label.lower(), "state": strategy.get_state_display().lower()},
            state=strategy.state,
        )
    if target in ACTIVE_STATES and strategy.state not in ACTIVE_STATES:
        other = (
            Strategy.objects.filter(pool_id=strategy.pool_id, state__in=[s.value for s in ACTIVE_STATES])
            .exclude(pk=strategy.pk)
            .first()
        )
        if other is not None:
            raise TransitionRefused(
                _("Pool %(pool)s is already traded by strategy %(other)s; stop it first.")
                % {"pool": strategy.pool.name, "other": other.name},
                state=strategy.state,
            )
        if not strategy.pool.enabled:
            raise TransitionRefused(_("The pool is disabled; enable it first."), state=strategy.state)
    before = strategy.state
    fields = ["state", "state_changed_at", "state_reason"]
    if action == LifecycleAction.STOP and before == StrategyState.ERROR and not strategy.runner_id:
        target = StrategyState.STOPPED
    if action == LifecycleAction.RESTART:
        strategy.lease_epoch = F("lease_epoch") + 1
        strategy.runner_id = ""
        strategy.lease_until = None
        fields += ["lease_epoch", "runner_id", "lease_until"]
    strategy.state = target
    strategy.state_changed_at = clock.now()
    _set_reason(strategy, reason, code, params)
    fields += ["state_reason_code", "state_reason_params"]
    try:
        strategy.save(update_fields=fields)
    except IntegrityError:  # another strategy took the pool between the check and the write
        raise TransitionRefused(_("The pool is already traded by another strategy."), state=before) from None
    strategy.refresh_from_db()
    audit_record(
        tenant=strategy.tenant,
        actor=actor,
        action=AuditAction.STRATEGY_STOPPED
        if action in (LifecycleAction.STOP, LifecycleAction.PAUSE)
        else AuditAction.STRATEGY_STARTED,
        obj=strategy,
        summary={"strategy": strategy.name, "request": action.value, "from": before, "to": strategy.state},
        context=context,
    )
    push_status(strategy)
    return strategy


# --- the runner's side --------------------------------------------------------------------------------------
def lease_acquire(*, strategy_id: int, runner_id: str, ttl: timedelta) -> Lease | None:
    """Take the strategy's lease if it is free or expired (one UPDATE, so two engines cannot both win).
    Returns None when another runner holds a live lease or the strategy is not meant to run."""
    now = clock.now()
    taken = (
        Strategy.objects.filter(pk=strategy_id, state__in=[s.value for s in ACTIVE_STATES])
        .filter(Q(runner_id="") | Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(runner_id=runner_id))
        .update(runner_id=runner_id, lease_epoch=F("lease_epoch") + 1, lease_until=now + ttl, heartbeat_at=now)
    )
    if not taken:
        return None
    epoch = Strategy.objects.filter(pk=strategy_id).values_list("lease_epoch", flat=True).get()
    return Lease(strategy_id, runner_id, int(epoch))


def lease_renew(lease: Lease, *, ttl: timedelta, decision: dict[str, Any] | None = None) -> Strategy:
    """Extend the lease and beat the heartbeat; raises LeaseLost when the epoch is no longer ours."""
    now = clock.now()
    updates: dict[str, Any] = {"lease_until": now + ttl, "heartbeat_at": now}
    if decision is not None:
        updates.update(last_decision=decision, last_decision_at=now)
    renewed = Strategy.objects.filter(
        pk=lease.strategy_id, runner_id=lease.runner_id, lease_epoch=lease.epoch, lease_until__gte=now
    ).update(**updates)
    if not renewed:
        raise LeaseLost(f"strategy {lease.strategy_id}: lease epoch {lease.epoch} lost")
    return Strategy.objects.select_related("pool", "current_version").get(pk=lease.strategy_id)


def _set_reason(strategy: Strategy, typed: str, code: str, params: Mapping[str, Any] | None) -> None:
    """A system reason as its code, parameters and English rendering; a person's words as typed (no code)."""
    strategy.state_reason_params = reasons.plain(params) if code else {}
    strategy.state_reason_code = code
    strategy.state_reason = (reasons.english(STATE_REASONS, code, strategy.state_reason_params) if code else typed)[
        :300
    ]


@transaction.atomic
def runner_transition(
    *, lease: Lease, to: str, code: str = "", params: Mapping[str, Any] | None = None, release: bool = False
) -> Strategy:
    """The runner moves its strategy (starting → running, stopping → stopped, anything → error), audited, its
    reason a code of strategies/reasons.py with `params`. `release` gives the lease up (stopped, error)."""
    strategy: Strategy = fence(lease)
    before = strategy.state
    strategy.state = to
    strategy.state_changed_at = clock.now()
    _set_reason(strategy, "", code, params)
    fields = ["state", "state_changed_at", "state_reason", "state_reason_code", "state_reason_params"]
    if release:
        strategy.runner_id = ""
        strategy.lease_until = None
        fields += ["runner_id", "lease_until"]
    strategy.save(update_fields=fields)
    if before != to:
        audit_record(
            tenant=strategy.tenant,
            actor=None,
            action=AuditAction.STRATEGY_STOPPED
            if to in (StrategyState.STOPPED, StrategyState.ERROR)
            else AuditAction.STRATEGY_STARTED,
            obj=strategy,
            summary={
                "strategy": strategy.name,
                "from": before,
                "to": to,
                "reason": strategy.state_reason,
                "runner": lease.runner_id,
            },
        )
    push_status(strategy)
    return strategy


def push_status(strategy: Strategy) -> None:
    """Tell the strategy's open pages to refresh its status panel (after commit)."""
    live.send_on_commit(strategy_group(strategy.pk), {"type": "strategy.changed", "strategy_id": strategy.pk})


def strategy_pause_for_risk(strategy: Strategy, limit: str) -> bool:
    """Pause a running strategy because the risk limit named `limit` was breached (risk/limits.py, through the
    composition root): the same lifecycle request as a person's pause, audited with the limit as its reason.
    False: it was not running (nothing to pause)."""
    try:
        strategy_request(
            strategy=strategy, action=LifecycleAction.PAUSE, actor=None, code="risk_limit", params={"limit": limit}
        )
    except TransitionRefused:
        return False
    return True
