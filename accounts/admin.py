"""The admin of identity and the audit trail, scoped to the active tenant (accounts/admin_site.py).

- Tenant: admins change their tenant's settings; compliance reads them.
- Membership: admins change roles and remove members, through the services, so each change is audited and the
  user's open sockets re-check their access. Adding leads to the portal's members page: members join by
  accepting an invitation.
- Audit events and the change log: read-only for everyone, superusers included; admins and compliance filter
  and export them (CSV) for their tenant.
- User: the platform's users, for superusers only (a tenant admin manages memberships, not accounts that may
  belong to other desks).
"""

from __future__ import annotations

from typing import Any

from auditlog.mixins import LogEntryAdminMixin
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.filters import DateFieldListFilter, SimpleListFilter
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .admin_site import TenantScopedAdmin, csv_response, is_platform_operator
from .audit import audit_record
from .choices import AuditAction, Role
from .http import AuditContext, require_actor
from .models import AuditEvent, ChangeLogEntry, Membership, Tenant, User
from .permissions import Perm
from .services import access_changed, desk_create, is_last_admin, membership_remove, membership_set


# --- users (platform operators) ---------------------------------------------------------------------------
class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        (_("quantarb"), {"fields": ("status", "language", "theme")}),
    )
    list_display = ("username", "email", "status", "is_staff", "last_login")
    list_filter = ("status", "is_staff")
    inlines = [MembershipInline]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        users = [form.instance.pk]
        access_changed(user_ids=users)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        user_id = obj.pk
        super().delete_model(request, obj)
        access_changed(user_ids=[user_id])


# --- tenants ---------------------------------------------------------------------------------------------
@admin.register(Tenant)
class TenantAdmin(TenantScopedAdmin):
    tenant_path = "pk"
    view_permission_required = Perm.ADMIN_SITE
    change_permission_required = Perm.SETTINGS_MANAGE
    list_display = ("name", "slug", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The slug names the tenant in tokens and URLs: only platform operators rename it.
        return () if is_platform_operator(request) else ("slug", "created_at")

    def get_prepopulated_fields(self, request: HttpRequest, obj: Any = None) -> dict[str, Any]:
        return dict(self.prepopulated_fields) if is_platform_operator(request) else {}

    def save_model(self, request: HttpRequest, obj: Tenant, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
        else:
            desk_create(tenant=obj, actor=require_actor(request))
        if change and form.changed_data:
            before = {name: form.initial.get(name) for name in form.changed_data}
            after = {name: form.cleaned_data.get(name) for name in form.changed_data}
            audit_record(
                tenant=obj,
                actor=require_actor(request),
                action=AuditAction.SETTINGS_CHANGED,
                obj=obj,
                summary={"before": before, "after": after},
                context=AuditContext.from_request(request),
            )

    def delete_model(self, request: HttpRequest, obj: Tenant) -> None:
        users = list(obj.memberships.values_list("user_id", flat=True))
        super().delete_model(request, obj)
        access_changed(user_ids=users)


# --- memberships -----------------------------------------------------------------------------------------
class MembershipChangeAdminForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ("role",)

    def clean_role(self) -> str:
        role = self.cleaned_data["role"]
        if role != Role.ADMIN and is_last_admin(self.instance):
            raise ValidationError(
                _("%(tenant)s must keep at least one active admin: make someone else admin first.")
                % {"tenant": self.instance.tenant.name}
            )
        return str(role)


@admin.register(Membership)
class MembershipAdmin(TenantScopedAdmin):
    view_permission_required = Perm.MEMBER_VIEW
    change_permission_required = Perm.MEMBER_MANAGE
    add_permission_required = Perm.MEMBER_MANAGE
    delete_permission_required = Perm.MEMBER_MANAGE
    list_display = ("user", "role", "user_status", "user_last_login", "created_at")
    list_filter = ("role", "user__status")
    search_fields = ("user__username", "user__email")
    list_select_related = ("user", "tenant")
    csv_fields = ("user", "role", "created_at")
    form = MembershipChangeAdminForm

    @admin.display(description=_("status"), ordering="user__status")
    def user_status(self, obj: Membership) -> str:
        return str(obj.user.get_status_display())

    @admin.display(description=_("last login"), ordering="user__last_login")
    def user_last_login(self, obj: Membership) -> Any:
        return obj.user.last_login

    def get_list_display(self, request: HttpRequest) -> Any:
        shown = super().get_list_display(request)
        return ("tenant", *shown) if is_platform_operator(request) else shown

    fields = ("user", "tenant", "role", "created_at")
    readonly_fields = ("user", "tenant", "created_at")

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        """Members join by accepting an invitation, sent from the portal's members page (one form, one answer
        whether or not the name is an account): "add" leads there."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        self.message_user(request, _("Members join by invitation: invite them here."), messages.INFO)
        return HttpResponseRedirect(reverse("members"))

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        actor: Any = request.user
        saved = membership_set(
            user=obj.user, tenant=obj.tenant, role=obj.role, actor=actor, context=AuditContext.from_request(request)
        )
        obj.pk, obj.user, obj.tenant, obj.created_at = saved.pk, saved.user, saved.tenant, saved.created_at

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Nothing related to save: the services wrote the membership."""

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and is_last_admin(obj):
            return False  # the tenant's last admin stays; the change page says why
        return super().has_delete_permission(request, obj)

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        membership_remove(membership=obj, actor=require_actor(request), context=AuditContext.from_request(request))

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet[Membership]) -> None:
        for membership in queryset.select_related("user", "tenant"):
            try:
                membership_remove(
                    membership=membership, actor=require_actor(request), context=AuditContext.from_request(request)
                )
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.ERROR)


