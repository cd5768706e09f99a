"""Shapes of the portfolio API: cash flows (read, and an admin's entry)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from accounts.models import VenueAccount
from quantarb import clock
from quantarb.api import WriteSerializer, field_errors
from quantarb.api_decimals import PlainDecimalField
from trading.models import CashFlow

from ..cashflows import Correction, Entry, correction_errors, entry_errors
from ..forms import ACCOUNT_CHOICE, AMOUNT_LIMIT, ENTRY_KINDS

# An amount as the portal's form reads it: positive, at most 16 digits with 8 decimals.
_AMOUNT: dict[str, Any] = {
    "max_digits": 16,
    "decimal_places": 8,
    "min_value": Decimal("0.00000001"),
    "max_value": AMOUNT_LIMIT,
}


class CashFlowSerializer(serializers.ModelSerializer[CashFlow]):
    account_label = serializers.CharField(source="account.label", read_only=True)
    requested_by = serializers.CharField(source="requested_by.username", read_only=True, default=None, allow_null=True)
    decided_by = serializers.CharField(source="decided_by.username", read_only=True, default=None, allow_null=True)

    class Meta:
        model = CashFlow
        fields = [
            "id",
            "account",
            "account_label",
            "kind",
            "status",
            "source",
            "amount",
            "currency",
            "usd_per_usdt",
            "amount_usd",
            "at",
            "note",
            "venue_ref",
            "transfer_peer",
            "requested_by",
            "decided_by",
            "decided_at",
            "reject_reason",
            "booked_at",
            "created_at",
        ]
        read_only_fields = fields


class CashFlowWriteSerializer(WriteSerializer):
    """An admin's entry (the portal form's fields and checks; 400 names the field). `kind`: deposit, withdrawal or
    transfer_out (with `to_account`, and `to_amount` in its currency, or the same value at the rate of the moment).
    `amount` positive, in the account's currency; `at` ISO 8601 (default now). Needs `tenant` in its context."""

    account = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=[value for value, _label in ENTRY_KINDS])
    amount = PlainDecimalField(**_AMOUNT, help_text='A decimal string, e.g. "1500.25".')
    at = serializers.DateTimeField(required=False, allow_null=True)
    to_account = serializers.IntegerField(required=False, allow_null=True)
    to_amount = PlainDecimalField(**_AMOUNT, required=False, allow_null=True)
    venue_ref = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=80)
    note = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=300)

    def _account(self, pk: int | None) -> VenueAccount | None:
        if pk is None:
            return None
        account = VenueAccount.objects.filter(tenant=self.context["tenant"], pk=pk).first()
        if account is None:
            raise serializers.ValidationError(str(ACCOUNT_CHOICE))
        return account

    def validate_account(self, pk: int) -> VenueAccount | None:
        return self._account(pk)

    def validate_to_account(self, pk: int | None) -> VenueAccount | None:
        return self._account(pk)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors = entry_errors(
            kind=attrs.get("kind"),
            at=attrs.get("at"),
            to_account=attrs.get("to_account"),
            to_amount=attrs.get("to_amount"),
        )
        if errors:
            raise serializers.ValidationError(field_errors(errors))
        return attrs

    def entry(self) -> Entry:
        data = self.validated_data
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


class CashFlowRejectSerializer(WriteSerializer):
    reason = serializers.CharField(required=False, max_length=300, allow_blank=True)


class CashFlowCorrectionSerializer(WriteSerializer):
    """A correction of a flow awaiting approval, by the admin who entered it: only the fields sent change."""

    amount = PlainDecimalField(
        **_AMOUNT, required=False, allow_null=True, help_text='A decimal string, e.g. "1500.25".'
    )
    at = serializers.DateTimeField(required=False, allow_null=True)
    to_amount = PlainDecimalField(**_AMOUNT, required=False, allow_null=True)
    venue_ref = serializers.CharField(required=False, max_length=80, allow_blank=True, allow_null=True)
    note = serializers.CharField(required=False, max_length=300, allow_blank=True, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors = correction_errors(sent=attrs, values=attrs)
        if errors:
            raise serializers.ValidationError(field_errors(errors))
        return attrs

    def correction(self) -> Correction:
        data = self.validated_data
        return Correction(
            amount=data.get("amount"),
            at=data.get("at"),
            note=(data.get("note") or "") if "note" in data else None,
            venue_ref=(data.get("venue_ref") or "") if "venue_ref" in data else None,
            to_amount=data.get("to_amount"),
        )
