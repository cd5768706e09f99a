"""Bad input at its cause: every form and API serializer reachable from the URL conf bounds what it
accepts by the column it is written to, so an oversized value is a 400 naming the field, never a database error.

- Each text field has a `max_length`, no longer than its column's (`varchar(n)`); a value with no column of its own
  (a secret kept encrypted, a parameter in a JSON column, a filter) is bounded all the same.
- Each decimal field has `max_digits` and `decimal_places`, neither more integer digits nor more decimals than its
  column (more decimals would be rounded away by the database, more digits refused by it).
- Each integer field of a plain form or serializer written to a column has a `max_value` the column holds on every
  supported database (a ModelForm validates its model, which bounds integers by the database in use).

Forms are found as the subclasses of Django's forms defined in the project once the URL conf and the admin are
loaded (instantiated, so fields added in `__init__` count); serializers as the request and query-parameter
serializers drf-spectacular finds for every API operation. A plain form or serializer names the columns its fields
are written to in `COLUMNS`; ModelForms and ModelSerializers name their model themselves.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from django import forms
from django.apps import apps
from django.contrib import admin
from django.core.validators import MaxValueValidator
from django.db import models
from django.urls import get_resolver
from rest_framework import serializers

pytestmark = pytest.mark.django_db
PROJECT = ("accounts", "alerts", "mt5ops", "quantarb", "risk", "strategies", "trading")

# Plain forms and serializers: the column each field is written to ("app_label.Model.field").
COLUMNS: dict[str, dict[str, str]] = {
    "accounts.forms.MemberAddForm": {"username": "accounts.User.username", "email": "accounts.User.email"},
    "strategies.forms.StrategyForm": {"name": "strategies.Strategy.name", "note": "strategies.StrategyVersion.note"},
    "accounts.signin_forms.PortalAuthenticationForm": {"username": "accounts.User.username"},
    "accounts.api.venue_serializers.AccountWriteSerializer": {
        "label": "accounts.VenueAccount.label",
        "venue": "accounts.VenueAccount.venue",
        "rest_endpoint": "accounts.VenueAccount.rest_endpoint",
        "ws_endpoint": "accounts.VenueAccount.ws_endpoint",
    },
    "accounts.api.venue_serializers.PoolWriteSerializer": {
        "name": "accounts.AccountPool.name",
        "perp_allocation": "accounts.AccountPool.perp_allocation",
        "cfd_allocation": "accounts.AccountPool.cfd_allocation",
        "perp_leverage": "accounts.AccountPool.perp_leverage",
    },
    "alerts.api.serializers.ChannelWriteSerializer": {
        "name": "alerts.Channel.name",
        "target": "alerts.Channel.target",
        "min_severity": "alerts.Channel.min_severity",
        "repeat_after_s": "alerts.Channel.repeat_after_s",
        "max_per_hour": "alerts.Channel.max_per_hour",
    },
    "strategies.api.serializers.StrategyWriteSerializer": {
        "name": "strategies.Strategy.name",
        "note": "strategies.StrategyVersion.note",
    },
    "strategies.api.serializers.LifecycleSerializer": {"reason": "strategies.Strategy.state_reason"},
    "strategies.api.serializers.TripSerializer": {"reason": "risk.KillSwitch.reason"},
    "strategies.api.serializers.ResetSerializer": {"note": "risk.KillSwitch.reset_note"},
    "accounts.jwt.TenantTokenObtainPairSerializer": {
        "username": "accounts.User.username",
        "tenant": "accounts.Tenant.slug",
    },
    "accounts.api.serializers.AuditParams": {
        "actor": "accounts.AuditEvent.actor_username",
        "object_type": "accounts.AuditEvent.object_type",
        "object_id": "accounts.AuditEvent.object_id",
        "correlation_id": "accounts.AuditEvent.correlation_id",
    },
    "trading.marketdata.api.serializers.QuoteParams": {"source": "trading.QuoteSource.key"},
}


# --- finding them -----------------------------------------------------------------------------------------------
def _subclasses(cls: type) -> set[type]:
    found: set[type] = set()
    stack = [cls]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                stack.append(sub)
    return found


def _label(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def project_forms() -> list[type[forms.BaseForm]]:
    get_resolver().url_patterns  # noqa: B018 (loads every view module, and the forms they import)
    admin.autodiscover()
    return sorted(
        (cls for cls in _subclasses(forms.BaseForm) if cls.__module__.split(".")[0] in PROJECT),
        key=_label,
    )


def form_instances(cls: type[forms.BaseForm], tenant: Any) -> Iterator[forms.BaseForm]:
    """The form as the views build it (fields added in `__init__` included); one per alert rule type."""
    parameters = inspect.signature(cls.__init__).parameters
    needed = {name for name, p in parameters.items() if p.kind is p.KEYWORD_ONLY and p.default is p.empty}
    if needed == {"rule"}:
        from alerts import registry
        from alerts.models import AlertRule

        for rule_type in registry.rule_types():
            yield cls(rule=AlertRule(tenant=tenant, rule_type=rule_type))  # type: ignore[call-arg]
        return
    assert needed <= {"tenant"}, f"teach the test to build {_label(cls)} (needs {sorted(needed)})"
    yield cls(**({"tenant": tenant} if needed else {}))


def input_serializers() -> list[type[serializers.BaseSerializer[Any]]]:
    """Every serializer an API operation reads its body or its query with, as drf-spectacular describes them."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.plumbing import ComponentRegistry
    from drf_spectacular.settings import spectacular_settings

    generator = SchemaGenerator()  # type: ignore[no-untyped-call]
    generator._initialise_endpoints()  # type: ignore[no-untyped-call]
    found: dict[str, type[serializers.BaseSerializer[Any]]] = {}
    for path, path_regex, method, view in generator._get_paths_and_endpoints():  # type: ignore[no-untyped-call]
        view.request = spectacular_settings.GET_MOCK_REQUEST(method, path, view, None)
        schema = view.schema
        schema.path, schema.path_regex, schema.path_prefix, schema.method = path, path_regex, "", method
        schema.registry = ComponentRegistry()
        candidates = list(schema.get_override_parameters())
        if method in ("POST", "PUT", "PATCH"):
            candidates.append(schema.get_request_serializer())
        for candidate in candidates:
            cls = candidate if isinstance(candidate, type) else type(candidate)
            if issubclass(cls, serializers.BaseSerializer):
                found[_label(cls)] = cls
    return [found[name] for name in sorted(found)]


