"""Fixtures of the strategy, execution, risk and reconciliation tests (a pytest plugin registered in tests/conftest.py,
so every test tree sees them): alpha's paper pool on the simulated pair, a strategy on it, a
market whose quotes the test sets, and the paper venues the runner trades."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from accounts.models import AccountPool, AccountSnapshot, VenueAccount
from mt5ops.models import TerminalInstance
from quantarb import clock
from strategies.domain.params import FundingSource, StrategyParams
from strategies.runner import MarketSnapshot
from strategies.services import strategy_create
from trading.domain.calendar import SessionView
from trading.domain.quotes import Quote
from trading.models import Instrument, QuoteSource, SourcePair


@dataclass
class ScriptedMarket:
    """Quotes the test sets; each snapshot is stamped `age_ms` before the clock's now."""

    perp_bid: Decimal = Decimal("4600.00")
    perp_ask: Decimal = Decimal("4600.10")
    cfd_bid: Decimal = Decimal("4599.80")
    cfd_ask: Decimal = Decimal("4600.05")
    usd_per_usdt: Decimal = Decimal("1")
    age_ms: int = 0
    cfd_open: bool = True
    pair_ids: set[int] = field(default_factory=set)

    def snapshot(self, pair_id: int) -> MarketSnapshot | None:
        ts = int(clock.now().timestamp() * 1000) - self.age_ms
        return MarketSnapshot(
            perp=Quote.of("perp", self.perp_bid, self.perp_ask, ts),
            cfd=Quote.of("cfd", self.cfd_bid, self.cfd_ask, ts),
            usd_per_usdt=self.usd_per_usdt,
            rate_ts_ms=None,
            session=SessionView(is_open=self.cfd_open),
        )

    def wide_sell_perp(self, edge: Decimal = Decimal("5")) -> None:
        """Perp rich against the CFD by `edge` USD/oz at the touch (sell perp / buy CFD pays)."""
        self.perp_bid = self.cfd_ask + edge
        self.perp_ask = self.perp_bid + Decimal("0.10")

    def converge(self) -> None:
        """Perp back at the CFD: the sell-perp hedge's remaining edge is gone."""
        self.perp_bid = self.cfd_bid - Decimal("0.10")
        self.perp_ask = self.cfd_bid

    def store(self, pair: Any) -> None:
        """Store the current quotes as the pair's latest spread sample (what the web reads: the engine stores them)."""
        from trading.models import SpreadSample

        SpreadSample.objects.create(
            pair=pair,
            ts=clock.now(),
            perp_bid=self.perp_bid,
            perp_ask=self.perp_ask,
            cfd_bid=self.cfd_bid,
            cfd_ask=self.cfd_ask,
            usd_per_usdt=self.usd_per_usdt,
            edge_sell_perp=self.perp_bid - self.cfd_ask,
            edge_buy_perp=self.cfd_bid - self.perp_ask,
            net_sell_perp=self.perp_bid - self.cfd_ask,
            net_buy_perp=self.cfd_bid - self.perp_ask,
            basis=(self.perp_bid + self.perp_ask - self.cfd_bid - self.cfd_ask) / 2,
        )


@pytest.fixture
def market() -> ScriptedMarket:
    return ScriptedMarket()


@pytest.fixture
def stored_quotes(market: ScriptedMarket, sim_pair: Any, frozen_clock: Any) -> ScriptedMarket:
    """The market's quotes stored for the simulated pair, as the web finds them when an open is queued by hand."""
    market.store(sim_pair)
    return market


@pytest.fixture
def paper_pool(alice: Any, sim_pair: Any) -> Any:
    from tests.factories import AccountPoolFactory
    from trading.models import PairAccess

    PairAccess.objects.get_or_create(tenant=alice.tenant, pair=sim_pair)
    return AccountPoolFactory.create(
        tenant=alice.tenant,
        owner=alice.user,
        name="Paper pool",
        perp_account__label="Sim perp",
        cfd_account__label="Sim CFD",
        perp_allocation=Decimal(100000),
        cfd_allocation=Decimal(100000),
    )


@pytest.fixture
def strategy(alice: Any, paper_pool: Any) -> Any:
    from tests.factories import StrategyFactory

    return StrategyFactory.create(pool=paper_pool, name="Basis A", actor=alice.user)


MAX_LEGGING_S = 6


