"""The MT5 supervisor agent (deploy/mt5-agent/agent.py) as it runs on a terminal host: its own process on
127.0.0.1, a stand-in terminal, requests signed per its docstring. It answers only signed, fresh, new requests,
restarts the terminal on a signed request, and reports the process's state, memory and uptime."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mt5ops.agent_harness import (
    AGENT,
    STANDIN,
    RunningAgent,
    answer_signed_by,
    cleanup,
    generate_key,
    launch,
    pid_alive,
    running_agent,
    sign_request,
    wait_until,
    write_config,
)

pytestmark = [pytest.mark.timeout(120), pytest.mark.skipif(sys.platform == "win32", reason="POSIX stand-in")]

MIB = 1024 * 1024


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[RunningAgent]:
    with running_agent(tmp_path) as running:
        yield running


def test_status_reports_the_running_terminal_with_its_memory_and_uptime(agent: RunningAgent) -> None:
    # The stand-in holds 48 MiB once it has written them: the figure is the process's own.
    first = wait_until(lambda: (s := agent.status())["memory_bytes"] >= 48 * MIB and s, what="48 MiB resident")
    assert first["state"] == "running" and first["starts"] == 1 and not first["adopted"]
    assert pid_alive(first["pid"])
    assert first["uptime_seconds"] >= 0 and first["started_at"].endswith("Z")
    later = wait_until(lambda: (s := agent.status())["uptime_seconds"] > first["uptime_seconds"] and s, what="uptime")
    assert later["pid"] == first["pid"]


def test_an_unsigned_request_is_refused_and_does_nothing(agent: RunningAgent) -> None:
    pid = agent.status()["pid"]
    answer = agent.raw("POST", "/restart", b"{}")
    assert answer.status == 401 and answer.data["error"] == "unsigned"
    assert "X-QA-Signature" in answer.data["message"]
    assert agent.status()["pid"] == pid


def test_a_wrong_signature_is_refused(agent: RunningAgent) -> None:
    pid = agent.status()["pid"]
    other = generate_key("k1")  # the same key id, another secret
    answer = agent.signed("POST", "/restart", b"{}", key_line=other)
    assert answer.status == 401 and answer.data["error"] == "bad_signature"
    # A signature of another request (here: another path, another body) does not carry over.
    forged = sign_request(agent.key_line, "POST", "/stop", b"{}")
    tampered = agent.raw("POST", "/restart", b"{}", forged)
    assert tampered.status == 401 and tampered.data["error"] == "bad_signature"
    body_changed = sign_request(agent.key_line, "POST", "/restart", b'{"reason": "a"}')
    assert agent.raw("POST", "/restart", b'{"reason": "b"}', body_changed).data["error"] == "bad_signature"
    unknown = agent.signed("GET", "/status", key_line=generate_key("k9"))
    assert unknown.status == 401 and unknown.data["error"] == "unknown_key"
    malformed = agent.raw(
        "GET", "/status", b"", {"X-QA-Key-Id": "k1", "X-QA-Timestamp": "soon", "X-QA-Nonce": "x", "X-QA-Signature": "y"}
    )
    assert malformed.status == 401 and malformed.data["error"] == "malformed_signature"
    assert agent.status()["pid"] == pid


def test_a_stale_request_is_refused_either_side_of_the_window(agent: RunningAgent) -> None:
    pid = agent.status()["pid"]
    now = int(time.time())
    late = agent.signed("POST", "/restart", b"{}", timestamp=now - 45)
    assert late.status == 401 and late.data["error"] == "stale" and "±30 s" in late.data["message"]
    early = agent.signed("POST", "/restart", b"{}", timestamp=now + 45)
    assert early.status == 401 and early.data["error"] == "stale"
    assert agent.signed("GET", "/status", timestamp=now - 5).status == 200  # within the window
    assert agent.status()["pid"] == pid


def test_a_replayed_request_is_refused(agent: RunningAgent) -> None:
    first = agent.signed("GET", "/status", nonce="replay-nonce-0001")
    assert first.status == 200
    again = agent.signed("GET", "/status", nonce="replay-nonce-0001")  # same nonce, freshly signed
    assert again.status == 401 and again.data["error"] == "replayed"
    # The very same bytes sent again (a captured restart) restart nothing.
    pid = agent.status()["pid"]
    headers = sign_request(agent.key_line, "POST", "/stop", b"{}")
    assert agent.raw("POST", "/stop", b"{}", headers).status == 200
    assert agent.raw("POST", "/start", b"{}", sign_request(agent.key_line, "POST", "/start", b"{}")).status == 200
    replay = agent.raw("POST", "/stop", b"{}", headers)
    assert replay.status == 401 and replay.data["error"] == "replayed"
    assert agent.status()["state"] == "running" and agent.status()["pid"] != pid


def test_a_signed_restart_restarts_the_terminal(agent: RunningAgent) -> None:
    before = wait_until(lambda: (s := agent.status())["uptime_seconds"] >= 0.5 and s, what="some uptime")
    headers = sign_request(agent.key_line, "POST", "/restart", b"{}")
    answer = agent.raw("POST", "/restart", b"{}", headers)
    assert answer.status == 200 and answer.data["action"] == "restart" and answer.data["changed"]
    signature = answer.headers.get("X-QA-Response-Signature")
    assert answer_signed_by(agent.key_line, 200, answer.body, headers["X-QA-Nonce"], signature)
    after = answer.data["terminal"]
    assert after["state"] == "running" and after["pid"] != before["pid"] and after["starts"] == 2
    assert after["uptime_seconds"] < before["uptime_seconds"]  # a new process: its uptime starts again
    assert after["started_at"] > before["started_at"]
    assert after["last_action"]["action"] == "restart" and after["last_action"]["ok"]
    assert not pid_alive(before["pid"]) and pid_alive(after["pid"])


def test_every_answer_to_a_signed_request_is_signed_for_that_request(agent: RunningAgent) -> None:
    headers = sign_request(agent.key_line, "GET", "/status", b"")
    answer = agent.raw("GET", "/status", b"", headers)
    signature = answer.headers.get("X-QA-Response-Signature")
    assert answer_signed_by(agent.key_line, 200, answer.body, headers["X-QA-Nonce"], signature)
    assert not answer_signed_by(agent.key_line, 200, answer.body, "another-nonce-0001", signature)
    unsigned = agent.raw("GET", "/status")
    assert "X-QA-Response-Signature" not in unsigned.headers  # nothing to sign for an unauthenticated caller


def test_stop_and_start_and_their_idempotence(agent: RunningAgent) -> None:
    pid = agent.status()["pid"]
    stopped = agent.signed("POST", "/stop", b"{}")
    assert stopped.status == 200 and stopped.data["changed"] and stopped.data["terminal"]["state"] == "stopped"
    assert stopped.data["terminal"]["pid"] is None and stopped.data["terminal"]["memory_bytes"] is None
    assert not pid_alive(pid)
    assert agent.signed("POST", "/stop", b"{}").data["changed"] is False
    started = agent.signed("POST", "/start", b"{}")
    assert started.data["changed"] and started.data["terminal"]["state"] == "running"
    assert agent.signed("POST", "/start", b"{}").data["changed"] is False


def test_a_terminal_that_ignores_the_graceful_stop_is_killed(tmp_path: Path) -> None:
    command = [sys.executable, str(STANDIN), "--ignore-term"]
    with running_agent(tmp_path, terminal_command=command, stop_timeout_seconds=1) as agent:
        pid = agent.status()["pid"]
        started = time.monotonic()
        answer = agent.signed("POST", "/stop", b"{}")
        assert answer.status == 200 and answer.data["terminal"]["state"] == "stopped"
        assert time.monotonic() - started >= 1  # the graceful stop was given its time first
        assert not pid_alive(pid)
        assert "did not close within" in agent.log


def test_one_action_at_a_time(tmp_path: Path) -> None:
    command = [sys.executable, str(STANDIN), "--ignore-term"]
    with running_agent(tmp_path, terminal_command=command, stop_timeout_seconds=3) as agent:
        stopping = threading.Thread(target=lambda: agent.signed("POST", "/stop", b"{}"))
        stopping.start()
        try:
            wait_until(lambda: agent.status()["state"] == "stopping", what="the stop under way")
            busy = agent.signed("POST", "/restart", b"{}")
            assert busy.status == 409 and busy.data["error"] == "busy"
        finally:
            stopping.join(timeout=30)
        assert agent.status()["state"] == "stopped"


def test_a_terminal_that_ends_by_itself_is_reported_with_its_exit_code(tmp_path: Path) -> None:
    with running_agent(tmp_path) as agent:
        pid = agent.status()["pid"]
        os.kill(pid, signal.SIGKILL)  # the terminal crashes
        status = wait_until(lambda: (s := agent.status())["state"] == "exited" and s, what="the exit seen")
        assert status["exit_code"] == -signal.SIGKILL and status["pid"] is None


def test_a_terminal_that_cannot_start_is_an_error_with_its_exit_code(tmp_path: Path) -> None:
    command = [sys.executable, str(STANDIN), "--exit-code", "3"]
    # The start check waits up to 10 s for an early exit (it returns as soon as the process ends).
    with running_agent(tmp_path, terminal_command=command, autostart=False, start_check_seconds=10) as agent:
        assert agent.status()["state"] == "stopped"
        answer = agent.signed("POST", "/start", b"{}")
        assert answer.status == 500 and answer.data["error"] == "action_failed"
        assert "exit code 3" in answer.data["message"]
        status = agent.status()
        assert status["state"] == "exited" and status["exit_code"] == 3
        assert status["last_action"]["ok"] is False


def test_refusals_of_malformed_requests(agent: RunningAgent) -> None:
    big = b"{" + b" " * 5000 + b"}"
    too_big = agent.signed("POST", "/restart", big)
    assert too_big.status == 413 and too_big.data["error"] == "body_too_large"
    unknown = agent.signed("GET", "/secrets")
    assert unknown.status == 404 and unknown.data["error"] == "not_found"
    wrong_method = agent.signed("GET", "/restart")
    assert wrong_method.status == 405
    not_json = agent.signed("POST", "/start", b"not json")
    assert not_json.status == 400 and not_json.data["error"] == "bad_request"


def test_it_listens_on_the_configured_address_only(agent: RunningAgent) -> None:
    assert agent.host == "127.0.0.1"
    with socket.create_connection(("127.0.0.1", agent.port), timeout=5):
        pass
    with pytest.raises(OSError), socket.create_connection(("127.0.0.2", agent.port), timeout=5):
        pass  # another loopback address of this host: nothing listens there


@pytest.mark.parametrize("bind", ["0.0.0.0", "::", "localhost"])
def test_it_refuses_to_listen_everywhere_or_on_a_name(tmp_path: Path, bind: str) -> None:
    write_config(tmp_path, [generate_key("k1")], bind=bind)
    result = subprocess.run(
        [sys.executable, str(AGENT), "run", "--config", str(tmp_path / "agent.json")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "bind" in result.stderr


def test_keys_rotate_without_a_restart(tmp_path: Path) -> None:
    old, new = generate_key("k2026a"), generate_key("k2026b")
    with running_agent(tmp_path, [old]) as agent:
        assert agent.signed("GET", "/status", key_line=new).data["error"] == "unknown_key"
        (tmp_path / "keys").write_text(f"{old}\n{new}\n")  # rotation: both accepted
        assert agent.signed("GET", "/status", key_line=new).status == 200
        assert agent.signed("GET", "/status", key_line=old).status == 200
        (tmp_path / "keys").write_text(f"# rotated\n{new}\n")  # the old key retired
        assert agent.signed("GET", "/status", key_line=old).data["error"] == "unknown_key"
        assert agent.signed("GET", "/status", key_line=new).status == 200
        (tmp_path / "keys").write_text(f"{new}\nnot a key\n")  # a broken file: the keys last read stay
        assert agent.signed("GET", "/status", key_line=new).status == 200
        assert "keys file not read again" in agent.log


def test_keys_come_from_the_environment_and_three_are_too_many(tmp_path: Path) -> None:
    key = generate_key("env1")
    seen = tmp_path / "terminal-environment.json"
    command = [sys.executable, str(STANDIN), "--environment-to", str(seen)]
    write_config(tmp_path, [key], terminal_command=command, environment={"WINEPREFIX": "/opt/mt5/a/prefix"})
    config = json.loads((tmp_path / "agent.json").read_text())
    del config["keys_file"]
    (tmp_path / "agent.json").write_text(json.dumps(config))
    agent = launch(tmp_path, key, env={"QUANTARB_MT5_AGENT_KEYS": key})
    try:
        assert agent.signed("GET", "/status").status == 200
        environment = json.loads(wait_until(lambda: seen.exists() and seen.read_text(), what="the terminal's env"))
        # The terminal gets its configured variables, never the agent's keys.
        assert environment["WINEPREFIX"] == "/opt/mt5/a/prefix"
        assert "QUANTARB_MT5_AGENT_KEYS" not in environment
    finally:
        cleanup(agent)
    three = [generate_key(f"k{n}") for n in range(3)]
    write_config(tmp_path, three)
    result = subprocess.run(
        [sys.executable, str(AGENT), "run", "--config", str(tmp_path / "agent.json")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "at most 2 keys" in result.stderr


def test_a_restarted_agent_takes_the_running_terminal_over(tmp_path: Path) -> None:
    key = generate_key("k1")
    write_config(tmp_path, [key])
    first = launch(tmp_path, key)
    pid = first.status()["pid"]
    first.stop_agent()  # its terminal is the second agent's to end
    assert first.process.stdout is not None
    first.process.stdout.close()
    assert pid_alive(pid)  # the terminal outlives its agent
    second = launch(tmp_path, key)
    second.terminal_pids.add(pid)
    try:
        status = second.status()
        assert status["pid"] == pid and status["adopted"] and status["state"] == "running"
        assert status["uptime_seconds"] > 0
        wait_until(lambda: second.status()["memory_bytes"] >= 48 * MIB, what="the taken-over terminal's memory")
        restarted = second.signed("POST", "/restart", b"{}").data["terminal"]
        assert restarted["pid"] != pid and not restarted["adopted"]
        wait_until(lambda: not pid_alive(pid), what="the taken-over terminal to end")
    finally:
        cleanup(second)
