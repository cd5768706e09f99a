"""Shapes of quote sources and source pairs in the API. Writes are validated by the portal's forms
(trading/marketdata/forms.py); these serializers describe the bodies and answers in the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from quantarb.api_decimals import PlainDecimalField
from trading.choices import RateSource
from trading.marketdata.forms import SOURCE_VENUES
from trading.models import QuoteSource, SourcePair


class QuoteSourceWriteSerializer(serializers.Serializer[Any]):
    """Create (POST) or change (PATCH) a source; a bad field answers 400 with the field's message."""

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
        max_length=200,
        help_text="Binance only: REST base URL override (http/https); empty: Binance.",
    )
    ws_endpoint = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="Binance only: WebSocket base URL override (ws/wss); with REST.",
    )
    stale_after_s = PlainDecimalField(
        max_digits=8,
        decimal_places=2,
        required=False,
        allow_null=True,
        help_text="Seconds; null: the platform default.",
    )


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


class SourcePairWriteSerializer(serializers.Serializer[Any]):
    """Create (POST) or change (PATCH) a pair; a bad field answers 400 with the field's message."""

    name = serializers.CharField(max_length=80)
    perp_source = serializers.IntegerField(help_text="Id of a perpetual source (the desk's or the platform's).")
    cfd_source = serializers.IntegerField(help_text="Id of a CFD source (the desk's or the platform's).")
    entry_threshold = PlainDecimalField(max_digits=20, decimal_places=8, help_text="USD/oz, net.")
    exit_threshold = PlainDecimalField(max_digits=20, decimal_places=8, help_text="USD/oz, net; below entry.")
    perp_fee_rate = PlainDecimalField(max_digits=16, decimal_places=8, required=False)
    cfd_fee_rate = PlainDecimalField(max_digits=16, decimal_places=8, required=False)
    cfd_commission_per_oz = PlainDecimalField(max_digits=20, decimal_places=8, required=False)
    slippage_usd_per_oz = PlainDecimalField(max_digits=20, decimal_places=8, required=False)
    expected_holding_hours = PlainDecimalField(max_digits=10, decimal_places=2, required=False)
    funding_rate = PlainDecimalField(max_digits=16, decimal_places=8, required=False)
    funding_interval_hours = PlainDecimalField(max_digits=6, decimal_places=2, required=False)
    swap_long_per_oz_night = PlainDecimalField(max_digits=20, decimal_places=8, required=False)
    swap_short_per_oz_night = PlainDecimalField(max_digits=20, decimal_places=8, required=False)
    rate_source = serializers.ChoiceField(choices=RateSource.choices, required=False)
    fixed_usd_per_usdt = PlainDecimalField(max_digits=12, decimal_places=6, required=False)
    enabled = serializers.BooleanField(default=True)


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
