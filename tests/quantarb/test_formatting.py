"""Every filter and serializer field that writes money, prices and quantities: never an exponent (`1E+9`, `0E-8`),
always the decimals its kind calls for (money to the cent, edges to 2, prices to the tick, ounces to the step),
whatever the size or sign, and "—" (or null) for no value.

The nasty values are the ones operators saw: a 1e9 oz manual hedge, a zero carried as `0E-8`, a PnL of
`-46034150000.0000000000000`, a price of `4605.7` on a 0.01 tick."""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any

import pytest
from django.template import Context as TemplateContext
from django.template import Template
from hypothesis import given
from hypothesis import strategies as st

from quantarb import formatting

NASTY = [
    Decimal("1E+9"),
    Decimal("0E-8"),
    Decimal("-0E-8"),
    Decimal("-46034150000.0000000000000"),
    Decimal("4605.7"),
    Decimal("-0.004"),
    Decimal("123456789012345678901234567890.123456789"),  # wider than any field's max_digits
    Decimal("1E-12"),
    Decimal("-1E+30"),
    1_000_000_000,
    0.1,
    "1E+9",
    "0E-8",
    "-46034150000.0000000000000",
]
EXPONENT = re.compile(r"\d[eE][+-]?\d")


def decimals_of(text: str) -> int:
    """How many digits follow the decimal point of the (first) number in `text`."""
    match = re.search(r"-?[\d,]+(?:\.(\d+))?", text)
    assert match, text
    return len(match.group(1) or "")


def as_number(text: str) -> Decimal:
    match = re.search(r"[+-]?[\d,]+(?:\.\d+)?", text)
    assert match, text
    return Decimal(match.group(0).replace(",", "").replace("+", ""))


# --- the functions ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("function", "value", "expected"),
    [
        (formatting.money, Decimal("1E+9"), "1,000,000,000.00"),
        (formatting.money, Decimal("0E-8"), "0.00"),
        (formatting.money, Decimal("-0E-8"), "0.00"),  # no "-0.00": a loss that is not there
        (formatting.money, Decimal("-46034150000.0000000000000"), "-46,034,150,000.00"),
        (formatting.money, Decimal("0.005"), "0.01"),  # half up, as people round money
        (formatting.money, None, "—"),
        (formatting.pnl, Decimal("2.5"), "+2.50"),
        (formatting.pnl, Decimal("-0.4"), "-0.40"),
        (formatting.pnl, Decimal("0E-8"), "0.00"),
        (formatting.pnl, Decimal("-46034150000.0000000000000"), "-46,034,150,000.00"),
        (formatting.edge, Decimal("0.4321"), "+0.43"),
        (formatting.edge, Decimal("-1.2"), "-1.20"),
        (formatting.edge, Decimal("0E-8"), "0.00"),
        (formatting.price, Decimal("4605.7"), "4605.70"),  # tick unknown: to the cent
        (formatting.price, Decimal("1E+4"), "10000.00"),
        (formatting.price, Decimal("0E-8"), "0.00"),
        (formatting.price, Decimal("4605.705"), "4605.705"),  # an average over fills keeps its digits
        (formatting.price, None, "—"),
        (formatting.quantity, Decimal("1E+9"), "1,000,000,000.000"),
        (formatting.quantity, Decimal("0E-3"), "0.000"),
        (formatting.quantity, Decimal("-150"), "-150.000"),
        (formatting.lots, Decimal("1.5"), "1.50"),
        (formatting.lots, Decimal("1E+7"), "10,000,000.00"),
        (formatting.plain, Decimal("1E+9"), "1000000000"),
        (formatting.plain, Decimal("0E-8"), "0.00000000"),
        (formatting.plain, Decimal("0.50"), "0.50"),
        (formatting.plain, "n/a", "n/a"),  # text stays text
        (formatting.plain, None, "—"),
        (formatting.trimmed, Decimal("1E+9"), "1000000000"),
        (formatting.trimmed, Decimal("0E-8"), "0"),
        (formatting.trimmed, Decimal("100.000"), "100"),
        (formatting.trimmed, Decimal("1E+2"), "100"),
        (formatting.percent, Decimal("1234.56"), "1,234.6"),
        (formatting.sort_key, Decimal("-1E+3"), "-1000"),
        (formatting.sort_key, None, ""),
    ],
)
def test_each_kind_has_its_decimals_and_no_exponent(function: Any, value: Any, expected: str) -> None:
    assert function(value) == expected


