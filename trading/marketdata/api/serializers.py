from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from quantarb import clock
from trading.choices import CandleInterval, Direction
from trading.models import BasisCandle, Opportunity, QuoteTick, SpreadSample

MAX_CANDLE_RANGE_DAYS = {"1m": 7, "5m": 35, "1h": 400}
DEFAULT_CANDLE_RANGE = timedelta(hours=24)


class QuoteSerializer(serializers.ModelSerializer[QuoteTick]):
    source = serializers.CharField(source="source.key")  # type: ignore[assignment]
    venue = serializers.CharField(source="source.venue")
    symbol = serializers.CharField(source="source.instrument.symbol")

    class Meta:
        model = QuoteTick
        fields = ["id", "source", "venue", "symbol", "ts", "bid", "ask", "received_at"]


class SpreadSampleSerializer(serializers.ModelSerializer[SpreadSample]):
    pair = serializers.IntegerField(source="pair_id")
    # The pair's name as `selectors.latest_samples_for` reads it beside the sample (no query per sample).
    pair_name = serializers.CharField(read_only=True)

    class Meta:
        model = SpreadSample
        fields = [
            "id",
            "pair",
            "pair_name",
            "ts",
            "perp_bid",
            "perp_ask",
            "cfd_bid",
            "cfd_ask",
            "usd_per_usdt",
            "edge_sell_perp",
            "edge_buy_perp",
            "net_sell_perp",
            "net_buy_perp",
            "basis",
            "basis_mean",
            "zscore",
        ]


class CandleSerializer(serializers.ModelSerializer[BasisCandle]):
    pair = serializers.IntegerField(source="pair_id")

    class Meta:
        model = BasisCandle
        fields = ["id", "pair", "interval", "start", "open", "high", "low", "close", "best_net_edge", "samples"]


class OpportunitySerializer(serializers.ModelSerializer[Opportunity]):
    pair = serializers.IntegerField(source="pair_id")
    duration_seconds = serializers.FloatField(read_only=True)

    class Meta:
        model = Opportunity
        fields = [
            "id",
            "pair",
            "direction",
            "started_at",
            "ended_at",
            "duration_seconds",
            "peak_net_edge",
            "peak_at",
            "threshold",
        ]


class RangeParams(serializers.Serializer[Any]):
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        since, until = attrs.get("since"), attrs.get("until")
        if since and until and since >= until:
            raise serializers.ValidationError({"until": [_("'until' must be after 'since'.")]})
        return attrs


class QuoteParams(RangeParams):
    source = serializers.SlugField(required=False, max_length=120)  # type: ignore[assignment]


class CandleParams(RangeParams):
    pair = serializers.IntegerField(min_value=1)
    interval = serializers.ChoiceField(choices=CandleInterval.choices, default=CandleInterval.M1)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        since, until = attrs.get("since"), attrs.get("until")
        end = until or clock.now()  # an open range ends now: it is bounded like any other
        if since is None:
            if end - datetime.min.replace(tzinfo=UTC) < DEFAULT_CANDLE_RANGE:
                raise serializers.ValidationError({"until": [_("'until' is before the first candle.")]})
            since = attrs["since"] = end - DEFAULT_CANDLE_RANGE
        limit = MAX_CANDLE_RANGE_DAYS[attrs["interval"]]
        if (end - since).days > limit:
            raise serializers.ValidationError(
                {
                    "since": [
                        _("At most %(days)d days of %(interval)s candles per request.")
                        % {"days": limit, "interval": attrs["interval"]}
                    ]
                }
            )
        return attrs


class OpportunityParams(serializers.Serializer[Any]):
    pair = serializers.IntegerField(min_value=1, required=False)
    direction = serializers.ChoiceField(choices=Direction.choices, required=False)
    since = serializers.DateTimeField(required=False)
