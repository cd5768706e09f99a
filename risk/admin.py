"""Kill switches in the admin, read-only: tripping and resetting happen on the Risk page or the API, which audit,
alert and push the change."""

from django.contrib import admin

from accounts.admin_site import TenantScopedAdmin
from accounts.permissions import Perm

from .models import KillSwitch


@admin.register(KillSwitch)
class KillSwitchAdmin(TenantScopedAdmin):
    read_only = True
    view_permission_required = Perm.TRADING_READ
    list_display = ("scope", "strategy", "trigger", "reason", "tripped_by", "tripped_at", "reset_by", "reset_at")
    list_filter = ("scope", "trigger")
    csv_fields = ("scope", "strategy", "trigger", "reason", "tripped_by", "tripped_at", "reset_by", "reset_at")
