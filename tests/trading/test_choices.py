"""One definition per enum: where the domain has the enum, the Django choices take their values from it and add a
label to every member — a member added in the domain without a label here fails this test, not a page."""

from enum import StrEnum

import pytest
from django.db import models

from risk.domain import checks
from strategies import choices as strategy_choices
from strategies import forms as strategy_forms
from strategies.domain import params
from trading import choices
from trading.domain import calendar, clientids, hedges, orders, pnl, spread

PAIRS = [
    (choices.ServerTime, calendar.ServerTimeRule),
    (choices.Direction, spread.Direction),
    (choices.Leg, orders.Leg),
    (choices.OrderSide, orders.Side),
    (choices.OrderIntent, clientids.Intent),
    (choices.OrderStatus, orders.OrderStatus),
    (choices.HedgeStatus, hedges.HedgeStatus),
    (choices.CarryKind, pnl.CarryKind),
    (strategy_choices.StrategyMode, params.Mode),
]


@pytest.mark.parametrize(("django_choices", "domain_enum"), PAIRS, ids=[p[0].__name__ for p in PAIRS])
def test_each_choice_is_its_domain_enum_with_a_label(
    django_choices: type[models.TextChoices], domain_enum: type[StrEnum]
) -> None:
    assert {c.name: c.value for c in django_choices} == {m.name: m.value for m in domain_enum}, (
        f"{django_choices.__name__} must list exactly {domain_enum.__module__}.{domain_enum.__name__}'s members"
    )
    for choice in django_choices:
        assert str(choice.label) and choice.label != choice.value, (
            f"{django_choices.__name__}.{choice.name} has no label"
        )


def test_strategy_parameter_enums_have_a_label_for_every_member() -> None:
    for name, labels in strategy_forms.ENUM_LABELS.items():
        enum = type(next(iter(labels)))
        assert set(labels) == set(enum), f"parameter {name}: every {enum.__name__} member needs a label"


def test_risk_checks_use_the_order_domains_legs_and_sides() -> None:
    assert checks.Leg is orders.Leg
    assert checks.Side is orders.Side
