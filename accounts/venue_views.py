"""Portal pages for venue accounts and account pools (MT5 terminals: mt5ops/views.py).

Everyone who reads trading data sees them (credentials only as masked hints); admins create, edit, test and
delete. Forms post with HTMX and come back with their errors inline (400) or redirect on success; without
JavaScript they work as plain forms. A foreign id is a 404.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import OuterRef, ProtectedError, Q, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from quantarb import clock
from quantarb.sorting import sort_from
from trading.domain.sizing import contracts_per_lot

from . import venue_services
from .http import AuditContext, is_htmx, request_membership, require_actor, require_membership, require_tenant
from .models import AccountPool, AccountSnapshot, Tenant, VenueAccount
from .permissions import Perm, permission_required, role_has
from .venue_forms import AccountPoolForm, VenueAccountForm, hint_rows
from .venue_kinds import leg_label, spec_for
from .venue_link import account_test, pool_specs
from .venue_rules import SECRET_FIELDS
from .venue_services import PoolInUse, account_delete, account_in_use, account_save, pool_save

PER_PAGE = 25


def _can_manage(request: HttpRequest) -> bool:
    membership = request_membership(request)
    return membership is not None and role_has(membership.role, Perm.ACCOUNT_MANAGE)


def _saved(request: HttpRequest, url: str) -> HttpResponse:
    """After a successful post: HTMX follows `HX-Redirect`; a plain form follows the 302."""
    if is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


def _form_page(
    request: HttpRequest, template: str, partial: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    return render(request, partial if is_htmx(request) else template, context, status=status)


# --- accounts --------------------------------------------------------------------------------------------------
# A snapshot older than this (three runs of the minute's sync job) is shown as stale.
SNAPSHOT_STALE_AFTER = timedelta(minutes=3)

ACCOUNT_SORTS = {
    "label": ("label",),
    "venue": ("venue",),
    "mode": ("mode",),
    "owner": ("owner__username",),
    "status": ("status",),
    "equity": ("equity",),
    "used_margin": ("used_margin",),
    "margin_level": ("margin_level",),
    "as_of": ("snapshot_at",),
}
POOL_SORTS = {
    "name": ("name",),
    "perp": ("perp_account__label",),
    "cfd": ("cfd_account__label",),
    "capital": ("perp_allocation", "cfd_allocation"),
    "state": ("enabled",),
}


def _with_latest_snapshot(queryset: Any) -> Any:
    latest = AccountSnapshot.objects.filter(account=OuterRef("pk")).order_by("-at", "-pk")
    return queryset.annotate(
        equity=Subquery(latest.values("equity")[:1]),
        currency=Subquery(latest.values("currency")[:1]),
        used_margin=Subquery(latest.values("used_margin")[:1]),
        margin_level=Subquery(latest.values("margin_level")[:1]),
        snapshot_at=Subquery(latest.values("at")[:1]),
    )


def _stale(at: datetime | None) -> bool:
    return at is not None and clock.now() - at > SNAPSHOT_STALE_AFTER


@permission_required(Perm.TRADING_READ)
def account_list(request: HttpRequest) -> HttpResponse:
    accounts = _with_latest_snapshot(
        VenueAccount.objects.for_member(require_membership(request))
        .defer("credentials")
        .select_related("owner", "terminal")
    ).order_by("label")
    venue = request.GET.get("venue", "")
    if venue:
        accounts = accounts.filter(venue=venue)
    sort = sort_from(request.GET, ACCOUNT_SORTS)
    page = Paginator(sort.apply(accounts), PER_PAGE).get_page(request.GET.get("page"))
    for account in page:
        spec = spec_for(account.venue)
        account.leg = leg_label(spec.leg) if spec else ""
        account.hints = hint_rows(account)
        account.snapshot_stale = _stale(account.snapshot_at)
    # Per-operator totals across all their accounts (not only this page), one line per currency.
    totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    counts: dict[str, int] = defaultdict(int)
    for row in _with_latest_snapshot(VenueAccount.objects.for_member(require_membership(request))).values(
        "owner__username", "equity", "currency"
    ):
        counts[row["owner__username"]] += 1
        if row["equity"] is not None:
            totals[row["owner__username"]][row["currency"]] += row["equity"]
    operators = [
        {"name": name, "accounts": counts[name], "equity": sorted(totals[name].items())} for name in sorted(counts)
    ]
    context = {
        "page": page,
        "operators": operators,
        "can_manage": _can_manage(request),
        "venue": venue,
        "sort": sort,
        "query": sort.extend(urlencode({"venue": venue}) if venue else ""),
    }
    return render(request, "accounts/venue_accounts.html", context)


@sensitive_post_parameters(*SECRET_FIELDS)
@permission_required(Perm.ACCOUNT_MANAGE)
def account_create(request: HttpRequest) -> HttpResponse:
    tenant = require_tenant(request)
    form = VenueAccountForm(request.POST or None, tenant=tenant, initial={"owner": request.user.pk})
    if request.method == "POST":
        if form.is_valid():
            account = account_save(
                tenant=tenant,
                account=None,
                values=form.values(),
                actor=require_actor(request),
                context=AuditContext.from_request(request),
            )
            messages.success(request, _("Account %(label)s created.") % {"label": account.label})
            return _saved(request, reverse("venue_account", args=[account.pk]))
        return _form_page(
            request,
            "accounts/venue_account_form.html",
            "accounts/partials/_venue_account_form.html",
            {"form": form},
            status=400,
        )
    return render(request, "accounts/venue_account_form.html", {"form": form})


@sensitive_post_parameters(*SECRET_FIELDS)
@permission_required(Perm.TRADING_READ)
def account_detail(request: HttpRequest, account_id: int) -> HttpResponse:
    tenant = require_tenant(request)
    account = get_object_or_404(
        VenueAccount.objects.for_member(require_membership(request)).defer("credentials"), pk=account_id
    )
    can_manage = _can_manage(request)
    form = None
    status = 200
    if can_manage:
        instance = VenueAccount.objects.get(pk=account.pk)  # with its credentials: the form merges new ones in
        form = VenueAccountForm(request.POST or None, instance=instance, tenant=tenant)
        if request.method == "POST":
            if form.is_valid():
                saved = account_save(
                    tenant=tenant,
                    account=instance,
                    values=form.values(),
                    actor=require_actor(request),
                    context=AuditContext.from_request(request),
                )
                messages.success(request, _("Account %(label)s saved.") % {"label": saved.label})
                return _saved(request, reverse("venue_account", args=[account.pk]))
            status = 400
            if is_htmx(request):
                return render(
                    request,
                    "accounts/partials/_venue_account_form.html",
                    {"form": form, "account": account},
                    status=400,
                )
    elif request.method == "POST":
        return HttpResponse(status=403)
    snapshots = list(AccountSnapshot.objects.filter(account=account).order_by("-at", "-pk")[:20])
    latest = snapshots[0] if snapshots else None
    spec = spec_for(account.venue)
    pools = AccountPool.objects.for_member(require_membership(request)).filter(
        Q(perp_account=account) | Q(cfd_account=account)
    )
    context = {
        "account": account,
        "form": form,
        "can_manage": can_manage,
        "snapshots": snapshots,
        "latest": latest,
        "latest_stale": _stale(latest.at if latest is not None else None),
        "leg": leg_label(spec.leg) if spec else "",
        "hints": hint_rows(account),
        "pools": pools,
    }
    return render(request, "accounts/venue_account_detail.html", context, status=status)


@require_POST
@permission_required(Perm.ACCOUNT_MANAGE)
def account_test_view(request: HttpRequest, account_id: int) -> HttpResponse:
    account = get_object_or_404(VenueAccount.objects.for_member(require_membership(request)), pk=account_id)
    account_test(account=account, actor=require_actor(request), context=AuditContext.from_request(request))
    if is_htmx(request):
        return render(request, "accounts/partials/_test_result.html", {"account": account})
    return HttpResponseRedirect(reverse("venue_account", args=[account.pk]))


@require_POST
@permission_required(Perm.ACCOUNT_MANAGE)
def account_delete_view(request: HttpRequest, account_id: int) -> HttpResponse:
    account = get_object_or_404(VenueAccount.objects.for_member(require_membership(request)), pk=account_id)
    pool = account_in_use(account)
    if pool is not None:
        messages.error(
            request,
            _("%(account)s is in the pool %(pool)s: delete or change that pool first.")
            % {"account": account.label, "pool": pool.name},
        )
        return HttpResponseRedirect(reverse("venue_account", args=[account.pk]))
    label = account.label
    try:
        account_delete(account=account, actor=require_actor(request), context=AuditContext.from_request(request))
    except ProtectedError:
        messages.error(request, _("This account is still referenced and cannot be deleted."))
        return HttpResponseRedirect(reverse("venue_account", args=[account_id]))
    messages.success(request, _("Account %(label)s deleted.") % {"label": label})
    return HttpResponseRedirect(reverse("venue_accounts"))


# --- pools -------------------------------------------------------------------------------------------------------
def _ratio(pool: AccountPool) -> dict[str, Any] | None:
    """The pool's hedge ratio as its pages show it: both instruments' specs and the contracts per lot (None: read
    from the venue at sizing time)."""
    specs = pool_specs(pool)
    if specs is None:
        return None
    perp, cfd = specs
    return {"perp": perp, "cfd": cfd, "contracts_per_lot": contracts_per_lot(perp, cfd)}


@permission_required(Perm.TRADING_READ)
def pool_list(request: HttpRequest) -> HttpResponse:
    pools = (
        AccountPool.objects.for_member(require_membership(request))
        .select_related("perp_account", "cfd_account")
        .order_by("name")
    )
    sort = sort_from(request.GET, POOL_SORTS)
    page = Paginator(sort.apply(pools), PER_PAGE).get_page(request.GET.get("page"))
    for pool in page:
        pool.ratio = _ratio(pool)  # type: ignore[attr-defined]
    context = {"page": page, "can_manage": _can_manage(request), "sort": sort, "query": sort.extend("")}
    return render(request, "accounts/pools.html", context)


@permission_required(Perm.ACCOUNT_MANAGE)
def pool_create(request: HttpRequest) -> HttpResponse:
    tenant = require_tenant(request)
    form = AccountPoolForm(request.POST or None, tenant=tenant, initial={"enabled": True})
    if request.method == "POST":
        pool = _pool_saved(request, tenant, None, form) if form.is_valid() else None
        if pool is not None:
            messages.success(request, _("Pool %(name)s created.") % {"name": pool.name})
            return _saved(request, reverse("pool", args=[pool.pk]))
        return _form_page(
            request, "accounts/pool_form.html", "accounts/partials/_pool_form.html", {"form": form}, status=400
        )
    return render(request, "accounts/pool_form.html", {"form": form})


def _pool_saved(
    request: HttpRequest, tenant: Tenant, pool: AccountPool | None, form: AccountPoolForm
) -> AccountPool | None:
    """Save a valid pool form's values; None when the service refused them (its reasons are now the form's
    errors)."""
    try:
        return pool_save(
            tenant=tenant,
            pool=pool,
            values=form.values(),
            actor=require_actor(request),
            context=AuditContext.from_request(request),
        )
    except ValidationError as exc:
        form.add_error(None, exc)
        return None


@permission_required(Perm.TRADING_READ)
def pool_detail(request: HttpRequest, pool_id: int) -> HttpResponse:
    tenant = require_tenant(request)
    pool = get_object_or_404(
        AccountPool.objects.select_related("perp_account", "cfd_account"), pk=pool_id, tenant=tenant
    )
    can_manage = _can_manage(request)
    form = None
    status = 200
    if can_manage:
        form = AccountPoolForm(request.POST or None, instance=pool, tenant=tenant)
        if request.method == "POST":
            if form.is_valid() and _pool_saved(request, tenant, pool, form) is not None:
                messages.success(request, _("Pool %(name)s saved.") % {"name": pool.name})
                return _saved(request, reverse("pool", args=[pool.pk]))
            status = 400
            if is_htmx(request):
                return render(request, "accounts/partials/_pool_form.html", {"form": form, "pool": pool}, status=400)
            pool.refresh_from_db()
    elif request.method == "POST":
        return HttpResponse(status=403)
    context = {"pool": pool, "ratio": _ratio(pool), "form": form, "can_manage": can_manage}
    return render(request, "accounts/pool_detail.html", context, status=status)


@require_POST
@permission_required(Perm.ACCOUNT_MANAGE)
def pool_delete(request: HttpRequest, pool_id: int) -> HttpResponse:
    pool = get_object_or_404(AccountPool.objects.for_member(require_membership(request)), pk=pool_id)
    name = pool.name
    try:
        venue_services.pool_delete(pool=pool, actor=require_actor(request), context=AuditContext.from_request(request))
    except PoolInUse as error:
        messages.error(request, str(error))
        return HttpResponseRedirect(reverse("pool", args=[pool.pk]))
    messages.success(request, _("Pool %(name)s deleted.") % {"name": name})
    return HttpResponseRedirect(reverse("pools"))
