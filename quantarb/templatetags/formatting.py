"""The portal's number filters, one set for every page (`{% load formatting %}`); each calls `quantarb.formatting`.

    {{ h.pnl_total|pnl }}            +1,234.50      signed, to the cent (colour comes from `sign_class`)
    {{ a.equity|amount }}            100,000.00     money to the cent
    {{ s.net_sell_perp|edge }}       +0.43          USD/oz or bps, signed, 2 decimals
    {{ f.price|price:instrument }}   4605.70        to the instrument's tick (or a tick size, or a number of places)
    {{ o.quantity|qty:instrument }}  1,000.000      ounces to the instrument's step in ounces (or a step, or places)
    {{ o.lots|lots }}                1.50           MT5 lots
    {{ h.cfd_oz|as_lots:instrument }} 1.50          ounces in lots of the instrument's contract size
    {{ value|plain }}                1000000000     any number without exponent, its own digits
    {{ value|sort_value }}           plain digits for a cell's `data-sort` (client-side sorting)

`instrument` is anything with `tick_size`, `quantity_step` and `contract_size` (trading's Instrument); None falls back
to 2 decimals for prices and 3 for ounces. Every filter answers "—" for no value.
"""

from __future__ import annotations

from typing import Any

from django import template

from quantarb import formatting

register = template.Library()


def _tick(spec: Any) -> Any:
    return getattr(spec, "tick_size", spec)


def _step_oz(spec: Any) -> Any:
    step, size = getattr(spec, "quantity_step", None), getattr(spec, "contract_size", None)
    if step is not None and size is not None:
        return step * size
    return spec


@register.filter
def amount(value: Any, places: Any = formatting.MONEY_PLACES) -> str:
    """Money to the cent, unsigned (balances, equity, capital). Named apart from `strategy_tags`' signed `money`,
    which a page may load beside this library."""
    return formatting.money(value, int(places))


@register.filter
def pnl(value: Any, places: Any = formatting.MONEY_PLACES) -> str:
    return formatting.pnl(value, int(places))


@register.filter
def edge(value: Any) -> str:
    return formatting.edge(value)


@register.filter
def price(value: Any, instrument: Any = None) -> str:
    return formatting.price(value, _tick(instrument))


@register.filter
def qty(value: Any, instrument: Any = None) -> str:
    return formatting.quantity(value, _step_oz(instrument))


@register.filter
def lots(value: Any) -> str:
    return formatting.lots(value)


@register.filter
def as_lots(value: Any, instrument: Any) -> str:
    """Ounces in lots of the instrument's contract size ("—" when it is unknown)."""
    return formatting.lots(formatting.ounces_to_lots(value, getattr(instrument, "contract_size", instrument)))


@register.filter
def percent(value: Any, places: Any = 1) -> str:
    return formatting.percent(value, int(places))


@register.filter
def plain(value: Any, places: Any = None) -> str:
    return formatting.plain(value, None if places in (None, "") else int(places))


@register.filter
def sort_value(value: Any) -> str:
    return formatting.sort_key(value)


@register.filter
def trimmed(value: Any) -> str:
    """A number without exponent or trailing zeros (a step, a ratio): `0.0010` → `0.001`, `1E+2` → `100`."""
    return formatting.trimmed(value)
