"""Kill switches in the admin, read-only: tripping and resetting happen on the Risk page or the API, which audit,
alert and push the change."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from accounts.admin_site import TenantScopedAdmin, is_platform_operator
from accounts.permissions import Perm

from .models import GapMoveOverride, KillSwitch, ScheduledMarginChange


@admin.register(KillSwitch)
class KillSwitchAdmin(TenantScopedAdmin):
    read_only = True
    view_permission_required = Perm.TRADING_READ
    list_display = ("scope", "strategy", "trigger", "reason", "tripped_by", "tripped_at", "reset_by", "reset_at")
    list_filter = ("scope", "trigger")
    csv_fields = ("scope", "strategy", "trigger", "reason", "tripped_by", "tripped_at", "reset_by", "reset_at")


class _DeskRiskSettingAdmin(TenantScopedAdmin):
    """Risk settings of the active desk, kept by its admins (`settings.manage`): the desk is the active tenant's,
    never chosen (a platform operator picks it)."""

    view_permission_required = Perm.TRADING_READ
    change_permission_required = Perm.SETTINGS_MANAGE
    add_permission_required = Perm.SETTINGS_MANAGE
    delete_permission_required = Perm.SETTINGS_MANAGE

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        excluded = tuple(super().get_exclude(request, obj) or ())
        return excluded if is_platform_operator(request) else (*excluded, "tenant")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not is_platform_operator(request):
            obj.tenant = request.tenant  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)


@admin.register(GapMoveOverride)
class GapMoveOverrideAdmin(_DeskRiskSettingAdmin):
    list_display = ("p95", "p99", "note", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        """One override per desk: once it exists, it is changed (or deleted), not added again."""
        tenant = getattr(request, "tenant", None)
        if not is_platform_operator(request) and tenant and GapMoveOverride.objects.filter(tenant=tenant).exists():
            return False
        return super().has_add_permission(request)


@admin.register(ScheduledMarginChange)
class ScheduledMarginChangeAdmin(_DeskRiskSettingAdmin):
    list_display = ("effective_at", "cfd_margin_rate_buy", "cfd_margin_rate_sell", "note", "created_at")
    date_hierarchy = "effective_at"
