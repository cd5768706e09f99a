"""Forms of the risk pages: the limits editor's (a `RiskLimit` of the desk, its scope's object chosen among the
desk's own, every check of `RiskLimit.clean` shown on its field, as the API's serializer shows them), and a
transfer's request, its completion and its rejection or cancellation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Tenant, VenueAccount

from .choices import LimitDirection
from .limits import LIMIT_FIELDS
from .models import SCOPE_CHOICE, RiskLimit

MAX_AMOUNT = Decimal("9999999999999999.99")


class TransferRequestForm(forms.Form):
    from_account = forms.ModelChoiceField(queryset=VenueAccount.objects.none(), label=_("From account"))
    to_account = forms.ModelChoiceField(queryset=VenueAccount.objects.none(), label=_("To account"))
    amount = forms.DecimalField(
        label=_("Amount"),
        max_digits=18,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=MAX_AMOUNT,
        help_text=_("In the sending account's currency."),
    )
    note = forms.CharField(label=_("Note"), max_length=300, required=False)

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        accounts = VenueAccount.objects.filter(tenant=tenant).order_by("label", "pk")
        for name in ("from_account", "to_account"):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = accounts
            field.error_messages["invalid_choice"] = _("Choose one of this desk's accounts.")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        source, target = cleaned.get("from_account"), cleaned.get("to_account")
        if source is not None and target is not None and source.pk == target.pk:
            self.add_error("to_account", _("A transfer goes between two different accounts."))
        return cleaned


class TransferCompleteForm(forms.Form):
    venue_ref = forms.CharField(
        label=_("Venue reference"),
        max_length=80,
        help_text=_("The venue's id of the movement (Binance tranId, MT5 deal)."),
    )
    received = forms.DecimalField(
        label=_("Amount received"),
        max_digits=18,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=MAX_AMOUNT,
        required=False,
        help_text=_("In the receiving account's currency; empty: the same value at the rate of the moment."),
    )


class TransferCloseForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)


class RiskLimitForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = RiskLimit
        fields = LIMIT_FIELDS  # the editable fields, as a limit's audit summary lists them

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance.tenant = tenant
        for name in ("pool", "strategy", "account"):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            queryset = field.queryset.filter(tenant=tenant)  # type: ignore[union-attr]
            field.queryset = queryset.defer("credentials") if name == "account" else queryset
            field.empty_label = "—"
            field.error_messages["invalid_choice"] = SCOPE_CHOICE
        self.fields["account"].label_from_instance = lambda account: account.label  # type: ignore[attr-defined]
        direction = self.fields["direction"]
        assert isinstance(direction, forms.ChoiceField)
        direction.choices = [("", _("The metric's natural direction")), *LimitDirection.choices]
        self.fields["hysteresis"].required = False

    def clean_hysteresis(self) -> Any:
        value = self.cleaned_data.get("hysteresis")
        return 0 if value is None else value
