"""Login lockouts in the Django admin, for superusers only: who is locked, and an action that unlocks (audited).

Registered from `AccountsConfig.ready` rather than axes' own admin (AXES_ENABLE_ADMIN is off): axes' pages follow
model permissions, which staff of the tenant-scoped admin may hold; unlocking a username is a platform decision.
"""

from __future__ import annotations

from typing import Any

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .http import AuditContext, require_actor
from .services import lockout_clear


def _superuser(request: HttpRequest) -> bool:
    user: Any = request.user
    return bool(user.is_active and user.is_superuser)


class LockoutAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("username", "failures_since_start", "locked", "attempt_time", "ip_address", "path_info")
    list_filter = ("attempt_time",)
    search_fields = ("username", "ip_address")
    ordering = ("-attempt_time",)
    fields = ("username", "failures_since_start", "attempt_time", "ip_address", "user_agent", "path_info")
    readonly_fields = fields
    actions = ["unlock"]

    @admin.display(boolean=True, description=_("locked"))
    def locked(self, obj: AccessAttempt) -> bool:
        return bool(obj.failures_since_start >= settings.AXES_FAILURE_LIMIT)

    @admin.action(description=_("Unlock the selected usernames"))
    def unlock(self, request: HttpRequest, queryset: QuerySet[AccessAttempt]) -> None:
        usernames = sorted({name for name in queryset.values_list("username", flat=True) if name})
        for username in usernames:
            lockout_clear(username=username, actor=require_actor(request), context=AuditContext.from_request(request))
        self.message_user(
            request,
            ngettext("Unlocked %(count)d username.", "Unlocked %(count)d usernames.", len(usernames))
            % {"count": len(usernames)},
            messages.SUCCESS,
        )

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _superuser(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _superuser(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Unlocking goes through the action, which audits; deleting rows would not.
        return False


def register(site: admin.AdminSite) -> None:
    if not site.is_registered(AccessAttempt):
        site.register(AccessAttempt, LockoutAdmin)