# --- the audit trail ------------------------------------------------------------------------------------------
class _DistinctValueFilter(SimpleListFilter):
    """A filter whose choices are the distinct values of one column among the rows the user may see."""

    field_name = ""

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        values = (
            model_admin.get_queryset(request)
            .exclude(**{self.field_name: ""})
            .order_by(self.field_name)
            .values_list(self.field_name, flat=True)
            .distinct()[:200]
        )
        return [(value, value) for value in values]

    def queryset(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> models.QuerySet[Any]:
        value = self.value()
        return queryset.filter(**{self.field_name: value}) if value else queryset


class ActorFilter(_DistinctValueFilter):
    title = _("actor")
    parameter_name = "actor"
    field_name = "actor_username"


class ObjectTypeFilter(_DistinctValueFilter):
    title = _("object type")
    parameter_name = "object_type"
    field_name = "object_type"


class CsvExportMixin:
    """An "Export CSV" button on the changelist that exports exactly the filtered list the user sees."""

    change_list_template = "admin/quantarb_csv_change_list.html"

    def get_urls(self) -> list[Any]:
        info = self.model._meta.app_label, self.model._meta.model_name  # type: ignore[attr-defined]
        own = [
            path(
                "export.csv",
                self.admin_site.admin_view(self.export_filtered_csv),  # type: ignore[attr-defined]
                name="{}_{}_export".format(*info),
            )
        ]
        urls: list[Any] = super().get_urls()
        return own + urls

    def export_filtered_csv(self, request: HttpRequest) -> StreamingHttpResponse:

        if not self.has_view_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)  # type: ignore[attr-defined]
        return csv_response(self, changelist.get_queryset(request))  # type: ignore[arg-type]


@admin.register(AuditEvent)
class AuditEventAdmin(CsvExportMixin, TenantScopedAdmin):
    read_only = True
    view_permission_required = Perm.AUDIT_READ
    list_display = ("created_at", "seq", "actor_username", "action", "object_type", "object_id", "ip")
    list_filter = ("action", ActorFilter, ObjectTypeFilter, ("created_at", DateFieldListFilter))
    search_fields = ("actor_username", "object_id", "correlation_id")
    date_hierarchy = "created_at"
    list_per_page = 50
    ordering = ("-created_at", "-seq")
    show_full_result_count = False
    csv_fields = (
        "tenant_id",
        "seq",
        "created_at",
        "actor_username",
        "action",
        "object_type",
        "object_id",
        "summary",
        "ip",
        "user_agent",
        "correlation_id",
        "prev_hash",
        "hash",
    )

    def get_list_display(self, request: HttpRequest) -> Any:
        shown = super().get_list_display(request)
        return ("tenant", *shown) if is_platform_operator(request) else shown


# auditlog registers its own admin for the log entry model (ours, through AUDITLOG_LOGENTRY_MODEL): replace it
# with one scoped to the tenant.
if admin.site.is_registered(ChangeLogEntry):
    admin.site.unregister(ChangeLogEntry)


@admin.register(ChangeLogEntry)
class ChangeLogEntryAdmin(CsvExportMixin, LogEntryAdminMixin, TenantScopedAdmin):
    read_only = True
    view_permission_required = Perm.AUDIT_READ
    list_display = ("created", "resource_url", "action", "change_summary", "actor_name", "cid")
    list_filter = ("action", "content_type", ("timestamp", DateFieldListFilter))
    search_fields = ("object_repr", "cid", "actor__username")
    list_select_related = ("content_type", "actor")
    readonly_fields = ("created", "resource_url", "action", "actor_name", "msg", "cid", "remote_addr")
    fieldsets = [
        (None, {"fields": ("created", "actor_name", "resource_url", "cid", "remote_addr")}),
        (_("Changes"), {"fields": ("action", "msg")}),
    ]
    date_hierarchy = "timestamp"
    list_per_page = 50
    show_full_result_count = False
    csv_fields = (
        "tenant_id",
        "timestamp",
        "actor",
        "action",
        "content_type",
        "object_pk",
        "object_repr",
        "changes",
        "remote_addr",
        "cid",
    )

    @admin.display(description=_("actor"))
    def actor_name(self, obj: ChangeLogEntry) -> str:
        # Plain text, no link: the user admin is for platform operators, and the user may have been deleted.
        actor = User.objects.filter(pk=obj.actor_id).first() if obj.actor_id else None
        if actor is not None:
            return actor.get_username()
        return obj.actor_email or (str(_("(deleted user)")) if obj.actor_id else str(_("(system)")))

    @admin.display(description=_("changes"))
    def change_summary(self, obj: ChangeLogEntry) -> str:
        if obj.action in (ChangeLogEntry.Action.DELETE, ChangeLogEntry.Action.ACCESS):
            return ""
        fields = list(obj.changes_dict)
        shown = ", ".join(fields[:6]) + (" …" if len(fields) > 6 else "")
        return ngettext("%(count)d field: %(fields)s", "%(count)d fields: %(fields)s", len(fields)) % {
            "count": len(fields),
            "fields": shown,
        }
