"""The Django admin, tenant by tenant.

Access follows the role in the active tenant: admins and compliance staff enter (`Perm.ADMIN_SITE`), and every
model admin built on `TenantScopedAdmin` shows the active tenant's rows only — querysets, foreign-key and
many-to-many choices, list filters, autocomplete, exports, and object URLs (a foreign id is Django's "doesn't
exist" redirect). What a role may do per model comes from the permission matrix (accounts/permissions.py), not
from Django's per-user model permissions, so there is one place that decides.

Superusers are the platform's operators: they see every tenant and the platform's own data (instruments,
sources, users). Model admins of other apps that are not tenant-scoped (axes, token blacklist, OTP devices,
reference data) keep Django's model permissions, which tenant members never hold: only superusers see them.

Signing in happens on the portal's login page (lockout, two-factor), never on a second form here.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.admin import RelatedOnlyFieldListFilter
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from .choices import UserStatus
from .http import request_membership, safe_redirect_target
from .models import Tenant, User
from .permissions import Perm, role_has
from .scoping import TenantQuerySet
from .selectors import memberships_of


def _active_user(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_authenticated and user.is_active and getattr(user, "status", None) == UserStatus.ACTIVE)


def role_allows(request: HttpRequest, permission: Perm | None) -> bool:
    """The active tenant's role grants `permission` (None: nobody but superusers)."""
    if permission is None:
        return False
    membership = request_membership(request)
    return membership is not None and role_has(membership.role, permission)


def is_platform_operator(request: HttpRequest) -> bool:
    return _active_user(request) and bool(request.user.is_superuser)


class QuantarbAdminSite(admin.AdminSite):
    site_header = _("quantarb administration")
    site_title = _("quantarb admin")
    index_title = _("Desk administration")
    enable_nav_sidebar = True

    def has_permission(self, request: HttpRequest) -> bool:
        if not _active_user(request):
            return False
        return bool(request.user.is_superuser) or role_allows(request, Perm.ADMIN_SITE)

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """One sign-in for portal and admin: the portal's login page. A signed-in user whose role in the active
        tenant does not open the admin gets a page that says so and offers the tenants where it does."""
        index = reverse("admin:index", current_app=self.name)
        # Only a path of this site: `?next=https://evil.example/` must not send a signed-in admin off-site.
        next_url = safe_redirect_target(request, request.GET.get("next"), fallback=index)
        if not request.user.is_authenticated:
            return HttpResponseRedirect(f"{reverse(settings.LOGIN_URL)}?{urlencode({'next': next_url})}")
        if self.has_permission(request):
            return HttpResponseRedirect(next_url)
        admin_tenants = [
            membership.tenant
            for membership in memberships_of(user=request.user)
            if role_has(membership.role, Perm.ADMIN_SITE)
        ]
        context = {
            **self.each_context(request),
            "title": _("No admin access"),
            "is_nav_sidebar_enabled": False,
            "membership": request_membership(request),
            "admin_tenants": admin_tenants,
            "next": next_url,
        }
        return render(request, "admin/no_access.html", context, status=403)

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().each_context(request)
        if request.user.is_authenticated:
            context["quantarb_memberships"] = list(memberships_of(user=request.user))
            context["quantarb_membership"] = request_membership(request)
        return context


