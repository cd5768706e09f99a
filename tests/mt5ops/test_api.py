"""The MT5 terminals API and the per-terminal Prometheus metrics: list for readers, create for
admins (the agent's key write-only and encrypted), one terminal, its health (current and history, with the log),
its actions for admins only (a 409 while an order on it is in flight); bad input is a 400 with a message; a
foreign id is a 404."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from accounts.models import AuditEvent
from mt5ops.health import check_terminal
from mt5ops.models import TerminalInstance, TerminalStatus
from tests.fakes.fixtures import Mt5BridgeFake
from tests.helpers.clients import obtain
from tests.mt5ops.agent_harness import generate_key
from trading.models import Order

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(180)]


class Api:
    def __init__(self, persona: Any) -> None:
        self.client = Client()
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {obtain(persona)['access']}"}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get("/api/v1/mt5/" + path, params, **self.headers)

    def post(self, path: str, body: Any = None) -> Any:
        return self.client.post("/api/v1/mt5/" + path, body or {}, content_type="application/json", **self.headers)


def test_readers_list_and_read_terminals_with_their_state_and_health(
    bridge_terminal: TerminalInstance, bob: Any, charlie: Any, real_time_clock: Any
) -> None:
    check_terminal(bridge_terminal)
    api = Api(bob)
    listed = api.get("terminals/").json()
    [row] = listed["results"] if isinstance(listed, dict) else listed
    assert row["id"] == bridge_terminal.pk and row["state"] == "healthy" and row["accounts"][0]["label"] == "MT5 live"
    assert "agent_key" not in row
    assert api.get(f"terminals/{bridge_terminal.pk}/").json()["label"] == "Terminal A"
    health = api.get(f"terminals/{bridge_terminal.pk}/health/").json()
    assert health["current"]["state"] == "healthy" and health["current"]["restarts_last_hour"] == 0
    [check] = health["history"]
    assert check["failure"] == "healthy" and Decimal(check["rtt_p50_ms"]) > 0 and check["login"] == 81234567
    assert [entry["after"] for entry in health["log"]] == ["healthy"]
    assert api.get(f"terminals/{bridge_terminal.pk}/health/", limit="x").status_code == 400
    assert api.get(f"terminals/{bridge_terminal.pk}/health/", limit="5000").json() == {
        "limit": ["Give a whole number from 1 to 1000."]
    }
    assert len(api.get(f"terminals/{bridge_terminal.pk}/health/", limit="1").json()["log"]) == 1
    # bob is a viewer: no actions, no creation.
    assert api.post(f"terminals/{bridge_terminal.pk}/actions/", {"action": "restart"}).status_code == 403
    assert api.post("terminals/", {"label": "New", "backend": "sim"}).status_code == 403
    # Another tenant: nothing of alpha's.
    other = Api(charlie)
    assert other.get(f"terminals/{bridge_terminal.pk}/").status_code == 404
    assert other.get(f"terminals/{bridge_terminal.pk}/health/").status_code == 404
    assert other.post(f"terminals/{bridge_terminal.pk}/actions/", {"action": "restart"}).status_code == 404
    assert "Terminal A" not in other.get("terminals/").content.decode()


def test_admins_create_terminals_with_an_encrypted_write_only_agent_key(alice: Any) -> None:
    api = Api(alice)
    key = generate_key("box1")
    created = api.post(
        "terminals/",
        {
            "label": "Box 1",
            "backend": "rpyc",
            "host": "127.0.0.1",
            "bridge_port": 18812,
            "agent_host": "127.0.0.1",
            "agent_port": 18900,
            "agent_key": key,
        },
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (
        body["agent_key_id"] == "box1" and body["has_agent_key"] and key.split(":")[1] not in created.content.decode()
    )
    terminal = TerminalInstance.objects.get(pk=body["id"])
    assert terminal.agent_key == {"line": key}
    with connection.cursor() as cursor:
        cursor.execute("SELECT agent_key FROM mt5ops_terminalinstance WHERE id = %s", [terminal.pk])
        stored = cursor.fetchone()[0]
    assert key.split(":")[1] not in stored  # encrypted at rest
    bad = api.post("terminals/", {"label": "Box 2", "backend": "rpyc", "agent_host": "127.0.0.1", "agent_port": 1})
    assert bad.status_code == 400 and {"host", "bridge_port", "agent_key"} <= set(bad.json())
    assert api.post("terminals/", {"label": ["x"], "backend": "sim"}).status_code == 400
    assert api.post("terminals/", {"label": "Box 1", "backend": "sim"}).status_code == 400  # the label is taken
    wrong_key = api.post(
        "terminals/",
        {"label": "Box 3", "backend": "sim", "agent_host": "127.0.0.1", "agent_port": 18900, "agent_key": "nope"},
    )
    assert wrong_key.status_code == 400 and "agent_key" in wrong_key.json()


def test_admins_act_on_a_terminal_and_an_order_in_flight_queues_the_recovery_actions(
    bridge_terminal: TerminalInstance,
    alice: Any,
    canary_accounts: dict[str, Any],
    mt5_bridge: Mt5BridgeFake,
    real_time_clock: Any,
) -> None:
    check_terminal(bridge_terminal)
    api = Api(alice)
    url = f"terminals/{bridge_terminal.pk}/actions/"
    assert api.post(url, {"action": "explode"}).status_code == 400
    assert api.post(url, {}).status_code == 400
    done = api.post(url, {"action": "reconnect"})
    assert done.status_code == 200 and done.json()["outcome"] == "done" and done.json()["by"] == "alice"
    assert AuditEvent.objects.filter(action="terminal_action").count() == 1
    restart = api.post(url, {"action": "restart"}).json()
    assert restart["outcome"] == "skipped" and "no supervisor agent" in restart["detail"]
    assert api.post(url, {"action": "maintenance_on"}).json()["outcome"] == "done"
    assert TerminalStatus.objects.get(terminal=bridge_terminal).state == "maintenance"
    assert api.post(url, {"action": "maintenance_off"}).json()["outcome"] == "done"
    Order.objects.create(
        tenant=bridge_terminal.tenant,
        account=canary_accounts["mt5"],
        leg="cfd",
        intent="open",
        client_order_id="qa-inflight-api",
        side="buy",
        kind="market",
        quantity=Decimal(1),
        status="submitting",
        created_at=real_time_clock.now(),
    )
    held = api.post(url, {"action": "relogin"})
    assert held.status_code == 202 and held.json()["outcome"] == "queued" and "order in flight" in held.json()["detail"]
    assert TerminalStatus.objects.get(terminal=bridge_terminal).queued_action == "relogin"


def test_the_metrics_have_each_terminals_state_latency_tick_age_and_restarts(
    bridge_terminal: TerminalInstance, real_time_clock: Any
) -> None:
    check_terminal(bridge_terminal)
    text = Client().get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    pk = bridge_terminal.pk
    who = f'tenant="alpha",terminal="{pk}"'
    state = 'quantarb_mt5_terminal_state{state="%s",tenant="alpha",terminal="' + str(pk) + '"}'
    assert f"{state % 'healthy'} 1.0" in text and f"{state % 'down'} 0.0" in text
    assert f"quantarb_mt5_terminal_ready{{{who}}} 1.0" in text
    latency = f'quantarb_mt5_bridge_roundtrip_seconds{{quantile="0.99",tenant="alpha",terminal="{pk}"}}'
    assert latency in text
    assert f"quantarb_mt5_tick_age_seconds{{{who}}}" in text
    assert f"quantarb_mt5_terminal_restarts_total{{{who}}} 0.0" in text