# --- the rules --------------------------------------------------------------------------------------------------
def _column(
    owner: type, model: type[models.Model] | None, name: str, source: str = ""
) -> models.Field[Any, Any] | None:
    target = COLUMNS.get(_label(owner), {}).get(name)
    if target is not None:
        app_label, model_name, field_name = target.split(".")
        column: models.Field[Any, Any] = apps.get_model(app_label, model_name)._meta.get_field(field_name)
        return column
    column_name = source or name
    if model is None or "." in column_name:
        return None
    try:
        field = model._meta.get_field(column_name)
    except Exception:
        return None
    return field if getattr(field, "concrete", False) and not field.is_relation else None  # type: ignore[return-value]


def _integer_max(column: models.Field[Any, Any]) -> int | None:
    """The largest value the column holds on every supported database: its own validators' bound, else the
    standard range of its type (PostgreSQL's)."""
    from django.db.backends.base.operations import BaseDatabaseOperations

    declared = [v.limit_value for v in column._validators if isinstance(v, MaxValueValidator)]  # type: ignore[attr-defined]
    standard = BaseDatabaseOperations.integer_field_ranges.get(column.get_internal_type(), (None, None))[1]
    candidates = [int(bound) for bound in declared if isinstance(bound, int)] + ([standard] if standard else [])
    return min(candidates) if candidates else None


