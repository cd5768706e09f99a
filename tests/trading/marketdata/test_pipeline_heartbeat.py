"""The engine's heartbeat after a database restart.

A Django connection the server cut (PostgreSQL restarted) never heals by itself — every query on it raises
"the connection is closed" until it is closed and reopened. The heartbeat loop runs in executor threads and
swallows the error, so a failed beat must close its thread's connection or that thread never beats again
(tests/integration/test_recovery.py shows the recovery against a real restart).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.db import OperationalError

from trading.marketdata import pipeline as pipeline_module
from trading.marketdata.pipeline import MarketPipeline
from trading.models import Heartbeat


@pytest.mark.django_db
def test_a_failed_engine_heartbeat_closes_its_connection_so_the_next_beat_reconnects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    closed: list[bool] = []

    def cut(*_args: Any, **_kwargs: Any) -> None:
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr(Heartbeat.objects, "update_or_create", cut)
    monkeypatch.setattr(pipeline_module, "connection", SimpleNamespace(close=lambda: closed.append(True)))

    with pytest.raises(OperationalError):
        MarketPipeline()._beat()

    assert closed == [True]
