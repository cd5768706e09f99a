"""Detection within 15 s of wall time (what MT5 operations must show): the real health job, on its real 5 s cadence — a
beat thread sends each slot's job to a worker thread, as Celery beat and its workers do (`run_job` claims the
slot: a second copy does nothing) — against the out-of-process bridge fake; the fault is injected right after a
check — the worst moment — and the wall time is measured until the terminal is classified (opening orders refused
from then on) and until its alert is raised."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from django.db import OperationalError, connections

from alerts.models import Alert
from mt5ops.models import TerminalInstance, TerminalStatus
from mt5ops.selectors import account_terminal_block
from quantarb import clock
from quantarb.job_slots import job_named, slot_claim, slot_of
from quantarb.scheduler import run_job
from risk.gate import _terminal_text, terminal_not_ready
from tests.fakes.fixtures import Mt5BridgeFake, start_mt5_bridge
from tests.mt5ops.helpers import log_in

from .agent_harness import wait_until

# serialized_rollback like the other transactional tests: a flush that re-creates content types before a test that
# restores its serialized copy made the next one fail with duplicate content types.
pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.timeout(240)]
JOB = job_named("mt5-health")


def read(query: Callable[[], Any]) -> Any:
    """A read from the test's thread while the workers write: SQLite's shared in-memory test database answers
    "table is locked" to a reader meanwhile (PostgreSQL never does); that read is simply asked again."""
    try:
        return query()
    except OperationalError:
        return None


class Beat:
    """Each slot of the job, run in its own worker thread (with its own database connection)."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.workers: list[threading.Thread] = []
        self.thread = threading.Thread(target=self.run, daemon=True)

    def work(self, slot: Any) -> None:
        try:
            run_job(JOB)
            assert not slot_claim(job=JOB, slot=slot, claimer="another-beat")  # a second copy does nothing
        finally:
            connections.close_all()

    def run(self) -> None:
        last = None
        while not self.stop.is_set():
            slot = slot_of(JOB, clock.now())
            if slot != last:
                last = slot
                worker = threading.Thread(target=self.work, args=(slot,), daemon=True)
                worker.start()
                self.workers.append(worker)
            self.stop.wait(0.05)

    def __enter__(self) -> Beat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        for worker in self.workers:
            worker.join(timeout=30)


def kill_bridge(bridge: Mt5BridgeFake) -> None:
    if bridge.control_conn is not None:
        bridge.control_conn.close()
    bridge.process.kill()
    bridge.process.wait(timeout=10)


FAULTS: dict[str, tuple[Callable[[Mt5BridgeFake], None], str]] = {
    "bridge down": (kill_bridge, "bridge_down"),
    "hung terminal": (lambda bridge: bridge.terminal.qa_fault("hang"), "not_responding"),
    "IPC timeouts": (lambda bridge: bridge.terminal.qa_arm("ipc_timeout", count=-1), "ipc_timeout"),
    "logged out": (lambda bridge: bridge.terminal.qa_fault("logged_out"), "not_logged_in"),
    "another account": (lambda bridge: bridge.terminal.qa_switch_login(5_550_123), "wrong_account"),
    "AutoTrading off": (lambda bridge: bridge.terminal.qa_configure(terminal_trade_allowed=False), "autotrading_off"),
    "Python API disabled": (lambda bridge: bridge.terminal.qa_fault("tradeapi_disabled"), "autotrading_off"),
    # A feed is stale once its last tick is older than the policy's limit (60 s in production, 3 s here so the
    # test does not wait a minute): detection is measured from the moment the tick is too old.
    "frozen ticks": (lambda bridge: bridge.terminal.qa_fault("ticks_frozen"), "ticks_stale"),
}
STALE_AFTER_S = 3


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_fault_is_classified_and_alerted_within_15_seconds_of_wall_time(
    fault: str, canary_accounts: dict[str, Any], alice: Any, settings: Any, monkeypatch: Any
) -> None:
    settings.QUANTARB_DEMO_CALENDAR = True
    if fault == "frozen ticks":
        from datetime import timedelta

        from mt5ops import health

        monkeypatch.setattr(
            health, "CLASSIFY_POLICY", replace(health.CLASSIFY_POLICY, stale_after=timedelta(seconds=STALE_AFTER_S))
        )
    previous = clock.set_clock(clock.SystemClock())
    bridge = start_mt5_bridge()
    try:
        log_in(bridge)
        terminal: TerminalInstance = canary_accounts["terminal"]
        terminal.bridge_port = bridge.port
        terminal.save()
        with Beat():
            wait_until(
                lambda: read(TerminalStatus.objects.filter(terminal=terminal, state="healthy").exists),
                timeout=15,
                what="a first healthy check",
            )
            last_check = wait_until(lambda: read(lambda: TerminalStatus.objects.get(terminal=terminal).last_check_at))
            wait_until(  # right after the next check: the worst moment for a fault
                lambda: (
                    read(lambda: TerminalStatus.objects.get(terminal=terminal).last_check_at) not in (None, last_check)
                ),
                timeout=15,
                what="the next check",
            )
            inject, failure = FAULTS[fault]
            inject(bridge)
            injected = time.monotonic() + (STALE_AFTER_S if fault == "frozen ticks" else 0)
            wait_until(
                lambda: read(lambda: TerminalStatus.objects.get(terminal=terminal).failure) == failure,
                timeout=20,
                what=f"{fault} to be classified",
            )
            classified_after = time.monotonic() - injected
            block = wait_until(lambda: read(lambda: account_terminal_block(canary_accounts["mt5"].pk)))
            assert block is not None and block.failure == failure  # opening orders are refused from now on
            not_ready = terminal_not_ready(block)
            reason = None if not_ready is None else _terminal_text(*not_ready)
            assert reason is not None and "is not ready to trade" in reason, reason  # the gate's refusal says why
            wait_until(
                lambda: read(Alert.objects.filter(tenant=alice.tenant, category="mt5", status="open").exists),
                timeout=20,
                what="the alert",
            )
            alerted_after = time.monotonic() - injected
        print(f"{fault}: classified after {classified_after:.1f} s, alerted after {alerted_after:.1f} s")
        assert classified_after <= 15, classified_after
        assert alerted_after <= 15, alerted_after
        assert Alert.objects.filter(tenant=alice.tenant, category="mt5").count() == 1
    finally:
        clock.set_clock(previous)
        if bridge.process.poll() is None:
            bridge.terminal.qa_fault("hang", False)
            kill_bridge(bridge)
