from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import Membership, Tenant, User
from .services import access_changed


class NotifyAccessMixin:
    """Saving or deleting here can change who sees what: open sockets of the affected users re-check."""

    def _affected_users(self, obj: object) -> list[int]:
        if isinstance(obj, User):
            return [obj.pk]
        if isinstance(obj, Tenant):
            return list(obj.memberships.values_list("user_id", flat=True))
        return []

    def save_related(self, request, form, formsets, change):  # type: ignore[no-untyped-def]
        super().save_related(request, form, formsets, change)  # type: ignore[misc]
        users = self._affected_users(form.instance)
        for formset in formsets:
            users += [obj.user_id for obj in formset.deleted_objects if isinstance(obj, Membership)]
        access_changed(user_ids=users)

    def delete_model(self, request, obj):  # type: ignore[no-untyped-def]
        users = self._affected_users(obj)
        super().delete_model(request, obj)  # type: ignore[misc]
        access_changed(user_ids=users)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(User)
class UserAdmin(NotifyAccessMixin, DjangoUserAdmin):
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        (_("quantarb"), {"fields": ("status", "language", "theme")}),
    )
    list_display = ("username", "email", "status", "is_staff", "last_login")
    list_filter = ("status", "is_staff")
    inlines = [MembershipInline]


@admin.register(Tenant)
class TenantAdmin(NotifyAccessMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "created_at")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [MembershipInline]
