"""Words for the risk figures (`risk.domain.limits.Metric`), for pages, charts and the limits editor."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from .domain.limits import Metric

METRIC_LABELS = {
    Metric.UNHEDGED_OZ: _("Unhedged gold (oz)"),
    Metric.UNHEDGED_USD: _("Unhedged gold (USD)"),
    Metric.LIQUIDATION_DISTANCE_PCT: _("Distance to liquidation (%)"),
    Metric.MT5_MARGIN_LEVEL_PCT: _("MT5 margin level (%)"),
    Metric.MT5_LEVEL_ABOVE_STOP_OUT: _("MT5 level above stop-out"),
    Metric.DRAWDOWN_PCT: _("Drawdown (%)"),
    Metric.DAILY_LOSS_USD: _("Loss today (USD)"),
    Metric.LOSS_STREAK: _("Losing hedges in a row"),
    Metric.USDT_EXPOSURE_USD: _("USDT/USD exposure (USD)"),
    Metric.GROSS_NOTIONAL_USD: _("Gross notional (USD)"),
    Metric.WEEKEND_GAP_LIQUIDATION_DISTANCE_PCT: _("Liquidation distance after a weekend gap (%)"),
    Metric.WEEKEND_GAP_MT5_MARGIN_LEVEL_PCT: _("MT5 margin level after a weekend gap (%)"),
    Metric.USDT_RATE_AGE_S: _("Age of the USDT/USD rate (s)"),
    Metric.USDT_DEPEG_BPS: _("USDT away from 1 USD (bps)"),
}
