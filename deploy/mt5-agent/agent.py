"""quantarb's MT5 supervisor agent: starts, stops and restarts one MetaTrader 5 terminal (`terminal64.exe`, natively
on Windows or under Wine) on its host, and reports the process's state, memory and uptime. Standard library only
(Python 3.9+); README.md beside this file says how to install it, generate keys and rotate them.

    python agent.py genkey --id k2026a          # prints a new key line: k2026a:<64 hex digits>
    python agent.py run --config agent.json     # serves until stopped

JSON over HTTP, every request signed (HMAC-SHA256, below); anything else is refused with a JSON error:
    GET  /status    the terminal process: state, pid, started_at, uptime_seconds, memory_bytes, exit_code
    POST /start     start it (no change when it runs)
    POST /stop      stop it: a graceful close, then a kill after `stop_timeout_seconds`
    POST /restart   stop, then start (a new process)

Signing (scheme QA-MT5-AGENT-1). Headers X-QA-Key-Id, X-QA-Timestamp (Unix seconds), X-QA-Nonce (16-64 of
[A-Za-z0-9_-], new for every request) and X-QA-Signature: the lowercase hex HMAC-SHA256, with the key named by the
key id, of these lines joined by "\\n":
    QA-MT5-AGENT-1 / the method / the request target (path and query, as sent) / hex SHA-256 of the body /
    the timestamp / the nonce / the key id
Refused: a request without them (unsigned), with an unknown key id, a wrong signature, a timestamp more than
`clock_skew_seconds` from the agent's clock (stale), or a nonce already seen within that window (replayed); a body
over `max_body_bytes`. Every answer to a signed request carries X-QA-Response-Signature: the HMAC, with the same
key, of "QA-MT5-AGENT-1-RESPONSE", the status code, hex SHA-256 of the answer's body, the request's nonce and the
key id, joined by "\\n" — so the platform knows the answer is the agent's.

Keys: lines `key_id:secret` (the secret: at least 32 bytes as hex) in `keys_file`, else in the environment variable
QUANTARB_MT5_AGENT_KEYS (comma-separated). At most two: the current key and, during a rotation, the next one. The
file is read again when it changes, so a rotation needs no restart.

The agent never restarts the terminal on its own (the platform's recovery does, within its restart budget), except
that it starts it when the agent starts and `autostart` is on. A terminal that outlives the agent (the agent was
restarted) is taken over again: its pid and start time are kept in `state_file`.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import hashlib
import heapq
import hmac
import ipaddress
import json
import logging
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from ctypes import wintypes
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

VERSION = "1"
SCHEME = "QA-MT5-AGENT-1"
HEADER_KEY_ID = "X-QA-Key-Id"
HEADER_TIMESTAMP = "X-QA-Timestamp"
HEADER_NONCE = "X-QA-Nonce"
HEADER_SIGNATURE = "X-QA-Signature"
HEADER_RESPONSE_SIGNATURE = "X-QA-Response-Signature"
KEYS_ENV = "QUANTARB_MT5_AGENT_KEYS"
KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,32}")
NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
TIMESTAMP = re.compile(r"[0-9]{1,12}")
SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")
MIN_SECRET_BYTES = 32
MAX_KEYS = 2
WINDOWS = sys.platform == "win32"
UTC = timezone.utc  # noqa: UP017 - datetime.UTC is Python 3.11+; terminal hosts may run 3.9

log = logging.getLogger("mt5-agent")


# --- signing ---------------------------------------------------------------------------------------------------
def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def request_message(method: str, target: str, body: bytes, timestamp: str, nonce: str, key_id: str) -> bytes:
    return "\n".join((SCHEME, method.upper(), target, body_digest(body), timestamp, nonce, key_id)).encode()


def response_message(status: int, body: bytes, nonce: str, key_id: str) -> bytes:
    return "\n".join((SCHEME + "-RESPONSE", str(status), body_digest(body), nonce, key_id)).encode()


def sign(secret: bytes, message: bytes) -> str:
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def parse_keys(text: str, *, source: str) -> dict[str, bytes]:
    """`key_id:hex secret` entries, one a line or comma-separated; blank lines and `#` comments are skipped."""
    keys: dict[str, bytes] = {}
    for raw in re.split(r"[\n,]", text):
        entry = raw.split("#", 1)[0].strip()
        if not entry:
            continue
        key_id, sep, secret_hex = entry.partition(":")
        key_id, secret_hex = key_id.strip(), secret_hex.strip()
        if not sep or not KEY_ID.fullmatch(key_id):
            raise ValueError(f"{source}: each key is `key_id:secret`, the id 1-32 of [A-Za-z0-9._-]")
        try:
            secret = bytes.fromhex(secret_hex)
        except ValueError:
            raise ValueError(f"{source}: the secret of key {key_id!r} is not hexadecimal") from None
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"{source}: the secret of key {key_id!r} is shorter than {MIN_SECRET_BYTES} bytes")
        if key_id in keys:
            raise ValueError(f"{source}: key {key_id!r} is given twice")
        keys[key_id] = secret
    if not keys:
        raise ValueError(f"{source}: no key")
    if len(keys) > MAX_KEYS:
        raise ValueError(f"{source}: at most {MAX_KEYS} keys (the current one and, while rotating, the next)")
    return keys


class KeyRing:
    """The accepted keys: from a file (read again whenever it changes) or from the environment."""

    def __init__(self, keys_file: Path | None, env_value: str | None) -> None:
        self._file = keys_file
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        if keys_file is not None:
            self._keys = self._read_file()
        elif env_value:
            self._keys = parse_keys(env_value, source=KEYS_ENV)
        else:
            raise ValueError(f"no keys: set keys_file in the configuration or the {KEYS_ENV} environment variable")

    def _read_file(self) -> dict[str, bytes]:
        assert self._file is not None
        stat = self._file.stat()
        keys = parse_keys(self._file.read_text(encoding="utf-8"), source=str(self._file))
        self._stamp = (stat.st_mtime_ns, stat.st_size)
        return keys

    def get(self, key_id: str) -> bytes | None:
        with self._lock:
            if self._file is not None:
                self._reload_if_changed()
            return self._keys.get(key_id)

    def _reload_if_changed(self) -> None:
        assert self._file is not None
        try:
            stat = self._file.stat()
        except OSError as exc:
            log.error("keys file unreadable, the previous keys stay: %s", exc)
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        try:
            self._keys = self._read_file()
        except (OSError, ValueError) as exc:  # keep serving with the keys last read (said once per change)
            self._stamp = stamp
            log.error("keys file not read again, the previous keys stay: %s", exc)
        else:
            log.info("keys read again from %s: %s", self._file, ", ".join(sorted(self._keys)))

    def key_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._keys)


class NonceCache:
    """Nonces seen, each kept until a request carrying it would be stale anyway."""

    def __init__(self, limit: int = 100_000) -> None:
        self._expiry: dict[str, float] = {}
        self._queue: list[tuple[float, str]] = []
        self._limit = limit
        self._lock = threading.Lock()

    def remember(self, nonce: str, expires_at: float, now: float) -> bool:
        """Record `nonce`; False when it was seen and has not expired (a replay)."""
        with self._lock:
            while self._queue and self._queue[0][0] < now:
                expired, old = heapq.heappop(self._queue)
                if self._expiry.get(old) == expired:
                    del self._expiry[old]
            if nonce in self._expiry:
                return False
            if len(self._expiry) >= self._limit:
                raise Busy("too many requests within the clock skew window")
            self._expiry[nonce] = expires_at
            heapq.heappush(self._queue, (expires_at, nonce))
            return True


# --- configuration ---------------------------------------------------------------------------------------------
@dataclass
class Config:
    terminal_command: list[str]
    bind: str = "127.0.0.1"
    port: int = 18900
    working_directory: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    keys_file: str | None = None
    clock_skew_seconds: float = 30.0
    max_body_bytes: int = 4096
    stop_timeout_seconds: float = 20.0
    kill_timeout_seconds: float = 10.0
    start_check_seconds: float = 2.0
    graceful_stop_command: list[str] | None = None
    state_file: str | None = None
    terminal_log: str | None = None
    log_file: str | None = None
    autostart: bool = True
    allow_all_interfaces: bool = False
    max_connections: int = 16

    @classmethod
    def load(cls, path: Path) -> Config:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: {exc}") from None
        if not isinstance(raw, dict):
            raise ValueError(f"{path}: the configuration is a JSON object")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"{path}: unknown settings {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        try:
            config = cls(**raw)
        except TypeError as exc:  # a required setting missing
            raise ValueError(f"{path}: {exc}") from None
        config.check(base=path.parent)
        return config

    def check(self, base: Path) -> None:
        def strings(value: Any) -> bool:
            return isinstance(value, list) and bool(value) and all(isinstance(item, str) and item for item in value)

        if not strings(self.terminal_command):
            raise ValueError("terminal_command is a list of strings: the program and its arguments")
        if self.graceful_stop_command is not None and not strings(self.graceful_stop_command):
            raise ValueError("graceful_stop_command is a list of strings, or null")
        if not isinstance(self.environment, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.environment.items()
        ):
            raise ValueError("environment maps names to strings")
        try:
            address = ipaddress.ip_address(self.bind)
        except ValueError:
            raise ValueError(f"bind must be an IP address of this host, not {self.bind!r}") from None
        if address.is_unspecified and not self.allow_all_interfaces:
            raise ValueError(
                f"bind {self.bind} listens on every interface: give one address (default 127.0.0.1), or set "
                "allow_all_interfaces to true if that is really meant"
            )
        if not isinstance(self.port, int) or isinstance(self.port, bool) or not 0 <= self.port <= 65535:
            raise ValueError("port is 0-65535 (0: any free port)")
        for name in ("clock_skew_seconds", "stop_timeout_seconds", "kill_timeout_seconds", "start_check_seconds"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} is a number of seconds, not negative")
        if not isinstance(self.max_body_bytes, int) or not 0 < self.max_body_bytes <= 1_048_576:
            raise ValueError("max_body_bytes is 1-1048576")
        if not isinstance(self.max_connections, int) or self.max_connections < 1:
            raise ValueError("max_connections is at least 1")
        for name in ("keys_file", "state_file", "terminal_log", "log_file", "working_directory"):
            value = getattr(self, name)
            if value is not None:
                if not isinstance(value, str) or not value:
                    raise ValueError(f"{name} is a path, or null")
                setattr(self, name, str((base / value) if not Path(value).is_absolute() else Path(value)))


# --- the terminal process ----------------------------------------------------------------------------------------
def child_environment(config: Config) -> dict[str, str]:
    """The agent's environment without its keys, plus the configured variables (WINEPREFIX, DISPLAY …)."""
    environment = {name: value for name, value in os.environ.items() if name != KEYS_ENV}
    environment.update(config.environment)
    return environment


