"""Harness of the services-topology tests (ARCHITECTURE.md "Processes and data flow").

Real processes — `runengine`, daphne (`runplatform --no-engine --no-scheduler`), a Celery worker and Celery
beat — on real PostgreSQL and Redis; private server instances that a test may kill and restart; a WebSocket
client that logs in like a browser and reconnects like one; SQL probes that open a fresh connection per query
(so they work across a database restart).

The machine's shared servers are never stopped: the shared PostgreSQL only gets one uniquely named database
per test (dropped afterwards) and the shared Redis one dedicated db number. Every process and instance a test
starts is registered with the `stack` fixture, which stops it and, when the test failed, prints log tails.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import http.cookiejar
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import pytest

from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
CELERY = str(Path(sys.executable).with_name("celery"))
REQUIRE_SERVICES = os.environ.get("QUANTARB_REQUIRE_SERVICES") == "1"
PG_BIN = Path(os.environ.get("QUANTARB_PG_BIN", "/usr/lib/postgresql/15/bin"))
# The shared Redis db the topology test uses (its own keys: queues, groups), never the one REDIS_URL names.
TOPOLOGY_REDIS_DB = int(os.environ.get("QUANTARB_TOPOLOGY_REDIS_DB", "13"))
DEMO_USER, DEMO_PASSWORD = "demo-trader", "quantarb-demo"

T = TypeVar("T")


# --- availability: skip, or fail in the required services mode -------------------------------------------
def unavailable(reason: str) -> NoReturn:
    if REQUIRE_SERVICES:
        pytest.fail(f"services mode required (QUANTARB_REQUIRE_SERVICES=1) but {reason}", pytrace=False)
    pytest.skip(reason)


def services_urls() -> tuple[str, str]:
    """DATABASE_URL (PostgreSQL) and REDIS_URL of the services mode, or skip/fail."""
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://", "pgsql://")):
        unavailable("DATABASE_URL does not point at PostgreSQL")
    if not redis_url:
        unavailable("REDIS_URL is not set")
    return database_url, redis_url


def need_program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is not installed")
    return path


def free_port(preferred: int | None = None) -> int:
    """`preferred` when nothing listens there, else any free loopback port."""
    if preferred is not None:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", preferred))
                return preferred
            except OSError:
                pass
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- polling with deadlines --------------------------------------------------------------------------------
def wait_until(what: str, probe: Callable[[], T | None], timeout: float, interval: float = 0.2) -> T:
    """Call `probe` until it returns something truthy (returned); fail with `what` after `timeout` seconds.
    A probe that raises counts as not yet (the last error is reported)."""
    return wait_for(probe, timeout, what, every_s=interval, tolerate=(Exception,))  # type: ignore[return-value]


def now_ms() -> int:
    return int(time.time() * 1000)


# --- URLs --------------------------------------------------------------------------------------------------
def with_path(url: str, path: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def conninfo(database_url: str) -> str:
    """A libpq URL for psycopg (django-environ also accepts `postgres://` and `pgsql://`)."""
    parts = urllib.parse.urlsplit(database_url)
    return urllib.parse.urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, ""))


# --- SQL probes --------------------------------------------------------------------------------------------
@dataclass
class Sql:
    """Read-only probes against one database; a new connection per query, so a restart in between is fine."""

    database_url: str

    def rows(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(conninfo(self.database_url), connect_timeout=3, autocommit=True) as conn:
            return conn.execute(query, params).fetchall()

    def value(self, query: str, params: tuple[Any, ...] = ()) -> Any:
        rows = self.rows(query, params)
        return rows[0][0] if rows else None

    def heartbeat_ms(self, component: str) -> int | None:
        """The component's heartbeat time in ms since the epoch, or None when it never beat."""
        value = self.value(
            "SELECT (extract(epoch FROM beat_at) * 1000)::bigint FROM trading_heartbeat WHERE component = %s",
            (component,),
        )
        return int(value) if value is not None else None

    def heartbeat_detail(self, component: str) -> dict[str, Any]:
        return self.value("SELECT detail FROM trading_heartbeat WHERE component = %s", (component,)) or {}

    def quote_ticks_since(self, since_ms: int, column: str = "received_at") -> int:
        assert column in ("ts", "received_at")
        return int(
            self.value(
                f"SELECT count(*) FROM trading_quotetick WHERE {column} >= to_timestamp(%s / 1000.0)",  # noqa: S608
                (since_ms,),
            )
        )

    def spread_samples_since(self, pair_id: int, since_ms: int) -> int:
        return int(
            self.value(
                "SELECT count(*) FROM trading_spreadsample WHERE pair_id = %s AND ts >= to_timestamp(%s / 1000.0)",
                (pair_id, since_ms),
            )
        )


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A uniquely named database on the server `server_url` points at; dropped (with its sessions) after."""
    import psycopg
    from psycopg import sql

    name = f"quantarb_it_{uuid.uuid4().hex[:12]}"
    admin = conninfo(with_path(server_url, "/postgres"))
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_path(server_url, f"/{name}")
    finally:
        with contextlib.suppress(Exception), psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# Migrated and seeded databases of this process, by the environment that made them (Topology.prepare_database).
_TEMPLATES: dict[frozenset[tuple[str, str]], str] = {}


def database_name(database_url: str) -> str:
    return urllib.parse.urlsplit(database_url).path.strip("/")


def same_server(url: str, other: str) -> bool:
    return urllib.parse.urlsplit(url).netloc == urllib.parse.urlsplit(other).netloc


def copy_database(server_url: str, *, source: str, target: str) -> None:
    """`target`, a copy of `source` (which nothing may be connected to) on the server `server_url` points at."""
    import psycopg
    from psycopg import sql

    admin = conninfo(with_path(server_url, "/postgres"))
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(target), sql.Identifier(source)))


def drop_database(server_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    admin = conninfo(with_path(server_url, "/postgres"))
    with contextlib.suppress(Exception), psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


TOPOLOGY_LOCK = "quantarb:services-topology-test:lock"


@contextlib.contextmanager
def dedicated_redis_db(redis_url: str, db: int = TOPOLOGY_REDIS_DB, wait_s: float = 90) -> Iterator[str]:
    """The REDIS_URL server's db `db`, held by this test alone: a concurrent run (another session's suite) waits
    on a lock key, and the db's keys (Celery queue and bindings, channel groups) are cleared before and after, so
    no run's worker takes another's tasks and no hub sees another engine's updates."""
    import redis

    # Never clear a db the rest of the suite uses: REDIS_URL's, nor any xdist worker's (quantarb/settings/test.py).
    taken = {urllib.parse.urlsplit(redis_url).path.strip("/") or "0"}
    taken.update(filter(None, os.environ.get("QUANTARB_SUITE_REDIS_DBS", "").split(",")))
    while str(db) in taken:
        db = (db + 1) % 16
    url = with_path(redis_url, f"/{db}")
    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=5)
    token = uuid.uuid4().hex
    wait_until(
        f"Redis db {db} is free (another services-topology run holds {TOPOLOGY_LOCK})",
        lambda: client.set(TOPOLOGY_LOCK, token, nx=True, ex=300),
        wait_s,
        0.5,
    )

    def clear() -> None:
        for key in list(client.scan_iter(count=500)):
            if key != TOPOLOGY_LOCK.encode():
                client.delete(key)

    try:
        clear()
        yield url
    finally:
        with contextlib.suppress(Exception):
            clear()
            if client.get(TOPOLOGY_LOCK) == token.encode():
                client.delete(TOPOLOGY_LOCK)
        client.close()