# --- model admins of tenant-owned data ---------------------------------------------------------------------
class TenantScopedAdmin(admin.ModelAdmin):
    """A model admin that shows the active tenant's rows only and asks the permission matrix who may do what.

    Subclasses name `tenant_path` (the lookup from the model to its tenant; "pk" for the tenant itself) and the
    matrix permissions for viewing and for changing. Adding and deleting need `change_permission` too unless
    `add_permission_required` / `delete_permission_required` say otherwise (None: nobody but superusers).
    """

    tenant_path: str = "tenant"
    view_permission_required: Perm | None = None
    change_permission_required: Perm | None = None
    add_permission_required: Perm | None = None
    delete_permission_required: Perm | None = None
    # Read-only admins (the audit trail) refuse every write, superusers included.
    read_only: bool = False
    csv_fields: Sequence[str] = ()

    # -- who may do what
    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if is_platform_operator(request):
            return True
        return (
            role_allows(request, self.view_permission_required) or self.has_change_permission(request, obj)
        ) and self._in_tenant(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if self.read_only:
            return False
        if is_platform_operator(request):
            return True
        return role_allows(request, self.change_permission_required) and self._in_tenant(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        if self.read_only:
            return False
        return is_platform_operator(request) or role_allows(request, self.add_permission_required)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if self.read_only:
            return False
        if is_platform_operator(request):
            return True
        return role_allows(request, self.delete_permission_required) and self._in_tenant(request, obj)

    def _in_tenant(self, request: HttpRequest, obj: Any) -> bool:
        return obj is None or self.scope(request, type(obj)._default_manager.filter(pk=obj.pk)).exists()

    # -- what they see
    def scope(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> models.QuerySet[Any]:
        """`queryset` narrowed to the active tenant (everything for platform operators)."""
        if is_platform_operator(request):
            return queryset
        if self.tenant_path == "tenant" and isinstance(queryset, TenantQuerySet):
            return queryset.for_member(request_membership(request), "view")
        tenant = getattr(request, "tenant", None)
        if not tenant:
            return queryset.none()
        return queryset.filter(**{self.tenant_path: tenant.pk})

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        return self.scope(request, super().get_queryset(request))

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        kwargs.setdefault("queryset", scoped_choices(request, db_field.related_model))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        kwargs.setdefault("queryset", scoped_choices(request, db_field.related_model))
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_list_filter(self, request: HttpRequest) -> Any:
        """Relation filters list only values present in the scoped rows (Django's default lists every row of
        the related table, other tenants' included)."""
        filters: list[Any] = []
        for item in super().get_list_filter(request):
            if isinstance(item, str) and self._is_relation(item):
                filters.append((item, RelatedOnlyFieldListFilter))
            else:
                filters.append(item)
        return filters

    def _is_relation(self, path: str) -> bool:
        model: Any = self.model
        field: Any = None
        for part in path.split("__"):
            field = model._meta.get_field(part)
            if not field.is_relation:
                return False
            model = field.related_model
        return bool(field is not None and field.is_relation)

    def get_search_results(
        self, request: HttpRequest, queryset: models.QuerySet[Any], search_term: str
    ) -> tuple[models.QuerySet[Any], bool]:
        # Autocomplete calls this with the model admin's own queryset; scope again in case a subclass widened it.
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return self.scope(request, queryset), may_have_duplicates

    # -- exports
    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions: dict[str, Any] = super().get_actions(request)
        if self.csv_fields and self.has_view_permission(request):
            actions["export_csv"] = (
                TenantScopedAdmin.export_csv,
                "export_csv",
                _("Export selected %(verbose_name_plural)s to CSV"),
            )
        return actions

    def export_csv(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> StreamingHttpResponse:
        return csv_response(self, self.scope(request, queryset))


def scoped_choices(request: HttpRequest, model: type[models.Model]) -> models.QuerySet[Any]:
    """The rows of `model` a form of the active tenant may offer: the tenant itself, rows of tenant-owned models
    in it, its members for users; nothing else (reference data belongs to platform operators)."""

    queryset: models.QuerySet[Any] = model._default_manager.all()
    if is_platform_operator(request):
        return queryset
    tenant = getattr(request, "tenant", None)
    if not tenant:
        return queryset.none()
    if model is Tenant:
        return queryset.filter(pk=tenant.pk)
    if model is User:
        return queryset.filter(memberships__tenant=tenant).distinct()
    if any(field.name == "tenant" for field in model._meta.get_fields()):
        return queryset.filter(tenant=tenant)
    return queryset.none()


# --- CSV -------------------------------------------------------------------------------------------------------
class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_response(model_admin: TenantScopedAdmin, queryset: models.QuerySet[Any]) -> StreamingHttpResponse:
    """Stream `queryset` as CSV with the admin's `csv_fields` (header row: their verbose names)."""
    opts = model_admin.model._meta
    fields = list(model_admin.csv_fields)

    def header() -> list[str]:
        names = []
        for name in fields:
            try:
                names.append(str(opts.get_field(name).verbose_name))
            except Exception:
                names.append(name)
        return names

    def rows() -> Iterator[str]:
        writer = csv.writer(_Echo())
        yield "\ufeff"  # a BOM, so spreadsheet programs read the Chinese text as UTF-8
        yield writer.writerow(header())
        for obj in queryset.iterator(chunk_size=2000):
            yield writer.writerow([_csv_value(_csv_field(obj, name)) for name in fields])

    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{opts.model_name}-{stamp}.csv"'
    return response


def _csv_field(obj: models.Model, name: str) -> Any:
    """A field's value for a CSV cell: a choice's label rather than its internal code (`sell_perp`)."""
    display = getattr(obj, f"get_{name}_display", None)
    return display() if callable(display) else getattr(obj, name)


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")  # never an exponent (`1E+9`, `0E-8`), the value's own precision
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    if not isinstance(value, str):
        return str(value)
    # A text cell starting with = + - @ would run as a formula in a spreadsheet (CSV injection): make it text.
    if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
