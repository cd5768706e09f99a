"""Shared fixtures: personas (alice, bob, charlie), the services mode, a running platform and Chromium.

Personas, as healthchecks' `hc/test.py` has them: `alice` is an admin of tenant "alpha" and owns its objects,
`bob` is a viewer in alpha, `charlie` is an admin of tenant "bravo" and must never see alpha's data. `tom`
(trader), `ana` (analyst) and `cora` (compliance) complete alpha's row of the permission matrix.

With QUANTARB_REQUIRE_SERVICES=1 (`.ci/run`), PostgreSQL, Redis and Chromium are mandatory: a missing one
fails the run instead of skipping.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.personas import Persona, persona
from tests.helpers.platform import (
    ROOT,
    Platform,
    copy_platform_database,
    free_port,
    platform_env,
    spawn_platform,
    wait_for_http,
)
from tests.trading.market import CALM, DEAR_PERP, AlphaMarket, MarketTape

REQUIRE_SERVICES = os.environ.get("QUANTARB_REQUIRE_SERVICES") == "1"
DEMO_PASSWORD = "quantarb-demo"

# The pool, strategy and scripted-market fixtures (tests/pools.py) are shared by the strategy, execution, risk,
# portfolio and reconciliation tests, each under the tests/ path of the package it tests; the desk and the books'
# history built on them (tests/desks.py) by the strategy, risk and portfolio tests; the spreads socket's
# (tests/sockets.py) by the market-data, risk, alerts, strategies and accounts tests; the fake Binance and MT5 bridge
# (tests/fakes/fixtures.py: a subprocess per session, reset per test) by the venue, account and integration tests.
pytest_plugins = ["tests.pools", "tests.desks", "tests.sockets", "tests.fakes.fixtures"]


# --- hypothesis: the `ci` profile in the services mode (`.ci/run`), `dev` otherwise; HYPOTHESIS_PROFILE chooses ------
# Both keep every property test's own example count (`@settings(max_examples=...)` wins over a profile). `ci` has no
# per-example deadline (three xdist workers share two cores with the browser and the platform processes, so one
# example's time says nothing), prints the reproduction blob of a failure and never writes an example database
# (CI starts from a fresh clone); `dev` keeps the default deadline and the example database, so a failure found
# locally is replayed first next time.
from hypothesis import HealthCheck  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402

hypothesis_settings.register_profile(
    "ci", deadline=None, print_blob=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.register_profile("dev")
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if REQUIRE_SERVICES else "dev"))


# --- pytest-xdist: tests that must not run beside each other ---------------------------------------------------
# `make test` runs the services mode as `-n 3 --dist loadgroup`: every worker has its own test database
# (pytest-django's `_gw<n>` suffix), Redis db (quantarb/settings/test.py) and free ports. What starts whole
# platforms in subprocesses and holds them to wall-clock deadlines — the browser tests (tests/e2e: one platform per
# worker, session-scoped) and the services-topology tests (tests/integration: engine, daphne, Celery, private Redis
# and PostgreSQL restarts, the shared topology Redis db) — carries `pytest.mark.xdist_group("processes")` in its
# module's `pytestmark`: one worker runs them, one at a time.
#
# pytest-xdist 3.8 puts a marked test in its group by renaming its node id (`item._nodeid`), which pytest 9.2 no
# longer reads (`Node.nodeid` comes from `_id`): the marks alone would leave the group spread over the workers. So
# the controller's scheduler also puts every test of those directories in the group by its node id.
SERIAL_GROUP = "processes"
SERIAL_PREFIXES = ("tests/e2e/", "tests/integration/")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class Scheduling(LoadGroupScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            if nodeid.startswith(SERIAL_PREFIXES):
                return SERIAL_GROUP
            return str(super()._split_scope(nodeid))

    return Scheduling(config, log)


def pytest_sessionstart(session: pytest.Session) -> None:
    if not REQUIRE_SERVICES:
        return
    problems = []
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        problems.append("DATABASE_URL must point at PostgreSQL")
    if not os.environ.get("REDIS_URL"):
        problems.append("REDIS_URL must be set")
    else:
        import redis

        try:
            redis.Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=3).ping()
        except Exception as exc:
            problems.append(f"Redis unreachable: {exc}")
    if not shutil.which("chromium"):
        problems.append("chromium is not installed (apt-get install -y chromium)")
    if problems:
        pytest.exit("services mode required but: " + "; ".join(problems), returncode=3)


# --- canary secrets: watched in every test (tests/canary.py) ----------------------------------------------------
@pytest.fixture(scope="session", autouse=True)
def canary_watch() -> None:
    from tests import canary

    canary.install()


@pytest.fixture(autouse=True)
def no_canary_leaks() -> Iterator[None]:
    from tests import canary

    canary.leaks.clear()
    yield
    leaked, canary.leaks[:] = list(canary.leaks), []
    assert not leaked, "canary secrets leaked:\n" + "\n".join(leaked)


# --- the pre-trade gate: a fresh one per test (its order rate counters are per pool id, which tests reuse) -------
@pytest.fixture(autouse=True)
def fresh_pre_trade_gate() -> Iterator[None]:
    from quantarb.wiring import install_pre_trade_gate

    install_pre_trade_gate()  # as the composition root does at start-up; a test may install another
    yield
    install_pre_trade_gate()


# --- the append-only audit table under the test runner ----------------------------------------------------------
@pytest.fixture(autouse=True)
def default_language_after() -> Iterator[None]:
    """A request through the test client activates its reader's language in this thread and leaves it active (a
    real server activates one per request): put the default back after each test, so a zh-Hans request in one test
    never turns the next test's words Chinese."""
    yield
    from django.utils import translation

    translation.deactivate()


