from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from quantarb import outbound

from .choices import Backend
from .models import TerminalInstance


class TerminalForm(forms.ModelForm):  # type: ignore[type-arg]
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
        host, port = str(cleaned.get("host") or "").strip(), cleaned.get("bridge_port")
        if cleaned.get("backend") == Backend.RPYC and host and port and "host" not in self.errors:
            # Only bridges a platform operator listed (quantarb/outbound.py); checked again on each connection.
            try:
                outbound.check_bridge_host(host, int(port))
            except outbound.DestinationRefused as error:
                self.add_error("host", str(error))
        agent_host, agent_port = str(cleaned.get("agent_host") or "").strip(), cleaned.get("agent_port")
        if agent_host and agent_port and "agent_host" not in self.errors:
            try:  # the agent's host is under the same allow-list as the bridges
                outbound.check_bridge_host(agent_host, int(agent_port))
            except outbound.DestinationRefused as error:
                self.add_error("agent_host", str(error))
        if agent_host and not cleaned.get("agent_key") and not self.instance.agent_key:
            self.add_error("agent_key", _("An agent needs its key."))
        return cleaned

    def clean_agent_key(self) -> str:
        from .agent_client import AgentKey

        line = str(self.cleaned_data.get("agent_key") or "").strip()
        if line:
            try:
                AgentKey.parse(line)
            except ValueError as error:
                raise forms.ValidationError(str(error)) from None
        return line

    def save(self, commit: bool = True) -> TerminalInstance:
        terminal: TerminalInstance = super().save(commit=False)
        set_agent_key(terminal, self.cleaned_data.get("agent_key") or "", clear=not terminal.agent_host)
        if commit:
            terminal.save()
        return terminal

    def clean_label(self) -> str:
        label = str(self.cleaned_data["label"]).strip()
        clash = TerminalInstance.objects.filter(tenant=self.tenant, label=label).exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(_("Another terminal of this tenant already has this label."))
        return label


def set_agent_key(terminal: TerminalInstance, line: str, *, clear: bool = False) -> None:
    """Store the agent's key encrypted (its id, not secret, beside it); an empty line keeps the stored key."""
    from .agent_client import AgentKey

    if line:
        terminal.agent_key = {"line": line}
        terminal.agent_key_id = AgentKey.parse(line).key_id
    elif clear:
        terminal.agent_key = None
        terminal.agent_key_id = ""
