"""The Binance gateway running real ccxt `binanceusdm` code against the out-of-process fake Binance."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from decimal import Decimal
from urllib.error import HTTPError

import pytest

from tests.fakes.fixtures import BinanceFake
from tests.trading.venues.helpers import gateway_for
from tests.waiting import until, until_async
from trading.domain.quotes import Quote
from trading.venues.binance.gateway import SYMBOL, BinanceQuoteFeed, BinanceUsdmGateway, rewrite_endpoints
from trading.venues.errors import VenueError, VenueErrorKind

pytestmark = pytest.mark.timeout(60)


def _all_urls(value: object) -> list[str]:
    if isinstance(value, dict):
        return [url for item in value.values() for url in _all_urls(item)]
    return [value] if isinstance(value, str) else []


def test_the_endpoint_override_rewrites_every_binance_url() -> None:
    gateway = BinanceUsdmGateway(rest_url="http://127.0.0.1:1", ws_url="ws://127.0.0.1:1")
    urls = _all_urls(gateway.exchange.urls["api"])
    assert len(urls) > 20
    # Nothing may leave for a Binance host: every REST and WebSocket entry (spot, sapi, dapi, ws-api…) moved.
    assert all(url.startswith(("http://127.0.0.1:1/", "ws://127.0.0.1:1/")) for url in urls), urls
    assert gateway.exchange.urls["api"]["fapiPrivateV3"] == "http://127.0.0.1:1/fapi/v3"
    assert gateway.exchange.urls["api"]["ws"]["linear"] == "ws://127.0.0.1:1/ws"


def test_rewrite_keeps_paths_and_queries() -> None:
    rewritten = rewrite_endpoints(
        {"a": "https://fapi.binance.com/fapi/v1", "ws": {"b": "wss://x.binance.com:9443/ws?x=1"}, "n": 3},
        rest_url="https://proxy.example/",
        ws_url="wss://proxy.example/stream",
    )
    assert rewritten == {"a": "https://proxy.example/fapi/v1", "ws": {"b": "wss://proxy.example/stream/ws?x=1"}, "n": 3}


async def test_it_resolves_xauusdt_as_the_tradfi_perpetual(gateway: BinanceUsdmGateway) -> None:
    market = gateway.exchange.market(SYMBOL)
    # ccxt calls XAUUSDT a swap only because of deliveryDate 4133404800000 (VENUES.md): pin that reading.
    assert market["id"] == "XAUUSDT"
    assert (market["type"], market["swap"], market["future"], market["linear"]) == ("swap", True, False, True)
    assert market["settle"] == "USDT" and market["contractSize"] == 1
    assert market["info"]["contractType"] == "TRADIFI_PERPETUAL"
    spec = gateway.spec
    assert spec is not None
    assert (spec.tick_size, spec.step_size, spec.min_quantity, spec.min_notional, spec.contract_size) == (
        Decimal("0.01"),
        Decimal("0.001"),
        Decimal("0.001"),
        Decimal("5"),
        Decimal("1"),
    )


async def test_it_refuses_xauusdt_listed_with_another_delivery_date(binance_fake: BinanceFake) -> None:
    binance_fake.config(delivery_date=1798761600000)
    gateway = gateway_for(binance_fake)
    try:
        with pytest.raises(VenueError) as raised:
            await gateway.connect()
    finally:
        await gateway.close()
    assert raised.value.kind == VenueErrorKind.MARKET


async def test_fees_come_from_the_accounts_commission_rate(binance_fake: BinanceFake) -> None:
    binance_fake.config(maker_fee="0.00015", taker_fee="0.00042")
    async with gateway_for(binance_fake) as gateway:
        fees = await gateway.fetch_fees()
    assert (fees.maker, fees.taker) == (Decimal("0.00015"), Decimal("0.00042"))


async def test_quotes_come_from_the_book_ticker_stream_and_rest(
    gateway: BinanceUsdmGateway, binance_fake: BinanceFake
) -> None:
    polled = await gateway.fetch_quote()
    assert (polled.bid_price, polled.ask_price) == (Decimal("4600.10"), Decimal("4600.12"))
    waiting = asyncio.ensure_future(gateway.watch_quote())
    await until(lambda: binance_fake.state()["public_sockets"] == 1, 5, "the public socket open")
    await until(lambda: binance_fake.state()["subscribed_sockets"] == 1, 5, "the SUBSCRIBE that follows the socket")
    binance_fake.set_book("4601.25", "4601.40")
    streamed = await asyncio.wait_for(waiting, 5)
    assert (streamed.bid_price, streamed.ask_price) == (Decimal("4601.25"), Decimal("4601.40"))
    assert streamed.source == "binance-usdm:XAUUSDT"
    book = await gateway.fetch_order_book()
    assert book["bids"][0] == (Decimal("4601.25"), Decimal("12.345"))


async def test_account_reads_funding_position_mode_and_income(
    gateway: BinanceUsdmGateway, binance_fake: BinanceFake
) -> None:
    # Without a start time Binance answers the last 7 days: a funding time of yesterday.
    funded_ms = (int(time.time() * 1000) - 86_400_000) // (8 * 3_600_000) * (8 * 3_600_000)
    binance_fake.config(
        incomes=[{"symbol": "XAUUSDT", "incomeType": "FUNDING_FEE", "income": "-0.4321", "asset": "USDT",
                  "info": "FUNDING_FEE", "time": funded_ms, "tranId": 1, "tradeId": ""}]
    )  # fmt: skip
    funding = await gateway.fetch_funding()
    assert funding.rate == Decimal("0.00010000") and funding.interval_hours == 8
    assert funding.next_funding_ms % (8 * 3_600_000) == 0
    assert await gateway.fetch_hedge_mode() is False
    assert await gateway.fetch_funding_payments() == [(funded_ms, Decimal("-0.4321"))]
    balance = await gateway.fetch_usdt_balance()
    assert balance["wallet"] == Decimal("10000")
    await gateway.place_order(client_order_id="pos-1", side="sell", quantity=Decimal("0.250"))
    binance_fake.config(liquidation_price="4830.55")
    position = await gateway.fetch_position()
    assert position.quantity == Decimal("-0.25") and position.liquidation_price == Decimal("4830.55")


async def test_a_wrong_secret_or_unknown_key_is_an_auth_error(binance_fake: BinanceFake) -> None:
    for key, secret, code in ((binance_fake.api_key, "x" * 64, -1022), ("y" * 64, binance_fake.api_secret, -2015)):
        gateway = BinanceUsdmGateway(api_key=key, api_secret=secret, rest_url=binance_fake.rest_url,
                                     ws_url=binance_fake.ws_url, throttle=False)  # fmt: skip
        try:
            await gateway.load_spec()
            with pytest.raises(VenueError) as raised:
                await gateway.fetch_fees()
        finally:
            await gateway.close()
        assert (raised.value.kind, raised.value.code) == (VenueErrorKind.AUTH, code)


def test_the_fake_requires_a_signature(binance_fake: BinanceFake) -> None:
    request = urllib.request.Request(  # noqa: S310 - http to loopback
        f"{binance_fake.rest_url}/fapi/v1/commissionRate?symbol=XAUUSDT&timestamp={int(time.time() * 1000)}",
        headers={"X-MBX-APIKEY": binance_fake.api_key},
    )
    with pytest.raises(HTTPError) as raised:
        urllib.request.urlopen(request, timeout=5)  # noqa: S310 - http to loopback
    assert raised.value.code == 400 and b"-1102" in raised.value.read()


async def test_orders_are_created_fetched_and_cancelled_by_client_id(
    gateway: BinanceUsdmGateway, binance_fake: BinanceFake
) -> None:
    placed = await gateway.place_order(
        client_order_id="h1-perp-open-1", side="sell", quantity=Decimal("0.500"), price=Decimal("4700.00")
    )
    assert placed.is_open and placed.client_order_id == "h1-perp-open-1"
    assert Decimal(binance_fake.orders_with("h1-perp-open-1")[0]["origQty"]) == Decimal("0.5")
    looked_up = await gateway.lookup_order("h1-perp-open-1")
    assert looked_up is not None and looked_up.venue_order_id == placed.venue_order_id
    cancelled = await gateway.cancel_order("h1-perp-open-1")
    assert cancelled.status == "CANCELED"
    assert await gateway.lookup_order("never-sent") is None
    with pytest.raises(VenueError) as raised:
        await gateway.cancel_order("never-sent")
    assert raised.value.kind == VenueErrorKind.UNKNOWN_ORDER


async def test_a_duplicated_client_id_returns_the_order_the_venue_holds(
    gateway: BinanceUsdmGateway, binance_fake: BinanceFake
) -> None:
    first = await gateway.place_order(client_order_id="dup-1", side="buy", quantity=Decimal("0.010"))
    again = await gateway.place_order(client_order_id="dup-1", side="buy", quantity=Decimal("0.010"))
    assert again.venue_order_id == first.venue_order_id
    assert len(binance_fake.orders_with("dup-1")) == 1
    # The venue answered -4116 to the second create (HTTP 400), which the gateway turned into a lookup.
    assert binance_fake.state()["requests"]["POST /fapi/v1/order"] == 2


async def test_an_order_whose_answer_times_out_is_found_by_client_id(binance_fake: BinanceFake) -> None:
    async with gateway_for(binance_fake, timeout_ms=500) as gateway:
        binance_fake.arm("order_timeout", seconds=1.5)
        order = await gateway.place_order(client_order_id="to-1", side="buy", quantity=Decimal("0.010"))
    assert order.status == "FILLED"
    assert len(binance_fake.orders_with("to-1")) == 1
    assert binance_fake.state()["requests"]["POST /fapi/v1/order"] == 1


async def test_an_order_dropped_before_the_venue_took_it_is_sent_again_once(
    gateway: BinanceUsdmGateway, binance_fake: BinanceFake
) -> None:
    binance_fake.arm("order_drop_before_accept")
    order = await gateway.place_order(client_order_id="drop-1", side="buy", quantity=Decimal("0.010"))
    assert order.status == "FILLED" and len(binance_fake.orders_with("drop-1")) == 1
    assert binance_fake.state()["requests"]["GET /fapi/v1/order"] == 1  # looked up before the resend


async def test_unsigned_tradfi_agreement_is_a_clear_account_error(
    gateway: BinanceUsdmGateway, binance_fake: BinanceFake
) -> None:
    binance_fake.arm("tradfi_unsigned")
    with pytest.raises(VenueError) as raised:
        await gateway.place_order(client_order_id="tf-1", side="buy", quantity=Decimal("0.010"))
    assert raised.value.kind == VenueErrorKind.AGREEMENT and raised.value.code == -4411
    assert "TradFi-Perps agreement" in str(raised.value)
    await gateway.sign_tradfi_agreement()
    assert (await gateway.place_order(client_order_id="tf-1", side="buy", quantity=Decimal("0.010"))).status == "FILLED"


async def test_a_timestamp_outside_recv_window_is_a_clock_error_and_resyncs(
    gateway: BinanceUsdmGateway, binance_fake: BinanceFake
) -> None:
    before = binance_fake.state()["requests"].get("GET /fapi/v1/time", 0)
    binance_fake.arm("clock")
    with pytest.raises(VenueError) as raised:
        await gateway.fetch_fees()
    assert raised.value.kind == VenueErrorKind.CLOCK
    assert binance_fake.state()["requests"]["GET /fapi/v1/time"] == before + 1


async def test_a_venue_clock_ahead_of_ours_is_absorbed_by_the_time_sync(binance_fake: BinanceFake) -> None:
    binance_fake.config(server_offset_ms=30_000)  # far outside the 5 s recvWindow without the sync
    async with gateway_for(binance_fake) as gateway:
        assert (await gateway.fetch_fees()).taker == Decimal("0.000500")


@pytest.mark.parametrize("status", [429, 418])
async def test_a_rate_limit_backs_off_as_told_and_sends_nothing_meanwhile(
    gateway: BinanceUsdmGateway, binance_fake: BinanceFake, status: int
) -> None:
    binance_fake.arm("rate_limit", status=status, retry_after=2)
    started = time.time()
    with pytest.raises(VenueError) as raised:
        await gateway.fetch_quote()
    assert raised.value.kind == VenueErrorKind.RATE_LIMITED and raised.value.retry_after_s == 2
    during = time.time()
    for _ in range(20):
        with pytest.raises(VenueError) as again:
            await gateway.place_order(client_order_id="rl-1", side="buy", quantity=Decimal("0.010"))
        assert again.value.kind == VenueErrorKind.RATE_LIMITED
        await asyncio.sleep(0.05)  # the attempts spread over the back-off, which must refuse them all
    assert binance_fake.state(since=during)["request_total"] == 0  # nothing reached the venue in the back-off

    async def quote_after_the_back_off() -> Quote | None:
        try:
            return await gateway.fetch_quote()
        except VenueError as refused:  # still backing off: refused here, nothing sent
            assert refused.kind == VenueErrorKind.RATE_LIMITED
            return None

    quote = await until_async(quote_after_the_back_off, 10, "a quote once the venue's 2 s back-off ran out")
    assert time.time() - started >= 2 and quote.bid_price == Decimal("4600.10")


async def test_a_liquidation_on_the_user_stream_is_seen_within_seconds(
    gateway: BinanceUsdmGateway, binance_fake: BinanceFake
) -> None:
    await gateway.place_order(client_order_id="liq-open", side="buy", quantity=Decimal("0.100"))
    waiting = asyncio.ensure_future(gateway.watch_order_updates())
    await until(lambda: binance_fake.state()["private_sockets"] == 1, 5, "the private socket open")
    pushed_at = time.monotonic()
    binance_fake.control("liquidation", {"price": "4500.00"})
    updates = await asyncio.wait_for(waiting, 5)
    assert time.monotonic() - pushed_at < 3
    liquidation = updates[-1]
    assert liquidation.venue_initiated and liquidation.order_type == "LIQUIDATION"
    assert (liquidation.side, liquidation.filled, liquidation.average_price) == (
        "sell",
        Decimal("0.1"),
        Decimal("4500"),
    )


async def test_the_quote_feed_reconnects_after_a_dropped_stream(binance_fake: BinanceFake) -> None:
    feed = BinanceQuoteFeed(gateway_for(binance_fake), retry_delay_s=0.2)
    stream = feed.stream()
    try:
        first = asyncio.ensure_future(anext(stream))
        await until(lambda: binance_fake.state()["subscribed_sockets"] == 1, 5, "the socket subscribed")
        binance_fake.set_book("4602.00", "4602.10")
        assert (await asyncio.wait_for(first, 5)).bid_price == Decimal("4602.00")
        dropped_at = time.monotonic()
        binance_fake.control("drop", {"refuse_s": 1})
        binance_fake.config(bid="4603.00", ask="4603.20")

        # While the stream is down the feed falls back to REST; the fake keeps publishing a new level once a
        # socket is back, so the first streamed 4604.00 shows the feed resubscribed.
        async def publish_when_reconnected() -> None:
            while True:
                if binance_fake.state()["public_sockets"] == 1:
                    binance_fake.set_book("4604.00", "4604.10")
                await asyncio.sleep(0.2)  # the fake's publishing cadence

        publisher = asyncio.ensure_future(publish_when_reconnected())
        seen = set()
        try:
            while Decimal("4604.00") not in seen:
                quote = await asyncio.wait_for(anext(stream), 10)
                seen.add(quote.bid_price)
        finally:
            publisher.cancel()
        assert Decimal("4603.00") in seen  # a REST fallback quote while the stream was down
        assert time.monotonic() - dropped_at < 10
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
        await feed.gateway.close()


def test_the_quote_feed_snapshot_polls_rest(binance_fake: BinanceFake) -> None:
    feed = BinanceQuoteFeed(BinanceUsdmGateway(rest_url=binance_fake.rest_url, ws_url=binance_fake.ws_url))
    [quote] = feed.snapshot()
    assert quote.bid_price == Decimal("4600.10")
    binance_fake.control("arm", {"fault": "rate_limit"})
    assert feed.snapshot() == []


async def test_an_unreachable_venue_is_reported_as_such() -> None:
    gateway = BinanceUsdmGateway(rest_url="http://127.0.0.1:9", ws_url="ws://127.0.0.1:9", read_attempts=1)
    try:
        with pytest.raises(VenueError) as raised:
            await gateway.connect()
    finally:
        await gateway.close()
    assert raised.value.kind == VenueErrorKind.UNREACHABLE
