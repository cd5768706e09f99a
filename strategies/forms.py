"""The strategy configuration form: every `StrategyParams` field, grouped as the operator thinks of them, with
Decimal inputs and the domain's validation messages shown on the field they name (strategies/messages.py)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.models import AccountPool

from .choices import StrategyMode
from .domain import params
from .domain.params import StrategyParams
from .messages import FIELD_LABELS, problem_text

# (group title, fields) in the order the form shows them.
GROUPS: tuple[tuple[Any, tuple[str, ...]], ...] = (
    (_("Thresholds"), ("entry_threshold", "exit_threshold", "threshold_unit", "zscore_filter", "zscore_window")),
    (_("Size and limits"), ("size_oz", "max_open_hedges", "max_position_oz", "max_unhedged_oz", "max_notional_usd")),
    (
        _("Execution"),
        (
            "max_legging_seconds",
            "slippage_bps",
            "slippage_buffer_usd",
            "cfd_deviation_points",
            "stop_loss_usd",
            "time_stop_minutes",
            "max_quote_age_ms",
        ),
    ),
    (
        _("Carry"),
        (
            "expected_holding_hours",
            "funding_source",
            "funding_rate_fixed",
            "swap_source",
            "swap_long_override",
            "swap_short_override",
            "usd_per_usdt_source",
            "max_rate_age_seconds",
        ),
    ),
    (
        _("Sessions"),
        (
            "no_entry_before_close_minutes",
            "no_entry_after_open_minutes",
            "max_cfd_spread",
            "gap_policy",
            "flatten_before_close_minutes",
            "cooldown_seconds",
        ),
    ),
    (_("Risk"), ("loss_limit_usd", "drawdown_limit_usd", "min_liquidation_distance_bps", "stop_out_buffer_pct")),
    (_("Mode and stop policy"), ("mode", "stop_policy", "terminal_policy")),
)

# The parameters' enums are the domain's (strategies/domain/params.py); these are their labels only.
ENUM_LABELS: dict[str, dict[StrEnum, Any]] = {
    "threshold_unit": {
        params.ThresholdUnit.USD: _("USD per ounce"),
        params.ThresholdUnit.BPS: _("Basis points of the CFD mid"),
    },
    "funding_source": {
        params.FundingSource.LIVE: _("Live from the venue"),
        params.FundingSource.FIXED: _("Fixed rate"),
    },
    "swap_source": {params.SwapSource.SYMBOL: _("From the MT5 symbol"), params.SwapSource.OVERRIDE: _("Override")},
    "gap_policy": {
        params.GapPolicy.HOLD: _("Hold through the gap"),
        params.GapPolicy.FLATTEN: _("Flatten before the close"),
    },
    "mode": {params.Mode(value): label for value, label in StrategyMode.choices},
    "stop_policy": {
        params.StopPolicy.LEAVE: _("Leave positions open"),
        params.StopPolicy.FLATTEN: _("Flatten both legs"),
    },
    "terminal_policy": {
        params.TerminalPolicy.HOLD: _("Hold: no new hedge until it is ready"),
        params.TerminalPolicy.PAUSE: _("Pause the strategy"),
    },
}
ENUM_CHOICES: dict[str, list[tuple[str, Any]]] = {
    name: [(member.value, label) for member, label in labels.items()] for name, labels in ENUM_LABELS.items()
}

HELP: dict[str, Any] = {
    "entry_threshold": _("Open when the net edge (after fees, slippage buffer and expected carry) reaches this."),
    "exit_threshold": _("Close when the remaining edge falls to this; must be below the entry threshold."),
    "zscore_filter": _("Optional: also require the basis z-score to reach this. Empty: no filter."),
    "size_oz": _("A multiple of both venues' steps, above both minimums (1 oz = 0.01 lot of 100 oz)."),
    "funding_rate_fixed": _("Per funding event, signed as Binance publishes it; required for a fixed rate."),
    "usd_per_usdt_source": _("\"pair\" uses the pool's pair's own source."),
    "stop_policy": _("What a stop does with open hedges."),
    "terminal_policy": _(
        "While the CFD account's MT5 terminal is not ready to trade. Hedges in flight are managed and closed either "
        "way; a paused strategy waits for an operator to resume it."
    ),
}

PARAM_FIELDS = tuple(spec.name for spec in dataclasses.fields(StrategyParams))
_DEFAULTS = StrategyParams()


def _field_for(name: str) -> forms.Field:
    spec = next(spec for spec in dataclasses.fields(StrategyParams) if spec.name == name)
    annotation = str(spec.type)
    optional = annotation.endswith("| None")
    label = FIELD_LABELS.get(name, name)
    help_text = HELP.get(name, "")
    if name in ENUM_CHOICES:
        return forms.ChoiceField(label=label, choices=ENUM_CHOICES[name], help_text=help_text)
    if annotation.startswith("Decimal"):
        return forms.DecimalField(
            label=label,
            required=not optional,
            max_digits=24,
            decimal_places=8,
            help_text=help_text,
            widget=forms.TextInput(attrs={"inputmode": "decimal", "class": "qa-num", "autocomplete": "off"}),
        )
    if annotation.startswith("int"):
        return forms.IntegerField(
            label=label,
            required=not optional,
            help_text=help_text,
            widget=forms.TextInput(attrs={"inputmode": "numeric", "class": "qa-num", "autocomplete": "off"}),
        )
    return forms.CharField(label=label, max_length=16, help_text=help_text)


def initial_from(params: StrategyParams) -> dict[str, Any]:
    """Form initial values from a version's parameters (Decimals shown as stored, without exponent)."""
    initial: dict[str, Any] = {}
    for name, value in params.to_json().items():
        initial[name] = value
    return initial


