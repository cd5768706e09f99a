"""Testing a live MT5 account's connection and syncing its balance (trading/account_sync.py) through its terminal
instance: an rpyc terminal pointed at the bridge fake, whose simulated terminal knows the canary login."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from accounts.models import AccountSnapshot, VenueAccount
from mt5ops.models import TerminalInstance
from tests import canary
from tests.fakes.fixtures import Mt5BridgeFake
from trading.account_sync import account_test, sync_accounts

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(120)]


@pytest.fixture
def mt5_account(canary_accounts: dict[str, Any], mt5_bridge: Mt5BridgeFake) -> VenueAccount:
    """Alpha's live MT5 account (canary password), its terminal pointed at the bridge fake."""
    mt5_bridge.terminal.qa_configure(accounts={81234567: (canary.CANARY_MT5_PASSWORD, "Bybit-Live")})
    terminal: TerminalInstance = canary_accounts["terminal"]
    terminal.bridge_port = mt5_bridge.port
    terminal.save()
    account: VenueAccount = canary_accounts["mt5"]
    account.refresh_from_db()
    return account


def test_a_good_terminal_passes_and_says_what_it_found(mt5_account: VenueAccount, alice: Any) -> None:
    result = account_test(account=mt5_account, actor=alice.user)
    assert result.ok, result.message
    assert "login 81234567" in result.message and "hedging account in USD" in result.message
    assert "stop-out at 50 % margin level" in result.message and "XAUUSD.s 100 oz per lot" in result.message
    mt5_account.refresh_from_db()
    assert mt5_account.last_test_ok is True


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ({"accounts": {81234567: ("another", "Bybit-Live")}}, "refused login 81234567 on server “Bybit-Live”"),
        ({"terminal_trade_allowed": False}, "AutoTrading (Algo Trading) is off"),
        ({"margin_mode": 0}, "is a netting account"),
        ({"account_trade_allowed": False}, "does not let login 81234567 trade"),
        ({"symbol": "XAUUSD"}, "no symbol XAUUSD.s"),
    ],
)
def test_problems_are_clear_messages(
    mt5_account: VenueAccount, mt5_bridge: Mt5BridgeFake, alice: Any, script: dict[str, Any], expected: str
) -> None:
    mt5_bridge.terminal.qa_configure(**script)
    result = account_test(account=mt5_account, actor=alice.user)
    assert not result.ok and expected in result.message, result.message
    assert canary.CANARY_MT5_PASSWORD not in result.message


def test_a_hung_terminal_is_a_clear_message(mt5_account: VenueAccount, mt5_bridge: Mt5BridgeFake, alice: Any) -> None:
    mt5_bridge.terminal.qa_arm("ipc_timeout", count=-1)
    result = account_test(account=mt5_account, actor=alice.user)
    assert not result.ok and "IPC timeout" in result.message and "Restart it" in result.message


def test_an_unreachable_bridge_is_a_clear_message(canary_accounts: dict[str, Any], alice: Any) -> None:
    terminal: TerminalInstance = canary_accounts["terminal"]
    terminal.bridge_port = 9
    terminal.save()
    result = account_test(account=VenueAccount.objects.get(pk=canary_accounts["mt5"].pk), actor=alice.user)
    assert not result.ok and "unreachable at 127.0.0.1:9" in result.message and "SSH tunnel" in result.message


def test_a_native_terminal_on_linux_is_a_clear_message(canary_accounts: dict[str, Any], alice: Any) -> None:
    pytest.importorskip("rpyc")  # (always there; the package under test is MetaTrader5, absent off Windows)
    terminal: TerminalInstance = canary_accounts["terminal"]
    terminal.backend, terminal.terminal_path = "native", r"C:\MT5\a\terminal64.exe"
    terminal.save()
    result = account_test(account=VenueAccount.objects.get(pk=canary_accounts["mt5"].pk), actor=alice.user)
    assert not result.ok and "Windows only" in result.message


def test_sync_snapshots_a_live_mt5_account(mt5_account: VenueAccount, mt5_bridge: Mt5BridgeFake) -> None:
    # An open position: margin in use, so the margin level is reported.
    mt5_bridge.terminal.initialize(login=81234567, password=canary.CANARY_MT5_PASSWORD, server="Bybit-Live")
    mt5_bridge.terminal.qa_manual_trade("buy", 0.5)
    counts = sync_accounts()
    # The two simulated accounts and the MT5 one (the canary Binance account fails on its closed loopback port).
    assert counts["synced"] >= 3 and counts["failed"] <= 1
    snapshot = AccountSnapshot.objects.get(account=mt5_account)
    assert snapshot.currency == "USD" and snapshot.balance == Decimal(10000)
    assert snapshot.used_margin > 0 and snapshot.margin_level is not None and snapshot.margin_level > 100
    # What one lot needs, as the terminal computes it (order_calc_margin): 100 oz × the price ÷ 1:100 leverage.
    terms = snapshot.margin_terms
    assert terms["source"] == "terminal" and terms["leverage"] == 100
    assert Decimal(terms["buy_per_lot"]) == Decimal(terms["ask"]) and Decimal(terms["sell_per_lot"]) == Decimal(
        terms["bid"]
    )
    mt5_account.refresh_from_db()
    assert mt5_account.last_sync_at is not None and mt5_account.last_error == ""
