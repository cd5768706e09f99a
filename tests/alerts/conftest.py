from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.alerts.helpers import Receiver
from tests.helpers.platform import free_port


@pytest.fixture
def email_channel(alice: Any) -> Any:
    from alerts.models import Channel

    return Channel.objects.create(
        tenant=alice.tenant, name="desk mail", kind="email", target="desk@example.test", min_severity="info"
    )


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Any) -> Any:
    """Run a service as if its transaction committed (the test's transaction never does): on-commit work such
    as the delivery task and the live push runs when the block ends."""

    def run(function: Any, *args: Any, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return function(*args, **kwargs)

    return run


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    """The webhook receiver on a free port, logging to a file of the test's; stopped after the test."""
    server = Receiver(free_port(), tmp_path / "received.jsonl")
    yield server
    server.stop()