class StrategyForm(forms.Form):
    """Create (name, pool, mode and parameters) or change (name and parameters) a strategy.

    `cleaned_params` holds the StrategyParams once the form is valid; the service validates them against the
    pool's venue specs and raises ValidationError naming fields, which `add_service_errors` puts back inline.
    """

    name = forms.CharField(label=_("Name"), max_length=120)
    pool = forms.ModelChoiceField(label=_("Account pool"), queryset=AccountPool.objects.none())
    note = forms.CharField(label=_("Note for this version"), max_length=200, required=False)

    def __init__(
        self,
        *args: Any,
        pools: Any = None,
        strategy: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.strategy = strategy
        for name in PARAM_FIELDS:
            self.fields[name] = _field_for(name)
        pool_field = self.fields["pool"]
        assert isinstance(pool_field, forms.ModelChoiceField)
        pool_field.queryset = pools if pools is not None else AccountPool.objects.none()
        if strategy is not None:
            # Pool and mode are fixed once a strategy exists (a new pool or mode is a new strategy).
            pool_field.queryset = AccountPool.objects.filter(pk=strategy.pool_id)
            pool_field.disabled = True
            self.fields["mode"].disabled = True
        self.cleaned_params: StrategyParams | None = None

    def groups(self) -> list[tuple[Any, list[forms.BoundField]]]:
        return [(title, [self[name] for name in names]) for title, names in GROUPS]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        values: dict[str, Any] = {}
        for name in PARAM_FIELDS:
            value = cleaned.get(name)
            if isinstance(value, Decimal):
                value = f"{value:f}"
            values[name] = value
        if self.strategy is not None:
            values["mode"] = self.strategy.mode
        try:
            self.cleaned_params = StrategyParams.from_json(values)
        except ValueError as error:
            problems = getattr(error, "problems", [])
            for problem in problems:
                self.add_error(problem.field if problem.field in self.fields else None, problem_text(problem))
        return cleaned

    def add_service_errors(self, error: ValidationError) -> None:
        """Put a service's ValidationError on the fields it names (the rest above the form)."""
        if hasattr(error, "error_dict"):
            for field, messages in error.message_dict.items():
                for message in messages:
                    self.add_error(field if field in self.fields else None, message)
        else:
            for message in error.messages:
                self.add_error(None, message)


def check_groups_cover_params() -> list[str]:
    """The parameters no group shows (empty when the form shows every field); kept for the tests."""
    shown = {name for _title, names in GROUPS for name in names}
    return sorted(set(PARAM_FIELDS) - shown)
