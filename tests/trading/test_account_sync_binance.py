"""Live Binance accounts against the fake Binance (reached through the account's endpoint override): `sync_accounts`
snapshots, funding booked once per venue transaction, settings checked against the pool; venue-side fills from the
user-data stream recorded with an alert; the testnet option in the form, the API and the gateway."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import OperationalError

from accounts.models import AccountPool, AccountSnapshot, ChangeLogEntry, VenueAccount
from alerts.models import Alert
from tests import canary
from tests.accounts.helpers import form_for
from tests.fakes.fixtures import BinanceFake
from tests.helpers.clients import ACCOUNTS, api, patch, post
from tests.helpers.venues import point_at_fake
from tests.waiting import until
from trading.account_sync import sync_accounts
from trading.models import FundingPayment, VenueEvent
from trading.reconciliation.venue_events import (
    UserStreamWatcher,
    event_kind,
    is_our_client_order_id,
)
from trading.venues.binance.gateway import BinanceUsdmGateway, OrderState
from trading.venues.registry import gateway_for

pytestmark = [pytest.mark.timeout(120)]


def funding(tran_id: int, amount: str, at_ms: int) -> dict[str, Any]:
    return {"symbol": "XAUUSDT", "incomeType": "FUNDING_FEE", "income": amount, "asset": "USDT",
            "info": "FUNDING_FEE", "time": at_ms, "tranId": tran_id, "tradeId": ""}  # fmt: skip


@pytest.mark.django_db
def test_a_live_sync_snapshots_the_account_and_books_funding_once(
    canary_accounts: dict[str, Any], binance_fake: BinanceFake, frozen_clock: Any
) -> None:
    account = point_at_fake(canary_accounts, binance_fake)
    AccountPool.objects.filter(pk=canary_accounts["live_pool"].pk).update(perp_leverage=20)  # the fake's 20×
    binance_fake.config(
        position_amt="-2.000", entry_price="4600.00", mark_price="4610.00", liquidation_price="6700.50",
        incomes=[funding(9001, "-0.92000000", 1_795_000_000_000), funding(9002, "1.10000000", 1_795_028_800_000)],
    )  # fmt: skip

    assert sync_accounts()["synced"] == 3  # the live Binance account and the two simulated ones

    snapshot = AccountSnapshot.objects.get(account=account)
    assert (snapshot.currency, snapshot.balance) == ("USDT", Decimal("10000"))
    assert snapshot.equity == Decimal("10000") - Decimal("20")  # wallet + unrealised (−2 oz × +10)
    assert snapshot.used_margin == Decimal("461")  # 2 oz × 4610 / 20×
    assert snapshot.margin_level == (Decimal("9980") / Decimal("461") * 100).quantize(Decimal("0.0001"))
    assert snapshot.positions == [
        {"symbol": "XAUUSDT", "quantity": "-2.000", "entry_price": "4600.00", "mark_price": "4610.00",
         "liquidation_price": "6700.50", "maint_margin": "92.2000000", "adl": 1}
    ]  # fmt: skip
    # (maint_margin: the position's by the fake's bracket 1, 9,220 × 1 %; adl: its ADL quantile)
    booked = list(FundingPayment.objects.filter(account=account).order_by("at").values_list("venue_id", "amount"))
    assert booked == [("9001", Decimal("-0.92")), ("9002", Decimal("1.1"))]
    account.refresh_from_db()
    assert account.status == "active" and account.last_error == "" and account.last_sync_at == frozen_clock.now()

    # Read again (the venue answers the same rows from the last one on): nothing is booked twice.
    binance_fake.config(
        incomes=[funding(9002, "1.10000000", 1_795_028_800_000), funding(9003, "-0.50000000", 1_795_057_600_000)]
    )
    sync_accounts()
    assert FundingPayment.objects.filter(account=account).count() == 3
    assert FundingPayment.objects.get(venue_id="9003").tenant_id == account.tenant_id


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_settings_that_differ_from_the_pool_put_the_account_in_error_with_an_alert(
    canary_accounts: dict[str, Any], binance_fake: BinanceFake
) -> None:
    account = point_at_fake(canary_accounts, binance_fake)
    pool = canary_accounts["live_pool"]
    AccountPool.objects.filter(pk=pool.pk).update(perp_leverage=5, perp_margin_type="cross")
    binance_fake.config(leverage=20, margin_type="isolated")

    sync_accounts()

    account.refresh_from_db()
    assert account.status == "error"
    assert "leverage is 20×, the pool Live pool expects 5×" in account.last_error
    assert "margin type is isolated, the pool Live pool expects cross" in account.last_error
    assert AccountSnapshot.objects.filter(account=account).exists()  # the balances were still read
    alert = Alert.objects.get(dedup_key=f"rule:account_error:account_error:{account.pk}")
    assert alert.status == "open" and "leverage is 20×" in alert.detail["message"]

    # Fixed on the venue: the next sync clears the error and the alert resolves.
    binance_fake.config(leverage=5, margin_type="cross")
    sync_accounts()
    account.refresh_from_db()
    assert account.status == "active" and account.last_error == ""
    alert.refresh_from_db()
    assert alert.status == "resolved"


@pytest.mark.django_db
def test_hedge_mode_and_an_unreachable_venue_are_account_errors(
    canary_accounts: dict[str, Any], binance_fake: BinanceFake
) -> None:
    account = point_at_fake(canary_accounts, binance_fake)
    AccountPool.objects.filter(pk=canary_accounts["live_pool"].pk).update(perp_leverage=20)
    binance_fake.config(dual_side=True)
    sync_accounts()
    account.refresh_from_db()
    assert account.status == "error" and "one-way" in account.last_error
    VenueAccount.objects.filter(pk=account.pk).update(
        rest_endpoint="http://127.0.0.1:9", ws_endpoint="ws://127.0.0.1:9"
    )
    assert sync_accounts()["failed"] == 1
    account.refresh_from_db()
    assert "Sync failed" in account.last_error and "unreachable" in account.last_error
    assert canary.CANARY_API_SECRET not in account.last_error


# --- venue-side fills from the user-data stream --------------------------------------------------------------
def order(client_id: str, order_type: str = "MARKET") -> OrderState:
    return OrderState(client_id, "81", "FILLED", "sell", order_type, Decimal("1"), Decimal("1"), None, None, None)


def test_which_fills_are_venue_side() -> None:
    fill = {"x": "TRADE", "l": "1"}
    assert (
        is_our_client_order_id("qa1-2fPO0")
        and not is_our_client_order_id("web_8Gx1")
        and not is_our_client_order_id("qa1")
    )
    assert event_kind(order("qa1-2fPO0"), fill) is None  # ours
    assert event_kind(order("web_8Gx1"), fill) == "manual_trade"
    assert event_kind(order("autoclose-17", "LIQUIDATION"), {"x": "CALCULATED", "l": "1"}) == "liquidation"
    assert event_kind(order("adl_autoclose", "ADL"), {"x": "TRADE", "l": "1"}) == "adl"
    assert event_kind(order("web_8Gx1"), {"x": "NEW", "l": "0"}) is None  # nothing filled


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("thread_connections_closed")
async def test_a_liquidation_on_the_user_stream_is_recorded_within_seconds_with_an_alert(
    canary_accounts: dict[str, Any], binance_fake: BinanceFake
) -> None:
    account = await sync_to_async(point_at_fake)(canary_accounts, binance_fake)
    setup = gateway_for(account, throttle=False)
    assert isinstance(setup, BinanceUsdmGateway)
    async with setup:
        await setup.place_order(client_order_id="qa1-1PO0", side="buy", quantity=Decimal("0.100"))
        await setup.place_order(client_order_id="desk-manual-1", side="buy", quantity=Decimal("0.050"))
    watcher = UserStreamWatcher(account, retry_delay_s=0.2)
    running = asyncio.create_task(watcher.run())
    try:
        await until(lambda: binance_fake.state()["private_sockets"] >= 1, 10, "the user-data stream open")
        # ccxt registers its watch on the stream a moment after the socket opens, and nothing outside ccxt shows
        # when: an event pushed before it would be lost.
        await asyncio.sleep(0.2)
        pushed = time.monotonic()
        binance_fake.control("liquidation", {"price": "4500.00"})

        def liquidations() -> int:
            try:
                return VenueEvent.objects.filter(account=account, kind="liquidation").count()
            except OperationalError:  # SQLite's shared in-memory test database: the recording holds the table
                return 0

        count = sync_to_async(liquidations)
        while await count() == 0:
            assert time.monotonic() - pushed < 5, "no liquidation recorded within 5 s"
            await asyncio.sleep(0.05)
        # Let the watcher finish that recording (its after-commit pushes run in the recording's thread) before it
        # is cancelled: cancelling it mid-recording would leave that thread waiting on this loop.
        while watcher.recorded < 1:
            assert time.monotonic() - pushed < 10, "the watcher did not finish recording"
            await asyncio.sleep(0.05)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)

    event = await sync_to_async(VenueEvent.objects.get)(account=account, kind="liquidation")
    assert (event.side, event.quantity, event.price, event.tenant_id) == (
        "sell", Decimal("0.15"), Decimal("4500"), account.tenant_id
    )  # fmt: skip
    assert event.client_order_id.startswith("autoclose-") and event.raw["o"] == "LIQUIDATION"
    alert = await sync_to_async(Alert.objects.get)(
        dedup_key=f"venue_event:{account.pk}:liquidation:{event.venue_order_id}"
    )
    assert alert.severity == "critical" and alert.tenant_id == account.tenant_id
    assert canary.CANARY_API_SECRET not in str(event.raw) and canary.CANARY_API_KEY not in str(event.raw)


# --- the testnet option -----------------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"venue": "simulated-perp", "mode": "paper", "api_key": "", "api_secret": ""}, "Only Binance"),
        ({"rest_endpoint": "https://proxy.example", "ws_endpoint": "wss://proxy.example"}, "endpoint override"),
    ],
)
def test_the_form_validates_the_testnet_option(alice: Any, data: dict[str, str], message: str) -> None:
    form = form_for(alice, binance_testnet="on", **data)
    assert not form.is_valid() and message in str(form.errors["binance_testnet"])


@pytest.mark.django_db
def test_admins_turn_the_testnet_on_over_the_api_and_it_is_change_logged(alice: Any, bob: Any) -> None:
    body = {"label": "T", "venue": "binance-usdm", "mode": "live", "binance_testnet": True,
            "credentials": {"api_key": "A" * 64, "api_secret": "b" * 64}}  # fmt: skip
    created = post(api(alice), ACCOUNTS, body)
    assert created.status_code == 201, created.json()
    assert created.json()["binance_testnet"] is True
    url = f"{ACCOUNTS}{created.json()['id']}/"
    assert patch(api(bob), url, {"binance_testnet": False}).status_code == 403
    assert patch(api(alice), url, {"binance_testnet": "yes"}).status_code == 400
    clash = patch(api(alice), url, {"rest_endpoint": "https://p.example", "ws_endpoint": "wss://p.example"})
    assert clash.status_code == 400 and "binance_testnet" in clash.json()
    assert patch(api(alice), url, {"binance_testnet": False}).json()["binance_testnet"] is False
    account = VenueAccount.objects.get(pk=created.json()["id"])
    assert any("binance_testnet" in (entry.changes or {}) for entry in ChangeLogEntry.objects.filter(
        object_pk=str(account.pk)))  # fmt: skip
    account.binance_testnet = True
    gateway = gateway_for(account)
    assert isinstance(gateway, BinanceUsdmGateway)
    hosts = {url.split("/")[2] for url in _urls(gateway.exchange.urls["api"])}
    # ccxt's sandbox mode: Binance's futures testnet hosts (and spot testnet's for the unused spot entries) only.
    assert "testnet.binancefuture.com" in hosts and not any(host.endswith("binance.com") for host in hosts)


def _urls(value: object) -> list[str]:
    if isinstance(value, dict):
        return [url for item in value.values() for url in _urls(item)]
    return [value] if isinstance(value, str) else []


@pytest.mark.django_db
def test_a_rate_limit_during_the_sync_is_a_back_off_not_an_account_error(
    canary_accounts: dict[str, Any], binance_fake: BinanceFake
) -> None:
    from trading.venues.backoff import BACKOFFS

    account = point_at_fake(canary_accounts, binance_fake)
    AccountPool.objects.filter(pk=canary_accounts["live_pool"].pk).update(perp_leverage=20)
    binance_fake.arm("rate_limit", status=429, retry_after=30)
    try:
        counts = sync_accounts()
        assert (counts["backed_off"], counts["failed"]) == (1, 0)
        account.refresh_from_db()
        assert account.status == "active" and account.last_error == ""  # entries are not halted for a pause

        # The back-off holds for every gateway of the account (each sync makes a new one): nothing is sent.
        during = time.time()
        assert sync_accounts()["backed_off"] == 1
        assert binance_fake.state(since=during)["request_total"] == 0
    finally:
        BACKOFFS.clear()
    assert sync_accounts()["synced"] == 3
    account.refresh_from_db()
    assert account.status == "active"