# --- a live pool on the out-of-process fakes (fake Binance perp, MT5 bridge fake CFD) ---------------------------
class FakeBook:
    """The runner's market: the fake Binance's book for the perp, the simulated terminal's tick for the CFD."""

    def __init__(self, cfd_venue: Any) -> None:
        self.cfd_venue = cfd_venue
        self.perp_bid, self.perp_ask = Decimal("4600.10"), Decimal("4600.12")
        self.cfd: Quote | None = None

    def refresh_cfd(self) -> None:
        tick = self.cfd_venue._ready().tick()
        self.cfd = Quote.of("cfd", tick.bid, tick.ask, int(clock.now().timestamp() * 1000))

    def snapshot(self, pair_id: int) -> MarketSnapshot:
        now_ms = int(clock.now().timestamp() * 1000)
        cfd = self.cfd
        assert cfd is not None
        return MarketSnapshot(
            perp=Quote.of("perp", self.perp_bid, self.perp_ask, now_ms),
            cfd=Quote(cfd.source, cfd.bid, cfd.ask, now_ms),
            usd_per_usdt=Decimal(1),
            rate_ts_ms=None,
            session=SessionView(is_open=True),
        )

    def store(self, pair: Any) -> None:
        """Store the current quotes as the pair's latest spread sample (what the web's pre-trade gate reads when an
        open is queued by hand: the engine's pipeline stores them)."""
        from trading.models import SpreadSample

        snapshot = self.snapshot(pair.pk)
        perp, cfd = snapshot.perp, snapshot.cfd
        assert perp is not None and cfd is not None
        SpreadSample.objects.create(
            pair=pair,
            ts=clock.now(),
            perp_bid=perp.bid_price,
            perp_ask=perp.ask_price,
            cfd_bid=cfd.bid_price,
            cfd_ask=cfd.ask_price,
            usd_per_usdt=snapshot.usd_per_usdt,
            edge_sell_perp=perp.bid_price - cfd.ask_price,
            edge_buy_perp=cfd.bid_price - perp.ask_price,
            net_sell_perp=perp.bid_price - cfd.ask_price,
            net_buy_perp=cfd.bid_price - perp.ask_price,
            basis=(perp.bid_price + perp.ask_price - cfd.bid_price - cfd.ask_price) / 2,
        )


@pytest.fixture
def live_setup(alice: Any, binance_fake: Any, mt5_bridge: Any) -> dict[str, Any]:
    perp_instrument = Instrument.objects.get(venue="binance-usdm", symbol="XAUUSDT")
    cfd_instrument = Instrument.objects.get(venue="bybit-mt5", symbol="XAUUSD.s")
    endpoint = binance_fake.rest_url
    perp_source = QuoteSource.objects.create(
        key="fake-binance-xauusdt", venue="binance-usdm", endpoint=endpoint, instrument=perp_instrument, label="Fake"
    )
    terminal = TerminalInstance.objects.create(
        tenant=alice.tenant, label="Bridge fake", backend="rpyc", host="127.0.0.1", bridge_port=mt5_bridge.port
    )
    # An MT5 source names the terminal that reads it.
    cfd_source = QuoteSource.objects.create(
        key="fake-mt5-xauusd-s", venue="bybit-mt5", instrument=cfd_instrument, label="Fake MT5", terminal=terminal
    )
    SourcePair.objects.create(
        name="Fake pair", perp_source=perp_source, cfd_source=cfd_source, perp_fee_rate=Decimal("0.0005")
    )
    binance = VenueAccount.objects.create(
        tenant=alice.tenant,
        owner=alice.user,
        venue="binance-usdm",
        label="Binance (fake)",
        mode="live",
        credentials={"api_key": binance_fake.api_key, "api_secret": binance_fake.api_secret},  # type: ignore[misc]
        credential_hints={"api_key": "••••"},
        rest_endpoint=endpoint,
        ws_endpoint=binance_fake.ws_url,
    )
    mt5 = VenueAccount.objects.create(
        tenant=alice.tenant,
        owner=alice.user,
        venue="bybit-mt5",
        label="MT5 (fake)",
        mode="live",
        credentials={"login": "5000001", "password": "x", "server": "Fake-Server"},  # type: ignore[misc]
        credential_hints={"login": "5000001"},
        terminal=terminal,
    )
    pool = AccountPool.objects.create(
        tenant=alice.tenant,
        name="Live pool",
        perp_account=binance,
        cfd_account=mt5,
        perp_allocation=Decimal(1_000_000),
        cfd_allocation=Decimal(1_000_000),
    )
    for account, currency in ((binance, "USDT"), (mt5, "USD")):  # what the last sync_accounts read
        AccountSnapshot.objects.create(
            account=account,
            tenant=alice.tenant,
            at=datetime.now(UTC),
            currency=currency,
            balance=Decimal(1_000_000),
            equity=Decimal(1_000_000),
            used_margin=Decimal(0),
        )
    params = StrategyParams(
        entry_threshold=Decimal("1"),
        exit_threshold=Decimal("0.5"),
        size_oz=Decimal(2),
        max_open_hedges=1,
        max_position_oz=Decimal(2),
        max_legging_seconds=MAX_LEGGING_S,
        slippage_bps=Decimal(5),
        funding_source=FundingSource.FIXED,
        funding_rate_fixed=Decimal("0.0001"),
        mode="live",
    )
    strategy = strategy_create(tenant=alice.tenant, name="Live", pool=pool, mode="live", params=params, actor=None)
    return {"pool": pool, "strategy": strategy, "binance": binance, "mt5": mt5, "params": params}
