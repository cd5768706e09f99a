"""Shapes of quote sources and source pairs in the API. A write is read by its write serializer, then checked by the
checks the portal's forms apply too (trading/marketdata/setup_checks.py): the same message on the same field."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from quantarb.api import BlankDecimalField, JSONBooleanField, WriteSerializer, choice_of, field_errors
from quantarb.api_decimals import PlainDecimalField
from trading.choices import RateSource
from trading.marketdata.setup_checks import (
    PAIR_FIELDS,
    SOURCE_VENUES,
    QuoteSourceValues,
    SourcePairValues,
    desk_terminals,
    pair_check,
    quote_source_check,
    visible_sources,
)
from trading.models import Instrument, QuoteSource, SourcePair


class QuoteSourceWriteSerializer(WriteSerializer):
    """Create (POST) or change (PATCH) a source; a bad field answers 400 with the field's message. Needs `tenant` in
    its context; the source changed is the serializer's instance. Valid, `checked` holds the values to save."""

    label = serializers.CharField(max_length=80)  # type: ignore[assignment] # a field named like Field.label
    venue = serializers.ChoiceField(
        choices=[v.value for v in SOURCE_VENUES], help_text="Fixed after creation; decides the leg it can quote."
    )
    instrument = serializers.IntegerField(
        required=False, allow_null=True, help_text="Instrument id; omitted: the venue's gold contract."
    )
    terminal = serializers.IntegerField(
        required=False, allow_null=True, help_text="MT5 sources only: the id of one of the desk's MT5 terminals."
    )
    rest_endpoint = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=200,
        help_text="Binance only: REST base URL override (http/https); empty: Binance.",
    )
    ws_endpoint = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=200,
        help_text="Binance only: WebSocket base URL override (ws/wss); with REST.",
    )
    stale_after_s = BlankDecimalField(
        max_digits=8,
        decimal_places=2,
        min_value=Decimal("0.1"),
        required=False,
        allow_null=True,
        help_text="Seconds; null: the platform default.",
    )

    checked: QuoteSourceValues

    def validate_instrument(self, pk: int | None) -> Instrument | None:
        return None if pk is None else choice_of(Instrument.objects.all(), pk)

    def validate_terminal(self, pk: int | None) -> Any:
        return None if pk is None else choice_of(desk_terminals(self.context["tenant"]), pk)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = QuoteSourceValues(
            label=attrs["label"],
            venue=attrs["venue"],
            instrument=attrs.get("instrument"),
            terminal=attrs.get("terminal"),
            rest_endpoint=attrs.get("rest_endpoint") or "",
            ws_endpoint=attrs.get("ws_endpoint") or "",
            stale_after_s=attrs.get("stale_after_s"),
        )
        self.checked, errors = quote_source_check(tenant=self.context["tenant"], source=self.instance, values=given)
        if errors:
            raise serializers.ValidationError(field_errors(errors))
        return attrs


class QuoteSourceSerializer(serializers.ModelSerializer[QuoteSource]):
    instrument = serializers.CharField(source="instrument.symbol", read_only=True)
    rest_endpoint = serializers.SerializerMethodField()
    ws_endpoint = serializers.SerializerMethodField()
    owner = serializers.SerializerMethodField(help_text="`desk`: the caller's desk's own; `platform`: read-only.")

    class Meta:
        model = QuoteSource
        fields = [
            "id",
            "key",
            "label",
            "venue",
            "instrument",
            "terminal",
            "rest_endpoint",
            "ws_endpoint",
            "stale_after_s",
            "owner",
        ]
        read_only_fields = fields

    def get_rest_endpoint(self, source: QuoteSource) -> str:
        return source.endpoints()[0] or ""

    def get_ws_endpoint(self, source: QuoteSource) -> str:
        return source.endpoints()[1] or ""

    def get_owner(self, source: QuoteSource) -> str:
        return "platform" if source.tenant_id is None else "desk"


