"""`kill -9` of the engine in the middle of a hedge, then a restart.

A real `runengine` process trades a live strategy on PostgreSQL against the out-of-process fake venues (fake
Binance for the perp, the MT5 bridge fake for the CFD). The CFD's answer is stalled by the terminal (the order
executes, the answer does not come back), so the engine is killed with SIGKILL while the hedge is opening and
its CFD order is still `submitting`. A new engine takes the lease once the old one's expires and, before any new
order, settles the unsettled order by looking it up by client id and reconciles the pool with both venues.
Then: 0 hedges lost (the one hedge is open, both legs filled as the venues hold them), 0 duplicated (one order per
client id at each venue, no second hedge).
"""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

import pytest

from .harness import LIVE_CRASH_SETUP, Stack, Topology, fresh_database, now_ms, services_urls, wait_until

pytestmark = [pytest.mark.services, pytest.mark.timeout(240), pytest.mark.xdist_group("processes")]  # tests/conftest.py

LEASE_TTL_S = 3


def test_kill_9_mid_hedge_then_restart_loses_and_duplicates_nothing(
    stack: Stack, binance_fake: Any, mt5_bridge: Any
) -> None:
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
    terminal.initialize(login=5000001, password="x", server="Fake")
    tick = terminal.symbol_info_tick("XAUUSD.s")
    # The perp 12 USD/oz rich against the CFD: the strategy sells the perp and buys the CFD at once.
    bid = round(float(tick.ask) + 12, 2)
    binance_fake.set_book(f"{bid:.2f}", f"{bid + 0.02:.2f}")
    # The terminal executes the CFD order but its answer never comes back in time: the engine is mid-hedge.
    terminal.qa_arm("stall", seconds=90)
    config = {
        "bridge_port": mt5_bridge.port,
        "api_key": binance_fake.api_key,
        "api_secret": binance_fake.api_secret,
        "rest": binance_fake.rest_url,
        "ws": binance_fake.ws_url,
    }
    topology.manage("shell", "-c", f"CFG = {json.dumps(json.dumps(config))}\n{LIVE_CRASH_SETUP}")
    sql = topology.sql

    topology.start("engine")
    # The legs leave concurrently: wait until the perp order has reached the fake Binance as well, so the kill
    # lands with the CFD answer outstanding and nothing left unsent (a perp killed before its send is a legged
    # hedge to repair, which the legging tests cover; this test is about settling the CFD order by lookup).
    wait_until(
        "the engine sends both legs (the CFD answer stalled)",
        lambda: (
            (
                sql.value("select count(*) from trading_order where leg = 'cfd' and status = 'submitting'")
                and binance_fake.state()["orders"]
            )
            or None
        ),
        60,
    )
    engine = topology.services["engine"]
    assert engine.process is not None
    os.killpg(engine.process.pid, signal.SIGKILL)  # kill -9, mid-hedge
    engine.process.wait(10)
    killed_ms = now_ms()
    [(hedge_id, status)] = sql.rows("select id, status from trading_hedge")
    assert status == "opening"
    orders_before = sql.value("select count(*) from trading_order")

    # A new engine: it waits out the old lease, settles the CFD order by lookup, reconciles, then runs.
    log = stack.workdir / "engine-2.log"
    from .harness import Service

    second = Service("engine-2", topology.argv("engine"), topology.env, log).start()
    stack.watch_log("engine-2", log)
    stack.callback(second.stop)
    wait_until(
        "the restarted runner settles the order, reconciles and runs",
        lambda: sql.value(
            "select 1 from strategies_strategy s where s.name = 'Live crash' and s.state = 'running' "
            "and s.heartbeat_at > to_timestamp(%s / 1000.0) and exists (select 1 from trading_reconciliationreport r "
            "where r.trigger = 'start' and r.finished_at is not null and r.started_at > to_timestamp(%s / 1000.0))",
            (killed_ms, killed_ms),
        ),
        90,
    )
    [(status, perp_oz, cfd_oz)] = sql.rows("select status, perp_oz, cfd_oz from trading_hedge")
    assert status == "open", (
        status,
        sql.rows("select leg, status, filled, error from trading_order"),
    )  # 0 hedges lost: the hedge was completed by the lookup, not by a resend
    assert (float(perp_oz), float(cfd_oz)) == (-2.0, 2.0)
    assert sql.value("select count(*) from trading_hedge") == 1  # and none duplicated
    orders = sql.rows("select leg, client_order_id, status from trading_order where hedge_id = %s", (hedge_id,))
    assert sorted((leg, state) for leg, _cid, state in orders) == [("cfd", "filled"), ("perp", "filled")]
    assert sql.value("select count(*) from trading_order") == orders_before  # no order was written again
    cfd_cid = next(cid for leg, cid, _state in orders if leg == "cfd")
    perp_cid = next(cid for leg, cid, _state in orders if leg == "perp")
    state = dict(terminal.qa_state())
    assert [dict(order)["comment"] for order in state["orders"]].count(cfd_cid) == 1
    assert len(binance_fake.orders_with(perp_cid)) == 1
    # Reconciliation ran on the restart before anything else, and found the venues and our records equal.
    report = sql.rows(
        "select status, extract(epoch from finished_at) * 1000 from trading_reconciliationreport "
        "where trigger = 'start' order by started_at desc limit 1"
    )
    assert report and report[0][0] == "matched" and float(report[0][1]) > killed_ms
    assert float(binance_fake.state()["position_amt"]) == -2.0
    time.sleep(0.1)
