"""Start the fake Binance (tests/fakes/binance_server.py) as a subprocess and script it over its control API."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.binance_server import DEFAULT_KEY, DEFAULT_SECRET

ROOT = Path(__file__).resolve().parent.parent.parent


@dataclass
class BinanceFake:
    """A running fake: its base URLs (what an account's endpoint override holds) and its control API."""

    process: subprocess.Popen[str]
    port: int
    api_key: str = DEFAULT_KEY
    api_secret: str = DEFAULT_SECRET

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        url = f"{self.rest_url}/_control/{path}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")  # noqa: S310
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - http to loopback only
            return json.loads(answer.read())

    def state(self, since: float = 0) -> dict[str, Any]:
        state: dict[str, Any] = self.control(f"state?since={since}")
        return state

    def arm(self, fault: str, **options: Any) -> None:
        self.control("arm", {"fault": fault, **options})

    def config(self, **values: Any) -> None:
        self.control("config", values)

    def set_book(self, bid: str, ask: str, *, push: bool = True) -> int:
        return int(self.control("book", {"bid": bid, "ask": ask, "push": push})["sent"])

    def orders_with(self, client_id: str) -> list[dict[str, Any]]:
        return [order for order in self.state()["orders"] if order["clientOrderId"] == client_id]

    def records(self) -> dict[str, Any]:
        """The venue's own records: `trades` (userTrades rows), `incomes`, `funding_rates`, `bnb_prices`."""
        records: dict[str, Any] = self.control("records")
        return records

    def advance(self, seconds: float) -> dict[str, Any]:
        """Move the venue's clock forward (funding times crossed are settled); returns the funding booked."""
        moved: dict[str, Any] = self.control("clock", {"advance_s": seconds})
        return moved

    def bnb_commission(self, count: int = 1, price: str | None = None) -> None:
        """The next `count` trades (-1: all) pay their commission in BNB (at `price` USDT per BNB when given)."""
        self.control("bnb_commission", {"count": count, **({"price": price} if price is not None else {})})


def start_binance_fake() -> BinanceFake:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.binance_server", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    line = ""
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith("LISTENING ") or process.poll() is not None:
            break
    if not line.startswith("LISTENING "):
        process.kill()
        raise RuntimeError(f"the fake Binance did not start: {line!r}")
    return BinanceFake(process, int(line.split()[1]))


@pytest.fixture(scope="session")
def binance_fake_process() -> Iterator[BinanceFake]:
    fake = start_binance_fake()
    yield fake
    fake.process.terminate()
    try:
        fake.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        fake.process.kill()


@pytest.fixture
def binance_fake(binance_fake_process: BinanceFake) -> BinanceFake:
    """The session's fake Binance, reset to its defaults (book, keys, no faults, no orders) for this test."""
    binance_fake_process.control("reset", {})
    return binance_fake_process


# --- the MT5 bridge fake (tests/fakes/mt5_bridge.py) ----------------------------------------------------------------
@dataclass
class Mt5BridgeFake:
    """A running bridge fake: where it listens, and its simulated terminal for scripting (an rpyc proxy of the far
    side's `MetaTrader5` module, reached over a connection of its own)."""

    process: subprocess.Popen[str]
    port: int
    control_conn: Any = None

    @property
    def terminal(self) -> Any:
        if self.control_conn is None or self.control_conn.closed:
            import rpyc

            self.control_conn = rpyc.classic.connect("127.0.0.1", self.port)
        return self.control_conn.modules.MetaTrader5

    def state(self) -> dict[str, Any]:
        return dict(self.terminal.qa_state())


def start_mt5_bridge(port: int = 0) -> Mt5BridgeFake:
    """A bridge fake process (on `port`, e.g. again where a stopped one listened; 0: any free port)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.mt5_bridge", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # the server prints once it listens (or exits)
    if not line.startswith("LISTENING "):
        process.kill()
        raise RuntimeError(f"the MT5 bridge fake did not start: {line!r}")
    return Mt5BridgeFake(process, int(line.split()[1]))


@pytest.fixture(scope="session")
def mt5_bridge_process() -> Iterator[Mt5BridgeFake]:
    fake = start_mt5_bridge()
    yield fake
    if fake.control_conn is not None:
        fake.control_conn.close()
    fake.process.terminate()
    try:
        fake.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        fake.process.kill()


@pytest.fixture
def mt5_bridge(mt5_bridge_process: Mt5BridgeFake) -> Mt5BridgeFake:
    """The session's bridge fake with its terminal reset (defaults, no faults, no orders) for this test."""
    mt5_bridge_process.terminal.qa_reset()
    return mt5_bridge_process
