"""The paper ledger (trading/execution/paper_ledger.py): a paper account's balance moves with its fills' realised PnL,
fees
and carry, its equity with the mark, its used margin by the venue's rules — hand-computed below — and a snapshot
follows every paper fill and every sync, so the margin-level alert can fire on a paper account."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from accounts.models import AccountPool, AccountSnapshot, VenueAccount
from quantarb import clock
from trading.account_sync import sync_accounts
from trading.choices import CarryKind
from trading.domain.quotes import Quote
from trading.execution.paper import PaperVenue
from trading.execution.paper_ledger import PaperMark, paper_account_state
from trading.models import CarryEntry, PaperOrder, PaperPosition, SpreadSample
from trading.venues.base import OrderRequest

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture
def pool(alice: Any, sim_pair: Any) -> AccountPool:
    perp = VenueAccount.objects.create(
        tenant=alice.tenant, owner=alice.user, venue="simulated-perp", label="Paper perp", mode="paper"
    )
    cfd = VenueAccount.objects.create(
        tenant=alice.tenant, owner=alice.user, venue="simulated-cfd", label="Paper CFD", mode="paper"
    )
    return AccountPool.objects.create(
        tenant=alice.tenant,
        name="Paper pool",
        perp_account=perp,
        cfd_account=cfd,
        perp_allocation=D(100_000),
        cfd_allocation=D(100_000),
        perp_leverage=5,
    )


def paper_order(account: VenueAccount, cid: str, fee: str) -> None:
    PaperOrder.objects.create(
        account=account,
        client_order_id=cid,
        venue_order_id=cid,
        side="sell",
        kind="market",
        quantity=D(1),
        status="filled",
        filled=D(1),
        avg_price=D(4600),
        fee=D(fee),
        at=clock.now(),
    )


def carry(account: VenueAccount, kind: str, amount: str, currency: str) -> None:
    CarryEntry.objects.create(
        tenant=account.tenant,
        account=account,
        kind=kind,
        amount=D(amount),
        currency=currency,
        amount_usd=D(amount),
        venue_ref=f"paper-{kind}-{amount}",
        paper=True,
        at=clock.now(),
    )


def test_a_flat_paper_account_holds_its_capital(pool: AccountPool) -> None:
    state = paper_account_state(pool.perp_account, None)
    assert (state.currency, state.balance, state.equity, state.used_margin) == ("USDT", D(100_000), D(100_000), D(0))
    assert state.margin_level is None
    assert state.terms["brackets"] == "default" and state.terms["leverage"] == 5


def test_a_paper_perp_account_by_hand(pool: AccountPool) -> None:
    perp = pool.perp_account
    PaperPosition.objects.create(account=perp, quantity_oz=D(-50), avg_price=D(4600), realised_pnl=D(120))
    paper_order(perp, "a", "100.5")
    paper_order(perp, "b", "15")
    carry(perp, CarryKind.FUNDING, "23", "USDT")
    state = paper_account_state(perp, PaperMark(D("4619.90"), D("4620.10")))
    # balance = 100,000 + 120 realised − 115.5 fees + 23 funding; unrealised −50 oz × (4,620 − 4,600) at the mid
    assert state.balance == D("100027.5") and state.unrealised == D(-1000) and state.equity == D("99027.5")
    # notional 50 × 4,620 = 231,000 USDT: default bracket 2 (to 1,000,000, 20× at most) — the pool's 5× applies
    assert state.used_margin == D(46_200)
    assert state.terms["maintenance_margin"] == "4275.00000000"  # 231,000 × 2.5 % − 1,500
    assert state.margin_level is not None and state.margin_level.quantize(D("0.0001")) == D("214.3452")
    assert state.free_margin == D("52827.5")


def test_the_bracket_caps_a_paper_accounts_leverage(pool: AccountPool) -> None:
    AccountPool.objects.filter(pk=pool.pk).update(perp_leverage=50)
    PaperPosition.objects.create(account=pool.perp_account, quantity_oz=D(-50), avg_price=D(4620))
    state = paper_account_state(pool.perp_account, PaperMark(D("4619.90"), D("4620.10")))
    assert state.used_margin == D(11_550)  # 231,000 ÷ 20 (bracket 2's cap), not ÷ 50
    assert state.terms["effective_leverage"] == 20


def test_configured_brackets_replace_the_defaults(pool: AccountPool, settings: Any) -> None:
    # Binance's answer without `symbol` (a list of entries), JSON numbers as the venue sends them
    settings.QUANTARB_PAPER_PERP_BRACKETS = json.dumps(
        [
            {
                "symbol": "XAUUSDT",
                "brackets": [
                    {
                        "bracket": 1,
                        "initialLeverage": 10,
                        "notionalCap": 100000,
                        "notionalFloor": 0,
                        "maintMarginRatio": 0.02,
                        "cum": 0.0,
                    },
                    {
                        "bracket": 2,
                        "initialLeverage": 4,
                        "notionalCap": 1000000,
                        "notionalFloor": 100000,
                        "maintMarginRatio": 0.05,
                        "cum": 3000.0,
                    },
                ],
            }
        ]
    )
    PaperPosition.objects.create(account=pool.perp_account, quantity_oz=D(-50), avg_price=D(4620))
    state = paper_account_state(pool.perp_account, PaperMark(D("4619.90"), D("4620.10")))
    assert state.terms["brackets"] == "configured"
    assert state.used_margin == D("57750")  # 231,000 ÷ min(5, 4)
    assert state.terms["maintenance_margin"] == "8550.00000000"  # 231,000 × 5 % − 3,000


def test_a_paper_cfd_account_by_the_simulated_symbols_calc_mode(pool: AccountPool) -> None:
    cfd = pool.cfd_account
    PaperPosition.objects.create(account=cfd, quantity_oz=D(50), avg_price=D(4601), realised_pnl=D(-30))
    paper_order(cfd, "c", "20")
    carry(cfd, CarryKind.SWAP, "-12.5", "USD")
    state = paper_account_state(cfd, PaperMark(D("4610.00"), D("4610.30")))
    assert state.terms["calc_mode"] == "CFDLEVERAGE" and state.terms["leverage"] == 100
    # balance 100,000 − 30 − 20 − 12.5; a long is valued at the bid: 50 × (4,610 − 4,601) = 450
    assert (state.currency, state.balance, state.unrealised) == ("USD", D("99937.5"), D(450))
    # 0.5 lot × 100 oz × 4,610.30 (the ask: a buy's price) ÷ 100 × margin rate 1
    assert state.used_margin == D("2305.15")
    short = paper_account_state_with(cfd, D(-50), D("4620"), PaperMark(D("4610.00"), D("4610.30")))
    assert short.unrealised == D(-50) * (D("4610.30") - D(4620))  # a short closes at the ask
    assert short.used_margin == D("2305.00")  # margined at the bid


def paper_account_state_with(account: VenueAccount, quantity: Decimal, entry: Decimal, mark: PaperMark) -> Any:
    PaperPosition.objects.update_or_create(account=account, defaults={"quantity_oz": quantity, "avg_price": entry})
    return paper_account_state(account, mark)


def test_paper_fills_move_the_accounts_snapshot(pool: AccountPool) -> None:
    perp = pool.perp_account
    quote = Quote.of("sim:perp", "4600.00", "4600.20", 1)
    venue = PaperVenue(
        account=perp,
        quote=lambda: quote,
        step_oz=D("0.001"),
        tick=D("0.01"),
        fee_rate=D("0.0005"),
        fee_currency="USDT",
        latency_ms=0,
        slippage_bps=D(0),
        displayed_oz=None,
    )
    async_to_sync(venue.place)(OrderRequest("open-1", "sell", D(10)))
    opened = AccountSnapshot.objects.filter(account=perp).latest("at")
    # sold 10 at the bid, fee 23 USDT; valued at the mid 4,600.10: −1; margin 46,001 ÷ 5
    assert (opened.balance, opened.equity, opened.used_margin) == (D("99977"), D("99976"), D("9200.2"))
    assert opened.margin_level == D("1086.6720")  # 99,976 ÷ 9,200.2 × 100
    assert opened.positions[0]["quantity"] == "-10.000" and opened.margin_terms["rule"] == "binance_brackets"

    async_to_sync(venue.place)(OrderRequest("close-1", "buy", D(10)))
    closed = AccountSnapshot.objects.filter(account=perp).order_by("-at", "-pk").first()
    assert closed is not None
    # bought back at the ask: −0.20 × 10 realised, a second fee of 23.001
    assert (closed.balance, closed.equity, closed.used_margin) == (D("99951.999"), D("99951.999"), D(0))
    assert closed.margin_level is None and closed.positions == []
    assert PaperPosition.objects.get(account=perp).realised_pnl == D(-2)


def sample(pair: Any, perp_bid: str, cfd_bid: str, ts: Any) -> None:
    SpreadSample.objects.create(
        pair=pair,
        ts=ts,
        perp_bid=D(perp_bid),
        perp_ask=D(perp_bid) + D("0.20"),
        cfd_bid=D(cfd_bid),
        cfd_ask=D(cfd_bid) + D("0.30"),
        usd_per_usdt=D(1),
        edge_sell_perp=D(0),
        edge_buy_perp=D(0),
        net_sell_perp=D(0),
        net_buy_perp=D(0),
        basis=D(0),
    )


def test_the_sync_values_paper_accounts_at_the_latest_quote(
    pool: AccountPool, sim_pair: Any, alice: Any, frozen_clock: Any
) -> None:
    PaperPosition.objects.create(account=pool.perp_account, quantity_oz=D(-20), avg_price=D(4600))
    PaperPosition.objects.create(account=pool.cfd_account, quantity_oz=D(20), avg_price=D(4600))
    sample(sim_pair, "4500.00", "4400.00", clock.now() - timedelta(minutes=5))
    sample(sim_pair, "4650.00", "4640.00", clock.now() - timedelta(seconds=1))
    # a Binance account in paper mode is valued from its own paper ledger too (it was skipped before)
    paper_binance = VenueAccount.objects.create(
        tenant=alice.tenant, owner=alice.user, venue="binance-usdm", label="Binance paper", mode="paper"
    )
    assert sync_accounts()["synced"] == 3
    perp = AccountSnapshot.objects.filter(account=pool.perp_account).latest("at")
    assert perp.positions[0]["mark_price"] == "4650.10000000"  # the newest sample's mid
    assert perp.equity == D(100_000) - D(20) * D("50.10")
    assert perp.used_margin == D(20) * D("4650.10") / 5
    cfd = AccountSnapshot.objects.filter(account=pool.cfd_account).latest("at")
    assert cfd.equity == D(100_000) + D(20) * D(40)  # a long at the bid
    assert cfd.margin_terms["mark_at"] == (clock.now() - timedelta(seconds=1)).isoformat()
    assert AccountSnapshot.objects.get(account=paper_binance).equity == D(100_000)


def test_an_adverse_move_lowers_a_paper_accounts_margin_level(
    pool: AccountPool, sim_pair: Any, alice: Any, frozen_clock: Any
) -> None:
    """The margin level the risk limits watch (the `margin_low` alert rule became a limit: risk/limits.py, its
    tests in tests/risk/test_risk_limits.py)."""
    PaperPosition.objects.create(account=pool.perp_account, quantity_oz=D(-60), avg_price=D(4600))
    sample(sim_pair, "4600.00", "4599.00", clock.now())
    sync_accounts()
    # 60 oz × 4,600.10 ÷ 5 = 55,201.2 of margin on ~100,000: about 181 %
    level = AccountSnapshot.objects.filter(account=pool.perp_account).latest("at").margin_level
    assert level is not None and D(180) < level < D(182)

    frozen_clock.advance(60)
    sample(sim_pair, "5200.00", "5199.00", clock.now())  # the short perp leg 600 USDT/oz under water
    sync_accounts()
    # (100,000 − 60 × 600.10) ÷ (60 × 5,200.10 ÷ 5) × 100
    assert AccountSnapshot.objects.filter(account=pool.perp_account).latest("at").margin_level == D("102.5525")
