"""The MT5 pages: `/mt5/` — every terminal with its state (a word beside the colour), last check,
bridge latency and accounts — and a terminal's page — health log, uptime over 24 h / 7 d / 30 d, incidents with
their time to recover, the latency chart (lightweight-charts, fed by json_script; no inline script) and, for
admins, the manual actions, each confirmed on a page that says what it will do, then logged and audited.

(The terminals' add/delete pages are the CRUD pages of `mt5ops/views.py`; these are kept apart from them.)
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.http import AuditContext, request_membership, require_actor, require_membership
from accounts.permissions import Perm, permission_required, role_has
from quantarb import clock

from . import selectors
from .choices import API_ACTIONS, ActionChoice
from .health import latest_health, status_of
from .models import TerminalEvent, TerminalInstance
from .services import manual_actions, order_in_flight, restarts_last_hour, terminal_action

UPTIME_WINDOWS = (
    ("24h", gettext_lazy("24 h"), timedelta(hours=24)),
    ("7d", gettext_lazy("7 d"), timedelta(days=7)),
    ("30d", gettext_lazy("30 d"), timedelta(days=30)),
)
LOG_ROWS = 50
CHART_POINTS = 1_500

# What each action does, said on its confirmation page.
ACTION_EFFECTS = {
    "reconnect": gettext_lazy(
        "Open a new connection to the terminal's bridge and initialise the MetaTrader5 package again. Orders in "
        "flight on the terminal are not affected (the action is refused while one is)."
    ),
    "relogin": gettext_lazy("Log the terminal in again with the stored credentials of its account."),
    "restart": gettext_lazy(
        "Restart terminal64.exe through the supervisor agent on the terminal's host. The terminal is unavailable "
        "until it has started again (usually under two minutes); opening orders on its accounts are refused "
        "meanwhile."
    ),
    "maintenance_on": gettext_lazy(
        "Put the terminal in maintenance: no opening orders on its accounts (reducing orders still pass), no "
        "alerts, no automatic recovery, until it is taken out."
    ),
    "maintenance_off": gettext_lazy(
        "Take the terminal out of maintenance: its state follows its health checks again, with alerts and "
        "automatic recovery."
    ),
}


def _can_operate(request: HttpRequest) -> bool:
    membership = request_membership(request)
    return membership is not None and role_has(membership.role, Perm.MT5_OPERATE)


@permission_required(Perm.MT5_VIEW)
def terminal_list(request: HttpRequest) -> HttpResponse:
    rows = selectors.terminal_rows(membership=require_membership(request))
    return render(request, "mt5ops/terminal_list.html", {"nav": "mt5", "rows": rows, "now": clock.now()})


def _downsample(points: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """At most `limit` points: each kept point stands for a run of checks (its p50 the run's median, its p99 the
    run's highest p99), so a spike is never thinned away."""
    if len(points) <= limit:
        return points
    size = -(-len(points) // limit)
    out = []
    for start in range(0, len(points), size):
        run = points[start : start + size]
        p50s = sorted(point["p50"] for point in run)
        out.append({"time": run[-1]["time"], "p50": p50s[len(p50s) // 2], "p99": max(point["p99"] for point in run)})
    return out


@permission_required(Perm.MT5_VIEW)
def terminal_detail(request: HttpRequest, terminal_id: int) -> HttpResponse:
    terminal = get_object_or_404(TerminalInstance.objects.for_member(require_membership(request)), pk=terminal_id)
    now = clock.now()
    status = status_of(terminal)
    log = list(
        TerminalEvent.objects.filter(terminal=terminal).select_related("actor").order_by("-at", "-pk")[:LOG_ROWS]
    )
    uptimes = [(key, label, selectors.uptime(terminal, window, now)) for key, label, window in UPTIME_WINDOWS]
    series = _downsample(selectors.latency_series(terminal, now - timedelta(hours=24)), CHART_POINTS)
    context = {
        "nav": "mt5",
        "terminal": terminal,
        "status": status,
        "state": selectors.display_state(status, now),
        "health": latest_health(terminal),
        "log": log,
        "uptimes": uptimes,
        "incidents": selectors.incidents(terminal, now - timedelta(days=30))[:20],
        "actions": manual_actions(terminal),
        "accounts": list(terminal.accounts.defer("credentials").order_by("label")),
        "latency": series,
        "can_operate": _can_operate(request),
        "restarts": restarts_last_hour(terminal),
        "in_flight": order_in_flight(terminal),
        "action_names": list(API_ACTIONS),
    }
    return render(request, "mt5ops/terminal_detail.html", context)


@permission_required(Perm.MT5_OPERATE)
def terminal_action_view(request: HttpRequest, terminal_id: int, action: str) -> HttpResponse:
    """GET: the confirmation page (what the action will do). POST with `confirm`: do it, log it, audit it."""
    terminal = get_object_or_404(TerminalInstance.objects.for_member(require_membership(request)), pk=terminal_id)
    chosen = API_ACTIONS.get(action)
    if chosen is None:
        return render(
            request,
            "mt5ops/terminal_action.html",
            {"nav": "mt5", "terminal": terminal, "error": _("Unknown action.")},
            status=400,
        )
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        result = terminal_action(
            terminal=terminal,
            action=chosen.value,
            actor=require_actor(request),
            context=AuditContext.from_request(request),
        )
        text = _("%(action)s on %(label)s: %(outcome)s.") % {
            "action": ActionChoice(result.action).label,
            "label": terminal.label,
            "outcome": result.event.get_outcome_display(),
        }
        if result.outcome == "queued":
            text = _("%(action)s on %(label)s is queued: it runs once the order in flight on it has settled.") % {
                "action": ActionChoice(result.action).label,
                "label": terminal.label,
            }
        (messages.success if result.outcome == "done" else messages.warning)(request, text)
        return HttpResponseRedirect(reverse("mt5_terminal", args=[terminal.pk]))
    context = {
        "nav": "mt5",
        "terminal": terminal,
        "action": action,
        "action_label": chosen.label,
        "effect": ACTION_EFFECTS[action],
        "in_flight": order_in_flight(terminal),
        "restarts": restarts_last_hour(terminal),
    }
    return render(request, "mt5ops/terminal_action.html", context)
