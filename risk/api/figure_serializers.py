"""Shapes of the risk API (risk/metrics.py's figures). Money and prices are strings of exact decimals (USDT for
the Binance account's own figures, USD elsewhere unless said); percentages are percent; None where there is
nothing to measure."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from quantarb.api_decimals import PlainDecimalField


def _decimal(**kwargs: Any) -> PlainDecimalField:
    """A figure as a plain string at 8 decimals (the history's and the metrics' precision)."""
    return PlainDecimalField(max_digits=None, decimal_places=8, read_only=True, allow_null=True, **kwargs)


class VenueFiguresSerializer(serializers.Serializer[Any]):
    margin_balance = _decimal()
    maintenance_margin = _decimal()
    liquidation_price = _decimal()
    margin_balance_diff = _decimal(help_text="Ours − the venue's (USDT).")
    maintenance_margin_diff = _decimal(help_text="Ours − the venue's (USDT).")
    liquidation_price_diff = _decimal(help_text="Ours − the venue's (USDT/oz).")
    adl_quantile = serializers.IntegerField(read_only=True, allow_null=True)


class PerpAccountSerializer(serializers.Serializer[Any]):
    account_id = serializers.IntegerField(read_only=True)
    label = serializers.CharField(read_only=True)  # type: ignore[assignment] # a field named like Field.label
    live = serializers.BooleanField(read_only=True)
    snapshot_at = serializers.DateTimeField(read_only=True, allow_null=True)
    quantity_oz = _decimal()
    mark_price = _decimal(help_text="USDT/oz")
    wallet_balance = _decimal(help_text="USDT")
    margin_balance = _decimal(help_text="USDT")
    maintenance_margin = _decimal(help_text="USDT")
    margin_ratio_pct = _decimal(help_text="Maintenance margin ÷ margin balance; liquidation at 100.")
    liquidation_price = _decimal(help_text="USDT/oz")
    distance_pct = _decimal(help_text="Distance to liquidation, percent of the mark (0 once liquidatable).")
    distance_usd = _decimal(help_text="The signed gold move (USD/oz) that reaches the liquidation price.")
    brackets_source = serializers.CharField(
        read_only=True, help_text='"venue" (the account\'s own, as last read), "configured" or "default".'
    )
    brackets_read_at = serializers.DateTimeField(read_only=True, allow_null=True)
    brackets_error = serializers.CharField(
        read_only=True, help_text="Why the last read of the venue's brackets failed (the earlier ones stand)."
    )
    liquidation_bracket = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="The bracket holding the notional at our liquidation price."
    )
    venue = VenueFiguresSerializer(read_only=True, allow_null=True)
    problem = serializers.CharField(read_only=True)


class Mt5LevelsSerializer(serializers.Serializer[Any]):
    margin_call = _decimal()
    stop_out = _decimal()
    mode = serializers.SerializerMethodField()

    def get_mode(self, levels: Any) -> str:
        return "percent" if int(levels.mode) == 0 else "money"


class CfdAccountSerializer(serializers.Serializer[Any]):
    account_id = serializers.IntegerField(read_only=True)
    label = serializers.CharField(read_only=True)  # type: ignore[assignment] # a field named like Field.label
    live = serializers.BooleanField(read_only=True)
    snapshot_at = serializers.DateTimeField(read_only=True, allow_null=True)
    quantity_oz = _decimal()
    currency = serializers.CharField(read_only=True)
    levels = Mt5LevelsSerializer(read_only=True, allow_null=True)
    equity = _decimal(source="state.equity", default=None)
    margin = _decimal(source="state.margin", default=None)
    free_margin = _decimal(source="state.free_margin", default=None)
    margin_level_pct = _decimal()
    level_above_stop_out = _decimal(help_text="Percentage points above the stop-out (money in the money mode).")
    move_to_margin_call = _decimal(help_text="USD/oz, signed.")
    move_to_stop_out = _decimal(help_text="USD/oz, signed.")
    problem = serializers.CharField(read_only=True)


class ExposureSerializer(serializers.Serializer[Any]):
    net_oz = _decimal()
    net_usd = _decimal()
    gross_notional_usd = _decimal()
    usdt_exposure = _decimal(help_text="USDT; > 0 long USDT.")
    usdt_exposure_usd = _decimal()


class LegLimitSerializer(serializers.Serializer[Any]):
    leg = serializers.CharField(read_only=True)
    move_usd = _decimal(help_text="The signed gold move (USD/oz) that reaches the leg's limit.")
    price_usd = _decimal(help_text="Gold at that point, USD/oz.")


class FundingSerializer(serializers.Serializer[Any]):
    at = serializers.DateTimeField(read_only=True)
    rate = _decimal()
    amount_usdt = _decimal(help_text="> 0 received.")
    amount_usd = _decimal()


class SwapSerializer(serializers.Serializer[Any]):
    rollover_at = serializers.DateTimeField(read_only=True)
    nights = serializers.IntegerField(read_only=True)
    amount = _decimal(help_text="> 0 received.")
    currency = serializers.CharField(read_only=True)


class GapScenarioSerializer(serializers.Serializer[Any]):
    percentile = serializers.IntegerField(read_only=True)
    up = serializers.BooleanField(read_only=True)
    move = _decimal(help_text="Fraction of the price, signed.")
    perp_mark = _decimal()
    perp_distance_pct = serializers.SerializerMethodField()
    perp_liquidated = serializers.BooleanField(read_only=True)
    cfd_margin_level_pct = _decimal(source="cfd.margin_level", default=None)
    cfd_stopped_out = serializers.BooleanField(read_only=True)
    net_pnl_usd = _decimal()

    def get_perp_distance_pct(self, scenario: Any) -> str | None:
        if scenario.perp is None or scenario.perp.distance is None:
            return None
        return "0" if scenario.perp_liquidated else str(scenario.perp.distance.abs_percent)


class GapSerializer(serializers.Serializer[Any]):
    close_at = serializers.DateTimeField(source="window.close_at", read_only=True)
    reopen_at = serializers.DateTimeField(source="window.reopen_at", read_only=True)
    kind = serializers.CharField(source="window.kind", read_only=True)
    due = serializers.BooleanField(read_only=True)
    move_source = serializers.CharField(source="move.source", read_only=True)
    move_p95 = _decimal(source="move.p95")
    move_p99 = _decimal(source="move.p99")
    move_samples = serializers.IntegerField(source="move.samples", read_only=True)
    move_period_start = serializers.DateTimeField(source="move.period_start", read_only=True, allow_null=True)
    move_period_end = serializers.DateTimeField(source="move.period_end", read_only=True, allow_null=True)
    move_note = serializers.CharField(source="move.note", read_only=True)
    margin_changes_applied = serializers.SerializerMethodField()
    worst_net_pnl_usd = _decimal()
    scenarios = GapScenarioSerializer(source="projection.scenarios", many=True, read_only=True, default=())

    def get_margin_changes_applied(self, gap: Any) -> int:
        return 0 if gap.projection is None else len(gap.projection.in_force.applied)


class DrawdownSerializer(serializers.Serializer[Any]):
    current_pct = _decimal()
    max_pct = _decimal()
    since = serializers.DateTimeField(read_only=True)
    until = serializers.DateTimeField(read_only=True)


class PerformanceSerializer(serializers.Serializer[Any]):
    drawdown = DrawdownSerializer(read_only=True, allow_null=True)
    daily_pnl_usd = _decimal()
    loss_streak = serializers.IntegerField(read_only=True)


class UsdtRateSerializer(serializers.Serializer[Any]):
    rate_source = serializers.CharField(source="source", read_only=True, help_text="A RateSource value.")
    fixed = serializers.BooleanField(read_only=True, help_text="A fixed rate by configuration: never stale.")
    missing = serializers.BooleanField(read_only=True, help_text="No observation of the source within a day.")
    usd_per_usdt = _decimal()
    at = serializers.DateTimeField(read_only=True, allow_null=True)
    age_s = _decimal(help_text="Seconds since the newest observation.")
    depeg_bps = _decimal(help_text="|usd_per_usdt − 1| × 10,000.")


class PoolRiskSerializer(serializers.Serializer[Any]):
    pool_id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    priced_at = serializers.DateTimeField(read_only=True, allow_null=True)
    usd_per_usdt = _decimal()
    rate = UsdtRateSerializer(read_only=True, allow_null=True, help_text="The USDT/USD rate its pair prices with.")
    cfd_price = _decimal()
    perp = PerpAccountSerializer(read_only=True)
    cfd = CfdAccountSerializer(read_only=True)
    exposure = ExposureSerializer(read_only=True, allow_null=True)
    first_leg = LegLimitSerializer(read_only=True, allow_null=True)
    funding = FundingSerializer(read_only=True, allow_null=True)
    swap = SwapSerializer(read_only=True, allow_null=True)
    gap = GapSerializer(read_only=True, allow_null=True)
    gap_note = serializers.CharField(read_only=True)
    performance = PerformanceSerializer(read_only=True)
    strategy_ids = serializers.ListField(child=serializers.IntegerField(), read_only=True)


class StrategyRiskSerializer(serializers.Serializer[Any]):
    strategy_id = serializers.IntegerField(read_only=True)
    pool_id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    net_oz = _decimal()
    gross_notional_usd = _decimal()
    performance = PerformanceSerializer(read_only=True)


class MetricValueSerializer(serializers.Serializer[Any]):
    metric = serializers.CharField(read_only=True)
    scope = serializers.CharField(read_only=True, help_text="desk, pool:<id>, strategy:<id> or account:<id>")
    value = _decimal()


class DeskSummarySerializer(serializers.Serializer[Any]):
    at = serializers.DateTimeField(source="now", read_only=True)
    perp_margin_use_pct = _decimal()
    cfd_margin_use_pct = _decimal()
    exposure = ExposureSerializer(read_only=True, allow_null=True)
    performance = PerformanceSerializer(read_only=True)
    pools = PoolRiskSerializer(many=True, read_only=True)
    strategies = StrategyRiskSerializer(many=True, read_only=True)
    metrics = serializers.SerializerMethodField()

    def get_metrics(self, desk: Any) -> list[dict[str, Any]]:
        return metric_rows(desk.values)


def metric_rows(values: Any) -> list[dict[str, Any]]:
    rows = []
    for (metric, scope), value in sorted(
        values.items(), key=lambda item: (str(item[0][0]), str(item[0][1].kind), str(item[0][1].ref))
    ):
        label = "desk" if str(scope.kind) == "desk" else f"{scope.kind}:{scope.ref}"
        rows.append({"metric": str(metric), "scope": label, "value": None if value is None else str(value)})
    return rows


class HistoryPointSerializer(serializers.Serializer[Any]):
    at = serializers.DateTimeField(read_only=True)
    resolution = serializers.CharField(read_only=True)
    value = _decimal()
    low = _decimal()
    high = _decimal()


class HistorySerializer(serializers.Serializer[Any]):
    metric = serializers.CharField(read_only=True)
    scope = serializers.CharField(read_only=True)
    since = serializers.DateTimeField(read_only=True)
    until = serializers.DateTimeField(read_only=True)
    resolution = serializers.CharField(read_only=True)
    truncated = serializers.BooleanField(read_only=True)
    points = HistoryPointSerializer(many=True, read_only=True)