@pytest.fixture(scope="session", autouse=True)
def audit_table_flushable() -> Iterator[None]:
    """Let the test runner empty the audit table between transactional tests on PostgreSQL.

    Django's flush TRUNCATEs every table, and the audit table's trigger refuses TRUNCATE for every role. Only this
    flush, as the owner, lifts the trigger for its own statement and restores it in the same transaction.
    """
    from django.db import transaction
    from django.db.backends.postgresql.operations import DatabaseOperations

    from accounts.db_roles import AUDIT_TABLES

    original = DatabaseOperations.execute_sql_flush

    def execute_sql_flush(self: DatabaseOperations, sql_list: list[str]) -> None:
        tables = [table for table in AUDIT_TABLES if any(table in sql for sql in sql_list)]
        if not tables:
            return original(self, sql_list)
        with transaction.atomic(using=self.connection.alias):
            with self.connection.cursor() as cursor:
                for table in tables:
                    cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_no_truncate")
            original(self, sql_list)
            with self.connection.cursor() as cursor:
                for table in tables:
                    cursor.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_no_truncate")

    DatabaseOperations.execute_sql_flush = execute_sql_flush
    yield
    DatabaseOperations.execute_sql_flush = original


# --- personas ----------------------------------------------------------------------------------------------
@pytest.fixture
def alice(db: None) -> Persona:
    return persona("alice", "alpha", "admin")


@pytest.fixture
def bob(alice: Persona) -> Persona:
    return persona("bob", "alpha", "viewer")


@pytest.fixture
def charlie(db: None) -> Persona:
    return persona("charlie", "bravo", "admin")


@pytest.fixture
def tom(alice: Persona) -> Persona:
    return persona("tom", "alpha", "trader")


@pytest.fixture
def ana(alice: Persona) -> Persona:
    return persona("ana", "alpha", "analyst")


@pytest.fixture
def cora(alice: Persona) -> Persona:
    return persona("cora", "alpha", "compliance")


@pytest.fixture
def canary_accounts(alice: Persona) -> dict[str, Any]:
    """Alpha's live accounts, holding the canary secrets (tests/canary.py), created the way the portal creates
    them: a Binance account, an MT5 terminal and account, and the two simulated accounts, in an enabled pool."""
    from accounts.models import AccountPool, VenueAccount
    from accounts.venue_forms import VenueAccountForm
    from accounts.venue_services import account_save
    from mt5ops.models import TerminalInstance
    from tests import canary

    terminal = TerminalInstance.objects.create(
        tenant=alice.tenant, label="Terminal A", backend="rpyc", host="127.0.0.1", bridge_port=18812
    )

    def make(data: dict[str, Any]) -> Any:
        form = VenueAccountForm(data={"mode": "live", "owner": alice.user.pk, **data}, tenant=alice.tenant)
        assert form.is_valid(), form.errors
        return account_save(tenant=alice.tenant, account=None, values=form.values(), actor=alice.user)

    binance = make(
        {
            "label": "Binance live",
            "venue": "binance-usdm",
            "api_key": canary.CANARY_API_KEY,
            "api_secret": canary.CANARY_API_SECRET,
        }
    )
    # Nothing in tests may leave this host: the live Binance account points at a closed loopback port unless a test
    # points it at the fake Binance.
    VenueAccount.objects.filter(pk=binance.pk).update(
        rest_endpoint="http://127.0.0.1:9", ws_endpoint="ws://127.0.0.1:9"
    )
    binance.refresh_from_db()
    mt5 = make(
        {
            "label": "MT5 live",
            "venue": "bybit-mt5",
            "login": "81234567",
            "password": canary.CANARY_MT5_PASSWORD,
            "server": "Bybit-Live",
            "terminal": terminal.pk,
        }
    )
    sim_perp = make({"label": "Sim perp", "venue": "simulated-perp", "mode": "paper"})
    sim_cfd = make({"label": "Sim CFD", "venue": "simulated-cfd", "mode": "paper"})
    live_pool = AccountPool.objects.create(
        tenant=alice.tenant,
        name="Live pool",
        perp_account=binance,
        cfd_account=mt5,
        perp_allocation=10000,
        cfd_allocation=10000,
    )
    return {
        "terminal": terminal,
        "binance": binance,
        "mt5": mt5,
        "sim_perp": sim_perp,
        "sim_cfd": sim_cfd,
        "live_pool": live_pool,
    }


