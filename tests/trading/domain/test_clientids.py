"""Client order ids (trading.domain.clientids): deterministic, short, Binance-safe, unique, parseable."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading.domain.clientids import (
    MAX_LENGTH,
    ClientOrderKey,
    Intent,
    client_order_id,
    parse_client_order_id,
)
from trading.domain.orders import Leg

BINANCE = re.compile(r"[.A-Z:/a-z0-9_-]{1,36}")
EXAMPLES = settings(max_examples=1_000, deadline=None)

keys = st.builds(
    ClientOrderKey,
    tenant_id=st.one_of(st.integers(1, 1_000), st.integers(1, 2**40)),
    hedge_id=st.one_of(st.integers(1, 100_000), st.integers(1, 2**40)),
    leg=st.sampled_from(list(Leg)),
    intent=st.sampled_from(list(Intent)),
    attempt=st.integers(0, 999),
)


def format_key(key: ClientOrderKey) -> str:
    return client_order_id(key.tenant_id, key.hedge_id, key.leg, key.intent, key.attempt)


@EXAMPLES
@given(key=keys)
def test_ids_are_deterministic_short_binance_safe_and_parse_back(key: ClientOrderKey) -> None:
    text = format_key(key)
    assert text == format_key(key)
    assert len(text) <= MAX_LENGTH  # the MT5 comment limit kept here
    assert BINANCE.fullmatch(text)
    assert parse_client_order_id(text) == key


@settings(max_examples=300, deadline=None)
@given(batch=st.lists(keys, min_size=2, max_size=200, unique=True))
def test_distinct_keys_get_distinct_ids(batch: list[ClientOrderKey]) -> None:
    assert len({format_key(key) for key in batch}) == len(batch)


@settings(max_examples=300, deadline=None)
@given(key=keys, other=keys)
def test_two_keys_share_an_id_only_when_they_are_the_same_key(key: ClientOrderKey, other: ClientOrderKey) -> None:
    assert (format_key(key) == format_key(other)) == (key == other)


@EXAMPLES
@given(text=st.from_regex(r"qa[0-9a-z]{1,9}-[0-9a-z]{1,9}[A-Z]{2}[0-9a-z]{1,3}", fullmatch=True))
def test_any_id_that_parses_is_the_one_its_key_formats_to(text: str) -> None:
    key = parse_client_order_id(text)
    if key is not None:
        assert format_key(key) == text


def test_the_extremes_fit_and_strings_not_ours_do_not_parse() -> None:
    longest = client_order_id(2**40, 2**40, "cfd", "repair", 999)
    assert len(longest) <= 24 and parse_client_order_id(longest) == ClientOrderKey(
        2**40, 2**40, Leg.CFD, Intent.REPAIR, 999
    )
    assert client_order_id(1, 87, Leg.PERP, Intent.OPEN, 0) == "qa1-2fPO0"
    for foreign in ("", "x-1", "web_abc123", "qa01-2PO0", "qa1-2PO", "qa1-2ZO0", "qa1-2PO0 "):
        assert parse_client_order_id(foreign) is None


def test_ids_that_would_not_fit_are_refused() -> None:
    with pytest.raises(ValueError):
        client_order_id(2**63, 2**63, Leg.PERP, Intent.OPEN, 0)
    with pytest.raises(ValueError):
        client_order_id(-1, 1, Leg.PERP, Intent.OPEN, 0)
