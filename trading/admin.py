from django.contrib import admin
from django.http import HttpRequest

from accounts.admin_site import TenantScopedAdmin
from accounts.permissions import Perm
from trading.models import (
    CalendarException,
    FundingRateRecord,
    Instrument,
    PairAccess,
    QuoteSource,
    ReconciliationReport,
    SessionCalendar,
    SourcePair,
    SwapTermsRecord,
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