def problems_of(
    where: str,
    kind: str,
    column: models.Field[Any, Any] | None,
    *,
    max_length: Any,
    max_digits: Any,
    places: Any,
    max_value: Any,
) -> list[str]:
    found = []
    if kind == "text":
        if max_length is None:
            found.append(f"{where}: text without max_length")
        elif column is not None and getattr(column, "max_length", None) and max_length > column.max_length:
            found.append(f"{where}: max_length {max_length} > its column's {column.max_length}")
    elif kind == "decimal":
        if max_digits is None or places is None:
            found.append(f"{where}: decimal without max_digits/decimal_places")
        elif isinstance(column, models.DecimalField):
            assert column.max_digits is not None and column.decimal_places is not None
            if places > column.decimal_places or max_digits - places > column.max_digits - column.decimal_places:
                found.append(
                    f"{where}: decimal ({max_digits}, {places}) beyond its column's "
                    f"({column.max_digits}, {column.decimal_places})"
                )
    elif kind == "integer" and isinstance(column, models.IntegerField):
        limit = _integer_max(column)
        if limit is not None and (max_value is None or max_value > limit):
            found.append(f"{where}: integer up to {max_value} written to a column that holds up to {limit}")
    return found


def _form_max_value(field: forms.Field) -> Any:
    limits = [v.limit_value for v in field.validators if isinstance(v, MaxValueValidator)]
    return min(limits) if limits else None


def form_problems(form: forms.BaseForm) -> list[str]:
    cls = type(form)
    model = getattr(getattr(cls, "_meta", None), "model", None)
    found = []
    for name, field in form.fields.items():
        if field.disabled:
            continue
        kind = (
            "decimal"
            if isinstance(field, forms.DecimalField)
            # A ModelForm validates its model too, which bounds integers by the database in use.
            else "integer"
            if isinstance(field, forms.IntegerField) and model is None
            else "text"
            if isinstance(field, forms.CharField) and not isinstance(field, forms.JSONField)
            else ""
        )
        found += problems_of(
            f"{_label(cls)}.{name}",
            kind,
            _column(cls, model, name),
            max_length=getattr(field, "max_length", None),
            max_digits=getattr(field, "max_digits", None),
            places=getattr(field, "decimal_places", None),
            max_value=_form_max_value(field),
        )
    return found


def serializer_problems(serializer: serializers.BaseSerializer[Any], where: str = "") -> list[str]:
    cls = type(serializer)
    model = getattr(getattr(cls, "Meta", None), "model", None)
    found = []
    for name, field in serializer.fields.items():  # type: ignore[attr-defined]
        if field.read_only:
            continue
        label = f"{where or _label(cls)}.{name}"
        if isinstance(field, serializers.BaseSerializer):
            found += serializer_problems(field, label)
            continue
        children = [("[]", field.child)] if isinstance(field, serializers.ListField | serializers.DictField) else []
        for suffix, child in [("", field), *children]:
            kind = (
                "decimal"
                if isinstance(child, serializers.DecimalField)
                else "integer"
                if isinstance(child, serializers.IntegerField)
                else "text"
                if isinstance(child, serializers.CharField)
                else ""
            )
            found += problems_of(
                label + suffix,
                kind,
                _column(cls, model, name, "" if suffix else str(field.source)),
                max_length=getattr(child, "max_length", None),
                max_digits=getattr(child, "max_digits", None),
                places=getattr(child, "decimal_places", None),
                max_value=getattr(child, "max_value", None),
            )
    return found


# --- the checks -------------------------------------------------------------------------------------------------
def test_every_form_bounds_its_fields_by_their_columns(alice: Any) -> None:
    classes = project_forms()
    assert len(classes) >= 10, "the walk found too few forms to be the project's"
    problems = [
        problem for cls in classes for form in form_instances(cls, alice.tenant) for problem in form_problems(form)
    ]
    assert not problems, "\n".join(problems)


def test_every_api_input_bounds_its_fields_by_their_columns() -> None:
    classes = input_serializers()
    assert len(classes) >= 10, "the walk found too few serializers to be the API's"
    problems = [problem for cls in classes for problem in serializer_problems(cls())]
    assert not problems, "\n".join(problems)


def test_the_column_map_names_real_fields() -> None:
    for owner, fields in COLUMNS.items():
        for name, target in fields.items():
            app_label, model_name, field_name = target.split(".")
            assert apps.get_model(app_label, model_name)._meta.get_field(field_name), f"{owner}.{name}"
