"""The alert centre and, for admins, channels, rules and the notification history.

Everyone who reads alerts sees the list, the detail and the badge; admins and traders acknowledge and resolve
(HTMX swaps the alert's status block in place); admins manage channels and rules. A foreign id is a 404.
The badge and the list refresh every few seconds (HTMX), and at once on the dashboard when the socket says
`alerts.changed`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Value, When
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST

from accounts.http import AuditContext, is_htmx, request_membership, require_actor, require_membership, require_tenant
from accounts.permissions import Perm, permission_required, role_has
from quantarb.sorting import sort_from

from . import registry
from .checks import SECRET_FIELDS
from .choices import SEVERITY_RANK, AlertStatus, Category, Severity
from .forms import ChannelForm, RuleForm
from .models import Alert
from .rules import rules_ensure_defaults
from .selectors import alert_for, alerts_for, channels_for, deliveries_for, open_alert_count, rules_for
from .services import (
    AlertStateError,
    alert_acknowledge,
    alert_resolve,
    channel_delete,
    channel_save,
    channel_send_test,
    delivery_retry,
    rule_save,
)

PER_PAGE = 25


def _may(request: HttpRequest, permission: Perm) -> bool:
    membership = request_membership(request)
    return membership is not None and role_has(membership.role, permission)


def _saved(request: HttpRequest, url: str) -> HttpResponse:
    if is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


# --- the alert centre -----------------------------------------------------------------------------------------
SEVERITY_ORDER = Case(
    *[When(severity=severity, then=Value(rank)) for severity, rank in SEVERITY_RANK.items()],
    default=Value(-1),
    output_field=IntegerField(),
)
ALERT_SORTS = {
    "severity": (SEVERITY_ORDER,),
    "title": ("title",),
    "category": ("category",),
    "count": ("count",),
    "last_seen": ("last_seen",),
    "status": ("status",),
}
DELIVERY_SORTS = {
    "created": ("created_at",),
    "channel": ("channel__name",),
    "alert": ("alert__title",),
    "status": ("status",),
    "attempts": ("attempts",),
}


def _list_context(request: HttpRequest) -> dict[str, Any]:
    filters = {name: request.GET.get(name, "") for name in ("status", "severity", "category")}
    sort = sort_from(request.GET, ALERT_SORTS, defaults_descending=("severity", "count", "last_seen"))
    alerts = sort.apply(alerts_for(membership=require_membership(request), filters=filters))
    page = Paginator(alerts, PER_PAGE).get_page(request.GET.get("page"))
    query = urlencode({name: value for name, value in filters.items() if value})
    return {
        "page": page,
        "filters": filters,
        "sort": sort,
        "filter_query": query,
        "query": sort.extend(query),
        "statuses": AlertStatus.choices,
        "severities": Severity.choices,
        "categories": Category.choices,
        "can_act": _may(request, Perm.ALERT_ACT),
        "can_manage": _may(request, Perm.ALERT_MANAGE),
    }


@require_GET
@permission_required(Perm.ALERT_READ)
def alert_list(request: HttpRequest) -> HttpResponse:
    context = _list_context(request)
    if is_htmx(request) and request.GET.get("partial") == "rows":
        return render(request, "alerts/partials/_alert_table.html", context)
    return render(request, "alerts/alert_list.html", context)


@require_GET
@permission_required(Perm.ALERT_READ)
def alert_badge(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "alerts/partials/_badge.html",
        {"open_alerts": open_alert_count(membership=require_membership(request))},
    )


def _alert_or_404(request: HttpRequest, alert_id: int) -> Alert:
    alert = alert_for(membership=require_membership(request), alert_id=alert_id)
    if alert is None:
        raise Http404
    return alert


@require_GET
@permission_required(Perm.ALERT_READ)
def alert_detail(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = _alert_or_404(request, alert_id)
    deliveries = alert.deliveries.select_related("channel").order_by("-created_at")[:50]
    rule_type = registry.get(alert.rule.rule_type) if alert.rule is not None else None
    context = {
        "alert": alert,
        "deliveries": deliveries,
        "can_act": _may(request, Perm.ALERT_ACT),
        "rule_label": rule_type.label if rule_type else "",
    }
    return render(request, "alerts/alert_detail.html", context)


def _act(request: HttpRequest, alert_id: int, action: Any) -> HttpResponse:
    alert = _alert_or_404(request, alert_id)
    try:
        alert = action(alert=alert, actor=require_actor(request), context=AuditContext.from_request(request))
    except AlertStateError:
        alert.refresh_from_db()
        messages.info(request, _("This alert changed meanwhile; here is its current state."))
    if is_htmx(request):
        return render(request, "alerts/partials/_alert_status.html", {"alert": alert, "can_act": True})
    return HttpResponseRedirect(reverse("alert", args=[alert.pk]))


@require_POST
@permission_required(Perm.ALERT_ACT)
def alert_ack(request: HttpRequest, alert_id: int) -> HttpResponse:
    return _act(request, alert_id, alert_acknowledge)


@require_POST
@permission_required(Perm.ALERT_ACT)
def alert_resolve_view(request: HttpRequest, alert_id: int) -> HttpResponse:
    return _act(request, alert_id, alert_resolve)


# --- channels -------------------------------------------------------------------------------------------------
@sensitive_post_parameters(*SECRET_FIELDS)
@permission_required(Perm.ALERT_MANAGE)
def channel_list(request: HttpRequest) -> HttpResponse:
    tenant = require_tenant(request)
    form = ChannelForm(request.POST or None, tenant=tenant, initial={"min_severity": "warning"})
    if request.method == "POST":
        if form.is_valid():
            channel = channel_save(
                tenant=tenant,
                channel=None,
                values=form.values(),
                actor=require_actor(request),
                context=AuditContext.from_request(request),
            )
            messages.success(request, _("Channel %(name)s saved.") % {"name": channel.name})
            return _saved(request, reverse("alert_channels"))
        if is_htmx(request):
            return render(request, "alerts/partials/_channel_form.html", {"form": form}, status=400)
    channels = list(channels_for(membership=require_membership(request)))
    categories = dict(Category.choices)
    for channel in channels:
        channel.category_labels = [str(categories.get(code, code)) for code in channel.categories or []]  # type: ignore[attr-defined]
    context = {"channels": channels, "form": form}
    return render(request, "alerts/channel_list.html", context, status=400 if form.errors else 200)


@sensitive_post_parameters(*SECRET_FIELDS)
@permission_required(Perm.ALERT_MANAGE)
def channel_detail(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = channels_for(membership=require_membership(request)).filter(pk=channel_id).first()
    if channel is None:
        raise Http404
    form = ChannelForm(request.POST or None, instance=channel, tenant=channel.tenant)
    if request.method == "POST":
        if form.is_valid():
            channel = channel_save(
                tenant=channel.tenant,
                channel=channel,
                values=form.values(),
                actor=require_actor(request),
                context=AuditContext.from_request(request),
            )
            messages.success(request, _("Channel %(name)s saved.") % {"name": channel.name})
            return _saved(request, reverse("alert_channel", args=[channel.pk]))
        if is_htmx(request):
            return render(request, "alerts/partials/_channel_form.html", {"form": form, "channel": channel}, status=400)
    deliveries = deliveries_for(membership=require_membership(request)).filter(channel=channel)[:50]
    context = {"channel": channel, "form": form, "deliveries": deliveries}
    return render(request, "alerts/channel_detail.html", context, status=400 if form.errors else 200)


@require_POST
@permission_required(Perm.ALERT_MANAGE)
def channel_test(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = channels_for(membership=require_membership(request)).filter(pk=channel_id).first()
    if channel is None:
        raise Http404
    delivery = channel_send_test(
        channel=channel, actor=require_actor(request), context=AuditContext.from_request(request)
    )
    delivery.refresh_from_db()
    if is_htmx(request):
        return render(request, "alerts/partials/_test_result.html", {"delivery": delivery})
    messages.info(request, _("Test notification: %(status)s.") % {"status": delivery.get_status_display()})
    return HttpResponseRedirect(reverse("alert_channel", args=[channel.pk]))


@require_POST
@permission_required(Perm.ALERT_MANAGE)
def channel_delete_view(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = channels_for(membership=require_membership(request)).filter(pk=channel_id).first()
    if channel is None:
        raise Http404
    name = channel.name
    channel_delete(channel=channel, actor=require_actor(request), context=AuditContext.from_request(request))
    messages.success(request, _("Channel %(name)s deleted.") % {"name": name})
    return HttpResponseRedirect(reverse("alert_channels"))


# --- rules ----------------------------------------------------------------------------------------------------
@require_GET
@permission_required(Perm.ALERT_MANAGE)
def rule_list(request: HttpRequest) -> HttpResponse:
    tenant = require_tenant(request)
    rules_ensure_defaults(tenant=tenant)
    rows = []
    for rule in rules_for(membership=require_membership(request)):
        rule_type = registry.get(rule.rule_type)
        params = {param.name: param for param in rule_type.params} if rule_type else {}
        # Each parameter by its label and unit, not its internal name (`max_age_seconds`).
        rule.param_rows = [  # type: ignore[attr-defined]
            (params[name].label if name in params else name, value, params[name].unit if name in params else "")
            for name, value in (rule.params or {}).items()
        ]
        categories = dict(Category.choices)
        rule.category_label = categories.get(rule_type.category, rule_type.category) if rule_type else ""  # type: ignore[attr-defined]
        rows.append((rule, rule_type))
    return render(request, "alerts/rule_list.html", {"rows": rows})


@permission_required(Perm.ALERT_MANAGE)
def rule_detail(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = rules_for(membership=require_membership(request)).filter(pk=rule_id).first()
    if rule is None:
        raise Http404
    form = RuleForm(request.POST or None, rule=rule)
    if request.method == "POST":
        if form.is_valid():
            rule_save(
                rule=rule,
                enabled=form.cleaned_data["enabled"],
                severity=form.cleaned_data["severity"],
                params=form.cleaned_data["params"],
                actor=require_actor(request),
                context=AuditContext.from_request(request),
            )
            messages.success(request, _("Rule saved."))
            return _saved(request, reverse("alert_rules"))
        if is_htmx(request):
            context = {"form": form, "rule": rule, "rule_type": form.rule_type}
            return render(request, "alerts/partials/_rule_form.html", context, status=400)
    context = {"form": form, "rule": rule, "rule_type": form.rule_type}
    return render(request, "alerts/rule_detail.html", context, status=400 if form.errors else 200)


# --- notification history -------------------------------------------------------------------------------------
@require_GET
@permission_required(Perm.ALERT_MANAGE)
def delivery_list(request: HttpRequest) -> HttpResponse:
    sort = sort_from(request.GET, DELIVERY_SORTS)
    page = Paginator(sort.apply(deliveries_for(membership=require_membership(request))), PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(request, "alerts/delivery_list.html", {"page": page, "sort": sort, "query": sort.extend("")})


@require_POST
@permission_required(Perm.ALERT_MANAGE)
def delivery_retry_view(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = deliveries_for(membership=require_membership(request)).filter(pk=delivery_id).first()
    if delivery is None:
        raise Http404
    try:
        delivery_retry(delivery=delivery, actor=require_actor(request), context=AuditContext.from_request(request))
    except AlertStateError:
        messages.info(request, _("Only a failed, throttled or held notification can be sent again."))
    else:
        delivery.refresh_from_db()
        messages.info(request, _("Notification sent again: %(status)s.") % {"status": delivery.get_status_display()})
    return HttpResponseRedirect(reverse("alert_deliveries"))
