from django.contrib import admin

from accounts.admin_site import TenantScopedAdmin
from accounts.permissions import Perm

from .models import (
    CalendarException,
    Instrument,
    PairAccess,
    QuoteSource,
    ReconciliationReport,
    SessionCalendar,
    SourcePair,
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


# --- execution records, tenant by tenant (read-only: engine and services write them) -------------------------


@admin.register(ReconciliationReport)
class ReconciliationReportAdmin(TenantScopedAdmin):
    read_only = True
    view_permission_required = Perm.TRADING_READ
    list_display = ("id", "pool", "strategy", "trigger", "status", "started_at", "synced_by", "synced_at")
    list_filter = ("status", "trigger", "pool")
    csv_fields = ("id", "pool", "strategy", "trigger", "status", "differences", "started_at", "finished_at")
