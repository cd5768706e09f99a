"""Forms of the portfolio pages: a cash flow entered by an admin, the cash-flow list's filters and the reports'
filters."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Tenant, VenueAccount
from quantarb import clock
from trading.models import CashFlowKind, CashFlowSource, CashFlowStatus

from .cashflows import Entry, entry_errors

# What an admin picks; a transfer is entered from the sending account (its receiving side is made with it).
ENTRY_KINDS = [
    (CashFlowKind.DEPOSIT.value, CashFlowKind.DEPOSIT.label),
    (CashFlowKind.WITHDRAWAL.value, CashFlowKind.WITHDRAWAL.label),
    (CashFlowKind.TRANSFER_OUT.value, _("Transfer to another account")),
]
AMOUNT_LIMIT = Decimal("99999999.99999999")
# The answer to an account id that is not one of the desk's, on the page and in the API.
ACCOUNT_CHOICE = _("Choose one of this desk's accounts.")


class CashFlowForm(forms.Form):
    account = forms.ModelChoiceField(queryset=VenueAccount.objects.none(), label=_("Account"))
    kind = forms.ChoiceField(choices=ENTRY_KINDS, label=_("Kind"))
    amount = forms.DecimalField(
        label=_("Amount"),
        max_digits=16,
        decimal_places=8,
        min_value=Decimal("0.00000001"),
        max_value=AMOUNT_LIMIT,
        help_text=_("Positive, in the account's currency; the kind says which way the money went."),
    )
    at = forms.DateTimeField(
        label=_("Time (UTC)"), help_text=_("When the money moved, e.g. 2026-01-05 14:30."), required=False
    )
    to_account = forms.ModelChoiceField(
        queryset=VenueAccount.objects.none(), label=_("Receiving account (transfers)"), required=False
    )
    to_amount = forms.DecimalField(
        label=_("Amount received (transfers)"),
        max_digits=16,
        decimal_places=8,
        min_value=Decimal("0.00000001"),
        max_value=AMOUNT_LIMIT,
        required=False,
        help_text=_("In the receiving account's currency. Empty: the same value at the USDT/USD rate of the moment."),
    )
    venue_ref = forms.CharField(
        label=_("Venue reference"),
        max_length=80,
        required=False,
        help_text=_("The venue's id of the movement, if known: the venue's own report of it is then not booked twice."),
    )
    note = forms.CharField(label=_("Note"), max_length=300, required=False)

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        accounts = VenueAccount.objects.filter(tenant=tenant).order_by("label")
        for name in ("account", "to_account"):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = accounts
            field.error_messages["invalid_choice"] = ACCOUNT_CHOICE

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        errors = entry_errors(
            kind=data.get("kind"), at=data.get("at"), to_account=data.get("to_account"), to_amount=data.get("to_amount")
        )
        for field, message in errors.items():
            self.add_error(field, message)
        return data

    def entry(self) -> Entry:
        data = self.cleaned_data
        return Entry(
            account=data["account"],
            kind=data["kind"],
            amount=data["amount"],
            at=data.get("at") or clock.now(),
            note=data.get("note") or "",
            venue_ref=(data.get("venue_ref") or "").strip(),
            to_account=data.get("to_account"),
            to_amount=data.get("to_amount"),
        )


class CashFlowFilterForm(forms.Form):
    account = forms.ModelChoiceField(
        queryset=VenueAccount.objects.none(), required=False, label=_("Account"), empty_label=_("Any account")
    )
    kind = forms.ChoiceField(choices=[("", _("Any kind")), *CashFlowKind.choices], required=False, label=_("Kind"))
    status = forms.ChoiceField(
        choices=[("", _("Any status")), *CashFlowStatus.choices], required=False, label=_("Status")
    )
    source = forms.ChoiceField(
        choices=[("", _("Any source")), *CashFlowSource.choices], required=False, label=_("Source")
    )
    since = forms.DateField(required=False, label=_("From"))
    until = forms.DateField(required=False, label=_("To"))

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = VenueAccount.objects.filter(tenant=tenant)  # type: ignore[attr-defined]

    def filters(self) -> dict[str, str]:
        """The valid filters as the selector takes them (an invalid one is dropped, and shown as an error)."""
        if not self.is_bound:
            return {}
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        out: dict[str, str] = {}
        for name in ("kind", "status", "source"):
            if data.get(name):
                out[name] = data[name]
        if data.get("account"):
            out["account"] = str(data["account"].pk)
        if data.get("since"):
            out["since"] = f"{data['since'].isoformat()}T00:00:00+00:00"
        if data.get("until"):
            out["until"] = f"{data['until'].isoformat()}T23:59:59.999999+00:00"
        return out
