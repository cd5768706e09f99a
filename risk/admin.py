"""Kill switches in the admin, read-only: tripping and resetting happen on the Risk page or the API, which audit,
alert and push the change. The desk's compliance rules, edited here by its admins; transfers, read-only."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts.admin_site import TenantScopedAdmin, is_platform_operator
from accounts.audit import audit_record
from accounts.choices import AuditAction
from accounts.http import AuditContext, require_actor
from accounts.permissions import Perm

from .models import ComplianceRule, GapMoveOverride, KillSwitch, ScheduledMarginChange, Transfer


@admin.register(KillSwitch)
class KillSwitchAdmin(TenantScopedAdmin):
    read_only = True
    view_permission_required = Perm.TRADING_READ
    list_display = ("scope", "strategy", "trigger", "reason", "tripped_by", "tripped_at", "reset_by", "reset_at")
    list_filter = ("scope", "trigger")
    csv_fields = ("scope", "strategy", "trigger", "reason", "tripped_by", "tripped_at", "reset_by", "reset_at")


@admin.register(ComplianceRule)
class ComplianceRuleAdmin(TenantScopedAdmin):
    """The desk's compliance rules: everyone who opens the admin reads them; admins add, change
    and delete them. The tenant is the active one; every save and delete is audited."""

    view_permission_required = Perm.ADMIN_SITE
    change_permission_required = Perm.SETTINGS_MANAGE
    add_permission_required = Perm.SETTINGS_MANAGE
    delete_permission_required = Perm.SETTINGS_MANAGE
    list_display = ("name", "kind", "enabled", "describe", "updated_at")
    list_filter = ("kind", "enabled")
    search_fields = ("name", "instrument", "note")
    filter_horizontal = ("accounts",)
    csv_fields = ("name", "kind", "enabled", "days", "start_time", "end_time", "timezone", "max_orders", "instrument")
    fieldsets = (
        (None, {"fields": ("name", "kind", "enabled", "note")}),
        (_("Trading window"), {"fields": ("days", "start_time", "end_time", "timezone")}),
        (_("Orders per day"), {"fields": ("max_orders",)}),
        (_("Restricted instrument"), {"fields": ("instrument",)}),
        (_("Pattern day trader"), {"fields": ("pdt_day_trades", "pdt_window_days", "pdt_equity_floor", "accounts")}),
    )

    @admin.display(description=_("rule"))
    def describe(self, obj: ComplianceRule) -> str:
        return obj.describe()

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if is_platform_operator(request) and obj is None:
            return ((None, {"fields": ("tenant",)}), *fieldsets)
        return fieldsets

    def save_model(self, request: HttpRequest, obj: ComplianceRule, form: Any, change: bool) -> None:
        if not change and not obj.tenant_id:
            obj.tenant = request.tenant  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        rule = form.instance
        audit_record(
            tenant=rule.tenant,
            actor=require_actor(request),
            action=AuditAction.COMPLIANCE_RULE_SAVED,
            obj=rule,
            summary={"created": not change, "changed": list(form.changed_data), **rule_summary(rule)},
            context=AuditContext.from_request(request),
        )

    def delete_model(self, request: HttpRequest, obj: ComplianceRule) -> None:
        summary, tenant = rule_summary(obj), obj.tenant
        super().delete_model(request, obj)
        audit_record(
            tenant=tenant,
            actor=require_actor(request),
            action=AuditAction.COMPLIANCE_RULE_DELETED,
            summary=summary,
            context=AuditContext.from_request(request),
        )

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for rule in list(queryset):
            self.delete_model(request, rule)


def rule_summary(rule: ComplianceRule) -> dict[str, Any]:
    return {
        "id": rule.pk,
        "name": rule.name,
        "kind": rule.kind,
        "enabled": rule.enabled,
        "rule": rule.describe(),
        "accounts": [account.label for account in rule.accounts.all()] if rule.pk else [],
    }


@admin.register(Transfer)
class TransferAdmin(TenantScopedAdmin):
    """Transfers, read-only: requested, approved and completed on the Transfers page or the API (audited)."""

    read_only = True
    view_permission_required = Perm.TRADING_READ
    list_display = ("id", "from_account", "to_account", "amount", "currency", "status", "requested_by", "requested_at")
    list_filter = ("status",)
    csv_fields = ("id", "from_account", "to_account", "amount", "currency", "status", "venue_ref", "requested_at")


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
