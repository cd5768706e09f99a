"""Signals risk sends about its kill switches, for the layers above it (strategies' pages) to act on without risk
importing them; the composition root connects the receivers (quantarb/wiring.py)."""

from __future__ import annotations

from django.dispatch import Signal

kill_switch_changed = Signal()
"""A kill switch was tripped or reset. Keyword arguments: `scope` (KillScope value), `tenant_id` (None for the
platform), `strategy_id` (None unless the switch covers one strategy). Sent once the change is committed."""