@pytest.mark.parametrize(
    ("tick", "value", "expected"),
    [
        (Decimal("0.01"), Decimal("4605.7"), "4605.70"),
        (Decimal("0.10"), Decimal("4605.7"), "4605.7"),
        (Decimal("0.001"), Decimal("4605.7"), "4605.700"),
        (Decimal("1"), Decimal("4605"), "4605"),
        (Decimal("5"), Decimal("4605"), "4605"),
        (Decimal("0.01"), Decimal("1E+9"), "1000000000.00"),
        (3, Decimal("4605.7"), "4605.700"),  # a number of places
    ],
)
def test_a_price_is_written_to_the_venues_tick(tick: Any, value: Decimal, expected: str) -> None:
    assert formatting.price(value, tick) == expected


@pytest.mark.parametrize(
    ("step", "value", "expected"),
    [
        (Decimal("0.001"), Decimal("150"), "150.000"),  # Binance XAUUSDT: 0.001 oz
        (Decimal("1"), Decimal("150"), "150"),  # MT5: 0.01 lot × 100 oz
        (Decimal("1"), Decimal("1E+9"), "1,000,000,000"),
        (Decimal("1"), Decimal("0.5"), "0.5"),  # off the step: shown, never rounded away
    ],
)
def test_a_quantity_is_written_to_the_venues_step(step: Decimal, value: Decimal, expected: str) -> None:
    assert formatting.quantity(value, step) == expected


@given(
    st.decimals(allow_nan=False, allow_infinity=False, min_value=Decimal("-1E+40"), max_value=Decimal("1E+40")),
    st.integers(min_value=0, max_value=8),
)
def test_fixed_point_never_has_an_exponent_and_has_exactly_its_places(number: Decimal, places: int) -> None:
    text = formatting.fixed(number, places, group=True, sign=True)
    assert not EXPONENT.search(text) and "e" not in text.lower()
    assert decimals_of(text) == places
    assert not re.fullmatch(r"-0(\.0*)?", text)
    # the written figure is the number rounded to `places` (to within half a unit of the last place)
    assert abs(as_number(text) - number) <= Decimal(1).scaleb(-places) / 2


# --- the template filters -----------------------------------------------------------------------------------------
class Spec:
    """An instrument as the filters read it (trading's Instrument has these fields)."""

    def __init__(self, tick: str, step: str, contract_size: str) -> None:
        self.tick_size = Decimal(tick)
        self.quantity_step = Decimal(step)
        self.contract_size = Decimal(contract_size)


PERP = Spec("0.01", "0.001", "1")
CFD = Spec("0.01", "0.01", "100")

# (library, filter, argument, decimals expected): every filter of the number libraries that writes a figure
FILTERS: list[tuple[str, str, Any, int | None]] = [
    ("formatting", "amount", None, 2),
    ("formatting", "pnl", None, 2),
    ("formatting", "edge", None, 2),
    ("formatting", "price", PERP, 2),
    ("formatting", "qty", PERP, 3),
    ("formatting", "qty", CFD, 0),
    ("formatting", "lots", None, 2),
    ("formatting", "as_lots", CFD, 2),
    ("formatting", "percent", None, 1),
    ("formatting", "plain", None, None),  # its own digits
    ("formatting", "trimmed", None, None),
    ("formatting", "sort_value", None, None),
    ("strategy_tags", "money", None, 2),
    ("strategy_tags", "plain_decimal", None, None),
]


def test_the_table_lists_every_number_filter() -> None:
    from quantarb.templatetags.formatting import register

    assert {name for library, name, _arg, _places in FILTERS if library == "formatting"} == set(register.filters)


@pytest.mark.parametrize(("library", "name", "argument", "places"), FILTERS)
@pytest.mark.parametrize("value", NASTY, ids=repr)
def test_no_filter_writes_an_exponent(library: str, name: str, argument: Any, places: int | None, value: Any) -> None:
    template = Template(
        "{% load " + library + " %}{{ value|" + name + (":argument" if argument is not None else "") + " }}"
    )
    text = template.render(TemplateContext({"value": value, "argument": argument}))
    assert text and not EXPONENT.search(text), text
    if places is not None:
        assert decimals_of(text) >= places, text
        # finer digits are kept only for prices and quantities off the tick or step, and only up to 8
        assert decimals_of(text) <= max(places, 8), text


