"""The shipped MT5 bridge (deploy/mt5-bridge/bridge.py) as it runs on a terminal host, with a stand-in MetaTrader5
package: it listens on 127.0.0.1 only, and serves one request at a time, so a call and the `last_error()` read after
it are never split by another client's call."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import rpyc

from tests.mt5ops.agent_harness import ROOT, wait_until

pytestmark = pytest.mark.timeout(60)

BRIDGE = ROOT / "deploy" / "mt5-bridge" / "bridge.py"

# A MetaTrader5 package with one process-wide last_error(), as the real one: `slow_failure` fails and holds on
# (up to 1 s, or until `quick_success` runs) before its caller reads last_error().
STANDIN_PACKAGE = """
import os
import pathlib
import threading

_error = (1, "Success")
_release = threading.Event()


def slow_failure():
    global _error
    _error = (-10005, "IPC timeout")
    pathlib.Path(os.environ["STANDIN_ENTERED"]).write_text("entered")
    _release.wait(1.0)
    return None


def quick_success():
    global _error
    _error = (1, "Success")
    _release.set()
    return True


def last_error():
    return _error
"""

# What a client defines on the bridge: the call and its last_error() in one request (trading/venues/mt5_rpyc.py).
CLIENT_HELPER = """
import MetaTrader5 as _standin

def _call(name):
    result = getattr(_standin, name)()
    return result, tuple(_standin.last_error())
"""


@dataclass
class Bridge:
    process: subprocess.Popen[str]
    host: str
    port: int
    entered: Path


@pytest.fixture
def bridge(tmp_path: Path) -> Iterator[Bridge]:
    (tmp_path / "MetaTrader5.py").write_text(STANDIN_PACKAGE)
    entered = tmp_path / "entered"
    env = dict(os.environ, PYTHONPATH=str(tmp_path), STANDIN_ENTERED=str(entered))
    process = subprocess.Popen(
        [sys.executable, str(BRIDGE), "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    try:
        assert line.startswith("LISTENING "), process.stderr.read() if process.stderr else line
        _word, host, port = line.split()
        yield Bridge(process, host, int(port), entered)
    finally:
        process.kill()
        process.wait(timeout=20)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _caller(bridge: Bridge) -> tuple[Any, Any]:
    conn = rpyc.classic.connect(bridge.host, bridge.port)
    conn.execute(CLIENT_HELPER)
    return conn, conn.namespace["_call"]


def test_the_bridge_listens_on_loopback_only(bridge: Bridge) -> None:
    assert bridge.host == "127.0.0.1"
    with socket.create_connection(("127.0.0.1", bridge.port), timeout=5):
        pass
    with pytest.raises(OSError), socket.create_connection(("127.0.0.2", bridge.port), timeout=5):
        pass  # another address of this host: nothing listens there


def test_a_call_and_its_last_error_are_not_split_by_another_clients_call(bridge: Bridge) -> None:
    first_conn, first_call = _caller(bridge)
    second_conn, second_call = _caller(bridge)
    results: dict[str, Any] = {}
    try:
        slow = threading.Thread(target=lambda: results.update(slow=first_call("slow_failure")))
        slow.start()
        wait_until(bridge.entered.exists, timeout=10, what="the first call to reach the package")
        results["quick"] = second_call("quick_success")  # another client, while the first call is inside
        slow.join(timeout=20)
        assert not slow.is_alive()
    finally:
        first_conn.close()
        second_conn.close()
    # The failed call reads its own error, not the success of the call that came in meanwhile.
    assert results["slow"] == (None, (-10005, "IPC timeout"))
    assert results["quick"] == (True, (1, "Success"))


def test_the_bridge_will_not_start_without_the_package(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, str(BRIDGE), "--port", "0"], capture_output=True, text=True, timeout=30, env=env, cwd=tmp_path
    )
    assert result.returncode != 0 and "MetaTrader5" in result.stderr
