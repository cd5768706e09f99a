"""Shapes of the portfolio API: cash flows (read, and an admin's entry)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from trading.models import CashFlow


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


class CashFlowWriteSerializer(serializers.Serializer[Any]):
    """An admin's entry (the portal form's fields and checks; 400 names the field). `kind`: deposit, withdrawal or
    transfer_out (with `to_account`, and `to_amount` in its currency, or the same value at the rate of the moment).
    `amount` positive, in the account's currency; `at` ISO 8601 (default now)."""

    account = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=["deposit", "withdrawal", "transfer_out"])
    amount = serializers.CharField(max_length=40, help_text='A decimal string, e.g. "1500.25".')
    at = serializers.DateTimeField(required=False)
    to_account = serializers.IntegerField(required=False)
    to_amount = serializers.CharField(required=False, max_length=40)
    venue_ref = serializers.CharField(required=False, max_length=80)
    note = serializers.CharField(required=False, max_length=300)


class CashFlowRejectSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(required=False, max_length=300, allow_blank=True)


class CashFlowCorrectionSerializer(serializers.Serializer[Any]):
    """A correction of a flow awaiting approval, by the admin who entered it: only the fields sent change."""

    amount = serializers.CharField(required=False, max_length=40, help_text='A decimal string, e.g. "1500.25".')
    at = serializers.DateTimeField(required=False)
    to_amount = serializers.CharField(required=False, max_length=40)
    venue_ref = serializers.CharField(required=False, max_length=80, allow_blank=True)
    note = serializers.CharField(required=False, max_length=300, allow_blank=True)
