from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts.admin_site import TenantScopedAdmin
from accounts.http import AuditContext, require_actor
from accounts.permissions import Perm
from trading.models import (
    CalendarException,
    CashFlow,
    EquityPoint,
    FundingRateRecord,
    Instrument,
    PairAccess,
    QuoteSource,
    ReconciliationReport,
    SessionCalendar,
    SourcePair,
    SwapTermsRecord,
)
from trading.portfolio.cashflows import (
    CashFlowError,
    cash_flow_approve,
    cash_flow_reject,
    cash_flow_withdraw,
)


class CalendarExceptionInline(admin.TabularInline):
    model = CalendarException
    extra = 0


@admin.register(SessionCalendar)
class SessionCalendarAdmin(admin.ModelAdmin):
    list_display = ("name", "server_time", "always_open")
    inlines = [CalendarExceptionInline]


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = ("symbol", "venue", "kind", "quote_currency", "contract_size", "tick_size", "quantity_step")
    list_filter = ("venue", "kind")


@admin.register(QuoteSource)
class QuoteSourceAdmin(admin.ModelAdmin):
    list_display = ("label", "key", "venue", "endpoint", "terminal", "instrument", "tenant")
    list_filter = ("venue", "tenant")


class PairAccessInline(admin.TabularInline):
    model = PairAccess
    extra = 0


@admin.register(SourcePair)
class SourcePairAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "perp_source",
        "cfd_source",
        "entry_threshold",
        "exit_threshold",
        "rate_source",
        "enabled",
        "tenant",
    )
    list_filter = ("enabled", "rate_source", "tenant")
    inlines = [PairAccessInline]


class RecordedOnlyAdmin(admin.ModelAdmin):
    """Venue records written by a beat job: read, never added, changed or deleted by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(FundingRateRecord)
class FundingRateRecordAdmin(RecordedOnlyAdmin):
    list_display = ("source", "funding_time", "rate", "mark_price", "recorded_at")
    list_filter = ("source",)
    date_hierarchy = "funding_time"


@admin.register(SwapTermsRecord)
class SwapTermsRecordAdmin(RecordedOnlyAdmin):
    list_display = ("source", "day", "swap_mode", "swap_long", "swap_short", "swap_rollover3days", "currency_profit")
    list_filter = ("source",)
    date_hierarchy = "day"


# --- execution records, tenant by tenant (read-only: engine and services write them) -------------------------


@admin.register(ReconciliationReport)
class ReconciliationReportAdmin(TenantScopedAdmin):
    read_only = True
    view_permission_required = Perm.TRADING_READ
    list_display = ("id", "pool", "strategy", "trigger", "status", "started_at", "synced_by", "synced_at")
    list_filter = ("status", "trigger", "pool")
    csv_fields = ("id", "pool", "strategy", "trigger", "status", "differences", "started_at", "finished_at")


# --- the portfolio: cash flows and the equity series, tenant by tenant --------------------------------------------
def _cash_flow_action(decision: str, label: Any) -> Any:
    """An admin action that decides the selected flows through the ledger's own services (the same rules as the
    portal and the API: a second admin approves or rejects, only pending flows are withdrawn; each audited)."""

    def run(model_admin: CashFlowAdmin, request: HttpRequest, queryset: QuerySet[CashFlow]) -> None:
        done = 0
        seen: set[int] = set()
        for flow in queryset.select_related("account").order_by("pk"):
            if flow.pk in seen:
                continue  # the other side of a transfer decided with it
            seen.update({flow.pk, flow.transfer_peer_id or 0})
            try:
                if decision == "approve":
                    cash_flow_approve(
                        flow=flow, actor=require_actor(request), context=AuditContext.from_request(request)
                    )
                elif decision == "reject":
                    cash_flow_reject(
                        flow=flow, actor=require_actor(request), context=AuditContext.from_request(request)
                    )
                else:
                    cash_flow_withdraw(
                        flow=flow, actor=require_actor(request), context=AuditContext.from_request(request)
                    )
            except CashFlowError as refused:
                model_admin.message_user(request, f"{flow}: {refused}", messages.WARNING)
            else:
                done += 1
        if done:
            model_admin.message_user(
                request, _("%(action)s: %(count)s cash flows.") % {"action": label, "count": done}, messages.SUCCESS
            )

    run.__name__ = f"cash_flow_{decision}"
    run.short_description = label  # type: ignore[attr-defined]
    run.allowed_permissions = ("change",)  # type: ignore[attr-defined]
    return run


@admin.register(CashFlow)
class CashFlowAdmin(TenantScopedAdmin):
    """The cash-flow ledger, read-only field by field: entries are made on the portal or the API (validated, valued
    at the rate of their moment); admins approve, reject or withdraw pending ones here through the same services.
    Nothing is deleted — a booked flow is corrected by a new entry."""

    view_permission_required = Perm.TRADING_READ
    change_permission_required = Perm.CASH_FLOW_MANAGE
    list_display = ("at", "account", "kind", "status", "amount", "currency", "amount_usd", "source", "requested_by")
    list_filter = ("status", "kind", "source", "account")
    search_fields = ("note", "venue_ref", "account__label")
    date_hierarchy = "at"
    actions = [
        _cash_flow_action("approve", _("Approve the selected cash flows")),
        _cash_flow_action("reject", _("Reject the selected cash flows")),
        _cash_flow_action("withdraw", _("Withdraw the selected cash flows")),
    ]
    csv_fields = ("id", "at", "account", "kind", "status", "source", "amount", "currency", "usd_per_usdt",
                  "amount_usd", "venue_ref", "note", "requested_by", "decided_by", "decided_at",
                  "booked_at")  # fmt: skip

    def get_queryset(self, request: HttpRequest) -> QuerySet[CashFlow]:
        return super().get_queryset(request).select_related("account", "requested_by", "decided_by")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in CashFlow._meta.fields]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The list's actions (approve, reject, withdraw) need it; one flow's page is read-only (nothing to save).
        return obj is None and super().has_change_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # entered on the portal or the API: validated, valued in USD, approved, audited

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the ledger loses nothing: a pending flow is withdrawn, a booked one corrected by a new entry


@admin.register(EquityPoint)
class EquityPointAdmin(TenantScopedAdmin):
    """The equity series as the beat job and the backfill wrote it: read, never written by hand."""

    read_only = True
    view_permission_required = Perm.TRADING_READ
    list_display = ("at", "scope", "scope_id", "resolution", "equity", "flows", "open_hedges")
    ordering = ("-at", "scope", "scope_id")
    list_filter = ("resolution", "scope")
    date_hierarchy = "at"
    show_full_result_count = False  # a year of points per scope: no second COUNT(*) per page
    csv_fields = ("at", "scope", "scope_id", "resolution", "equity", "flows", "pnl_spread", "pnl_fees",
                  "pnl_funding", "pnl_swap", "pnl_fx", "open_hedges")  # fmt: skip
