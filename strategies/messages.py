"""Translatable words for what the pure domain says in codes: parameter labels, validation problems, decision
reasons and pre-trade violations. The domain stays free of Django; this module turns its codes and parameters
into the operator's language."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop, pgettext_lazy

from mt5ops.choices import FailureChoice, TerminalStateChoice
from trading.choices import Direction
from trading.domain.sizing import Problem
from trading.problems import fill
from trading.problems import problem_text as trading_problem_text

FIELD_LABELS: dict[str, Any] = {
    "entry_threshold": gettext_lazy("Entry threshold (net edge)"),
    "exit_threshold": gettext_lazy("Exit threshold (remaining edge)"),
    "threshold_unit": gettext_lazy("Threshold unit"),
    "zscore_filter": gettext_lazy("Z-score filter"),
    "zscore_window": gettext_lazy("Z-score window (samples)"),
    "size_oz": gettext_lazy("Size per hedge (oz)"),
    "max_open_hedges": gettext_lazy("Maximum open hedges"),
    "max_position_oz": gettext_lazy("Maximum total position (oz)"),
    "max_unhedged_oz": gettext_lazy("Maximum unhedged exposure (oz)"),
    "max_notional_usd": gettext_lazy("Maximum notional (USD)"),
    "max_legging_seconds": gettext_lazy("Maximum legging time (s)"),
    "slippage_bps": gettext_lazy("Slippage limit (bps)"),
    "slippage_buffer_usd": gettext_lazy("Slippage buffer (USD/oz)"),
    "cfd_deviation_points": gettext_lazy("CFD deviation (points)"),
    "stop_loss_usd": gettext_lazy("Stop-loss per hedge (USD)"),
    "time_stop_minutes": gettext_lazy("Time stop (minutes)"),
    "expected_holding_hours": gettext_lazy("Expected holding time (hours)"),
    "funding_source": gettext_lazy("Funding"),
    "funding_rate_fixed": gettext_lazy("Fixed funding rate per event"),
    "swap_source": gettext_lazy("Swap"),
    "swap_long_override": gettext_lazy("Swap long override (USD/oz/night)"),
    "swap_short_override": gettext_lazy("Swap short override (USD/oz/night)"),
    "usd_per_usdt_source": gettext_lazy("USDT/USD source"),
    "max_rate_age_seconds": gettext_lazy("Maximum USDT/USD age (s)"),
    "no_entry_before_close_minutes": gettext_lazy("No entry before a close (minutes)"),
    "no_entry_after_open_minutes": gettext_lazy("No entry after an open (minutes)"),
    "max_cfd_spread": gettext_lazy("Maximum CFD spread for entries (USD)"),
    "gap_policy": gettext_lazy("Before a gap"),
    "flatten_before_close_minutes": gettext_lazy("Flatten before a close (minutes)"),
    "cooldown_seconds": gettext_lazy("Cooldown after a close (s)"),
    "max_quote_age_ms": gettext_lazy("Maximum quote age (ms)"),
    "loss_limit_usd": gettext_lazy("Loss limit (USD)"),
    "drawdown_limit_usd": gettext_lazy("Drawdown limit (USD)"),
    "min_liquidation_distance_bps": gettext_lazy("Minimum liquidation distance (bps)"),
    "stop_out_buffer_pct": gettext_lazy("Stop-out buffer (%)"),
    "mode": gettext_lazy("Mode"),
    "stop_policy": gettext_lazy("On stop"),
    "terminal_policy": gettext_lazy("When the MT5 terminal is not ready"),
}


def problem_text(problem: Problem) -> str:
    """A strategy parameter's problem in the operator's language, the field named by its label."""
    return trading_problem_text(problem, FIELD_LABELS)


REASON_TEXTS: dict[str, str] = {
    "no_quote": gettext_noop("Waiting for a %(leg)s quote."),
    "invalid_quote": gettext_noop("The %(leg)s quote is invalid."),
    "stale_quote": gettext_noop("The %(leg)s quote is %(age_ms)s ms old (limit %(limit_ms)s ms)."),
    "stale_rate": gettext_noop("USDT/USD is %(age_ms)s ms old (limit %(limit_ms)s ms)."),
    "perp_closed": gettext_noop("The perpetual market is closed."),
    "cfd_closed": gettext_noop("The CFD market is closed."),
    "halted": gettext_noop("Halted by a kill switch: only reducing orders."),
    "hedge_in_flight": gettext_noop("A hedge is being opened, closed or repaired."),
    "unhedged_exposure": gettext_noop("Unhedged %(unhedged_oz)s oz (limit %(limit_oz)s oz)."),
    "before_close": gettext_noop("No entry within %(minutes)s minutes of the CFD close."),
    "after_open": gettext_noop("No entry within %(minutes)s minutes after the CFD open."),
    "cfd_spread_wide": gettext_noop("CFD spread %(spread)s is above %(limit)s."),
    "cooldown": gettext_noop("Cooling down for %(seconds)s s after a close."),
    "max_open_hedges": gettext_noop("%(limit)s hedges open: the maximum."),
    "max_position": gettext_noop("Position %(position_oz)s oz at the limit %(limit_oz)s oz."),
    "carry_unknown": gettext_noop("Funding or swap is unknown: no carry estimate."),
    "below_entry": gettext_noop("Best net edge %(edge)s (%(direction)s) is below the entry threshold %(threshold)s."),
    "opposite_hedge_open": gettext_noop("A hedge in the other direction is open (%(direction)s)."),
    "zscore_unavailable": gettext_noop("The basis z-score is not available yet."),
    "zscore_filter": gettext_noop("Z-score %(zscore)s does not reach %(needed)s."),
    "entry_edge": gettext_noop("Opened: net edge %(edge)s (%(direction)s) at or above %(threshold)s."),
    "flatten_before_gap": gettext_noop("Flattening %(minutes_to_close)s minutes before the CFD close."),
    "stop_loss": gettext_noop("Stop-loss: %(pnl_usd)s USD (limit %(limit_usd)s)."),
    "time_stop": gettext_noop("Time stop: held %(held_minutes)s minutes (limit %(limit_minutes)s)."),
    "exit_edge": gettext_noop("Exit: remaining edge %(remaining)s at or below %(threshold)s."),
    "risk": gettext_noop("Refused by the pre-trade checks."),
    "stop_flatten": gettext_noop("Flattened on stop."),
    "risk_flatten": gettext_noop("Flattening: a breached risk limit calls for it."),
    "manual": gettext_noop("By hand."),
    "backing_off": gettext_noop(
        "Backing off as the venue asked (perp %(perp)s s, CFD %(cfd)s s): nothing is sent meanwhile."
    ),
    "replan": gettext_noop("The hedge changed while its orders were planned: planning again."),
    "mt5_terminal": gettext_noop(
        "Holding: the MT5 terminal %(terminal)s is %(state)s (%(failure)s): no new hedge until it is ready."
    ),
    "mt5_terminal_paused": gettext_noop(
        "Paused: the MT5 terminal %(terminal)s is %(state)s (%(failure)s); resume the strategy once it is ready."
    ),
}


ACTION_LABELS: dict[str, Any] = {
    "hold": pgettext_lazy("decision action", "Hold"),
    "open": pgettext_lazy("decision action", "Open"),
    "close": pgettext_lazy("decision action", "Close"),
}


def action_label(action: str) -> str:
    """A decision's action in words ("Hold", not `hold`); an unknown code as it is."""
    return str(ACTION_LABELS.get(action, action))