def _optional(**bounds: Any) -> BlankDecimalField:
    """A cost a pair may leave empty (or null): the model's default."""
    return BlankDecimalField(**bounds, required=False, allow_null=True)


class SourcePairWriteSerializer(WriteSerializer):
    """Create (POST) or change (PATCH) a pair; a bad field answers 400 with the field's message. Needs `tenant` in
    its context; the pair changed is the serializer's instance. Valid, `checked` holds the values to save."""

    name = serializers.CharField(max_length=80)
    perp_source = serializers.IntegerField(help_text="Id of a perpetual source (the desk's or the platform's).")
    cfd_source = serializers.IntegerField(help_text="Id of a CFD source (the desk's or the platform's).")
    entry_threshold = PlainDecimalField(max_digits=20, decimal_places=8, help_text="USD/oz, net.")
    exit_threshold = PlainDecimalField(max_digits=20, decimal_places=8, help_text="USD/oz, net; below entry.")
    perp_fee_rate = _optional(max_digits=16, decimal_places=8)
    cfd_fee_rate = _optional(max_digits=16, decimal_places=8)
    cfd_commission_per_oz = _optional(max_digits=20, decimal_places=8)
    slippage_usd_per_oz = _optional(max_digits=20, decimal_places=8)
    expected_holding_hours = _optional(max_digits=10, decimal_places=2)
    funding_rate = _optional(max_digits=16, decimal_places=8)
    funding_interval_hours = _optional(max_digits=6, decimal_places=2)
    swap_long_per_oz_night = _optional(max_digits=20, decimal_places=8)
    swap_short_per_oz_night = _optional(max_digits=20, decimal_places=8)
    rate_source = serializers.ChoiceField(choices=RateSource.choices, required=False, allow_blank=True, allow_null=True)
    fixed_usd_per_usdt = _optional(max_digits=12, decimal_places=6)
    enabled = JSONBooleanField(default=True)

    checked: SourcePairValues

    def validate_perp_source(self, pk: int) -> QuoteSource:
        return choice_of(visible_sources(self.context["tenant"]), pk)  # type: ignore[no-any-return]

    def validate_cfd_source(self, pk: int) -> QuoteSource:
        return choice_of(visible_sources(self.context["tenant"]), pk)  # type: ignore[no-any-return]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        tenant = self.context["tenant"]
        read: dict[str, Any] = {name: attrs.get(name) for name in PAIR_FIELDS}
        given = SourcePairValues(**read)
        self.checked, errors = pair_check(tenant=tenant, pair=self.instance, values=given)
        found: dict[str | None, Any] = {name: message for name, message in errors.items()}
        # The model's own checks (the thresholds' order), on the pair as it would be saved.
        probe = SourcePair(tenant=tenant, **{name: getattr(self.checked, name) for name in PAIR_FIELDS})
        try:
            probe.clean()
        except DjangoValidationError as error:
            for name, messages in error.message_dict.items():
                found.setdefault(None if name == NON_FIELD_ERRORS else name, messages)
        if found:
            raise serializers.ValidationError(field_errors(found))
        return attrs


class SourcePairSerializer(serializers.ModelSerializer[SourcePair]):
    owner = serializers.SerializerMethodField(help_text="`desk`: the caller's desk's own; `platform`: read-only.")

    class Meta:
        model = SourcePair
        fields = [
            "id",
            "name",
            "perp_source",
            "cfd_source",
            "entry_threshold",
            "exit_threshold",
            "perp_fee_rate",
            "cfd_fee_rate",
            "cfd_commission_per_oz",
            "slippage_usd_per_oz",
            "expected_holding_hours",
            "funding_rate",
            "funding_interval_hours",
            "swap_long_per_oz_night",
            "swap_short_per_oz_night",
            "rate_source",
            "fixed_usd_per_usdt",
            "enabled",
            "owner",
        ]
        read_only_fields = fields

    def get_owner(self, pair: SourcePair) -> str:
        return "platform" if pair.tenant_id is None else "desk"
