"""The alert list's filters. An unknown value answers 400 naming the parameter and the values it takes (the
portal's page ignores it instead: `alerts.selectors.alerts_for`)."""

from __future__ import annotations

import django_filters

from alerts.choices import AlertStatus, Category, Severity
from alerts.models import Alert


class AlertFilterSet(django_filters.FilterSet):  # type: ignore[misc]
    status = django_filters.ChoiceFilter(choices=AlertStatus.choices)
    severity = django_filters.ChoiceFilter(choices=Severity.choices)
    category = django_filters.ChoiceFilter(choices=Category.choices)

    class Meta:
        model = Alert
        fields: list[str] = []
