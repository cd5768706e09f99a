"""The limits editor's form (the page and the API both validate through it): a `RiskLimit` of the desk, its scope's
object chosen among the desk's own, every check of `RiskLimit.clean` shown on its field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Tenant

from .choices import LimitDirection
from .models import RiskLimit


class RiskLimitForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = RiskLimit
        fields = (
            "name",
            "scope_kind",
            "pool",
            "strategy",
            "account",
            "metric",
            "warning_level",
            "breach_level",
            "direction",
            "action",
            "confirm",
            "hysteresis",
            "enabled",
        )

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance.tenant = tenant
        for name in ("pool", "strategy", "account"):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            queryset = field.queryset.filter(tenant=tenant)  # type: ignore[union-attr]
            field.queryset = queryset.defer("credentials") if name == "account" else queryset
            field.empty_label = "—"
        self.fields["account"].label_from_instance = lambda account: account.label  # type: ignore[attr-defined]
        direction = self.fields["direction"]
        assert isinstance(direction, forms.ChoiceField)
        direction.choices = [("", _("The metric's natural direction")), *LimitDirection.choices]
        self.fields["hysteresis"].required = False

    def clean_hysteresis(self) -> Any:
        value = self.cleaned_data.get("hysteresis")
        return 0 if value is None else value
