from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import TerminalInstance
from .terminal_rules import TerminalValues, terminal_problems


class TerminalForm(forms.ModelForm):  # type: ignore[type-arg]
    """Validates a terminal (its fields here, the rules about it as a whole in terminal_rules.py); the view passes
    `values()` to services.terminal_add."""

    class Meta:
        model = TerminalInstance
        fields = ("label", "backend", "host", "bridge_port", "terminal_path", "agent_host", "agent_port")

    # The supervisor agent's key (deploy/mt5-agent/: `agent.py genkey` prints it): write-only, encrypted at rest.
    agent_key = forms.CharField(
        label=_("Agent key"),
        required=False,
        strip=True,
        max_length=200,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("key_id:secret as the agent's genkey prints it; leave empty to keep the stored key."),
    )

    def __init__(self, *args: Any, tenant: Any, **kwargs: Any) -> None:
        self.tenant = tenant
        super().__init__(*args, **kwargs)
        self.instance.tenant = tenant

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        terminal = self.instance if self.instance.pk else None
        problems = terminal_problems(tenant=self.tenant, terminal=terminal, values=cleaned, failed=set(self.errors))
        for name, messages in problems.items():
            for message in messages:
                self.add_error(name, message)
        return cleaned

    def values(self) -> TerminalValues:
        """The validated terminal, as services.terminal_add takes it."""
        cleaned = self.cleaned_data
        return TerminalValues(
            label=cleaned["label"],
            backend=cleaned["backend"],
            host=cleaned.get("host") or "",
            bridge_port=cleaned.get("bridge_port"),
            terminal_path=cleaned.get("terminal_path") or "",
            agent_host=cleaned.get("agent_host") or "",
            agent_port=cleaned.get("agent_port"),
            agent_key=cleaned.get("agent_key") or "",
        )
