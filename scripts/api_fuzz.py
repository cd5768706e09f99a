"""Schemathesis over every operation of the API, as the demo admin and as the demo viewer (`.ci/run`).

A fresh database (PostgreSQL when DATABASE_URL points at a server, where NUL bytes and lengths are enforced; else a
temporary SQLite file) is migrated and seeded, the platform serves it on a free loopback port (web only: no engine,
no beat jobs, no Redis), and Schemathesis generates requests from the served OpenAPI schema with bounded examples:
every response must be no 5xx, have a documented status code, and match its documented schema. Exits non-zero on
any failure. Nothing leaves 127.0.0.1.

    .venv/bin/python scripts/api_fuzz.py [--max-examples 10] [--seed 1] [--persona admin --persona viewer]
                                         [--phases examples,coverage,fuzzing]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEMO_PASSWORD = "quantarb-demo"  # noqa: S105 (the seeded demo users' documented password)
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
# The coverage phase (every operation's boundary values, ~5,000 requests) runs as the admin, who reaches every
# operation; the viewer's run adds what a read-only role meets (403s, the same reads) with random examples only, so
# the whole run stays near two minutes.
PHASES = {"admin": "examples,coverage,fuzzing", "viewer": "examples,fuzzing"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def scratch_database() -> Iterator[str]:
    """A DATABASE_URL for a database of our own, dropped afterwards."""
    server = os.environ.get("DATABASE_URL", "")
    if not server.startswith(("postgres://", "postgresql://")):
        with tempfile.TemporaryDirectory(prefix="quantarb-fuzz-") as directory:
            yield f"sqlite:///{directory}/fuzz.sqlite3"
        return
    import psycopg

    parts = urlsplit(server)
    # Named after the configured database (e.g. quantarb → quantarb_apifuzz), as the test runner names test_quantarb.
    name = f"{parts.path.lstrip('/') or 'quantarb'}_apifuzz"
    admin_url = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def environment(database_url: str) -> dict[str, str]:
    keep = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "QUANTARB_"))}
    keep.pop("REDIS_URL", None)
    return {
        **keep,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "quantarb.settings.local",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": base64.urlsafe_b64encode(os.urandom(40)).decode(),
        "QUANTARB_FIELD_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "QUANTARB_ENV_FILE": "/nonexistent",
        "QUANTARB_LOG_LEVEL": "ERROR",
    }


def http_json(url: str, body: dict[str, str] | None = None) -> dict[str, str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback only)
        result: dict[str, str] = json.loads(response.read())
        return result


def wait_until_up(base: str, server: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the platform exited before it listened")
        try:
            http_json(f"{base}/healthz")
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the platform did not listen within 60 s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-examples", type=int, default=10)
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--persona", action="append", choices=["admin", "viewer"])
    parser.add_argument("--phases", help="Schemathesis phases for every persona (default: PHASES).")
    args = parser.parse_args()
    personas = args.persona or ["admin", "viewer"]
    failures = 0
    with scratch_database() as database_url:
        env = environment(database_url)
        for command in (["migrate", "--noinput"], ["seed_demo"]):
            subprocess.run([PYTHON, "manage.py", *command], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = tempfile.NamedTemporaryFile(prefix="quantarb-fuzz-web-", suffix=".log", delete=False)  # noqa: SIM115
        server = subprocess.Popen(
            [PYTHON, "manage.py", "runplatform", "--port", str(port), "--no-engine", "--no-scheduler"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_up(base, server)
            for persona in personas:
                token = http_json(
                    f"{base}/api/v1/auth/token/", {"username": f"demo-{persona}", "password": DEMO_PASSWORD}
                )["access"]
                print(f"--- schemathesis as demo-{persona} ---", flush=True)
                result = subprocess.run(
                    [
                        str(Path(PYTHON).parent / "schemathesis"),
                        "run",
                        f"{base}/api/schema/",
                        "--url",
                        base,
                        "--header",
                        f"Authorization: Bearer {token}",
                        "--checks",
                        CHECKS,
                        "--phases",
                        args.phases or PHASES[persona],
                        "--max-examples",
                        str(args.max_examples),
                        "--seed",
                        str(args.seed),
                        "--workers",
                        "2",
                        "--no-color",
                        "--generation-database",
                        "none",
                        "--request-timeout",
                        "30",
                    ],
                    cwd=ROOT,
                    env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
                    check=False,
                )
                failures += result.returncode != 0
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()
            if failures:
                print(f"(the platform's log: {log.name})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
