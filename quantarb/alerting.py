"""Raising alerts from below the alerts app (ARCHITECTURE.md "Layers"): `accounts` sits below `alerts` and may not
import it, yet a broken audit chain is an alert and an account whose status changed makes its alert rules look again.
The alerts app installs its sink here when it is ready (alerts/apps.py); until then raising fails loudly
(`AlertsNotReady`), never silently."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from quantarb.phrases import Phrase


class AlertSink(Protocol):
    def raise_alert(
        self, *, tenant: Any, category: str, severity: str, title: str | Phrase, dedup_key: str, detail: dict[str, Any]
    ) -> None:
        """Open an alert in `tenant`, or bump the active one with the same `dedup_key`."""
        ...

    def evaluate_on_commit(self, *, tenant: Any, rule_types: Iterable[str]) -> None:
        """Evaluate these alert rule types of `tenant` once the surrounding transaction has committed."""
        ...


class AlertsNotReady(RuntimeError):
    """No alert sink is installed in this process (the alerts app is not ready)."""


_installed: AlertSink | None = None


def install(sink: AlertSink | None) -> AlertSink | None:
    """Install the process's alert sink; returns the one it replaces."""
    global _installed
    previous, _installed = _installed, sink
    return previous


def _sink() -> AlertSink:
    if _installed is None:
        raise AlertsNotReady("no alert sink is installed in this process")
    return _installed


def raise_alert(
    *, tenant: Any, category: str, severity: str, title: str | Phrase, dedup_key: str, detail: dict[str, Any]
) -> None:
    _sink().raise_alert(
        tenant=tenant, category=category, severity=severity, title=title, dedup_key=dedup_key, detail=detail
    )


def evaluate_on_commit(*, tenant: Any, rule_types: Iterable[str]) -> None:
    _sink().evaluate_on_commit(tenant=tenant, rule_types=rule_types)
