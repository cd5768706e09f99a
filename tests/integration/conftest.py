"""Fixtures of the services-topology tests: `stack` owns everything a test starts (see harness.py)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from .harness import Stack


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    """Processes, servers, databases and clients of one test, stopped in reverse order; on failure the tails
    of every process's log are printed (pytest shows them as "Captured stdout teardown")."""
    workdir = Path(tempfile.mkdtemp(prefix="quantarb-it-"))
    stack = Stack(workdir)
    try:
        yield stack
    finally:
        failed = request.node.stash.get(_FAILED, True)
        if failed:
            print(f"\n===== process logs (kept in {workdir}) =====\n{stack.report(60)}")
        stack.close()
        if not failed:
            shutil.rmtree(workdir, ignore_errors=True)
