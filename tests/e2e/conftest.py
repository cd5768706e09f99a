"""Browser-test fixtures: pages that screenshot themselves on failure.

Screenshots of failed tests go to `test-artifacts/<test name>-<n>.png` (gitignored), one per page the test opened.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest

from tests.e2e.helpers import ARTIFACTS
from tests.helpers.platform import ROOT

VIEWPORT = {"width": 1366, "height": 768}  # the smallest screen UI.md promises to stay readable on


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the test item, so fixtures can tell a failed test at teardown."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def new_page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Callable[[], Any]]:
    """A factory of fresh pages (each in its own browser context, i.e. its own cookies)."""
    pages: list[Any] = []
    contexts: list[Any] = []

    def make() -> Any:
        context = browser.new_context(viewport=VIEWPORT, locale="en-US")
        contexts.append(context)
        page = context.new_page()
        pages.append(page)
        return page

    yield make
    failed = any(getattr(getattr(request.node, f"rep_{when}", None), "failed", False) for when in ("setup", "call"))
    if failed:
        ARTIFACTS.mkdir(exist_ok=True)
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        for n, page in enumerate(pages, 1):
            try:
                path = ARTIFACTS / f"{stem}-{n}.png"
                page.screenshot(path=str(path), full_page=True)
                print(f"screenshot: {path}")
            except Exception as exc:  # a closed page cannot be shot; the failure itself matters more
                print(f"no screenshot of page {n}: {exc}")
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Callable[[], Any]) -> Any:
    return new_page()


@pytest.fixture(scope="session")
def layout_desk(platform: Any) -> dict[str, Any]:
    """The layout desk (layout_desk.py) in the platform's database, and the ids its pages need (seeded once)."""
    completed = subprocess.run(
        [sys.executable, "-c", "from tests.e2e.layout_desk import main; main()"],
        cwd=ROOT,
        env=platform.env,
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stderr
    return dict(json.loads(completed.stdout.strip().splitlines()[-1]))
