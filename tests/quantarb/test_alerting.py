"""Alerts raised from below the alerts app go through the sink it installs when ready (quantarb/alerting.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from alerts.models import Alert
from alerts.sink import AlertsSink
from quantarb import alerting

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_sink() -> Iterator[None]:
    previous = alerting.install(None)
    yield
    alerting.install(previous)


def test_the_alerts_app_installed_its_sink_and_an_alert_raised_below_it_opens(alice: Any) -> None:
    previous = alerting.install(None)
    alerting.install(previous)
    assert isinstance(previous, AlertsSink)
    for _ in range(2):
        alerting.raise_alert(
            tenant=alice.tenant, category="system", severity="critical", title="T", dedup_key="k", detail={"a": 1}
        )
    alert = Alert.objects.get(tenant=alice.tenant, dedup_key="k")
    assert (alert.category, alert.severity, alert.count, alert.detail) == ("system", "critical", 2, {"a": 1})


def test_without_a_sink_raising_fails_loudly(alice: Any, no_sink: None) -> None:
    with pytest.raises(alerting.AlertsNotReady):
        alerting.raise_alert(
            tenant=alice.tenant, category="system", severity="info", title="T", dedup_key="k", detail={}
        )
    with pytest.raises(alerting.AlertsNotReady):
        alerting.evaluate_on_commit(tenant=alice.tenant, rule_types=("account_error",))
    assert not Alert.objects.exists()
