"""The alert sink the layers below alerts raise through (quantarb/alerting.py), installed when the app is ready."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from quantarb.phrases import Phrase

from .rules import evaluate_on_commit
from .services import alert_raise


class AlertsSink:
    def raise_alert(
        self, *, tenant: Any, category: str, severity: str, title: str | Phrase, dedup_key: str, detail: dict[str, Any]
    ) -> None:
        alert_raise(
            tenant=tenant, category=category, severity=severity, title=title, dedup_key=dedup_key, detail=detail
        )

    def evaluate_on_commit(self, *, tenant: Any, rule_types: Iterable[str]) -> None:
        evaluate_on_commit(tenant=tenant, rule_types=rule_types)
