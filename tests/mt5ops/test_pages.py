"""The MT5 pages: the terminal list with a state word beside each colour, last check,
latency and accounts; a terminal's page with its health log, uptime, incidents and latency data; the actions for
admins only, confirmed on a page that says what they do, logged with who and when, and audited; the dashboard's
health strip and the pool pages show the terminal's state. Tenant-scoped: another tenant's terminal is a 404."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent
from accounts.sessions import TENANT_SESSION_KEY
from mt5ops.health import check_terminal
from mt5ops.models import TerminalEvent, TerminalInstance, TerminalStatus
from tests.fakes.fixtures import Mt5BridgeFake

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(180)]


def client_for(persona: Any, language: str = "en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(persona.user)
    session = client.session
    session[TENANT_SESSION_KEY] = persona.tenant.pk
    session.save()
    return client


@pytest.fixture
def watched(bridge_terminal: TerminalInstance, mt5_bridge: Mt5BridgeFake, real_time_clock: Any) -> TerminalInstance:
    """The bridge terminal after an outage: healthy, logged out (down), healthy again; each check 5 s apart."""
    check_terminal(bridge_terminal, recover=False)
    mt5_bridge.terminal.qa_fault("logged_out")
    for _ in range(2):
        real_time_clock.advance(5)
        check_terminal(bridge_terminal, recover=False)
    mt5_bridge.terminal.qa_fault("logged_out", False)
    for _ in range(2):
        real_time_clock.advance(5)
        check_terminal(bridge_terminal, recover=False)
    return bridge_terminal


def test_the_list_shows_each_terminal_with_a_word_beside_its_colour(
    watched: TerminalInstance, alice: Any, real_time_clock: Any
) -> None:
    other = TerminalInstance.objects.create(tenant=alice.tenant, label="Spare", backend="sim")
    page = client_for(alice).get(reverse("mt5")).content.decode()
    assert 'data-testid="nav-mt5"' in page
    assert 'data-state="healthy">healthy</span>' in page and 'data-state="unknown">not checked yet</span>' in page
    assert "MT5 live" in page and " ms</td>" in page and "UTC" in page
    assert other.label in page
    zh = client_for(alice, "zh-hans").get(reverse("mt5")).content.decode()
    assert "健康" in zh and "尚未检查" in zh and "MT5 终端" in zh


def test_the_terminal_page_has_its_log_uptime_incidents_and_latency(
    watched: TerminalInstance, alice: Any, bob: Any
) -> None:
    response = client_for(bob).get(reverse("mt5_terminal", args=[watched.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    log = page.split('data-testid="health-log"', 1)[1]
    assert "healthy → degraded · not logged in" in log and "degraded → down · not logged in" in log
    assert "recovered after 15 s" in log
    incidents = page.split('data-testid="incidents"', 1)[1]
    assert "not logged in · down" in incidents and "15 s" in incidents
    uptime = page.split('data-testid="uptime"', 1)[1]
    assert 'data-window="24h">' in uptime and "%" in uptime
    data = json.loads(page.split('id="mt5-latency-data" type="application/json">', 1)[1].split("</script>", 1)[0])
    assert len(data) == 5 and all(point["p50"] <= point["p99"] for point in data)
    assert "js/mt5.js" in page and "<script>" not in page.split("</footer>")[0].split("<main")[1]
    assert 'data-testid="terminal-actions"' not in page  # bob is a viewer: no actions


def test_a_restart_is_for_admins_confirmed_then_logged_and_audited(
    watched: TerminalInstance, alice: Any, tom: Any
) -> None:
    url = reverse("mt5_terminal_action", args=[watched.pk, "maintenance_on"])
    assert client_for(tom).get(url).status_code == 403
    assert client_for(tom).post(url, {"confirm": "yes"}).status_code == 403
    client = client_for(alice)
    confirm = client.get(url).content.decode()
    assert "no opening orders on its accounts" in confirm and 'data-testid="confirm-action"' in confirm
    assert TerminalStatus.objects.get(terminal=watched).state == "healthy"  # nothing done by looking
    done = client.post(url, {"confirm": "yes"})
    assert done.status_code == 302 and done["Location"] == reverse("mt5_terminal", args=[watched.pk])
    assert TerminalStatus.objects.get(terminal=watched).state == "maintenance"
    event = TerminalEvent.objects.filter(terminal=watched, kind="action").latest("at")
    assert (event.action, event.outcome, event.actor, event.automatic) == ("maintenance_on", "done", alice.user, False)
    audit = AuditEvent.objects.filter(action="terminal_action").latest("pk")
    assert audit.summary["action"] == "maintenance_on" and audit.summary["terminal"] == watched.label
    page = client.get(reverse("mt5_terminal", args=[watched.pk])).content.decode()
    actions = page.split('data-testid="manual-actions"', 1)[1]
    assert "alice" in actions and "maintenance on" in actions
    assert client.get(reverse("mt5_terminal_action", args=[watched.pk, "explode"])).status_code == 400


def test_another_tenants_terminal_is_not_found(watched: TerminalInstance, charlie: Any) -> None:
    client = client_for(charlie)
    assert client.get(reverse("mt5_terminal", args=[watched.pk])).status_code == 404
    url = reverse("mt5_terminal_action", args=[watched.pk, "restart"])
    assert client.post(url, {"confirm": "yes"}).status_code == 404
    assert watched.label not in client.get(reverse("mt5")).content.decode()


def test_the_health_strip_and_the_pool_pages_show_the_terminal(
    watched: TerminalInstance, canary_accounts: dict[str, Any], alice: Any, real_time_clock: Any
) -> None:
    client = client_for(alice)
    strip = client.get(reverse("health-strip")).content.decode()
    assert f'data-key="mt5-{watched.pk}" data-state="ok"' in strip and "MT5 Terminal A" in strip
    TerminalStatus.objects.filter(terminal=watched).update(state="down", failure="ipc_timeout")
    strip = client.get(reverse("health-strip")).content.decode()
    assert 'data-state="fail"' in strip and ">down</span>" in strip
    pool = canary_accounts["live_pool"]
    for url in (reverse("pool", args=[pool.pk]), reverse("pools")):
        page = client.get(url).content.decode()
        badge = page.split('data-testid="pool-terminal"', 1)[1]
        assert "Terminal A" in badge and 'data-state="down">down · IPC timeout</span>' in badge
    real_time_clock.advance(120)  # no check for two minutes: the state is not vouched for
    TerminalStatus.objects.filter(terminal=watched).update(state="healthy", failure="")
    page = client.get(reverse("pool", args=[pool.pk])).content.decode()
    assert "not checked lately" in page.split('data-testid="pool-terminal"', 1)[1]
