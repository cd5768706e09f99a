"""A validation problem of the domain (`trading.domain.sizing.Problem`: code, template, parameters, field) in the
operator's language: the template translated, filled with its parameters and the field named by its label. The
catalogue holds the templates (quantarb/management/commands/makemessages.py extracts them at their source)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _

from trading.domain.sizing import Problem


def fill(template: str, params: Mapping[str, Any]) -> str | None:
    """`template % params`, or None when they do not fit (a translation that names another parameter)."""
    try:
        return template % params
    except (KeyError, TypeError, ValueError):
        return None


def problem_text(problem: Problem, labels: Mapping[str, Any] | None = None) -> str:
    """The problem in the operator's language; `labels` name the fields (the field's own name otherwise); the
    English message when the problem carries no template."""
    if not problem.template:
        return problem.message
    labelled = {**problem.params, "field": str((labels or {}).get(problem.field, problem.field))}
    return fill(_(problem.template), labelled) or fill(problem.template, labelled) or problem.message
