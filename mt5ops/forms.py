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
        fields = ("label", "backend", "host", "bridge_port", "terminal_path")

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
        return cleaned

    def clean_label(self) -> str:
        label = str(self.cleaned_data["label"]).strip()
        clash = TerminalInstance.objects.filter(tenant=self.tenant, label=label).exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(_("Another terminal of this tenant already has this label."))
        return label
