"""The composition root's wiring of behaviour a lower layer asks for but must not import (ARCHITECTURE.md
"Layers"): `trading`'s execution sends no order without asking its pre-trade gate, which `risk` implements over
the limits `strategies` configures; `accounts` names `ccxt:<id>` venues from the catalogue `trading.venues` reads, and
tests its accounts' connections through `trading`. Installed once per process from `QuantarbConfig.ready`, so the
web, the engine, Celery workers and management commands all work alike; a process that skipped this would refuse
every order (trading/execution/gate.py `_Unwired`), know no ccxt venue and test no account. It imports every app's
services and models, so `ready()` imports it once every app's models are loaded."""

from __future__ import annotations

from accounts import venue_link
from accounts.venue_kinds import install_ccxt_exchanges
from risk.gate import RiskGate
from risk.limits import install_strategy_actions
from risk.signals import kill_switch_changed
from strategies.events import push_kill_switch_change
from strategies.limits import risk_limits_for
from strategies.selectors import active_strategy_of_pool
from strategies.services import strategy_pause_for_risk
from trading.account_sync import TradingVenueLink
from trading.execution import gate
from trading.reconciliation.services import install_strategy_of_pool
from trading.venues.registry import ccxt_exchange_ids


def install_pre_trade_gate() -> None:
    gate.install_pre_trade_gate(RiskGate(limits_for=risk_limits_for))


def install_limit_actions() -> None:
    """What a breached risk limit asks of strategies (risk sits below them): pausing a strategy through its own
    lifecycle service (risk/limits.py)."""
    install_strategy_actions(pause=strategy_pause_for_risk)


def install_venue_catalogue() -> None:
    """Which `ccxt:<id>` venues an account may name: the exchanges ccxt knows, read by `trading.venues` (the only
    importer of ccxt) for `accounts`' venue kinds."""
    install_ccxt_exchanges(ccxt_exchange_ids)


def install_venue_link() -> None:
    """What `accounts` asks about its venue accounts and pools and does not do itself (no venue I/O, no instruments
    below trading): testing an account's connection and reading a pool's instrument specs, `trading`'s."""
    venue_link.install_venue_link(TradingVenueLink())


def install_strategy_links() -> None:
    """What lower layers ask about strategies and must not import: the strategy trading a pool (reconciliation books
    an adjustment to it), and strategy pages told when a kill switch covering them changed (risk)."""
    install_strategy_of_pool(active_strategy_of_pool)
    kill_switch_changed.connect(push_kill_switch_change, dispatch_uid="strategies.kill_switch_changed")
