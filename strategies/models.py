"""Strategies: a versioned configuration on one pool, a lifecycle state and the runner's lease.

Every change of parameters is a new `StrategyVersion` (never edited); every hedge records the version that
opened it. The lease (`runner_id`, `lease_epoch`, `lease_until`) makes one runner per strategy across
processes: taking the lease bumps the epoch, and every order write checks the epoch in the same transaction
(trading/execution/services.py), so a runner whose lease was taken over cannot trade.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import AccountPool, Tenant, User
from accounts.scoping import PoolOwnedQuerySet, TenantQuerySet
from quantarb import phrases, reasons

from .choices import ACTIVE_STATES, StrategyMode, StrategyState
from .reasons import STATE_REASONS


class Strategy(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="strategies", verbose_name=_("tenant"))
    name = models.CharField(_("name"), max_length=120)
    pool = models.ForeignKey(
        AccountPool, on_delete=models.PROTECT, related_name="strategies", verbose_name=_("account pool")
    )
    mode = models.CharField(_("mode"), max_length=8, choices=StrategyMode.choices, default=StrategyMode.PAPER)
    state = models.CharField(_("state"), max_length=10, choices=StrategyState.choices, default=StrategyState.STOPPED)
    current_version = models.ForeignKey(
        "StrategyVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("current version"),
    )
    state_changed_at = models.DateTimeField(_("state changed"), null=True, blank=True)
    state_reason = models.CharField(_("state reason"), max_length=300, blank=True)
    # A reason the system gave is a code and its parameters (strategies/reasons.py), translated when shown;
    # `state_reason` keeps its English rendering. A person's reason has no code and is kept as typed.
    state_reason_code = models.CharField(_("state reason code"), max_length=40, blank=True)
    state_reason_params = models.JSONField(_("state reason parameters"), default=dict, blank=True)
    # The runner's lease. `lease_epoch` only ever grows; an order write carries the epoch it was planned under.
    runner_id = models.CharField(_("runner"), max_length=80, blank=True)
    lease_epoch = models.PositiveBigIntegerField(_("lease epoch"), default=0)
    lease_until = models.DateTimeField(_("lease until"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("heartbeat"), null=True, blank=True)
    last_decision = models.JSONField(_("last decision"), default=dict, blank=True)
    last_decision_at = models.DateTimeField(_("last decision at"), null=True, blank=True)
    created_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True, verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = PoolOwnedQuerySet.as_manager()

    class Meta:
        verbose_name = _("strategy")
        verbose_name_plural = _("strategies")
        ordering = ["name"]
        permissions = [("operate_strategy", _("Can start, stop and configure this strategy"))]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="strategy_unique_name"),
            # A pool is traded by at most one strategy that is not stopped (the services say so first).
            models.UniqueConstraint(
                fields=["pool"],
                condition=models.Q(state__in=[state.value for state in ACTIVE_STATES]),
                name="strategy_one_active_per_pool",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def state_reason_text(self) -> str:
        """Why it is in its state, in the reader's language (a system reason's code translated, a person's words
        as typed)."""
        return reasons.render(
            STATE_REASONS, self.state_reason_code, self.state_reason_params, fallback=self.state_reason
        )

    @property
    def state_reason_phrase(self) -> phrases.Phrase | str:
        """The reason as a phrase, for words written now and read later (an alert's title)."""
        return phrases.coded(STATE_REASONS, self.state_reason_code, self.state_reason_params, self.state_reason)


class StrategyVersion(models.Model):
    """One immutable set of parameters (strategies/domain/params.py `StrategyParams.to_json`)."""

    strategy = models.ForeignKey(
        Strategy, on_delete=models.CASCADE, related_name="versions", verbose_name=_("strategy")
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant"))
    number = models.PositiveIntegerField(_("version"))
    params: models.JSONField[Any, Any] = models.JSONField(_("parameters"))
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True, verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("strategy version")
        verbose_name_plural = _("strategy versions")
        ordering = ["strategy", "-number"]
        constraints = [models.UniqueConstraint(fields=["strategy", "number"], name="strategy_version_unique_number")]

    def __str__(self) -> str:
        return f"{self.strategy_id} v{self.number}"