# Codes a reason names as parameters, in words: a leg, the USDT/USD rate, a direction.
PARAM_WORDS: dict[str, dict[str, Any]] = {
    "leg": {
        "perp": pgettext_lazy("leg in a sentence", "perpetual"),
        "cfd": pgettext_lazy("leg in a sentence", "CFD"),
        "usd_per_usdt": pgettext_lazy("leg in a sentence", "USDT/USD"),
    },
    "direction": {value: label for value, label in Direction.choices},
    # An MT5 terminal's state and failure class (mt5ops), as the MT5 pages name them.
    "state": {value: label for value, label in TerminalStateChoice.choices},
    "failure": {"": "—", **{value: label for value, label in FailureChoice.choices}},
}


def _worded(params: Mapping[str, Any]) -> dict[str, Any]:
    return {key: str(PARAM_WORDS.get(key, {}).get(str(value), value)) for key, value in params.items()}


def reason_text(reason: Mapping[str, Any] | None) -> str:
    """A decision reason (`{"code": ..., "params": {...}}`) in the operator's language."""
    if not reason:
        return ""
    code = str(reason.get("code", ""))
    params = reason.get("params") or {}
    template = REASON_TEXTS.get(code)
    if template is None:
        return code
    text = fill(_(template), _worded(params) if isinstance(params, dict) else {})
    if text is None:
        return _(template).split("%(")[0].strip() or code
    if code == "risk" and isinstance(params, dict):
        details = [str(v.get("message", v.get("code"))) for v in params.get("violations", []) if isinstance(v, dict)]
        if details:
            text = f"{text} {'; '.join(details)}"
    return text
