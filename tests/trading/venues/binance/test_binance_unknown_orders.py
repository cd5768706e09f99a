"""Property: an order whose answer is lost is resolved by its client id, never sent twice.

Each generated case arms one fault at the fake Binance, then places an order through the gateway. The fake is in
its most permissive mode (`duplicate_policy="open"`: it refuses a reused client id only while that order is
open, which Binance documents; whether it refuses reuse of a filled id is unconfirmed), so a gateway that resent
a filled market order without looking it up first would leave two venue orders behind.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.fixtures import BinanceFake
from tests.trading.venues.helpers import gateway_for
from trading.venues.errors import VenueError, VenueErrorKind

FAULTS = (
    "none",
    "order_timeout",  # accepted, the answer arrives after our timeout
    "order_drop_after_accept",  # accepted, the connection drops before the answer
    "order_error_after_accept",  # accepted, a 503 comes back
    "order_drop_before_accept",  # the connection drops before the venue saw the order
)


@pytest.mark.timeout(600)
def test_lost_order_answers_never_leave_a_duplicate_venue_order(binance_fake: BinanceFake) -> None:
    binance_fake.config(duplicate_policy="open")
    loop = asyncio.new_event_loop()
    gateway = gateway_for(binance_fake, timeout_ms=600)
    loop.run_until_complete(gateway.connect())
    numbers = itertools.count(1)
    seen: Counter[str] = Counter()

    @settings(
        max_examples=200,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        fault=st.sampled_from(FAULTS),
        side=st.sampled_from(("buy", "sell")),
        thousandths=st.integers(min_value=2, max_value=5_000),
        limit_offset_ticks=st.none() | st.integers(min_value=-50, max_value=50),
    )
    def place_under_fault(fault: str, side: str, thousandths: int, limit_offset_ticks: int | None) -> None:
        client_order_id = f"prop-{next(numbers)}-{fault[:12]}"
        if fault == "order_timeout":
            binance_fake.arm(fault, seconds=1.0)
        elif fault != "none":
            binance_fake.arm(fault)
        quantity = Decimal(thousandths).scaleb(-3)
        price = None if limit_offset_ticks is None else Decimal("4600.11") + Decimal(limit_offset_ticks).scaleb(-2)
        order = loop.run_until_complete(
            gateway.place_order(client_order_id=client_order_id, side=side, quantity=quantity, price=price)
        )
        at_venue = binance_fake.orders_with(client_order_id)
        assert len(at_venue) == 1, at_venue
        assert order.venue_order_id == str(at_venue[0]["orderId"])
        assert order.quantity == quantity
        seen[fault] += 1

    try:
        place_under_fault()
    finally:
        loop.run_until_complete(gateway.close())
        loop.close()
    assert sum(seen.values()) >= 200
    assert all(seen[fault] > 0 for fault in FAULTS), seen
    orders = [order for order in binance_fake.state()["orders"] if order["clientOrderId"].startswith("prop-")]
    assert len(orders) == len({order["clientOrderId"] for order in orders}) == sum(seen.values())


def test_the_fake_would_catch_a_blind_resend(binance_fake: BinanceFake) -> None:
    """The property above has teeth: resending a filled order's id without a lookup creates a second order."""
    binance_fake.config(duplicate_policy="open")

    async def blind_resend() -> None:
        async with gateway_for(binance_fake) as gateway:
            for _ in range(2):
                await gateway.exchange.create_order(
                    "XAU/USDT:USDT", "market", "buy", "0.01", None, {"newClientOrderId": "blind-1"}
                )

    asyncio.run(blind_resend())
    assert len(binance_fake.orders_with("blind-1")) == 2


async def test_an_order_unknown_after_every_send_stays_unknown(binance_fake: BinanceFake) -> None:
    async with gateway_for(binance_fake) as gateway:
        binance_fake.arm("order_drop_before_accept", count=2)
        with pytest.raises(VenueError) as raised:
            await gateway.place_order(client_order_id="gone-1", side="buy", quantity=Decimal("0.010"))
    assert raised.value.kind == VenueErrorKind.AMBIGUOUS
    assert binance_fake.orders_with("gone-1") == []
