"""Runs the MT5 supervisor agent (deploy/mt5-agent/agent.py) as its own process on 127.0.0.1 with a stand-in
terminal (tests/fakes/terminal_standin.py), and talks to it: raw HTTP, and requests signed as the agent's docstring
specifies (written here from that text, not taken from the agent or the platform's client)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
AGENT = ROOT / "deploy" / "mt5-agent" / "agent.py"
STANDIN = ROOT / "tests" / "fakes" / "terminal_standin.py"


def wait_until(predicate: Callable[[], Any], *, timeout: float = 15.0, what: str = "the condition") -> Any:
    """Poll `predicate` until it returns something truthy, or fail after `timeout` seconds (tests/waiting.py)."""
    return wait_for(predicate, timeout, what)


def pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def generate_key(key_id: str) -> str:
    """A key line from the agent's own `genkey`."""
    result = subprocess.run(
        [sys.executable, str(AGENT), "genkey", "--id", key_id], capture_output=True, text=True, check=True, timeout=30
    )
    return result.stdout.strip()


def sign_request(
    key_line: str, method: str, target: str, body: bytes, *, timestamp: int | None = None, nonce: str | None = None
) -> dict[str, str]:
    key_id, _sep, secret_hex = key_line.partition(":")
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(16)
    lines = ["QA-MT5-AGENT-1", method, target, hashlib.sha256(body).hexdigest(), stamp, nonce, key_id]
    signature = hmac.new(bytes.fromhex(secret_hex), "\n".join(lines).encode(), hashlib.sha256).hexdigest()
    return {"X-QA-Key-Id": key_id, "X-QA-Timestamp": stamp, "X-QA-Nonce": nonce, "X-QA-Signature": signature}


def answer_signed_by(key_line: str, status: int, body: bytes, nonce: str, signature: str | None) -> bool:
    key_id, _sep, secret_hex = key_line.partition(":")
    lines = ["QA-MT5-AGENT-1-RESPONSE", str(status), hashlib.sha256(body).hexdigest(), nonce, key_id]
    expected = hmac.new(bytes.fromhex(secret_hex), "\n".join(lines).encode(), hashlib.sha256).hexdigest()
    return signature is not None and hmac.compare_digest(expected, signature)


@dataclass
class Answer:
    status: int
    data: dict[str, Any]
    body: bytes
    headers: dict[str, str]


@dataclass
class RunningAgent:
    process: subprocess.Popen[str]
    host: str
    port: int
    directory: Path
    key_line: str
    terminal_pids: set[int] = field(default_factory=set)

    @property
    def log(self) -> str:
        return (self.directory / "agent.stderr").read_text(errors="replace")

    def raw(self, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Answer:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            connection.request(method, target, body=body, headers=headers or {})
            response = connection.getresponse()
            data = response.read()
            answer = Answer(response.status, json.loads(data) if data else {}, data, dict(response.getheaders()))
        finally:
            connection.close()
        terminal = answer.data.get("terminal") or {}
        if terminal.get("pid"):
            self.terminal_pids.add(int(terminal["pid"]))
        return answer

    def signed(
        self,
        method: str,
        target: str,
        body: bytes = b"",
        *,
        key_line: str | None = None,
        timestamp: int | None = None,
        nonce: str | None = None,
    ) -> Answer:
        headers = sign_request(key_line or self.key_line, method, target, body, timestamp=timestamp, nonce=nonce)
        return self.raw(method, target, body, headers)

    def status(self) -> dict[str, Any]:
        answer = self.signed("GET", "/status")
        assert answer.status == 200, answer.data
        return dict(answer.data["terminal"])

    def stop_agent(self) -> None:
        """Stop the agent's own process (SIGTERM, as a service manager does); the terminal is left running."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=20)


def write_config(directory: Path, key_lines: list[str], **overrides: Any) -> Path:
    (directory / "keys").write_text("".join(f"{line}\n" for line in key_lines))
    config: dict[str, Any] = {
        "terminal_command": [sys.executable, str(STANDIN), "--hold-mib", "48"],
        "bind": "127.0.0.1",
        "port": 0,
        "keys_file": "keys",
        "state_file": "state.json",
        "start_check_seconds": 0.3,
        "stop_timeout_seconds": 5,
        "kill_timeout_seconds": 5,
    }
    config.update(overrides)
    path = directory / "agent.json"
    path.write_text(json.dumps(config))
    return path


def launch(directory: Path, key_line: str, env: dict[str, str] | None = None) -> RunningAgent:
    """Start the agent on the configuration in `directory` and wait until it listens."""
    stderr = open(directory / "agent.stderr", "ab")  # noqa: SIM115 - the child writes to it
    try:
        process = subprocess.Popen(
            [sys.executable, str(AGENT), "run", "--config", str(directory / "agent.json")],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=dict(os.environ, **(env or {})),
        )
    finally:
        stderr.close()
    assert process.stdout is not None
    line = process.stdout.readline()  # printed once it listens; EOF if it exits
    if not line.startswith("LISTENING "):
        process.wait(timeout=20)
        raise RuntimeError(
            f"the agent did not start ({process.returncode}): {(directory / 'agent.stderr').read_text()}"
        )
    _word, host, port = line.split()
    return RunningAgent(process, host, int(port), directory, key_line)


@contextlib.contextmanager
def running_agent(directory: Path, key_lines: list[str] | None = None, **overrides: Any) -> Iterator[RunningAgent]:
    """An agent with a stand-in terminal; the agent and every terminal it reported are ended afterwards."""
    key_lines = key_lines or [generate_key("k1")]
    write_config(directory, key_lines, **overrides)
    agent = launch(directory, key_lines[0])
    try:
        agent.status()  # answered once its start-up (and the terminal's autostart) is over
        yield agent
    finally:
        cleanup(agent)


def cleanup(agent: RunningAgent) -> None:
    if agent.process.poll() is None:
        agent.process.kill()
        agent.process.wait(timeout=20)
    with contextlib.suppress(OSError, ValueError, KeyError):  # the agent's own record of its terminal
        agent.terminal_pids.add(int(json.loads((agent.directory / "state.json").read_text())["pid"]))
    if agent.process.stdout is not None:
        agent.process.stdout.close()
    for pid in agent.terminal_pids:
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)  # each stand-in leads its own process group