@pytest.mark.parametrize(("library", "name", "argument", "places"), FILTERS)
def test_no_value_is_a_dash(library: str, name: str, argument: Any, places: int | None) -> None:
    template = Template(
        "{% load " + library + " %}{{ value|" + name + (":argument" if argument is not None else "") + " }}"
    )
    text = template.render(TemplateContext({"value": None, "argument": argument}))
    assert text in ("—", ""), text


def test_cfd_ounces_show_their_lots() -> None:
    text = Template("{% load formatting %}{{ v|qty:cfd }} oz ({{ v|as_lots:cfd }} lots)").render(
        TemplateContext({"v": Decimal("150.000"), "cfd": CFD})
    )
    assert text == "150 oz (1.50 lots)"


# --- the API ------------------------------------------------------------------------------------------------------
OUR_APPS = ("accounts", "alerts", "mt5ops", "quantarb", "risk", "strategies", "trading")


def _all_serializers() -> list[type]:
    from django.urls import get_resolver
    from rest_framework import serializers

    assert get_resolver().url_patterns  # importing the URL conf imports every API module
    found: list[type] = []
    stack = list(serializers.BaseSerializer.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] in OUR_APPS:
            found.append(cls)
    return found


def _decimal_fields() -> list[tuple[str, Any]]:
    from rest_framework import serializers

    fields = []
    for cls in _all_serializers():
        for name, field in cls().fields.items():
            if isinstance(field, serializers.DecimalField):
                fields.append((f"{cls.__module__}.{cls.__name__}.{name}", field))
    return fields


def test_the_api_has_decimal_fields_to_check() -> None:
    names = [name for name, _field in _decimal_fields()]
    assert any(name.endswith("HedgeSerializer.size_oz") for name in names), names
    assert any(name.endswith("OrderSerializer.avg_price") for name in names), names
    assert any(name.endswith("PoolSerializer.perp_allocation") for name in names), names


@pytest.mark.parametrize("value", NASTY, ids=repr)
def test_every_serializer_decimal_is_a_plain_string_to_its_precision(value: Any) -> None:
    from quantarb.api_decimals import PlainDecimalField

    for name, field in _decimal_fields():
        assert isinstance(field, PlainDecimalField), f"{name} is DRF's own DecimalField (raises past max_digits)"
        written = field.to_representation(value)
        assert isinstance(written, str) and not EXPONENT.search(written), (name, written)
        if field.decimal_places is not None:
            assert decimals_of(written) == field.decimal_places, (name, written)
        quantum = Decimal(1).scaleb(-(field.decimal_places or 0))
        expected = Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_UP, context=Context(prec=100))
        assert as_number(written) == expected, (name, written)


def test_a_stray_decimal_in_a_response_is_a_plain_string() -> None:
    from quantarb.api_decimals import JSONRenderer

    body = JSONRenderer().render({"a": Decimal("1E+9"), "b": Decimal("0E-8"), "c": [Decimal("-4605.70")]})
    assert json.loads(body) == {"a": "1000000000", "b": "0.00000000", "c": ["-4605.70"]}


@pytest.mark.django_db
def test_the_pools_hedge_ratio_is_never_an_exponent(alice: Any) -> None:
    """100 ounces per lot over 1 ounce per contract is 100 contracts per lot: `Decimal.normalize` wrote `1E+2`."""
    from accounts.api.venue_serializers import PoolSerializer
    from accounts.models import AccountPool, VenueAccount

    perp = VenueAccount.objects.create(tenant=alice.tenant, owner=alice.user, venue="simulated-perp", label="P")
    cfd = VenueAccount.objects.create(tenant=alice.tenant, owner=alice.user, venue="simulated-cfd", label="C")
    pool = AccountPool.objects.create(
        tenant=alice.tenant,
        name="Ratio",
        perp_account=perp,
        cfd_account=cfd,
        perp_allocation=Decimal("1E+5"),
        cfd_allocation=Decimal(0),
    )
    data = json.loads(rendered(PoolSerializer(pool).data))
    assert data["hedge_ratio"]["contracts_per_lot"] == "100"
    assert data["perp_allocation"] == "100000.00" and data["cfd_allocation"] == "0.00"


def rendered(data: Any) -> bytes:
    from quantarb.api_decimals import JSONRenderer

    return bytes(JSONRenderer().render(data))
