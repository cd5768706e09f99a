"""The platform's client of the MT5 supervisor agent (mt5ops/agent_client.py): it signs as the real agent expects,
trusts only answers signed with its key, and reaches only hosts the platform's outbound policy allows (the MT5 host
allow-list of quantarb/outbound.py; cloud metadata never)."""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation

from mt5ops.agent_client import (
    AgentClient,
    AgentDestinationRefused,
    AgentError,
    AgentKey,
    AgentRefused,
    AgentUnreachable,
)
from tests.mt5ops.agent_harness import RunningAgent, generate_key, pid_alive, running_agent

pytestmark = [pytest.mark.timeout(120), pytest.mark.skipif(sys.platform == "win32", reason="POSIX stand-in")]


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[RunningAgent]:
    with running_agent(tmp_path) as running:
        yield running


def client_for(agent: RunningAgent, key_line: str | None = None, **options: Any) -> AgentClient:
    return AgentClient(agent.host, agent.port, AgentKey.parse(key_line or agent.key_line), **options)


def test_the_client_reads_the_status_and_restarts_the_terminal(agent: RunningAgent) -> None:
    client = client_for(agent)
    status = client.status()
    assert status.terminal.running and status.terminal.pid and status.terminal.starts == 1
    assert status.terminal.memory_bytes and status.terminal.uptime_s is not None and status.agent_time is not None
    assert status.action is None
    restarted = client.restart()
    assert restarted.action == "restart" and restarted.changed
    assert restarted.terminal.pid != status.terminal.pid and restarted.terminal.running
    assert restarted.terminal.started_at and status.terminal.started_at
    assert restarted.terminal.started_at > status.terminal.started_at
    assert not pid_alive(status.terminal.pid)
    agent.terminal_pids.add(restarted.terminal.pid)
    stopped = client.stop()
    assert stopped.terminal.state == "stopped" and stopped.changed
    assert client.start().terminal.running


def test_a_request_signed_with_another_secret_is_refused_with_the_agents_reason(agent: RunningAgent) -> None:
    client = client_for(agent, generate_key("k1"))  # the agent's key id, another secret
    with pytest.raises(AgentRefused) as refused:
        client.restart()
    assert refused.value.code == "bad_signature" and refused.value.status == 401
    assert "signature does not match" in str(refused.value)


@pytest.fixture
def closed_listener() -> Iterator[socket.socket]:
    """A socket listening on 127.0.0.1 that accepts nothing by itself: a connection made to it waits in its queue."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    yield listener
    listener.close()


def nothing_connected(listener: socket.socket) -> bool:
    try:
        connection, _address = listener.accept()
    except BlockingIOError:
        return True
    connection.close()
    return False


def test_an_agent_host_not_on_the_allow_list_is_refused_before_connecting(
    settings: Any, closed_listener: socket.socket
) -> None:
    port = closed_listener.getsockname()[1]
    key = AgentKey.parse(generate_key("k1"))
    settings.QUANTARB_MT5_BRIDGE_HOSTS = []
    with pytest.raises(AgentDestinationRefused) as refused:
        AgentClient("127.0.0.1", port, key).status()
    assert refused.value.code == "destination_refused" and "QUANTARB_MT5_BRIDGE_HOSTS" in str(refused.value)
    # Listed for the bridge's port only: the agent's port is not.
    settings.QUANTARB_MT5_BRIDGE_HOSTS = ["127.0.0.1:18812"]
    with pytest.raises(AgentDestinationRefused):
        AgentClient("127.0.0.1", port, key).restart()
    assert nothing_connected(closed_listener)  # the refused requests never reached the port


@pytest.mark.parametrize("host", ["169.254.169.254", "::ffff:169.254.169.254", "100.100.100.200"])
def test_cloud_metadata_is_refused_even_when_listed(settings: Any, host: str) -> None:
    settings.QUANTARB_MT5_BRIDGE_HOSTS = [host, "169.254.0.0/16", "100.64.0.0/10", "::/0"]
    with pytest.raises(AgentDestinationRefused) as refused:
        AgentClient(host, 18900, AgentKey.parse(generate_key("k1"))).check_destination()
    assert "metadata" in str(refused.value)


def test_a_private_address_passes_only_when_listed(settings: Any) -> None:
    client = AgentClient("10.8.0.5", 18900, AgentKey.parse(generate_key("k1")))
    settings.QUANTARB_MT5_BRIDGE_HOSTS = ["127.0.0.1"]
    with pytest.raises(AgentDestinationRefused):
        client.check_destination()
    settings.QUANTARB_MT5_BRIDGE_HOSTS = ["10.8.0.0/24"]
    client.check_destination()  # listed by network: allowed (nothing is sent by the check)
    settings.QUANTARB_MT5_BRIDGE_HOSTS = ["10.8.0.5:18812-18900"]
    client.check_destination()


class ImpostorHandler(BaseHTTPRequestHandler):
    """Answers every request with a plausible status, unsigned (or signed with a made-up key)."""

    signature = ""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"action": "restart", "changed": True, "terminal": {"state": "running", "pid": 1}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if self.signature:
            self.send_header("X-QA-Response-Signature", self.signature)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize("signature", ["", "0" * 64])
def test_an_answer_not_signed_by_the_agent_is_refused(signature: str) -> None:
    handler = type("Impostor", (ImpostorHandler,), {"signature": signature})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = AgentClient("127.0.0.1", server.server_address[1], AgentKey.parse(generate_key("k1")))
        with pytest.raises(AgentError) as error:
            client.restart()
        assert error.value.code == "unsigned_answer"
    finally:
        server.shutdown()
        server.server_close()


def test_an_agent_that_does_not_answer_is_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once closed
    with pytest.raises(AgentUnreachable) as error:
        AgentClient("127.0.0.1", port, AgentKey.parse(generate_key("k1")), connect_timeout_s=2).status()
    assert error.value.code == "unreachable"


def test_keys_are_validated_and_never_shown() -> None:
    line = generate_key("k2026a")
    key = AgentKey.parse(line)
    assert key.key_id == "k2026a" and len(key.secret) == 32
    assert line.split(":")[1] not in repr(key) and line.split(":")[1] not in repr(AgentClient("h", 1, key))
    for bad in ("k1:abcd", "k1:" + "zz" * 32, "bad id!:" + "00" * 32, "no-colon"):
        with pytest.raises(ValueError):
            AgentKey.parse(bad)


def test_refusals_are_translated(agent: RunningAgent) -> None:
    client = client_for(agent, generate_key("k1"))
    with translation.override("zh-hans"), pytest.raises(AgentRefused) as refused:
        client.status()
    assert "拒绝" in str(refused.value)  # the agent's own reason follows, as it gave it
