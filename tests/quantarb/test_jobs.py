"""Rules over every unattended job (quantarb/jobs.py): at least once, and no wait in the broker longer than its
visibility timeout. The countdown rule reads the code, so a new task is covered without editing this file."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.conf import settings

from quantarb.celery import app
from quantarb.jobs import MAX_COUNTDOWN_S, VISIBILITY_TIMEOUT_S, bounded_countdown

ROOT = Path(__file__).resolve().parents[2]
APPS = ("quantarb", "accounts", "trading", "strategies", "risk", "alerts", "mt5ops")
WAIT_KEYWORDS = {"countdown", "eta"}


def python_files() -> list[Path]:
    return [path for package in APPS for path in (ROOT / package).rglob("*.py") if "migrations" not in path.parts]


def names_bounded_in(function: ast.AST) -> set[str]:
    """Names assigned from `bounded_countdown(...)` inside one function."""
    bounded = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            callee = node.value.func
            if isinstance(callee, ast.Name) and callee.id == "bounded_countdown":
                bounded |= {target.id for target in node.targets if isinstance(target, ast.Name)}
    return bounded


def unbounded_waits(source: str, filename: str) -> list[str]:
    tree = ast.parse(source, filename)
    found = []
    for function in [node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]:
        bounded = names_bounded_in(function)
        for call in [node for node in ast.walk(function) if isinstance(node, ast.Call)]:
            for keyword in call.keywords:
                if keyword.arg not in WAIT_KEYWORDS:
                    continue
                value = keyword.value
                if isinstance(value, ast.Constant) and isinstance(value.value, (int, float)):
                    if value.value <= MAX_COUNTDOWN_S:
                        continue
                elif isinstance(value, ast.Name) and value.id in bounded:
                    continue
                found.append(f"{filename}:{call.lineno} {keyword.arg}={ast.unparse(value)}")
    return found


def test_the_broker_holds_no_wait_longer_than_its_visibility_timeout() -> None:
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] == VISIBILITY_TIMEOUT_S
    assert MAX_COUNTDOWN_S < VISIBILITY_TIMEOUT_S
    offenders = [
        hit for path in python_files() for hit in unbounded_waits(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert offenders == [], "pass a countdown or ETA through quantarb.jobs.bounded_countdown (or leave it to a sweeper)"


@pytest.mark.parametrize(
    "snippet",
    [
        "def f(self, s):\n    raise self.retry(countdown=s)\n",
        "def f(task):\n    task.apply_async(countdown=3600)\n",
        "def f(task, at):\n    task.apply_async(eta=at)\n",
    ],
)
def test_the_rule_catches_an_unbounded_wait(snippet: str) -> None:
    assert unbounded_waits(snippet, "example.py")


def test_the_rule_accepts_a_bounded_wait() -> None:
    snippet = "def f(self, s):\n    c = bounded_countdown(s)\n    raise self.retry(countdown=c)\n"
    assert unbounded_waits(snippet, "example.py") == []
    assert bounded_countdown(MAX_COUNTDOWN_S) == MAX_COUNTDOWN_S
    assert bounded_countdown(VISIBILITY_TIMEOUT_S) is None


def test_every_task_runs_at_least_once() -> None:
    app.loader.import_default_modules()
    ours = {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}
    assert ours, "the project's tasks are registered"
    assert settings.CELERY_TASK_ACKS_LATE and settings.CELERY_TASK_REJECT_ON_WORKER_LOST
    early = sorted(name for name, task in ours.items() if not task.acks_late or not task.reject_on_worker_lost)
    assert early == [], "these tasks are acknowledged before they ran: a crash would lose them"