class ActionFailed(Exception):
    pass


class Busy(Exception):
    pass


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


class PosixProcesses:
    """Linux (Wine) and other POSIX hosts. Memory and identity come from /proc where there is one."""

    def popen_options(self) -> dict[str, Any]:
        return {"start_new_session": True}  # its own process group: a stop reaches the whole tree

    def _stat(self, pid: int) -> list[str] | None:
        try:
            text = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        return text[text.rfind(")") + 2 :].split()  # after "pid (comm) ": state, ppid, … (field 3 onwards)

    def alive(self, pid: int) -> bool:
        stat = self._stat(pid)
        if stat is not None:
            return stat[0] not in ("Z", "X")
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # there, but another user's
            return True
        return True

    def identity(self, pid: int) -> str | None:
        """The process's start time since boot (/proc/PID/stat field 22): with the pid, who it is."""
        stat = self._stat(pid)
        return stat[19] if stat is not None and len(stat) > 19 else None

    def memory_bytes(self, pid: int) -> int | None:
        """Resident memory of the process and its descendants (Wine's launcher, a virtual display …)."""
        if not Path("/proc").is_dir():
            return None
        children: dict[int, list[int]] = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                stat = self._stat(int(entry.name))
                if stat is not None and len(stat) > 1:
                    children.setdefault(int(stat[1]), []).append(int(entry.name))
        page = os.sysconf("SC_PAGE_SIZE")
        total, pending, found = 0, [pid], False
        while pending:
            current = pending.pop()
            try:
                resident = int(Path(f"/proc/{current}/statm").read_text().split()[1])
            except (OSError, IndexError, ValueError):
                continue
            found = True
            total += resident * page
            pending.extend(children.get(current, ()))
        return total if found else None

    def _signal(self, pid: int, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            if os.getpgid(pid) == pid:
                os.killpg(pid, signum)
            else:
                os.kill(pid, signum)

    def close(self, pid: int) -> None:
        self._signal(pid, signal.SIGTERM)

    def kill(self, pid: int) -> None:
        self._signal(pid, signal.SIGKILL)


class WindowsProcesses:
    """Windows, through kernel32 (ctypes) and taskkill."""

    STILL_ACTIVE = 259
    QUERY = 0x1000 | 0x0010  # PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_VM_READ

    def __init__(self) -> None:
        self.ctypes, self.wintypes = ctypes, wintypes
        self.kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        k32 = self.kernel32
        k32.OpenProcess.restype = wintypes.HANDLE
        k32.OpenProcess.argtypes = (wintypes.DWORD, wintypes.BOOL, wintypes.DWORD)
        k32.CloseHandle.argtypes = (wintypes.HANDLE,)
        k32.GetExitCodeProcess.argtypes = (wintypes.HANDLE, ctypes.POINTER(wintypes.DWORD))
        k32.GetProcessTimes.argtypes = (wintypes.HANDLE, *(ctypes.POINTER(wintypes.FILETIME),) * 4)
        k32.K32GetProcessMemoryInfo.argtypes = (wintypes.HANDLE, ctypes.c_void_p, wintypes.DWORD)

        class Counters(ctypes.Structure):
            _fields_ = [
                ("cb", wintypes.DWORD),
                ("PageFaultCount", wintypes.DWORD),
                ("PeakWorkingSetSize", ctypes.c_size_t),
                ("WorkingSetSize", ctypes.c_size_t),
                ("QuotaPeakPagedPoolUsage", ctypes.c_size_t),
                ("QuotaPagedPoolUsage", ctypes.c_size_t),
                ("QuotaPeakNonPagedPoolUsage", ctypes.c_size_t),
                ("QuotaNonPagedPoolUsage", ctypes.c_size_t),
                ("PagefileUsage", ctypes.c_size_t),
                ("PeakPagefileUsage", ctypes.c_size_t),
            ]

        self.Counters = Counters

    def popen_options(self) -> dict[str, Any]:
        return {"creationflags": 0x00000200}  # CREATE_NEW_PROCESS_GROUP

    @contextlib.contextmanager
    def _handle(self, pid: int) -> Any:
        handle = self.kernel32.OpenProcess(self.QUERY, False, pid)
        try:
            yield handle
        finally:
            if handle:
                self.kernel32.CloseHandle(handle)

    def alive(self, pid: int) -> bool:
        with self._handle(pid) as handle:
            if not handle:
                return False
            code = self.wintypes.DWORD()
            if not self.kernel32.GetExitCodeProcess(handle, self.ctypes.byref(code)):
                return False
            return code.value == self.STILL_ACTIVE

    def identity(self, pid: int) -> str | None:
        """The process's creation time (FILETIME): with the pid, who it is."""
        with self._handle(pid) as handle:
            if not handle:
                return None
            times = [self.wintypes.FILETIME() for _ in range(4)]
            if not self.kernel32.GetProcessTimes(handle, *(self.ctypes.byref(t) for t in times)):
                return None
            return str((times[0].dwHighDateTime << 32) | times[0].dwLowDateTime)

    def memory_bytes(self, pid: int) -> int | None:
        """The working set of the terminal's process."""
        with self._handle(pid) as handle:
            if not handle:
                return None
            counters = self.Counters()
            counters.cb = self.ctypes.sizeof(counters)
            if not self.kernel32.K32GetProcessMemoryInfo(handle, self.ctypes.byref(counters), counters.cb):
                return None
            return int(counters.WorkingSetSize)

    def close(self, pid: int) -> None:
        # Without /F taskkill asks the process's windows to close (WM_CLOSE): the terminal saves and exits.
        subprocess.run(["taskkill", "/PID", str(pid), "/T"], capture_output=True, timeout=15, check=False)

    def kill(self, pid: int) -> None:
        subprocess.run(["taskkill", "/F", "/T", "/PID", str(pid)], capture_output=True, timeout=15, check=False)


@dataclass
class Tracked:
    pid: int
    started_at: float  # Unix time
    identity: str | None
    popen: subprocess.Popen[bytes] | None = None  # None: taken over from an earlier run of the agent
    started_monotonic: float | None = None


class Terminal:
    """The one terminal process this agent supervises."""

    def __init__(self, config: Config, processes: Any | None = None) -> None:
        self.config = config
        self.processes = processes or (WindowsProcesses() if WINDOWS else PosixProcesses())
        self._action = threading.Lock()  # one start/stop/restart at a time
        self._state = threading.Lock()  # guards the fields below; never held while waiting on a process
        self._tracked: Tracked | None = None
        self._phase: str | None = None  # "starting" / "stopping" while an action runs
        self._exit_code: int | None = None
        self._ended_by_itself = False
        self._starts = 0
        self._last_action: dict[str, Any] | None = None
        self._state_file = Path(config.state_file) if config.state_file else None

    # --- state file: a terminal that outlives the agent is taken over on its next start -------------------------
    def adopt(self) -> bool:
        if self._state_file is None or not self._state_file.exists():
            return False
        try:
            saved = json.loads(self._state_file.read_text(encoding="utf-8"))
            pid, identity, started_at = int(saved["pid"]), saved.get("identity"), float(saved["started_at"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("state file %s unreadable, ignored: %s", self._state_file, exc)
            return False
        if identity and self.processes.alive(pid) and self.processes.identity(pid) == identity:
            with self._state:
                self._tracked = Tracked(pid=pid, started_at=started_at, identity=identity)
            log.info("took over the running terminal, pid %s", pid)
            return True
        self._forget_state_file()
        return False

    def _save_state_file(self, tracked: Tracked) -> None:
        if self._state_file is None:
            return
        data = {"pid": tracked.pid, "identity": tracked.identity, "started_at": tracked.started_at}
        temporary = self._state_file.with_name(self._state_file.name + ".tmp")
        temporary.write_text(json.dumps(data), encoding="utf-8")
        os.replace(temporary, self._state_file)

    def _forget_state_file(self) -> None:
        if self._state_file is not None:
            with contextlib.suppress(FileNotFoundError):
                self._state_file.unlink()

    # --- reading -----------------------------------------------------------------------------------------------
    def _alive(self, tracked: Tracked) -> bool:
        if tracked.popen is not None:
            return tracked.popen.poll() is None
        return self.processes.alive(tracked.pid)

    def _reap(self) -> None:
        """Forget a process that has ended by itself (caller holds `_state`)."""
        tracked = self._tracked
        if tracked is not None and not self._alive(tracked):
            self._exit_code = tracked.popen.returncode if tracked.popen is not None else None
            self._ended_by_itself = True
            self._tracked = None
            self._forget_state_file()
            log.warning("the terminal (pid %s) ended by itself, exit code %s", tracked.pid, self._exit_code)

    def status(self) -> dict[str, Any]:
        with self._state:
            if self._phase is None:
                self._reap()
            tracked, phase = self._tracked, self._phase
            exit_code, ended = self._exit_code, self._ended_by_itself
            starts, last_action = self._starts, self._last_action
        if tracked is not None:
            state = phase or "running"
            if tracked.started_monotonic is not None:
                uptime = time.monotonic() - tracked.started_monotonic
            else:
                uptime = max(0.0, time.time() - tracked.started_at)
            memory = self.processes.memory_bytes(tracked.pid)
        else:
            state = phase or ("exited" if ended else "stopped")
            uptime, memory = None, None
        return {
            "state": state,
            "pid": tracked.pid if tracked else None,
            "started_at": _iso(tracked.started_at) if tracked else None,
            "uptime_seconds": round(uptime, 3) if uptime is not None else None,
            "memory_bytes": memory,
            "exit_code": exit_code if tracked is None else None,
            "starts": starts,
            "adopted": bool(tracked and tracked.popen is None),
            "last_action": last_action,
        }

    # --- actions -----------------------------------------------------------------------------------------------
    def run_action(self, name: str) -> tuple[bool, dict[str, Any]]:
        if not self._action.acquire(blocking=False):
            raise Busy("another start, stop or restart is under way")
        try:
            started = time.time()
            try:
                if name == "start":
                    changed = self._start()
                elif name == "stop":
                    changed = self._stop()
                else:
                    self._stop()
                    changed = self._start() or True
            except ActionFailed as exc:
                self._record(name, started, ok=False, error=str(exc))
                raise
            finally:
                with self._state:
                    self._phase = None
            self._record(name, started, ok=True, error=None)
            return changed, self.status()
        finally:
            self._action.release()

    def _record(self, name: str, started: float, *, ok: bool, error: str | None) -> None:
        with self._state:
            self._last_action = {
                "action": name,
                "at": _iso(started),
                "seconds": round(time.time() - started, 3),
                "ok": ok,
                "error": error,
            }
        (log.info if ok else log.error)("%s: %s", name, "done" if ok else error)

    def _start(self) -> bool:
        with self._state:
            self._reap()
            if self._tracked is not None:
                return False
            self._phase = "starting"
        config = self.config
        environment = child_environment(config)
        output: Any = subprocess.DEVNULL
        if config.terminal_log:
            output = open(config.terminal_log, "ab")  # noqa: SIM115 - the child holds it; closed below
        try:
            popen = subprocess.Popen(
                config.terminal_command,
                cwd=config.working_directory,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                **self.processes.popen_options(),
            )
        except OSError as exc:
            raise ActionFailed(f"the terminal could not be started: {exc}") from None
        finally:
            if output is not subprocess.DEVNULL:
                output.close()
        tracked = Tracked(
            pid=popen.pid,
            started_at=time.time(),
            identity=self.processes.identity(popen.pid),
            popen=popen,
            started_monotonic=time.monotonic(),
        )
        self._save_state_file(tracked)  # at once: an agent ended from here on still knows its terminal next time
        try:
            code = popen.wait(timeout=config.start_check_seconds)
        except subprocess.TimeoutExpired:
            pass
        else:
            self._forget_state_file()
            with self._state:
                self._exit_code, self._ended_by_itself = code, True
            raise ActionFailed(f"the terminal exited at once, exit code {code}: check terminal_command")
        with self._state:
            self._tracked, self._exit_code, self._ended_by_itself = tracked, None, False
            self._starts += 1
        log.info("terminal started, pid %s", popen.pid)
        return True

    def _wait_gone(self, tracked: Tracked, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        if tracked.popen is not None:
            try:
                tracked.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                return False
            return True
        while self.processes.alive(tracked.pid):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
        return True

    def _stop(self) -> bool:
        with self._state:
            self._reap()
            tracked = self._tracked
            if tracked is None:
                return False
            self._phase = "stopping"
        config = self.config
        pid = tracked.pid
        if config.graceful_stop_command:
            command = [part.replace("{pid}", str(pid)) for part in config.graceful_stop_command]
            try:
                subprocess.run(
                    command,
                    env=child_environment(config),
                    cwd=config.working_directory,
                    capture_output=True,
                    timeout=max(config.stop_timeout_seconds, 1.0),
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                log.warning("graceful_stop_command failed: %s", exc)
        else:
            self.processes.close(pid)
        if not self._wait_gone(tracked, config.stop_timeout_seconds):
            log.warning("the terminal (pid %s) did not close within %ss: killed", pid, config.stop_timeout_seconds)
            self.processes.kill(pid)
            if not self._wait_gone(tracked, config.kill_timeout_seconds):
                raise ActionFailed(f"the terminal (pid {pid}) did not exit, even killed")
        with self._state:
            self._exit_code = tracked.popen.returncode if tracked.popen is not None else None
            self._tracked, self._ended_by_itself = None, False
        self._forget_state_file()
        return True


# --- HTTP --------------------------------------------------------------------------------------------------------
class Refused(Exception):
    def __init__(self, status: HTTPStatus, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


ROUTES = {
    ("GET", "/status"): "status",
    ("POST", "/start"): "start",
    ("POST", "/stop"): "stop",
    ("POST", "/restart"): "restart",
}


class Handler(BaseHTTPRequestHandler):
    server: AgentServer
    protocol_version = "HTTP/1.0"
    timeout = 10  # a client that sends its request slowly is dropped
    server_version = "quantarb-mt5-agent/" + VERSION
    sys_version = ""

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_OPTIONS(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._send(None, HTTPStatus.METHOD_NOT_ALLOWED, {"error": "method_not_allowed", "message": "use GET or POST"})

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.client_address[0], format % args)

    def _handle(self) -> None:
        signer: tuple[bytes, str, str] | None = None
        try:
            body = self._read_body()
            signer = self.server.authenticate(self.command, self.path, body, self.headers)
            action = ROUTES.get((self.command, self.path))
            if action is None:
                if any(path == self.path for _method, path in ROUTES):
                    raise Refused(HTTPStatus.METHOD_NOT_ALLOWED, "method_not_allowed", "wrong method for this path")
                raise Refused(HTTPStatus.NOT_FOUND, "not_found", "no such endpoint: /status, /start, /stop, /restart")
            if body:
                try:
                    payload = json.loads(body)
                except ValueError:
                    raise Refused(HTTPStatus.BAD_REQUEST, "bad_request", "the body is not JSON") from None
                if not isinstance(payload, dict):
                    raise Refused(HTTPStatus.BAD_REQUEST, "bad_request", "the body is a JSON object")
            # Status is polled every few seconds: logged only with --verbose. Actions always are.
            (log.debug if action == "status" else log.info)(
                "%s %s from %s (key %s)", self.command, self.path, self.client_address[0], signer[2]
            )
            if action == "status":
                result: dict[str, Any] = {"terminal": self.server.terminal.status()}
            else:
                changed, terminal = self.server.terminal.run_action(action)
                result = {"action": action, "changed": changed, "terminal": terminal}
            result["agent"] = {"version": VERSION, "time": _iso(time.time())}
            self._send(signer, HTTPStatus.OK, result)
        except Refused as refused:
            if refused.status == HTTPStatus.UNAUTHORIZED:
                log.warning(
                    "refused %s %s from %s: %s", self.command, self.path[:200], self.client_address[0], refused.code
                )
            self._send(signer, refused.status, {"error": refused.code, "message": refused.message})
        except Busy as exc:
            self._send(signer, HTTPStatus.CONFLICT, {"error": "busy", "message": str(exc)})
        except ActionFailed as exc:
            self._send(signer, HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "action_failed", "message": str(exc)})
        except Exception:
            log.exception("%s %s failed", self.command, self.path[:200])
            failure = {"error": "internal", "message": "see the agent's log"}
            self._send(signer, HTTPStatus.INTERNAL_SERVER_ERROR, failure)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            raise Refused(HTTPStatus.LENGTH_REQUIRED, "length_required", "send a Content-Length, not a chunked body")
        length_text = self.headers.get("Content-Length", "0").strip() or "0"
        if not length_text.isdigit():
            raise Refused(HTTPStatus.BAD_REQUEST, "bad_request", "Content-Length is not a number")
        length = int(length_text)
        if length > self.server.config.max_body_bytes:
            raise Refused(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                "body_too_large",
                f"the body is over {self.server.config.max_body_bytes} bytes",
            )
        body = self.rfile.read(length) if length else b""
        if len(body) != length:
            raise Refused(HTTPStatus.BAD_REQUEST, "bad_request", "the body is shorter than its Content-Length")
        return body

    def _send(self, signer: tuple[bytes, str, str] | None, status: HTTPStatus, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        if signer is not None:
            secret, nonce, key_id = signer
            self.send_header(HEADER_RESPONSE_SIGNATURE, sign(secret, response_message(status, data, nonce, key_id)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


class AgentServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = not WINDOWS  # on Windows it would let another process bind the same port

    def __init__(self, config: Config, keys: KeyRing, terminal: Terminal) -> None:
        self.config, self.keys, self.terminal = config, keys, terminal
        self.nonces = NonceCache()
        self._slots = threading.BoundedSemaphore(config.max_connections)
        self.address_family = socket.AF_INET6 if ":" in config.bind else socket.AF_INET
        super().__init__((config.bind, config.port), Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):  # over the connection cap: dropped, not queued
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def authenticate(self, method: str, target: str, body: bytes, headers: Any) -> tuple[bytes, str, str]:
        """(secret, nonce, key id) of a request that is signed, fresh and new; Refused otherwise."""
        key_id = headers.get(HEADER_KEY_ID)
        timestamp = headers.get(HEADER_TIMESTAMP)
        nonce = headers.get(HEADER_NONCE)
        signature = headers.get(HEADER_SIGNATURE)
        if not (key_id and timestamp and nonce and signature):
            raise Refused(
                HTTPStatus.UNAUTHORIZED,
                "unsigned",
                f"the request is not signed: {HEADER_KEY_ID}, {HEADER_TIMESTAMP}, {HEADER_NONCE} and "
                f"{HEADER_SIGNATURE} are required",
            )
        if not (
            KEY_ID.fullmatch(key_id)
            and TIMESTAMP.fullmatch(timestamp)
            and NONCE.fullmatch(nonce)
            and SIGNATURE.fullmatch(signature)
        ):
            raise Refused(
                HTTPStatus.UNAUTHORIZED,
                "malformed_signature",
                "the signature headers are malformed: a key id of [A-Za-z0-9._-], a timestamp in Unix seconds, "
                "a nonce of 16-64 [A-Za-z0-9_-] and a 64-digit hex signature",
            )
        secret = self.keys.get(key_id)
        if secret is None:
            raise Refused(HTTPStatus.UNAUTHORIZED, "unknown_key", f"the agent has no key {key_id!r}")
        expected = sign(secret, request_message(method, target, body, timestamp, nonce, key_id))
        if not hmac.compare_digest(expected, signature.lower()):
            raise Refused(HTTPStatus.UNAUTHORIZED, "bad_signature", "the signature does not match the request")
        now = time.time()
        skew = self.config.clock_skew_seconds
        offset = now - int(timestamp)
        if abs(offset) > skew:
            raise Refused(
                HTTPStatus.UNAUTHORIZED,
                "stale",
                f"the request's timestamp is {offset:+.0f} s from the agent's clock (allowed ±{skew:g} s): a "
                "delayed or replayed request, or clocks out of step (check NTP on both hosts)",
            )
        if not self.nonces.remember(nonce, int(timestamp) + skew, now):
            raise Refused(HTTPStatus.UNAUTHORIZED, "replayed", "this nonce was already used: the request is a replay")
        return secret, nonce, key_id


# --- entry points ------------------------------------------------------------------------------------------------
def serve(config: Config) -> None:
    keys = KeyRing(Path(config.keys_file) if config.keys_file else None, os.environ.get(KEYS_ENV))
    terminal = Terminal(config)
    server = AgentServer(config, keys, terminal)
    host, port = str(server.server_address[0]), int(server.server_address[1])
    log.info("listening on %s port %s, keys %s", host, port, ", ".join(keys.key_ids()))
    print(f"LISTENING {host} {port}", flush=True)
    if not terminal.adopt() and config.autostart:
        try:
            terminal.run_action("start")
        except (ActionFailed, Busy) as exc:
            log.error("autostart: %s", exc)

    def stop(_signum: int, _frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    if hasattr(signal, "SIGBREAK"):
        signal.signal(signal.SIGBREAK, stop)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        log.info("stopped; the terminal is left running")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="serve (until stopped)")
    run.add_argument("--config", required=True, type=Path, help="the JSON configuration (README.md)")
    run.add_argument("--verbose", action="store_true", help="log every request line")
    genkey = commands.add_parser("genkey", help="print a new key line `key_id:secret` for keys_file")
    genkey.add_argument("--id", default=None, help="the key id (default: k + today's date)")
    args = parser.parse_args(argv)
    if args.command == "genkey":
        key_id = args.id or "k" + datetime.now(UTC).strftime("%Y%m%d")
        if not KEY_ID.fullmatch(key_id):
            parser.error("the key id is 1-32 of [A-Za-z0-9._-]")
        print(f"{key_id}:{secrets.token_hex(MIN_SECRET_BYTES)}")
        return 0
    try:
        config = Config.load(args.config)
    except ValueError as exc:
        print(f"mt5-agent: {exc}", file=sys.stderr)
        return 2
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if config.log_file:
        handlers.append(logging.FileHandler(config.log_file, encoding="utf-8"))
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
    )
    try:
        serve(config)
    except (ValueError, OSError) as exc:
        log.error("%s", exc)
        print(f"mt5-agent: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
