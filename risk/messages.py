"""The pre-trade checks' violations (risk/domain/checks.py) in the operator's language: the domain says them in
English with a code and parameters; this module finds the template behind each and translates it."""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from .domain.checks import Violation

VIOLATION_TEMPLATES = (
    gettext_noop("The order's quantity and price must be positive."),
    gettext_noop("A %(side)s of %(quantity)s oz does not reduce the %(leg)s position of %(position)s oz."),
    gettext_noop("Trading is halted by a kill switch: only reducing orders may be sent."),
    gettext_noop("The %(leg)s quote is %(age)s ms old (limit %(limit)s ms)."),
    gettext_noop("The %(leg)s market is closed."),
    gettext_noop("No new positions now (%(window)s)."),
    gettext_noop("The CFD spread is unknown."),
    gettext_noop("The CFD spread %(spread)s exceeds %(limit)s."),
    gettext_noop("The %(leg)s position would reach %(after)s oz (limit %(limit)s oz)."),
    gettext_noop("The %(leg)s notional would reach %(notional)s USD (limit %(limit)s USD)."),
    gettext_noop("Unhedged exposure would reach %(after)s oz (limit %(limit)s oz)."),
    gettext_noop("The %(leg)s venue's order rate limit is reached."),
    gettext_noop("The perp account's available margin is unknown."),
    gettext_noop("The perp order needs %(required)s USDT of margin; %(available)s USDT is available."),
    gettext_noop("The perp is %(distance)s bps from liquidation (minimum %(limit)s bps)."),
    gettext_noop("The CFD account's free margin is unknown."),
    gettext_noop("The CFD order needs %(required)s USD of margin; %(available)s USD is free."),
    gettext_noop("The MT5 margin level %(level)s %% is below %(floor)s %% (stop-out %(stop_out)s %% + buffer)."),
    gettext_noop("The %(leg)s account is not set up as expected: %(settings)s."),
    gettext_noop("%(quantity)s oz is not a multiple of the %(leg)s step %(step)s oz."),
    gettext_noop("%(quantity)s oz is below the %(leg)s minimum %(minimum)s oz."),
    gettext_noop("%(quantity)s oz is above the %(leg)s maximum %(maximum)s oz per order."),
    gettext_noop("%(quantity)s oz at %(price)s is below the %(leg)s minimum notional %(minimum)s."),
    gettext_noop(
        "The MT5 terminal %(terminal)s is not ready to trade (%(state)s%(failure)s): no new positions on its "
        "account; reducing orders still pass."
    ),
)

LEG_LABELS = {"perp": gettext_noop("perp"), "cfd": gettext_noop("CFD")}


def _fill(template: str, params: Mapping[str, str]) -> str | None:
    try:
        return template % params
    except (KeyError, TypeError, ValueError):
        return None


def violation_text(violation: Violation) -> str:
    """The violation in the operator's language (its English message when no template matches)."""
    params = dict(violation.params)
    for template in VIOLATION_TEMPLATES:
        if _fill(template, params) == violation.message:
            if "leg" in params and params["leg"] in LEG_LABELS:
                params["leg"] = _(LEG_LABELS[params["leg"]])
            return _fill(_(template), params) or violation.message
    return violation.message
