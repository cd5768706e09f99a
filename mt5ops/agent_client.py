"""The platform's client of the MT5 supervisor agent (deploy/mt5-agent/agent.py): the terminal process's state,
memory and uptime, and start, stop and restart.

- Every request is signed as the agent expects (scheme QA-MT5-AGENT-1: HMAC-SHA256 over the method, the request
  target, the body's SHA-256, a timestamp and a fresh nonce, with the key id in a header); every answer the agent
  signed is checked, and a successful answer without a valid signature is refused (it is not the agent's).
- The agent's host is an outbound destination under the platform's allow-list of MT5 hosts
  (`QUANTARB_MT5_BRIDGE_HOSTS`, quantarb/outbound.py): the agent's host and port must be listed as the bridge's
  are; cloud metadata addresses never pass. The socket connects to the address that was vetted.
- Short timeouts: connecting 3 s, reading a status 5 s; a stop or restart as long as the agent's stop timeout
  allows (45 s by default).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import re
import secrets
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from quantarb import outbound

SCHEME = "QA-MT5-AGENT-1"  # the agent's; tests/mt5ops/test_agent_client.py signs against the real agent
HEADER_KEY_ID = "X-QA-Key-Id"
HEADER_TIMESTAMP = "X-QA-Timestamp"
HEADER_NONCE = "X-QA-Nonce"
HEADER_SIGNATURE = "X-QA-Signature"
HEADER_RESPONSE_SIGNATURE = "X-QA-Response-Signature"
KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,32}")
MIN_SECRET_BYTES = 32
MAX_ANSWER_BYTES = 65_536
DEFAULT_AGENT_PORT = 18900


class AgentError(Exception):
    """The agent could not be asked, or refused, or failed; `code` is the agent's error code when it gave one
    (`unsigned`, `bad_signature`, `unknown_key`, `stale`, `replayed`, `busy`, `action_failed` …), else ours
    (`destination_refused`, `unreachable`, `bad_answer`, `unsigned_answer`)."""

    def __init__(self, message: str, *, code: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class AgentDestinationRefused(AgentError):
    """The agent's host is not one the platform may connect to (nothing was sent)."""


class AgentUnreachable(AgentError):
    """No answer: refused, timed out, or the connection dropped (a start, stop or restart may have happened)."""


class AgentRefused(AgentError):
    """The agent answered 4xx: the request was not carried out."""


@dataclass(frozen=True, slots=True)
class AgentKey:
    key_id: str
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not KEY_ID.fullmatch(self.key_id):
            raise ValueError(_("The agent key id is 1 to 32 letters, digits, dots, dashes or underscores."))
        if len(self.secret) < MIN_SECRET_BYTES:
            raise ValueError(_("The agent key is shorter than 32 bytes."))

    @classmethod
    def parse(cls, line: str) -> AgentKey:
        """A key line as `agent.py genkey` prints it: `key_id:64 hex digits`."""
        key_id, _sep, secret_hex = line.strip().partition(":")
        try:
            secret = bytes.fromhex(secret_hex.strip())
        except ValueError:
            raise ValueError(_("The agent key is not of the form key_id:hexadecimal secret.")) from None
        return cls(key_id.strip(), secret)


@dataclass(frozen=True, slots=True)
class TerminalProcess:
    """The terminal process as the agent reports it."""

    state: str  # running, stopped, exited, starting, stopping
    pid: int | None
    started_at: datetime | None
    uptime_s: Decimal | None
    memory_bytes: int | None
    exit_code: int | None  # of the last process, once it has ended
    starts: int  # processes the agent started since it started
    adopted: bool  # taken over from an earlier run of the agent
    last_action: dict[str, Any] | None

    @property
    def running(self) -> bool:
        return self.state == "running"


@dataclass(frozen=True, slots=True)
class AgentAnswer:
    terminal: TerminalProcess
    agent_time: datetime | None
    action: str | None = None  # start, stop, restart (None for a status)
    changed: bool = False  # the action changed something (a start of a running terminal does not)


def request_message(method: str, target: str, body: bytes, timestamp: str, nonce: str, key_id: str) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join((SCHEME, method.upper(), target, digest, timestamp, nonce, key_id)).encode()


def response_message(status: int, body: bytes, nonce: str, key_id: str) -> bytes:
    return "\n".join((SCHEME + "-RESPONSE", str(status), hashlib.sha256(body).hexdigest(), nonce, key_id)).encode()


