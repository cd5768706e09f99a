"""The values an MT5 terminal is added from, and the rules about them that need the tenant or the network policy.
The portal's form (`clean`) and the API's serializer (`validate`) both call `terminal_problems`, so one rule answers
with one message on both surfaces; `services.terminal_add` takes the values. The model's own `clean()` (an rpyc
terminal's bridge, a native one's path, an agent's port) is the remaining rule, which both run too."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from accounts.models import Tenant
from accounts.venue_rules import Problems
from quantarb import outbound

from .agent_client import AgentKey
from .choices import Backend
from .models import TerminalInstance

TERMINAL_FIELDS = ("label", "backend", "host", "bridge_port", "terminal_path", "agent_host", "agent_port", "agent_key")


@dataclass(frozen=True)
class TerminalValues:
    """A terminal as validated. `agent_key` is the agent's `key_id:secret` line; empty keeps the stored key."""

    label: str
    backend: str = Backend.SIM
    host: str = ""
    bridge_port: int | None = None
    terminal_path: str = ""
    agent_host: str = ""
    agent_port: int | None = None
    agent_key: str = ""


def terminal_problems(
    *, tenant: Tenant, terminal: TerminalInstance | None, values: Mapping[str, Any], failed: Collection[str] = ()
) -> Problems:
    """The rules of a terminal as a whole. `values` holds what passed its field's own checks (`failed` names the
    fields that did not: their rules are skipped); `terminal` is the stored one (None: a new terminal)."""
    problems = Problems()

    def wrong(name: str) -> bool:
        return name in failed or name in problems

    label = values.get("label")
    if label is not None and not wrong("label"):
        stored_pk: Any = terminal.pk if terminal is not None else None
        if TerminalInstance.objects.filter(tenant=tenant, label=label).exclude(pk=stored_pk).exists():
            problems.add("label", _("Another terminal of this tenant already has this label."))
    line = str(values.get("agent_key") or "").strip()
    if line and not wrong("agent_key"):
        try:
            AgentKey.parse(line)
        except ValueError as error:
            problems.add("agent_key", error)
    host, port = str(values.get("host") or "").strip(), values.get("bridge_port")
    if values.get("backend") == Backend.RPYC and host and port and not wrong("host"):
        # Only bridges a platform operator listed (quantarb/outbound.py); checked again on each connection.
        try:
            outbound.check_bridge_host(host, int(port))
        except outbound.DestinationRefused as error:
            problems.add("host", error)
    agent_host, agent_port = str(values.get("agent_host") or "").strip(), values.get("agent_port")
    if agent_host and agent_port and not wrong("agent_host"):
        try:  # the agent's host is under the same allow-list as the bridges
            outbound.check_bridge_host(agent_host, int(agent_port))
        except outbound.DestinationRefused as error:
            problems.add("agent_host", error)
    stored_key = terminal.agent_key if terminal is not None else None
    if agent_host and not line and not stored_key and not wrong("agent_key"):
        problems.add("agent_key", _("An agent needs its key."))
    return problems