@pytest.fixture
def sim_pair(db: None) -> Any:
    """The simulated XAUUSDT / XAUUSD.s pair (reference instruments come from the data migration)."""
    from quantarb.management.commands.seed_demo import Command

    return Command._simulated_pair()


@pytest.fixture
def alpha_pair(alice: Persona, sim_pair: Any) -> Any:
    from trading.models import PairAccess

    PairAccess.objects.create(tenant=alice.tenant, pair=sim_pair)
    return sim_pair


@pytest.fixture
def alpha_market(alpha_pair: Any, frozen_clock: Any) -> AlphaMarket:
    """Four ticks of alpha's simulated pair around 11:58 on the frozen clock's day (Wednesday 2026-11-18, CFD open),
    straddling a minute boundary: quotes on both legs, the USDT/USD rate, spread samples, 1m/5m/1h candles and one
    sell-perp opportunity that opened on a dislocation and closed when it faded."""
    now = frozen_clock.now()
    times = [now - timedelta(seconds=s) for s in (122, 121, 119, 118)]
    tape = MarketTape(alpha_pair)
    for at, book in zip(times, (CALM, DEAR_PERP, DEAR_PERP, CALM), strict=True):
        tape.tick(at, *book)
    assert tape.store.flush() > 0
    return AlphaMarket(alpha_pair, tape, times)


@pytest.fixture
def frozen_clock() -> Iterator[object]:
    """Pin quantarb's clock to Wednesday 2026-11-18 12:00 UTC (CFD open); tests move it as they need."""
    from datetime import UTC, datetime

    from quantarb import clock

    pinned = clock.FrozenClock(datetime(2026, 11, 18, 12, 0, tzinfo=UTC))
    previous = clock.set_clock(pinned)
    yield pinned
    clock.set_clock(previous)


@pytest.fixture
def thread_connections_closed() -> Iterator[None]:
    """After the test, close the database connections its async code opened in worker threads.

    Channels' `database_sync_to_async` and `sync_to_async` run in threads that outlive the test; PostgreSQL
    refuses to drop the test database while their sessions remain.
    """
    yield
    import gc

    from asgiref.sync import SyncToAsync
    from django.db import connections

    SyncToAsync.single_thread_executor.submit(connections.close_all).result()
    gc.collect()  # connections of executor threads that have ended


# --- a running embedded platform (separate process) ----------------------------------------------------------
@pytest.fixture(scope="session")
def seeded_platform_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated and seeded (`seed_demo`) as `make run` does, made once per session (per xdist
    worker); each platform process starts on a copy of its own (`platform`, tests/e2e/test_mt5.py)."""
    workdir = tmp_path_factory.mktemp("platform-seed")
    env = platform_env(workdir)
    for command in (["migrate", "--noinput", "-v0"], ["seed_demo"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, capture_output=True)
    return workdir / "platform.sqlite3"


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory, seeded_platform_database: Path) -> Iterator[Platform]:
    """The embedded platform as `make run` serves it: its own SQLite file, seeded demo, simulated venues."""
    workdir = tmp_path_factory.mktemp("platform")
    port = free_port()
    env = platform_env(workdir)
    copy_platform_database(seeded_platform_database, workdir)
    log = workdir / "platform.log"
    server = Platform(f"http://127.0.0.1:{port}", port, spawn_platform(port, env, log), env, log)
    try:
        wait_for_http(f"{server.url}/healthz", 30)
        yield server
    finally:
        server.stop()


# --- Chromium ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium")
    if not path:
        if REQUIRE_SERVICES:
            pytest.fail("chromium is required in the services mode")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return path


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[object]:
    """One Chromium per test module (each test opens its own contexts: tests/e2e/conftest.py `new_page`).

    Not per session: between its calls Playwright's sync API marks its event loop as the thread's running loop,
    which would refuse the asyncio tests that a worker runs after the browser tests."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path,
            args=[
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()
