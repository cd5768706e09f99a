"""The registry of alert rule types. The app that owns a condition registers its rule types in its own
`alert_rules` module (trading/alert_rules.py, risk/alert_rules.py, ...), found by `autodiscover()` the
way the admin finds `admin` modules; later capabilities (kill switch, legged hedges, reconciliation, drawdown,
MT5 health) add theirs the same way, without touching this app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.functional import Promise
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext as _

from quantarb.phrases import Phrase


@dataclass(frozen=True)
class Param:
    """One threshold of a rule type: a Decimal within [minimum, maximum]."""

    name: str
    label: str | Promise
    default: Decimal
    minimum: Decimal
    maximum: Decimal
    unit: str = ""


@dataclass(frozen=True)
class Condition:
    """A condition that holds now. Its key is the alert's dedup key; the same key while it holds is the same alert."""

    key: str
    title: str | Phrase  # a Phrase: shown in each reader's language (quantarb/phrases.py)
    detail: dict[str, Any] = field(default_factory=dict)
    source: Any = None


@dataclass(frozen=True)
class RuleType:
    key: str
    label: str | Promise
    description: str | Promise
    category: str
    default_severity: str
    params: tuple[Param, ...]
    # (tenant, {param: Decimal}) -> the conditions that hold now, each with its own dedup key
    evaluate: Callable[[Any, dict[str, Decimal]], Iterable[Condition]]

    def defaults(self) -> dict[str, str]:
        return {param.name: str(param.default) for param in self.params}

    def clean_params(self, given: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
        """(cleaned params as strings, errors by param name); unknown names are errors too."""
        cleaned: dict[str, str] = {}
        errors: dict[str, str] = {}
        for name in set(given) - {param.name for param in self.params}:
            errors[name] = _("Unknown parameter.")
        for param in self.params:
            raw = given.get(param.name, param.default)
            try:
                value = Decimal(str(raw).strip())
                if not value.is_finite():
                    raise InvalidOperation
            except (InvalidOperation, ValueError):
                errors[param.name] = _("Enter a number.")
                continue
            if not param.minimum <= value <= param.maximum:
                errors[param.name] = _("Between %(low)s and %(high)s.") % {"low": param.minimum, "high": param.maximum}
                continue
            cleaned[param.name] = str(value)
        return cleaned, errors

    def values(self, params: dict[str, Any]) -> dict[str, Decimal]:
        """The rule's stored params as Decimals, defaults where a param is missing or unreadable."""
        cleaned, _errors = self.clean_params({k: v for k, v in params.items() if k in {p.name for p in self.params}})
        merged = {**self.defaults(), **cleaned}
        return {name: Decimal(value) for name, value in merged.items()}


_TYPES: dict[str, RuleType] = {}


def register(rule_type: RuleType) -> RuleType:
    if rule_type.key in _TYPES and _TYPES[rule_type.key] is not rule_type:
        raise ValueError(f"alert rule type {rule_type.key!r} is registered twice")
    _TYPES[rule_type.key] = rule_type
    return rule_type


def rule_types() -> dict[str, RuleType]:
    return dict(_TYPES)


def get(key: str) -> RuleType | None:
    return _TYPES.get(key)


def autodiscover() -> None:
    autodiscover_modules("alert_rules")
