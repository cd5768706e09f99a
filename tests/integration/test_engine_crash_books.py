"""Two `kill -9`s of the engine, mid-open and mid-close, and the books still equal the venues'.

A real `runengine` process trades a live strategy on PostgreSQL against the out-of-process fakes (fake Binance for
the perp, the MT5 bridge fake charging a commission per lot and a fee per deal). Each time, the terminal executes
the CFD order and holds its answer, and the engine is killed with SIGKILL once both legs have reached the venues:
first while the hedge opens, then — after a restart settled the open by lookup — while the strategy's stop closes it
(stop policy: flatten). A third engine settles the close by lookup and stops the strategy. Then the booking jobs
run once and:

- our fills equal the venues' trades and deals one to one;
- the hedge's spread capture, fees, funding and swap equal the reference computed from the venues' trade, deal and
  income records (tests/fakes/venue_books.py), never from our order rows;
- 0 duplicate and 0 lost orders: each client order id once at its venue, every venue order ours and settled.
"""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import pytest

from .harness import (
    LIVE_CRASH_SETUP,
    Service,
    Stack,
    Topology,
    fresh_database,
    now_ms,
    services_urls,
    wait_until,
)

pytestmark = [pytest.mark.services, pytest.mark.timeout(300), pytest.mark.xdist_group("processes")]  # tests/conftest.py

LEASE_TTL_S = 3

# The crash test's pool and strategy, with a stop that flattens (closes the hedge before the strategy stops).
FLATTENING_SETUP = "from strategies.domain.params import StopPolicy\n" + LIVE_CRASH_SETUP.replace(
    'max_quote_age_ms=10_000, mode="live")', 'max_quote_age_ms=10_000, mode="live", stop_policy=StopPolicy.FLATTEN)'
)

STOP = """
from strategies.models import Strategy
from strategies.services import strategy_request
from accounts.models import User
strategy_request(strategy=Strategy.objects.get(name="Live crash"), action="stop",
    actor=User.objects.get(username="demo-admin"))
"""

# Run in a manage shell on the engine's database: the booking jobs, then the comparison with the venues' records.
CHECK = """
import json
from accounts.models import VenueAccount
from trading.account_sync import sync_accounts
from tests.fakes.fixtures import BinanceFake, Mt5BridgeFake
from tests.fakes.venue_books import (
    assert_fills_match_venues, assert_hedges_match_venues, assert_orders_match_venues, read_venue_books,
)
from trading.execution.fills import sync_live_fills
from trading.portfolio.housekeeping import book_carry
from trading.models import Fill, Hedge

cfg = json.loads(CFG)
binance = BinanceFake(process=None, port=cfg["binance_port"])
mt5 = Mt5BridgeFake(process=None, port=cfg["bridge_port"])
perp = VenueAccount.objects.get(label="Binance (fake)")
cfd = VenueAccount.objects.get(label="MT5 (fake)")
sync_accounts()
sync_live_fills()
book_carry()
book_carry()
books = read_venue_books(binance, mt5)
assert_fills_match_venues(books, perp_account_id=perp.pk, cfd_account_id=cfd.pk)
hedge_ids = list(Hedge.objects.values_list("pk", flat=True))
compared = assert_hedges_match_venues(books, hedge_ids)
orders = assert_orders_match_venues(binance, mt5, perp_account_id=perp.pk, cfd_account_id=cfd.pk)
with open(cfg["out"], "w") as out:
    json.dump({
        "orders": orders,
        "fills": Fill.objects.count(),
        "lines": {str(k): {line: [str(a), str(b)] for line, (a, b) in v.items()} for k, v in compared.items()},
    }, out)
"""