# --- processes ---------------------------------------------------------------------------------------------
def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class Service:
    """One child process in its own session (so Celery's pool children go with it), output to a log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # whatever it left behind in its session

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, lines: int = 40) -> str:
        return tail(self.log, lines)


class Stack:
    """What a test started, stopped in reverse order at teardown; log tails for the failure report."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.exit = contextlib.ExitStack()
        self.logs: dict[str, Path] = {}

    def callback(self, fn: Callable[..., Any], *args: Any) -> None:
        self.exit.callback(fn, *args)

    def enter(self, context: contextlib.AbstractContextManager[T]) -> T:
        return self.exit.enter_context(context)

    def watch_log(self, name: str, path: Path) -> None:
        self.logs[name] = path

    def report(self, lines: int = 40) -> str:
        return "\n".join(
            f"----- {name}: {path} (last {lines} lines) -----\n{tail(path, lines)}" for name, path in self.logs.items()
        )

    def close(self) -> None:
        self.exit.close()


def child_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of every quantarb child process (services mode, demo calendar, no .env file)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "QUANTARB_", "CELERY_"))}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update(
        DJANGO_SETTINGS_MODULE="quantarb.settings.local",
        DJANGO_SECRET_KEY="services-topology-test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        DJANGO_DEBUG="0",
        QUANTARB_ENV_FILE="/nonexistent",
        QUANTARB_DEMO_CALENDAR="1",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class Topology:
    """The four processes of the services topology on one database and one Redis."""

    def __init__(self, stack: Stack, database_url: str, redis_url: str, tag: str = "") -> None:
        self.stack = stack
        self.database_url = database_url
        self.redis_url = redis_url
        self.env = child_env(database_url, redis_url)
        self.tag = tag or uuid.uuid4().hex[:8]
        self.web_port = free_port()
        self.services: dict[str, Service] = {}
        self.sql = Sql(database_url)

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def manage(self, *args: str, timeout: float = 120) -> None:
        log = self.stack.workdir / "manage.log"
        self.stack.watch_log("manage", log)
        with log.open("ab") as out:
            subprocess.run(
                [PYTHON, "manage.py", *args], cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                check=True, timeout=timeout,
            )  # fmt: skip

    def prepare_database(self) -> None:
        """A fresh database as the processes need it: migrated, demo tenant and users seeded, an empty ledger (these
        tests count the hedges, orders and fills their own scenario makes).

        On the shared server the first test of a worker that needs it migrates and seeds, and keeps a copy as a
        template; later tests with the same environment get a copy of it (`CREATE DATABASE ... TEMPLATE`, about
        a second, instead of a full `migrate` and `seed_demo` each). A private server (test_recovery.py) is new
        per test and is migrated as before."""
        if not same_server(self.database_url, os.environ.get("DATABASE_URL", "")):
            self._migrate_and_seed()
            return
        # What the harness and the test set (child_env), never the inherited rest (PYTEST_CURRENT_TEST changes).
        key = frozenset((k, v) for k, v in self.env.items() if k.startswith(("DJANGO_", "QUANTARB_", "CELERY_")))
        template = _TEMPLATES.get(key)
        if template is None:
            self._migrate_and_seed()
            template = f"quantarb_it_tpl_{uuid.uuid4().hex[:12]}"
            copy_database(self.database_url, source=database_name(self.database_url), target=template)
            _TEMPLATES[key] = template
            atexit.register(drop_database, self.database_url, template)
        else:
            name = database_name(self.database_url)
            drop_database(self.database_url, name)
            copy_database(self.database_url, source=template, target=name)

    def _migrate_and_seed(self) -> None:
        self.manage("migrate", "--noinput", "-v0")
        self.manage("seed_demo", "--no-history")

    def argv(self, name: str) -> list[str]:
        workdir = self.stack.workdir
        return {
            "engine": [PYTHON, "manage.py", "runengine"],
            "web": [PYTHON, "manage.py", "runplatform", "--no-engine", "--no-scheduler", "--port", str(self.web_port)],
            "worker": [
                CELERY, "-A", "quantarb.celery", "worker", "--loglevel", "INFO", "--concurrency", "2",
                "--hostname", f"qa-{self.tag}@%h",
            ],
            "beat": [
                CELERY, "-A", "quantarb.celery", "beat", "--loglevel", "INFO",
                "--schedule", str(workdir / "celerybeat-schedule"),
            ],
        }[name]  # fmt: skip

    def start(self, *names: str) -> None:
        for name in names:
            log = self.stack.workdir / f"{name}.log"
            service = Service(name, self.argv(name), self.env, log).start()
            self.services[name] = service
            self.stack.watch_log(name, log)
            self.stack.callback(service.stop)
        if "web" in names:
            wait_until(f"daphne answers {self.web_url}/healthz", self._healthy, 40, 0.3)

    def _healthy(self) -> bool:
        self.assert_running()
        with urllib.request.urlopen(f"{self.web_url}/healthz", timeout=2) as response:  # noqa: S310 (loopback)
            return bool(response.status == 200)

    def assert_running(self) -> None:
        exited = {n: s.process.returncode for n, s in self.services.items() if s.process and not s.running}
        assert not exited, f"processes exited: {exited}"

    def login(self, username: str = DEMO_USER, password: str = DEMO_PASSWORD) -> str:
        return login(self.web_url, username, password)

    def client(self, name: str = "client") -> LiveClient:
        client = LiveClient(self.web_url, self.login(), name=name)
        client.start()
        self.stack.callback(client.stop)
        return client


# --- a browser-like WebSocket client -----------------------------------------------------------------------
def login(base_url: str, username: str, password: str) -> str:
    """Log in through the login form (CSRF cookie and token) and return the session cookie."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login_url = f"{base_url}/accounts/login/"
    with opener.open(login_url, timeout=10) as response:
        assert response.status == 200
    csrf = next(c.value for c in jar if c.name == "csrftoken")
    body = urllib.parse.urlencode({"username": username, "password": password, "csrfmiddlewaretoken": csrf})
    request = urllib.request.Request(  # noqa: S310 (loopback)
        login_url, data=body.encode(), headers={"Referer": login_url}, method="POST"
    )
    with opener.open(request, timeout=10) as response:  # follows the redirect to the dashboard
        assert response.status == 200
    session = next((c.value for c in jar if c.name == "sessionid"), None)
    assert session, f"login as {username} gave no session cookie"
    return session


@dataclass
class Frame:
    kind: str
    received_ms: int
    data: dict[str, Any]

    @property
    def at_ms(self) -> int | None:
        state = self.data.get("state") or {}
        return state.get("at_ms")


@dataclass
class LiveClient:
    """Connects to /ws/spreads/ with the session cookie and the site's Origin, records every frame, and
    reconnects (every 0.5 s) whenever its socket drops — as the dashboard's script does."""

    base_url: str
    session: str
    name: str = "client"
    frames: list[Frame] = field(default_factory=list)
    connects: int = 0
    drops: list[tuple[int, str]] = field(default_factory=list)
    _thread: threading.Thread | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _task: asyncio.Task[None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://", 1) + "/ws/spreads/"

    def start(self) -> None:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._task = self._loop.create_task(self._main())
            ready.set()
            with contextlib.suppress(asyncio.CancelledError):
                self._loop.run_until_complete(self._task)
            self._loop.close()

        self._thread = threading.Thread(target=run, name=f"ws-{self.name}", daemon=True)
        self._thread.start()
        ready.wait(5)

    def stop(self) -> None:
        if self._loop is not None and self._task is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._task.cancel)
        if self._thread is not None:
            self._thread.join(10)

    async def _main(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.typing import Origin

        headers = {"Cookie": f"sessionid={self.session}"}
        while True:
            try:
                async with connect(
                    self.ws_url,
                    origin=Origin(self.base_url),
                    additional_headers=headers,
                    open_timeout=5,
                ) as ws:
                    self.connects += 1
                    async for raw in ws:
                        data = json.loads(raw)
                        with self._lock:
                            self.frames.append(Frame(str(data.get("type")), now_ms(), data))
                    reason = f"closed {ws.close_code}"
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
            self.drops.append((now_ms(), reason))
            await asyncio.sleep(0.5)  # the reconnect delay of this client, as a browser's (time passes on purpose)

    def snapshot(self) -> list[Frame]:
        with self._lock:
            return list(self.frames)

    def spreads(self, *, produced_after_ms: int = 0) -> list[Frame]:
        """Spread frames whose state the engine produced after `produced_after_ms`."""
        return [f for f in self.snapshot() if f.kind == "spread" and (f.at_ms or 0) > produced_after_ms]

    def hello(self) -> Frame | None:
        return next((f for f in self.snapshot() if f.kind == "hello"), None)


# --- private server instances (never the shared ones) ------------------------------------------------------
class PrivateRedis:
    """A redis-server of our own, no persistence, on `port` (6390 unless that is taken)."""

    def __init__(self, stack: Stack, preferred_port: int = 6390) -> None:
        self.binary = need_program("redis-server")
        self.stack = stack
        self.port = free_port(preferred_port)
        self.log = stack.workdir / f"redis-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None
        stack.watch_log(f"redis:{self.port}", self.log)
        stack.callback(self.stop)

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self, timeout: float = 10) -> int:
        """Start it and return the time (epoch ms) at which it answered PING."""
        argv = [
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--dir", str(self.stack.workdir),
        ]  # fmt: skip
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(f"redis-server answers on {self.port}", self.ping, timeout, 0.05)
        return now_ms()

    def ping(self) -> bool:
        import redis

        assert self.process is not None and self.process.poll() is None, "redis-server exited"
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: a crash, every connection cut at once."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


class PrivatePostgres:
    """A PostgreSQL cluster of our own (initdb into a temp dir, pg_ctl), trust auth, on `port` (5433 unless
    taken). As root the server runs as the `postgres` OS user, as PostgreSQL requires."""

    def __init__(self, stack: Stack, preferred_port: int = 5433) -> None:
        for program in ("initdb", "pg_ctl", "postgres"):
            if not (PG_BIN / program).exists():
                unavailable(f"{PG_BIN / program} is missing (set QUANTARB_PG_BIN)")
        self.as_root = os.geteuid() == 0
        if self.as_root and not shutil.which("runuser"):
            unavailable("runuser is missing (needed to run PostgreSQL as the postgres user)")
        self.stack = stack
        self.port = free_port(preferred_port)
        # Not under pytest's tmp dir: the postgres user must be able to reach it.
        self.home = Path(tempfile.mkdtemp(prefix="quantarb-pg-"))
        self.data = self.home / "data"
        self.log = self.home / "postgres.log"
        stack.watch_log(f"postgres:{self.port}", self.log)
        stack.callback(self.destroy)

    def _run(self, *argv: str, timeout: float = 60) -> None:
        command = ["runuser", "-u", "postgres", "--", *argv] if self.as_root else list(argv)
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise AssertionError(f"{' '.join(argv[:2])} failed ({result.returncode}): {result.stdout}{result.stderr}")

    def init(self) -> None:
        if self.as_root:
            shutil.chown(self.home, "postgres", "postgres")
        self._run(
            str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
            "--no-sync", "--no-instructions",
        )  # fmt: skip

    def start(self) -> int:
        """Start and wait until it accepts connections; returns that time (epoch ms)."""
        options = (
            f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "30", "start"
        )
        wait_until(f"private PostgreSQL accepts connections on {self.port}", self.ready, 30, 0.1)
        return now_ms()

    def ready(self) -> bool:
        return bool(Sql(self.url("postgres")).value("SELECT 1") == 1)

    def stop(self, mode: str = "fast") -> int:
        """Stop (fast: connections are cut) and return the time (epoch ms) it was down."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")
        return now_ms()

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg
        from psycopg import sql

        with psycopg.connect(conninfo(self.url("postgres")), autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop")
        shutil.rmtree(self.home, ignore_errors=True)


# The live pair, pool and started strategy of the engine-crash tests, run in `manage.py shell` with CFG (the fakes'
# ports and endpoints, as JSON) defined before it; it prints "STRATEGY <pk>".
LIVE_CRASH_SETUP = """
import json
from decimal import Decimal
from accounts.models import AccountPool, AccountSnapshot, Tenant, User, VenueAccount
from mt5ops.models import TerminalInstance
from quantarb import clock
from strategies.domain.params import FundingSource, StrategyParams
from strategies.services import strategy_create, strategy_request
from trading.models import Instrument, QuoteSource, SessionCalendar, SourcePair

cfg = json.loads(CFG)
tenant = Tenant.objects.get(slug="demo")
owner = User.objects.get(username="demo-admin")
terminal = TerminalInstance.objects.create(
    tenant=tenant, label="Bridge fake", backend="rpyc", host="127.0.0.1", bridge_port=cfg["bridge_port"]
)
binance = VenueAccount.objects.create(
    tenant=tenant, owner=owner, venue="binance-usdm", label="Binance (fake)", mode="live",
    credentials={"api_key": cfg["api_key"], "api_secret": cfg["api_secret"]}, credential_hints={"api_key": "x"},
    rest_endpoint=cfg["rest"], ws_endpoint=cfg["ws"],
)
mt5 = VenueAccount.objects.create(
    tenant=tenant, owner=owner, venue="bybit-mt5", label="MT5 (fake)", mode="live",
    credentials={"login": "5000001", "password": "x", "server": "Fake"}, credential_hints={"login": "5000001"},
    terminal=terminal,
)
for account, currency in ((binance, "USDT"), (mt5, "USD")):
    AccountSnapshot.objects.create(account=account, tenant=tenant, at=clock.now(), currency=currency,
        balance=Decimal(10**6), equity=Decimal(10**6), used_margin=Decimal(0))
# The fake broker trades around the clock: the test runs at any hour, weekends included (a live CFD keeps its
# instrument's calendar; the demo's always-open one stands in for simulated sources only).
Instrument.objects.filter(venue="bybit-mt5", symbol="XAUUSD.s").update(
    calendar=SessionCalendar.objects.get(name="demo"))
perp = QuoteSource.objects.create(key="fake-binance", venue="binance-usdm", endpoint=cfg["rest"],
    instrument=Instrument.objects.get(venue="binance-usdm", symbol="XAUUSDT"), label="Binance (fake)")
cfd = QuoteSource.objects.create(key="fake-mt5", venue="bybit-mt5", terminal=terminal,
    instrument=Instrument.objects.get(venue="bybit-mt5", symbol="XAUUSD.s"), label="MT5 (fake)")
SourcePair.objects.create(name="Fake live pair", perp_source=perp, cfd_source=cfd, rate_source="fixed",
    perp_fee_rate=Decimal("0.0005"))
pool = AccountPool.objects.create(tenant=tenant, name="Live pool", perp_account=binance, cfd_account=mt5,
    perp_allocation=Decimal(10**6), cfd_allocation=Decimal(10**6), perp_leverage=5)
params = StrategyParams(entry_threshold=Decimal("1"), exit_threshold=Decimal("-50"), size_oz=Decimal(2),
    max_open_hedges=1, max_position_oz=Decimal(2), max_unhedged_oz=Decimal("2"), max_legging_seconds=120,
    cooldown_seconds=0, funding_source=FundingSource.FIXED, funding_rate_fixed=Decimal("0.0001"),
    max_cfd_spread=Decimal("5"), no_entry_before_close_minutes=0, no_entry_after_open_minutes=0,
    flatten_before_close_minutes=0, max_quote_age_ms=10_000, mode="live")
strategy = strategy_create(tenant=tenant, name="Live crash", pool=pool, mode="live", params=params, actor=owner)
strategy_request(strategy=strategy, action="start", actor=owner)
print("STRATEGY", strategy.pk)
"""
