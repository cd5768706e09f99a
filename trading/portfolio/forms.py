"""Forms of the portfolio pages: a cash flow entered by an admin, the cash-flow list's filters and the reports'
filters."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.models import Tenant, VenueAccount
from quantarb import clock
from trading.models import CashFlowKind, CashFlowSource, CashFlowStatus

from .cashflows import Correction, Entry

# What an admin picks; a transfer is entered from the sending account (its receiving side is made with it).
ENTRY_KINDS = [
    (CashFlowKind.DEPOSIT.value, CashFlowKind.DEPOSIT.label),
    (CashFlowKind.WITHDRAWAL.value, CashFlowKind.WITHDRAWAL.label),
    (CashFlowKind.TRANSFER_OUT.value, _("Transfer to another account")),
]
AMOUNT_LIMIT = Decimal("99999999.99999999")


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
        self.fields["account"].queryset = accounts  # type: ignore[attr-defined]
        self.fields["to_account"].queryset = accounts  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") == CashFlowKind.TRANSFER_OUT and not data.get("to_account"):
            self.add_error("to_account", _("A transfer needs the account that received the money."))
        if data.get("kind") != CashFlowKind.TRANSFER_OUT and (data.get("to_account") or data.get("to_amount")):
            self.add_error("to_account", _("Only a transfer has a receiving account."))
        at = data.get("at")
        if at is not None and at.year < 2000:
            raise ValidationError({"at": _("Enter a time after 2000.")})
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


class CashFlowCorrectionForm(forms.Form):
    """A correction of a pending flow by the admin who entered it: only the fields sent change."""

    amount = forms.DecimalField(
        label=_("Amount"),
        max_digits=16,
        decimal_places=8,
        min_value=Decimal("0.00000001"),
        max_value=AMOUNT_LIMIT,
        required=False,
    )
    at = forms.DateTimeField(label=_("Time (UTC)"), required=False)
    to_amount = forms.DecimalField(
        label=_("Amount received (transfers)"),
        max_digits=16,
        decimal_places=8,
        min_value=Decimal("0.00000001"),
        max_value=AMOUNT_LIMIT,
        required=False,
    )
    venue_ref = forms.CharField(label=_("Venue reference"), max_length=80, required=False)
    note = forms.CharField(label=_("Note"), max_length=300, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not any(name in self.data for name in self.fields):
            raise ValidationError(_("Send at least one of amount, at, to_amount, venue_ref and note."))
        at = data.get("at")
        if at is not None and at.year < 2000:
            raise ValidationError({"at": _("Enter a time after 2000.")})
        for name in ("amount", "at"):
            if name in self.data and data.get(name) is None and name not in self.errors:
                self.add_error(name, _("This field cannot be empty."))
        return data

    def correction(self) -> Correction:
        data = self.cleaned_data
        sent = self.data
        return Correction(
            amount=data.get("amount"),
            at=data.get("at"),
            note=(data.get("note") or "") if "note" in sent else None,
            venue_ref=(data.get("venue_ref") or "") if "venue_ref" in sent else None,
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
