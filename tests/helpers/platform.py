"""A running embedded platform in a separate process, as `make run` serves it (the `platform` fixture of
tests/conftest.py, and the tests that start one of their own): its environment on a SQLite file, a copy of the
seeded database, the process, and waiting for it to answer."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Platform:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def start(self) -> None:
        """(Re)start the platform process on the same port and database."""
        self.process = spawn_platform(self.port, self.env, self.log)
        wait_for_http(f"{self.url}/healthz", 30)


def spawn_platform(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "manage.py", "runplatform", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback only)
            return bool(response.status == 200)
    except Exception:
        return False  # not listening yet, or not ready


def wait_for_http(url: str, deadline_s: float) -> None:
    wait_for(lambda: _answers(url), deadline_s, f"{url} answering 200", every_s=0.2)


def platform_env(workdir: Path, **extra: str) -> dict[str, str]:
    """The environment of an embedded platform process (and its manage.py commands) on `workdir`'s SQLite file."""
    return {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
        "DJANGO_SETTINGS_MODULE": "quantarb.settings.local",
        "QUANTARB_ENV_FILE": str(workdir / "none.env"),
        "DJANGO_SECRET_KEY": "e2e-secret-key-for-tests-only-0123456789abcdefghijklmnop",
        "DATABASE_URL": f"sqlite:///{workdir / 'platform.sqlite3'}",
        "QUANTARB_DEMO_CALENDAR": "1",
        "DJANGO_DEBUG": "0",
        **extra,
    }


def copy_platform_database(seeded: Path, workdir: Path) -> None:
    """`seeded` as `workdir`'s platform.sqlite3. Its commands have exited, so nothing writes to it: the file and the
    write-ahead log, if one is left (journal_mode=WAL, quantarb/settings/base.py), are a consistent copy."""
    shutil.copyfile(seeded, workdir / "platform.sqlite3")
    wal = seeded.with_name(seeded.name + "-wal")
    if wal.exists():
        shutil.copyfile(wal, workdir / "platform.sqlite3-wal")
