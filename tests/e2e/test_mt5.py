"""The MT5 pages in Chromium, in English and in Chinese: an admin adds a terminal with its
supervisor agent (the real agent, deploy/mt5-agent/agent.py, running a stand-in terminal on 127.0.0.1), sees it
checked healthy by the platform's own health job on the MT5 page — a word beside the colour — opens its page, asks
for a restart, confirms it on the page that says what it will do, and sees the restart in the health log and the
list of actions with who did it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.helpers.platform import (
    Platform,
    copy_platform_database,
    free_port,
    platform_env,
    spawn_platform,
    wait_for_http,
)

from ..mt5ops.agent_harness import RunningAgent, running_agent
from .helpers import log_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("processes")]  # tests/conftest.py
ADMIN = "demo-admin"


@pytest.fixture(scope="module")
def mt5_platform(tmp_path_factory: pytest.TempPathFactory, seeded_platform_database: Path) -> Iterator[Platform]:
    """The embedded platform (its scheduler runs the MT5 health job every 5 s), allowed to reach agents and bridges
    on 127.0.0.1 (QUANTARB_MT5_BRIDGE_HOSTS), as an operator would list the terminal hosts; on a copy of the
    session's freshly seeded database (not the one the other browser tests changed)."""
    workdir = tmp_path_factory.mktemp("mt5-platform")
    port = free_port()
    env = platform_env(workdir, QUANTARB_MT5_BRIDGE_HOSTS="127.0.0.1")
    copy_platform_database(seeded_platform_database, workdir)
    log = workdir / "platform.log"
    server = Platform(f"http://127.0.0.1:{port}", port, spawn_platform(port, env, log), env, log)
    try:
        wait_for_http(f"{server.url}/healthz", 30)
        yield server
    finally:
        server.stop()


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[RunningAgent]:
    with running_agent(tmp_path) as running:
        yield running


def switch_language(page: Any, base_url: str, language: str) -> None:
    token = page.locator("input[name=csrfmiddlewaretoken]").first.get_attribute("value")
    response = page.context.request.post(
        base_url + "/accounts/language/", form={"csrfmiddlewaretoken": token or "", "language": language, "next": "/"}
    )
    assert response.ok, f"language {language!r}: HTTP {response.status}"


def test_the_mt5_pages_and_a_confirmed_restart_in_english_and_chinese(
    mt5_platform: Platform, agent: RunningAgent, new_page: Any
) -> None:
    url = mt5_platform.url
    page = new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    log_in(page, url, ADMIN)
    expect(page.locator("[data-testid=nav-mt5]")).to_have_text("MT5")

    # An admin adds the terminal with its agent (the key is write-only).
    page.goto(url + "/venues/terminals/")
    form = page.locator("[data-testid=terminal-form]")
    form.locator("input[name=label]").fill("E2E box")
    form.locator("select[name=backend]").select_option("sim")
    form.locator("input[name=agent_host]").fill(agent.host)
    form.locator("input[name=agent_port]").fill(str(agent.port))
    form.locator("input[name=agent_key]").fill(agent.key_line)
    form.locator("button[type=submit]").click()
    expect(page.get_by_text("Terminal E2E box added.")).to_be_visible(timeout=10_000)

    # The platform's health job checks it within seconds: healthy, the word beside the colour.
    page.goto(url + "/mt5/")
    row = page.locator("[data-testid=mt5-terminals] tr", has_text="E2E box")
    badge = row.locator("[data-testid=terminal-state]")
    for _ in range(40):
        if badge.get_attribute("data-state") == "healthy":
            break
        page.wait_for_timeout(500)  # the list is server-rendered: look again
        page.reload()
    expect(badge).to_have_text("healthy")
    expect(row).to_contain_text(" ms")

    # Its page, then a restart: asked, confirmed, done by the agent, in the health log and the actions.
    row.get_by_role("link", name="E2E box").click()
    expect(page.locator("h1")).to_have_text("E2E box")
    expect(page.locator("[data-testid=uptime]")).to_be_visible()
    expect(page.locator("[data-testid=latency-chart]")).to_have_attribute("data-drawn", re.compile(r"\d+"))
    assert errors == []
    pid_before = agent.status()["pid"]
    page.locator("[data-testid=action-restart]").click()
    expect(page.locator("[data-testid=action-effect]")).to_contain_text("Restart terminal64.exe")
    page.locator("[data-testid=confirm-action]").click()
    expect(page.get_by_text("restart on E2E box: done.")).to_be_visible(timeout=30_000)
    log = page.locator("[data-testid=health-log] tr[data-action=restart_via_agent]").first
    expect(log).to_contain_text("restart: done")
    expect(log).to_contain_text(ADMIN)
    expect(page.locator("[data-testid=manual-actions]")).to_contain_text(ADMIN)
    expect(page.locator("[data-testid=restarts]")).to_have_text("1")
    assert agent.status()["pid"] != pid_before  # the agent started a new terminal process

    # The same pages in Chinese.
    switch_language(page, url, "zh-hans")
    page.goto(url + "/mt5/")
    expect(page.locator("h1")).to_have_text("MT5 终端")
    expect(page.locator("[data-testid=mt5-terminals] [data-testid=terminal-state]").first).to_have_text("健康")
    page.locator("[data-testid=mt5-terminals] a", has_text="E2E box").click()
    expect(page.get_by_role("heading", name="健康日志")).to_be_visible()
    expect(page.locator("[data-testid=health-log] tr[data-action=restart_via_agent]").first).to_contain_text("重启")
    page.locator("[data-testid=action-maintenance_on]").click()
    expect(page.locator("[data-testid=action-effect]")).to_contain_text("维护")
