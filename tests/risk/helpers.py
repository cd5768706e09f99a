"""Helpers of the risk tests: a risk limit as the limits page's form posts it."""

from __future__ import annotations

from typing import Any


def form(pool: Any, **fields: Any) -> dict[str, Any]:
    return {
        "name": "Unhedged",
        "scope_kind": "pool",
        "pool": pool.pk,
        "metric": "unhedged_oz",
        "warning_level": "1",
        "breach_level": "2",
        "direction": "",
        "action": "block_entries",
        "hysteresis": "0",
        "enabled": "on",
        **fields,
    }
