"""Strategies in the admin, tenant by tenant: lifecycle actions go through `strategy_request` (audited, 409-like
refusals shown as messages); parameters change only through the portal or the API (each change a version), so
the change form shows them read-only and versions are read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts.admin_site import TenantScopedAdmin
from accounts.http import AuditContext, request_membership, require_actor
from accounts.permissions import Perm

from .choices import LifecycleAction
from .models import Strategy, StrategyVersion
from .services import TransitionRefused, strategy_request


def _lifecycle(action: str) -> Any:
    def run(model_admin: StrategyAdmin, request: HttpRequest, queryset: QuerySet[Strategy]) -> None:
        # The strategies the caller operates, read once for the whole selection (not once per strategy).
        operable = set(Strategy.objects.for_member(request_membership(request), "trade").values_list("pk", flat=True))
        context = AuditContext.from_request(request)
        done = 0
        for strategy in queryset.select_related("pool"):
            if not request.user.is_superuser and strategy.pk not in operable:
                model_admin.message_user(
                    request, _("%(name)s: its pool is not granted to you.") % {"name": strategy.name}, messages.ERROR
                )
                continue
            try:
                strategy_request(
                    strategy=strategy,
                    action=action,
                    actor=require_actor(request),
                    context=context,
                )
            except TransitionRefused as refused:
                model_admin.message_user(request, f"{strategy.name}: {refused.message}", messages.WARNING)
            else:
                done += 1
        if done:
            model_admin.message_user(
                request,
                _("%(action)s requested for %(count)s strategies.")
                % {"action": LifecycleAction(action).label, "count": done},
                messages.SUCCESS,
            )

    run.__name__ = f"request_{action}"
    run.short_description = _("%(action)s the selected strategies") % {"action": LifecycleAction(action).label}  # type: ignore[attr-defined]
    run.allowed_permissions = ("change",)  # type: ignore[attr-defined]
    return run


@admin.register(Strategy)
class StrategyAdmin(TenantScopedAdmin):
    view_permission_required = Perm.TRADING_READ
    change_permission_required = Perm.STRATEGY_OPERATE
    list_display = ("name", "state", "pool", "mode", "current_version", "heartbeat_at", "state_changed_at")
    list_filter = ("state", "mode", "pool")
    search_fields = ("name",)
    actions = [_lifecycle(action) for action in LifecycleAction.values]
    csv_fields = ("name", "state", "pool", "mode", "current_version", "heartbeat_at", "state_changed_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in Strategy._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # created through the portal or the API: validated, versioned, audited


@admin.register(StrategyVersion)
class StrategyVersionAdmin(TenantScopedAdmin):
    read_only = True
    view_permission_required = Perm.TRADING_READ
    list_display = ("strategy", "number", "created_by", "created_at", "note")
    list_filter = ("strategy",)
    csv_fields = ("strategy", "number", "params", "note", "created_by", "created_at")