def signed_headers(
    key: AgentKey, method: str, target: str, body: bytes, *, timestamp: int | None = None, nonce: str | None = None
) -> dict[str, str]:
    """The signature headers of one request (a new nonce and the current time unless given)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_urlsafe(18)
    signature = hmac.new(
        key.secret, request_message(method, target, body, stamp, nonce, key.key_id), hashlib.sha256
    ).hexdigest()
    return {HEADER_KEY_ID: key.key_id, HEADER_TIMESTAMP: stamp, HEADER_NONCE: nonce, HEADER_SIGNATURE: signature}


class _VettedConnection(http.client.HTTPConnection):
    """HTTP to an address vetted by the outbound policy (no second resolution of the name)."""

    def __init__(self, host: str, port: int, rows: list[tuple[Any, ...]], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._rows = rows

    def connect(self) -> None:
        self.sock = outbound.connect_vetted(self._rows, self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _process(data: Any) -> TerminalProcess:
    if not isinstance(data, dict) or not isinstance(data.get("state"), str):
        raise AgentError(_("The agent's answer has no terminal state."), code="bad_answer")
    uptime = data.get("uptime_seconds")
    return TerminalProcess(
        state=data["state"],
        pid=_int(data.get("pid")),
        started_at=_datetime(data.get("started_at")),
        uptime_s=Decimal(str(uptime)).quantize(Decimal("0.001")) if isinstance(uptime, int | float) else None,
        memory_bytes=_int(data.get("memory_bytes")),
        exit_code=_int(data.get("exit_code")),
        starts=_int(data.get("starts")) or 0,
        adopted=bool(data.get("adopted")),
        last_action=data.get("last_action") if isinstance(data.get("last_action"), dict) else None,
    )


class AgentClient:
    """One terminal host's agent. Thread-safe (each request has its own connection)."""

    def __init__(
        self,
        host: str,
        port: int,
        key: AgentKey,
        *,
        connect_timeout_s: float = 3.0,
        timeout_s: float = 5.0,
        action_timeout_s: float = 45.0,
    ) -> None:
        self.host = host
        self.port = port
        self.key = key
        self.connect_timeout_s = connect_timeout_s
        self.timeout_s = timeout_s
        self.action_timeout_s = action_timeout_s

    def __repr__(self) -> str:
        return f"AgentClient({self.host}:{self.port}, key {self.key.key_id})"

    def status(self) -> AgentAnswer:
        return self._answer(self._request("GET", "/status", None, self.timeout_s))

    def start(self) -> AgentAnswer:
        return self._answer(self._request("POST", "/start", {}, self.action_timeout_s))

    def stop(self) -> AgentAnswer:
        return self._answer(self._request("POST", "/stop", {}, self.action_timeout_s))

    def restart(self) -> AgentAnswer:
        return self._answer(self._request("POST", "/restart", {}, self.action_timeout_s))

    def check_destination(self) -> None:
        """Refuse (AgentDestinationRefused) a host and port the platform may not connect to."""
        self._vetted_rows()

    def _vetted_rows(self) -> list[tuple[Any, ...]]:
        try:
            return outbound.bridge_addresses(self.host, self.port)
        except outbound.DestinationRefused as exc:
            raise AgentDestinationRefused(str(exc), code="destination_refused") from exc

    def _answer(self, data: dict[str, Any]) -> AgentAnswer:
        agent = data.get("agent")
        if not isinstance(agent, dict):
            agent = {}
        action = data.get("action")
        return AgentAnswer(
            terminal=_process(data.get("terminal")),
            agent_time=_datetime(agent.get("time")),
            action=action if isinstance(action, str) else None,
            changed=bool(data.get("changed")),
        )

    def _request(self, method: str, path: str, payload: dict[str, Any] | None, timeout: float) -> dict[str, Any]:
        rows = self._vetted_rows()
        body = json.dumps(payload).encode() if payload is not None else b""
        headers = signed_headers(self.key, method, path, body)
        headers["Content-Type"] = "application/json"
        where = f"{self.host}:{self.port}"
        connection = _VettedConnection(self.host, self.port, rows, self.connect_timeout_s)
        try:
            connection.connect()
            assert connection.sock is not None
            connection.sock.settimeout(timeout)
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read(MAX_ANSWER_BYTES + 1)
            status = response.status
            answer_signature = response.getheader(HEADER_RESPONSE_SIGNATURE) or ""
        except (OSError, http.client.HTTPException) as exc:
            raise AgentUnreachable(
                _("The terminal's agent at %(where)s did not answer (%(error)s).")
                % {"where": where, "error": type(exc).__name__},
                code="unreachable",
            ) from exc
        finally:
            connection.close()
        expected = hmac.new(
            self.key.secret,
            response_message(status, data, headers[HEADER_NONCE], self.key.key_id),
            hashlib.sha256,
        ).hexdigest()
        signed = hmac.compare_digest(expected, answer_signature.lower())
        if 200 <= status < 300 and not signed:
            raise AgentError(
                _("The answer from %(where)s is not signed with the agent's key: it is not the agent's.")
                % {"where": where},
                code="unsigned_answer",
                status=status,
            )
        if len(data) > MAX_ANSWER_BYTES:
            raise AgentError(_("The agent's answer is too long."), code="bad_answer", status=status)
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise AgentError(
                _("The agent at %(where)s answered %(status)s without JSON.") % {"where": where, "status": status},
                code="bad_answer",
                status=status,
            )
        if 200 <= status < 300:
            return parsed
        code = str(parsed.get("error") or "error")[:64]
        message = str(parsed.get("message") or code)[:500]
        if 400 <= status < 500:
            raise AgentRefused(
                _("The terminal's agent refused the request: %(message)s") % {"message": message},
                code=code,
                status=status,
            )
        raise AgentError(_("The terminal's agent failed: %(message)s") % {"message": message}, code=code, status=status)