def test_two_kill_9s_mid_open_and_mid_close_leave_books_equal_to_the_venues(
    stack: Stack, binance_fake: Any, mt5_bridge: Any
) -> None:
    assert "stop_policy=StopPolicy.FLATTEN" in FLATTENING_SETUP
    database_server, redis_url = services_urls()
    database_url = stack.enter(fresh_database(database_server))
    topology = Topology(stack, database_url, redis_url)
    topology.env.update(
        QUANTARB_LEASE_TTL_SECONDS=str(LEASE_TTL_S),
        QUANTARB_FIELD_KEYS="P3RzHn3xZt7SgWwGQn3vQ0Ah0cG6m6xR2yHcC9kq1T8=",
        QUANTARB_FEED_POLL_SECONDS="0.5",
    )
    topology.prepare_database()
    terminal = mt5_bridge.terminal
    terminal.qa_reset()
    terminal.qa_configure(commission_per_lot=6.0, deal_fee=0.03)
    terminal.initialize(login=5000001, password="x", server="Fake")
    tick = terminal.symbol_info_tick("XAUUSD.s")
    bid = round(float(tick.ask) + 12, 2)  # the perp 12 USD/oz rich: the strategy sells the perp, buys the CFD
    binance_fake.set_book(f"{bid:.2f}", f"{bid + 0.02:.2f}")
    terminal.qa_arm("stall", seconds=90)  # the CFD open executes, its answer does not come back
    config = {
        "bridge_port": mt5_bridge.port,
        "binance_port": binance_fake.port,
        "api_key": binance_fake.api_key,
        "api_secret": binance_fake.api_secret,
        "rest": binance_fake.rest_url,
        "ws": binance_fake.ws_url,
        "out": str(stack.workdir / "books.json"),
    }
    cfg = f"CFG = {json.dumps(json.dumps(config))}\n"
    topology.manage("shell", "-c", cfg + FLATTENING_SETUP)
    sql = topology.sql

    def kill(service: Service) -> int:
        assert service.process is not None
        os.killpg(service.process.pid, signal.SIGKILL)
        service.process.wait(10)
        return now_ms()

    def restart(name: str) -> Service:
        log = stack.workdir / f"{name}.log"
        service = Service(name, topology.argv("engine"), topology.env, log).start()
        stack.watch_log(name, log)
        stack.callback(service.stop)
        return service

    def both_legs_sent(intent: str) -> bool | None:
        """Both legs of `intent` at the venues, the CFD answer outstanding (our row still submitting)."""
        cfd_pending = sql.value(
            "select count(*) from trading_order where leg = 'cfd' and intent = %s and status = 'submitting'", (intent,)
        )
        perp_ids = [
            row[0]
            for row in sql.rows(
                "select client_order_id from trading_order where leg = 'perp' and intent = %s", (intent,)
            )
        ]
        at_binance = perp_ids and all(binance_fake.orders_with(cid) for cid in perp_ids)
        return bool(cfd_pending and at_binance) or None

    # 1. kill -9 while the hedge opens.
    topology.start("engine")
    wait_until("the engine sends both opening legs (the CFD answer held)", lambda: both_legs_sent("open"), 60)
    killed_ms = kill(topology.services["engine"])
    assert sql.rows("select status from trading_hedge") == [("opening",)]

    # 2. A new engine settles the open by lookup; then the strategy is stopped (flatten) and killed mid-close.
    second = restart("engine-2")
    wait_until(
        "the restarted engine settles the open and holds the hedge",
        lambda: sql.value(
            "select 1 from trading_hedge h where h.status = 'open' and exists (select 1 from "
            "trading_reconciliationreport r where r.trigger = 'start' and r.finished_at is not null "
            "and r.started_at > to_timestamp(%s / 1000.0))",
            (killed_ms,),
        ),
        90,
    )
    terminal.qa_arm("stall", seconds=90)  # the CFD close executes, its answer does not come back
    topology.manage("shell", "-c", STOP)
    wait_until("the engine sends both closing legs (the CFD answer held)", lambda: both_legs_sent("close"), 60)
    killed_ms = kill(second)
    assert sql.rows("select status from trading_hedge") == [("closing",)]

    # 3. A third engine settles the close by lookup and stops the strategy.
    restart("engine-3")
    wait_until(
        "the third engine settles the close and stops the strategy",
        lambda: sql.value(
            "select 1 from strategies_strategy where name = 'Live crash' and state = 'stopped' "
            "and exists (select 1 from trading_hedge where status = 'closed')"
        ),
        90,
    )
    assert sql.value("select count(*) from trading_hedge") == 1  # no hedge lost, none duplicated
    statuses = sorted(sql.rows("select leg, intent, status from trading_order"))
    assert statuses == [
        ("cfd", "close", "filled"),
        ("cfd", "open", "filled"),
        ("perp", "close", "filled"),
        ("perp", "open", "filled"),
    ], statuses
    assert float(binance_fake.state()["position_amt"]) == 0
    assert dict(terminal.qa_state())["positions"] == ()

    # 4. The books against the venues' own records.
    topology.manage("shell", "-c", cfg + CHECK)
    result = json.loads((stack.workdir / "books.json").read_text())
    assert result["orders"] == {"perp": 2, "cfd": 2}
    assert result["fills"] >= 4
    [(lines)] = result["lines"].values()
    assert set(lines) == {"spread", "fees", "funding", "swap"}
    assert float(lines["fees"][0]) < 0  # the venues' commissions and fees were booked
